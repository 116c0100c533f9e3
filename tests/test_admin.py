"""The Django admin lists every model and shows items' ERP state read-only with their history."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from subjobs.models import SubJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Any) -> Any:
    call_command("seed_demo", stdout=StringIO())
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_every_model_of_ours_is_in_the_admin() -> None:
    from django.apps import apps

    ours = {"erpsync", "projects", "subjobs", "invoicing"}
    models = [m for m in apps.get_models() if m._meta.app_label in ours]
    missing = [m.__name__ for m in models if m not in admin.site._registry]
    assert not missing, f"not in the admin: {missing}"


def test_every_changelist_renders(staff_client: Any) -> None:
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert staff_client.get(url).status_code == 200, url


def test_an_item_page_shows_its_state_read_only_and_its_history(staff_client: Any) -> None:
    rejected = SubJob.objects.get(erp_state="rejected")
    url = reverse("admin:subjobs_subjob_change", args=[rejected.pk])
    page = staff_client.get(url).content.decode()
    assert 'name="erp_state"' not in page
    assert "Rejected" in page
    assert rejected.erp_rejection_reason in page
    assert "Send to ERP" in page  # the event history's first transition


def test_a_locked_item_cannot_be_changed_in_the_admin(staff_client: Any) -> None:
    pending = SubJob.objects.get(erp_state="pending")
    url = reverse("admin:subjobs_subjob_change", args=[pending.pk])
    response = staff_client.post(url, {"code": "HACK", "name": "x", "status": "draft"})
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.code != "HACK"
