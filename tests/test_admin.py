"""The Django admin lists every model and shows items' ERP state read-only with their history."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from erpsync.models import ErpEvent
from erpsync.states import ItemLocked
from invoicing.models import BillingPeriod, InvoiceLine, OwnerInvoice, PrimeContract
from invoicing.services import (
    invoice_line_admin_add,
    invoice_line_admin_delete,
    invoice_line_admin_update,
    owner_invoice_admin_update,
)
from projects.models import Project, ProjectMembership
from subjobs.models import SubJob
from subjobs.services import sub_job_admin_create
from tests import factories as f
from tests.test_invoice_pages import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Any) -> Any:
    call_command("seed_demo", stdout=StringIO())
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_every_model_of_ours_is_in_the_admin() -> None:
    from django.apps import apps

    ours = {"erpsync", "projects", "subjobs", "jobs", "invoicing", "approvals", "webhooks"}
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


# ----- every admin write follows the pages' rules and leaves an audit row (issue 10) --------


@pytest.fixture
def superuser() -> Any:
    return f.UserFactory(username="ops", is_staff=True, is_superuser=True)


@pytest.fixture
def ops(superuser: Any) -> Client:
    """A superuser who is no member of the project: the admin's own permission is enough."""
    client = Client()
    client.force_login(superuser)
    return client


def fingerprint() -> tuple[Any, ...]:
    return (
        tuple(
            SubJob.objects.order_by("pk").values_list(
                "project", "code", "name", "status", "erp_state", "erp_version", "erp_id"
            )
        ),
        tuple(
            OwnerInvoice.objects.order_by("pk").values_list(
                "prime_contract", "number", "status", "billing_period", "erp_state", "erp_version"
            )
        ),
        tuple(
            InvoiceLine.objects.order_by("pk").values_list(
                "invoice", "position", "description", "work_completed_this_period", "amount_due"
            )
        ),
        tuple(PrimeContract.objects.order_by("pk").values_list("project", "number", "status")),
        tuple(BillingPeriod.objects.order_by("pk").values_list("project", "number", "end_date")),
        tuple(Project.objects.order_by("pk").values_list("company", "number")),
        ErpEvent.objects.count(),
    )


def events_of(item: Any) -> list[ErpEvent]:
    return list(
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item), object_id=item.pk
        ).order_by("id")
    )


def url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def admin_form(client: Client, page_url: str) -> dict[str, str]:
    """What the admin's own form submits from `page_url`, unchanged."""
    response = client.get(page_url)
    assert response.status_code == 200
    return form_data(response.content.decode(), "novalidate")


def line_data(invoice: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "invoice": invoice.pk,
        "position": 9,
        "description": "Added in the admin",
        "scheduled_value": "100.00",
        "work_completed_this_period": "10.00",
        "materials_stored": "0.00",
        "retainage_percent": "10.00",
        **overrides,
    }


@pytest.fixture
def editable(invoice: Any) -> Any:
    return invoice


@pytest.fixture
def synced(project: Any, admin: Any, drive: Any) -> Any:
    return drive(f.invoice_ready_to_send(project=project, user=admin), "synced")


@pytest.fixture
def pending_invoice(project: Any, admin: Any, drive: Any) -> Any:
    return drive(f.invoice_ready_to_send(project=project, user=admin), "pending")


@pytest.mark.parametrize("state", ["pending", "accepted", "synced", "export_failed"])
def test_the_admin_cannot_add_a_line_to_a_locked_invoice(
    ops: Client, project: Any, admin: Any, drive: Any, state: str
) -> None:
    locked = drive(f.invoice_ready_to_send(project=project, user=admin), state)
    before = fingerprint()
    response = ops.post(url(InvoiceLine, "add"), line_data(locked))
    assert response.status_code != 302
    assert fingerprint() == before


def test_the_admin_cannot_move_a_line_into_a_synced_invoice(
    ops: Client, editable: Any, synced: Any
) -> None:
    line = editable.lines.first()
    data = admin_form(ops, url(InvoiceLine, "change", line.pk))
    data["invoice"] = str(synced.pk)
    before = fingerprint()
    ops.post(url(InvoiceLine, "change", line.pk), data)
    assert fingerprint() == before
    line.refresh_from_db()
    assert line.invoice_id == editable.pk


def test_the_admin_cannot_move_a_line_between_editable_invoices(
    ops: Client, project: Any, editable: Any
) -> None:
    other = f.invoice_ready_to_send(project=project)
    line = editable.lines.first()
    data = admin_form(ops, url(InvoiceLine, "change", line.pk))
    data["invoice"] = str(other.pk)
    ops.post(url(InvoiceLine, "change", line.pk), data)
    line.refresh_from_db()
    assert line.invoice_id == editable.pk
    assert other.lines.count() == 2


