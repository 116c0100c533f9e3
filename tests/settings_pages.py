"""What the tests of the company settings pages share: a logged-in client, a page's text, a
settings URL, a membership, and the audit rows of one object."""

from __future__ import annotations

import html
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from erpsync.models import ErpEvent
from projects.models import CompanyMembership


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def url(name: str, company: Any, *args: Any) -> str:
    return reverse(name, args=[company.slug, *args])


def membership(user: Any, company: Any) -> CompanyMembership:
    return CompanyMembership.objects.get(user=user, company=company)


def events(obj: Any) -> list[ErpEvent]:
    """The audit rows of `obj` (a company, a membership…), oldest first."""
    return list(
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).order_by("pk")
    )