def test_the_admin_cannot_change_or_delete_a_line_of_a_locked_invoice(
    ops: Client, pending_invoice: Any
) -> None:
    line = pending_invoice.lines.first()
    before = fingerprint()
    changed = ops.post(url(InvoiceLine, "change", line.pk), line_data(pending_invoice))
    deleted = ops.post(url(InvoiceLine, "delete", line.pk), {"post": "yes"})
    assert (changed.status_code, deleted.status_code) == (403, 403)
    assert fingerprint() == before


def test_a_line_added_changed_and_deleted_in_the_admin_is_audited_with_the_admin(
    ops: Client, superuser: Any, editable: Any
) -> None:
    response = ops.post(url(InvoiceLine, "add"), line_data(editable))
    assert response.status_code == 302
    added = InvoiceLine.objects.get(description="Added in the admin")
    assert added.invoice_id == editable.pk and added.amount_due == Decimal("9.00")

    data = admin_form(ops, url(InvoiceLine, "change", added.pk))
    data["work_completed_this_period"] = "20.00"
    assert ops.post(url(InvoiceLine, "change", added.pk), data).status_code == 302
    added.refresh_from_db()
    assert added.amount_due == Decimal("18.00")

    assert ops.post(url(InvoiceLine, "delete", added.pk), {"post": "yes"}).status_code == 302
    assert not InvoiceLine.objects.filter(pk=added.pk).exists()

    rows = events_of(editable)[-3:]
    assert [(e.action, e.actor) for e in rows] == [("edit", superuser)] * 3
    assert rows[0].details["changes"] == {"lines": ["", "added Added in the admin"]}
    assert rows[1].details["changes"] == {"line 9 work_completed_this_period": ["10.00", "20.00"]}
    assert rows[2].details["changes"] == {"lines": ["Added in the admin", "removed"]}


def test_the_invoice_page_and_its_lines_save_together_with_audit_rows(
    ops: Client, superuser: Any, editable: Any
) -> None:
    first, second = editable.lines.order_by("position", "id")
    number = editable.number
    data = admin_form(ops, url(OwnerInvoice, "change", editable.pk))
    data["number"] = "INV-ADMIN"
    data["lines-0-description"] = "Renamed in the admin"
    data["lines-1-DELETE"] = "on"
    total = int(data["lines-TOTAL_FORMS"])
    data |= {
        "lines-TOTAL_FORMS": str(total + 1),
        f"lines-{total}-invoice": str(editable.pk),
        f"lines-{total}-position": "3",
        f"lines-{total}-description": "New in the admin",
        f"lines-{total}-scheduled_value": "50.00",
        f"lines-{total}-work_completed_this_period": "5.00",
        f"lines-{total}-materials_stored": "0.00",
        f"lines-{total}-retainage_percent": "0.00",
    }
    response = ops.post(url(OwnerInvoice, "change", editable.pk), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    editable.refresh_from_db()
    assert editable.number == "INV-ADMIN"
    assert [ln.description for ln in editable.lines.order_by("position", "id")] == [
        "Renamed in the admin",
        "New in the admin",
    ]
    rows = [e for e in events_of(editable) if e.actor == superuser]
    changes = [e.details["changes"] for e in rows]
    assert all(e.action == "edit" for e in rows)
    assert {"number": [number, "INV-ADMIN"]} in changes
    assert {"line 1 description": [first.description, "Renamed in the admin"]} in changes
    assert {"lines": [second.description, "removed"]} in changes
    assert {"lines": ["", "added New in the admin"]} in changes


def test_the_invoice_page_of_a_locked_invoice_changes_nothing_inline_included(
    ops: Client, pending_invoice: Any
) -> None:
    line = pending_invoice.lines.first()
    data = {
        "number": "HACK",
        "status": "draft",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-0-id": str(line.pk),
        "lines-0-invoice": str(pending_invoice.pk),
        "lines-0-description": "Hacked",
    }
    before = fingerprint()
    response = ops.post(url(OwnerInvoice, "change", pending_invoice.pk), data)
    assert response.status_code == 403
    assert fingerprint() == before


def test_the_admin_cannot_move_an_invoice_to_another_contract(
    ops: Client, project: Any, editable: Any
) -> None:
    other = f.PrimeContractFactory(project=project)
    data = admin_form(ops, url(OwnerInvoice, "change", editable.pk))
    data["prime_contract"] = str(other.pk)
    ops.post(url(OwnerInvoice, "change", editable.pk), data)
    editable.refresh_from_db()
    assert editable.prime_contract_id != other.pk


def test_an_invoice_added_in_the_admin_is_created_by_the_admin(
    ops: Client, superuser: Any, project: Any, editable: Any
) -> None:
    data = admin_form(ops, url(OwnerInvoice, "add"))
    data |= {
        "prime_contract": str(editable.prime_contract_id),
        "billing_period": str(editable.billing_period_id),
        "number": "INV-NEW",
        "status": "draft",
    }
    assert ops.post(url(OwnerInvoice, "add"), data).status_code == 302
    added = OwnerInvoice.objects.get(number="INV-NEW")
    assert added.created_by == superuser
    assert [(e.action, e.actor) for e in events_of(added)] == [("create", superuser)]


def test_a_sub_job_changed_in_the_admin_is_audited_and_keeps_its_erp_fields_and_project(
    ops: Client, superuser: Any, project: Any, admin: Any, drive: Any
) -> None:
    rejected = drive(f.SubJobFactory(project=project, status="approved"), "rejected")
    elsewhere = f.ProjectFactory()
    data = admin_form(ops, url(SubJob, "change", rejected.pk))
    data |= {
        "name": "Renamed in the admin",
        "project": str(elsewhere.pk),
        "erp_state": "synced",
        "erp_version": "9",
        "erp_id": "FORGED",
    }
    assert ops.post(url(SubJob, "change", rejected.pk), data).status_code == 302
    rejected.refresh_from_db()
    assert rejected.name == "Renamed in the admin"
    assert (rejected.project_id, rejected.erp_state, rejected.erp_version, rejected.erp_id) == (
        project.pk,
        "rejected",
        1,
        "",
    )
    last = events_of(rejected)[-1]
    assert (last.action, last.actor) == ("edit", superuser)
    assert "name" in last.details["changes"]


def test_a_sub_job_added_in_the_admin_is_audited(ops: Client, superuser: Any, project: Any) -> None:
    data = admin_form(ops, url(SubJob, "add"))
    data |= {"project": str(project.pk), "code": "77-000", "name": "Added", "status": "draft"}
    assert ops.post(url(SubJob, "add"), data).status_code == 302
    added = SubJob.objects.get(code="77-000")
    assert added.created_by == superuser
    assert [(e.action, e.actor) for e in events_of(added)] == [("create", superuser)]


def test_a_sub_job_deleted_in_the_admin_leaves_an_audit_row(
    ops: Client, superuser: Any, project: Any
) -> None:
    draft = f.SubJobFactory(project=project)
    pk = draft.pk
    assert ops.post(url(SubJob, "delete", pk), {"post": "yes"}).status_code == 302
    assert not SubJob.objects.filter(pk=pk).exists()
    [row] = events_of(draft)
    assert (row.action, row.actor) == ("edit", superuser)
    assert row.details["changes"] == {"sub job": [str(draft), "deleted"]}


@pytest.mark.parametrize("state", ["pending", "synced", "rejected"])
def test_a_sent_sub_job_cannot_be_deleted_in_the_admin_one_or_in_bulk(
    ops: Client, project: Any, drive: Any, state: str
) -> None:
    sent = drive(f.SubJobFactory(project=project, status="approved"), state)
    before = fingerprint()
    single = ops.post(url(SubJob, "delete", sent.pk), {"post": "yes"})
    bulk = ops.post(
        url(SubJob, "changelist"),
        {"action": "delete_selected", "_selected_action": [str(sent.pk)], "post": "yes"},
    )
    assert (single.status_code, bulk.status_code) == (403, 403)
    assert fingerprint() == before


def test_bulk_delete_in_the_admin_goes_through_the_same_rules_and_audit(
    ops: Client, superuser: Any, project: Any
) -> None:
    drafts = [f.SubJobFactory(project=project) for _ in range(2)]
    response = ops.post(
        url(SubJob, "changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [str(d.pk) for d in drafts],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not SubJob.objects.filter(pk__in=[d.pk for d in drafts]).exists()
    for draft in drafts:
        assert [(e.action, e.actor) for e in events_of(draft)] == [("edit", superuser)]


def test_an_approved_invoice_cannot_be_deleted_in_the_admin(ops: Client, editable: Any) -> None:
    before = fingerprint()
    response = ops.post(url(OwnerInvoice, "delete", editable.pk), {"post": "yes"})
    assert response.status_code in (403, 409, 422)
    assert "approved invoice cannot be deleted" in response.content.decode()
    assert fingerprint() == before


@pytest.mark.parametrize(
    "model_name", ["project", "prime_contract", "company"], ids=lambda name: name
)
def test_deleting_what_holds_a_locked_item_is_refused(
    ops: Client, project: Any, pending_invoice: Any, drive: Any, model_name: str
) -> None:
    target = {
        "project": project,
        "prime_contract": pending_invoice.prime_contract,
        "company": project.company,
    }[model_name]
    pending_sub_job = drive(f.SubJobFactory(project=project, status="approved"), "pending")
    before = fingerprint()
    response = ops.post(url(type(target), "delete", target.pk), {"post": "yes"})
    # 403: the admin may not delete a locked item; 200: the page lists what is protected.
    assert response.status_code in (200, 403)
    assert fingerprint() == before
    assert SubJob.objects.filter(pk=pending_sub_job.pk).exists()


@pytest.mark.parametrize(
    ("model", "field", "other"),
    [
        (Project, "company", lambda p: f.CompanyFactory().pk),
        (PrimeContract, "project", lambda p: f.ProjectFactory(company=p.company).pk),
        (BillingPeriod, "project", lambda p: f.ProjectFactory(company=p.company).pk),
    ],
    ids=["project-company", "contract-project", "period-project"],
)
def test_the_admin_cannot_move_what_holds_items_elsewhere(
    ops: Client, project: Any, pending_invoice: Any, model: Any, field: str, other: Any
) -> None:
    """Moving a project, contract or period would carry sent items to another company or
    project behind the approvers' backs."""
    target = {
        Project: project,
        PrimeContract: pending_invoice.prime_contract,
        BillingPeriod: pending_invoice.billing_period,
    }[model]
    # Members of the project would have to join the other company first; not the point here.
    ProjectMembership.objects.filter(project=project).delete()
    data = admin_form(ops, url(model, "change", target.pk))
    data[field] = str(other(project))
    before = fingerprint()
    ops.post(url(model, "change", target.pk), data)
    assert fingerprint() == before


def test_a_billing_period_of_a_locked_invoice_cannot_be_changed_in_the_admin(
    ops: Client, pending_invoice: Any
) -> None:
    period = pending_invoice.billing_period
    data = admin_form(ops, url(BillingPeriod, "change", period.pk))
    data["end_date"] = "2026-10-15"
    before = fingerprint()
    response = ops.post(url(BillingPeriod, "change", period.pk), data)
    assert response.status_code == 403
    assert fingerprint() == before


@pytest.mark.parametrize("value", ["sNaN", "NaN", "Infinity", "1e999999"])
def test_a_special_number_in_the_admin_is_a_field_error(
    ops: Client, editable: Any, value: str
) -> None:
    """On the invoice page, its lines inline; and on a line's own page."""
    line = editable.lines.first()
    for page, field in (
        (url(OwnerInvoice, "change", editable.pk), "lines-0-materials_stored"),
        (url(InvoiceLine, "change", line.pk), "materials_stored"),
    ):
        data = admin_form(ops, page)
        data[field] = value
        before = fingerprint()
        response = ops.post(page, data)
        assert response.status_code == 200, page
        assert "errorlist" in response.content.decode()
        assert fingerprint() == before


def test_admin_search_with_a_nul_is_not_a_500(ops: Client) -> None:
    for model in (SubJob, OwnerInvoice, PrimeContract):
        response = ops.get(url(model, "changelist"), {"q": "a\x00b"})
        assert response.status_code < 500, model


def test_a_billing_period_added_in_the_admin_follows_the_pages_rules(
    ops: Client, project: Any
) -> None:
    data = admin_form(ops, url(BillingPeriod, "add"))
    data |= {
        "project": str(project.pk),
        "number": "5",
        "start_date": "2026-12-01",
        "end_date": "2026-12-31",
        "due_date": "2026-11-30",
    }
    response = ops.post(url(BillingPeriod, "add"), data)
    assert response.status_code == 200
    assert "The due date cannot be before the period starts." in response.content.decode()
    assert not BillingPeriod.objects.filter(project=project).exists()


def test_the_admin_services_check_the_lock_and_the_admins_permission_themselves(
    superuser: Any, project: Any, admin: Any, pending_invoice: Any, editable: Any
) -> None:
    """The last word, whatever a page of the admin showed a moment earlier."""
    before = fingerprint()
    line = pending_invoice.lines.first()
    with pytest.raises(ItemLocked):
        owner_invoice_admin_update(invoice=pending_invoice, user=superuser, number="X")
    with pytest.raises(ItemLocked):
        invoice_line_admin_add(invoice=pending_invoice, user=superuser, description="X")
    with pytest.raises(ItemLocked):
        invoice_line_admin_update(line=line, user=superuser, description="X")
    with pytest.raises(ItemLocked):
        invoice_line_admin_delete(line=line, user=superuser)
    # A project Admin who is not staff has no say in the Django admin.
    with pytest.raises(PermissionDenied):
        owner_invoice_admin_update(invoice=editable, user=admin, number="X")
    with pytest.raises(PermissionDenied):
        sub_job_admin_create(project=project, user=admin, code="X", name="X")
    assert fingerprint() == before
