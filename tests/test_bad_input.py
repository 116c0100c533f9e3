"""Bad input, from a black-box look at every page: a 4xx with a readable reason, never a 500,
and nothing changed. Each test names the defect it covers (issue 10)."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from approvals.digest import build_digest
from approvals.emails import rejection_email
from erpsync.adapters.base import PermanentErpError
from erpsync.models import ErpEvent
from erpsync.services import (
    REASON_MAX,
    erp_accept,
    erp_mark_export_failed,
    erp_reject,
    erp_send,
)
from invoicing.models import BillingPeriod, InvoiceLine, OwnerInvoice, PrimeContract
from invoicing.services import invoice_line_add, invoice_line_update
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DELETED = "a deleted user"
NUL_MESSAGE = "contains a character that cannot be stored"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def queue_url(company: Any, kind: str, filter_: str = "ready") -> str:
    return reverse("erp_queue", args=[company.slug, kind, filter_])


def preview_url(item: Any) -> str:
    return reverse("erp_item", args=[item.erp_company.slug, item.erp_kind, item.pk])


def decide_url(item: Any, decision: str) -> str:
    return reverse("erp_decide", args=[item.erp_company.slug, item.erp_kind, item.pk, decision])


def bulk_url(company: Any, kind: str = "sub_job") -> str:
    return reverse("erp_bulk", args=[company.slug, kind])


def fingerprint() -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    return (
        tuple(
            SubJob.objects.order_by("pk").values_list(
                "code",
                "name",
                "status",
                "erp_state",
                "erp_version",
                "erp_rejection_reason",
                "erp_changed_at",
            )
        ),
        tuple(
            OwnerInvoice.objects.order_by("pk").values_list(
                "number", "status", "billing_period", "erp_state", "erp_version", "erp_changed_at"
            )
        ),
        tuple(
            InvoiceLine.objects.order_by("pk").values_list(
                "invoice",
                "position",
                "description",
                "scheduled_value",
                "work_completed_this_period",
                "materials_stored",
                "retainage_percent",
                "amount_due",
            )
        ),
        tuple(PrimeContract.objects.order_by("pk").values_list("number", "title", "status")),
        tuple(BillingPeriod.objects.order_by("pk").values_list("number", "start_date")),
        ErpEvent.objects.count(),
    )


@pytest.fixture
def pending(sub_job: Any, drive: Any) -> Any:
    return drive(sub_job, "pending")


# ----- 1. a deleted user's name: "a deleted user", never a 500 ----------------------------


@pytest.fixture
def sent_by_a_deleted_user(project: Any, invoice: Any) -> dict[str, Any]:
    """A pending sub job and a pending invoice whose sender's account was then deleted."""
    sender = f.member(project, admin=True)
    sub_job = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=sender)
    sent_invoice = erp_send(item=invoice, user=sender)
    sender.delete()
    sub_job.refresh_from_db()
    sent_invoice.refresh_from_db()
    assert sub_job.erp_sent_by is None and sent_invoice.erp_sent_by is None
    return {"sub_job": sub_job, "owner_invoice": sent_invoice}


@pytest.mark.parametrize("kind", ["sub_job", "owner_invoice"])
def test_the_queue_and_preview_name_a_deleted_sender(
    company: Any, approver: Any, sent_by_a_deleted_user: dict[str, Any], kind: str
) -> None:
    item = sent_by_a_deleted_user[kind]
    client = client_for(approver)
    queue = client.get(queue_url(company, kind))
    assert queue.status_code == 200
    assert DELETED in text(queue)
    preview = client.get(preview_url(item))
    assert preview.status_code == 200
    assert f"sent by {DELETED}" in text(preview)
    assert DELETED in text(preview)  # the history's Send row


@pytest.mark.parametrize("kind", ["sub_job", "owner_invoice"])
def test_an_htmx_refusal_row_names_a_deleted_sender(
    company: Any, approver: Any, sent_by_a_deleted_user: dict[str, Any], kind: str
) -> None:
    item = sent_by_a_deleted_user[kind]
    response = client_for(approver).post(
        decide_url(item, "accept"), {"version": item.erp_version + 1}, **HTMX
    )
    assert response.status_code == 409
    assert DELETED in text(response)


def test_the_item_pages_name_a_deleted_sender(
    project: Any, admin: Any, sent_by_a_deleted_user: dict[str, Any]
) -> None:
    client = client_for(admin)
    for item in sent_by_a_deleted_user.values():
        response = client.get(item.get_absolute_url())
        assert response.status_code == 200, item
        page = text(response)
        assert f"by {DELETED} (version 1)" in page  # Last sent to ERP
        assert f"by {DELETED}: retrieve it to edit." in page  # the lock banner
    listing = client.get(reverse("sub_job_list", args=[project.pk]))
    assert listing.status_code == 200


def test_a_deleted_approver_is_named_in_ribbon_lists_history_and_refusals(
    company: Any, project: Any, admin: Any, drive: Any
) -> None:
    gone = f.approver(company)
    rejected = erp_reject(
        item=erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin),
        user=gone,
        reason="Wrong cost code",
    )
    exporting = erp_accept(
        item=erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin),
        user=gone,
        export=False,
    )
    synced = drive(f.SubJobFactory(project=project, status="approved"), "synced")
    SubJob.objects.filter(pk=synced.pk).update(erp_accepted_by=gone)
    gone.delete()
    client = client_for(f.approver(company))

    page = client_for(admin).get(rejected.get_absolute_url())
    assert page.status_code == 200
    assert f"Rejected by {DELETED}:" in text(page)
    assert re.search(rf"<td[^>]*>{DELETED}</td>", text(page))  # the history's Reject row

    for filter_ in ("exporting", "synced", "history"):
        response = client.get(queue_url(company, "sub_job", filter_))
        assert response.status_code == 200, filter_
        assert DELETED in text(response), filter_

    response = client_for(admin).post(exporting.get_absolute_url() + "erp/retrieve/")
    assert response.status_code == 409
    assert f"accepted by {DELETED}" in text(response)


def test_the_export_worker_is_still_named_erpsync(project: Any, admin: Any, drive: Any) -> None:
    synced = drive(f.SubJobFactory(project=project, status="approved"), "synced")
    event = ErpEvent.objects.get(
        content_type=ContentType.objects.get_for_model(synced),
        object_id=synced.pk,
        action="mark_synced",
    )
    assert event.actor_name == "erpsync"


def test_emails_name_a_deleted_user(
    company: Any, project: Any, admin: Any, sent_by_a_deleted_user: dict[str, Any]
) -> None:
    digest = build_digest(company, dt.date.today())
    senders = {entry.sent_by for kind in digest.kinds for entry in kind.pending}
    assert senders == {DELETED}

    gone = f.approver(company)
    item = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    erp_reject(item=item, user=gone, reason="Wrong cost code")
    gone.delete()
    event = ErpEvent.objects.filter(action="reject").latest("id")
    message = rejection_email(event)
    assert message is not None
    assert message.body.startswith(f"A deleted user rejected sub job {item.code}")


# ----- 2. a never-sent item in the approvers' tool ---------------------------------------


@pytest.mark.parametrize("kind", ["sub_job", "invoice"])
def test_the_preview_of_a_never_sent_item_is_a_readable_404(
    request: pytest.FixtureRequest, company: Any, approver: Any, kind: str
) -> None:
    item = request.getfixturevalue(kind)
    response = client_for(approver).get(preview_url(item))
    assert response.status_code == 404
    assert "has never been sent to the ERP Integrations tool" in text(response)


@pytest.mark.parametrize("kind", ["sub_job", "invoice"])
@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "page"])
def test_accepting_a_never_sent_item_is_refused_409_with_the_reason(
    request: pytest.FixtureRequest, approver: Any, kind: str, headers: dict[str, str]
) -> None:
    item = request.getfixturevalue(kind)
    before = fingerprint()
    response = client_for(approver).post(decide_url(item, "accept"), {"version": "0"}, **headers)
    assert response.status_code == 409
    assert "has not been sent to ERP" in text(response)
    assert fingerprint() == before


# ----- 3. NUL characters in free text -----------------------------------------------------


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "page"])
def test_a_nul_in_a_reject_reason_is_a_422_at_the_field(
    approver: Any, pending: Any, headers: dict[str, str]
) -> None:
    before = fingerprint()
    response = client_for(approver).post(
        decide_url(pending, "reject"), {"reason": "Wrong\x00 code"}, **headers
    )
    assert response.status_code == 422
    assert NUL_MESSAGE in text(response)
    if headers:
        assert "data-reason-error" in text(response)
    assert fingerprint() == before


def test_a_nul_in_a_bulk_reject_reason_is_a_422_and_rejects_nothing(
    company: Any, approver: Any, pending: Any
) -> None:
    before = fingerprint()
    response = client_for(approver).post(
        bulk_url(company),
        {"decision": "reject", "selected": [f"{pending.pk}:1"], "reason": "No\x00"},
    )
    assert response.status_code == 422
    assert NUL_MESSAGE in text(response)
    assert fingerprint() == before


def test_an_erp_message_with_a_nul_is_kept_without_it(sub_job: Any, drive: Any) -> None:
    """The ERP's own words reach the database without a form: a NUL must not stop the worker."""
    accepted = drive(sub_job, "accepted")
    failed = erp_mark_export_failed(item=accepted, error="Period\x00closed")
    failed.refresh_from_db()
    assert failed.erp_state == "export_failed"
    assert failed.erp_error == "Period\ufffdclosed"
    assert ErpEvent.objects.latest("id").reason == "Period\ufffdclosed"
    assert PermanentErpError("Period\x00closed").message == "Period\ufffdclosed"


def _page_posts(project: Any, invoice: Any, sub_job: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every page form with free text, with a NUL in one of its fields."""
    contract = invoice.prime_contract
    p = project.pk
    period = {"start_date": "2026-12-01", "end_date": "2026-12-31", "due_date": "2027-01-31"}
    contract_fields = {"number": "PC-9", "title": "T", "owner_client": "O", "status": "draft"}
    new_invoice = reverse("contract_invoices", args=[p, contract.pk])
    return [
        (reverse("sub_job_list", args=[p]), {"code": "01\x00", "name": "A"}),
        (reverse("sub_job_list", args=[p]), {"code": "01-9", "name": "A\x00"}),
        (reverse("sub_job_rename", args=[p, sub_job.pk]), {"name": "B\x00"}),
        (reverse("contract_list", args=[p]), {**contract_fields, "number": "P\x00"}),
        (reverse("contract_list", args=[p]), {**contract_fields, "title": "T\x00"}),
        (reverse("contract_list", args=[p]), {**contract_fields, "owner_client": "\x00"}),
        (reverse("contract_detail", args=[p, contract.pk]), {"status": "approved\x00"}),
        (new_invoice, {"number": "I\x00", "status": "draft"}),
        (reverse("invoicing", args=[p]), {**period, "number": "7\x00"}),
        (reverse("invoicing", args=[p]), {**period, "number": "7", "start_date": "\x00"}),
    ]


def test_a_nul_in_any_page_form_is_a_422_and_saves_nothing(
    project: Any, admin: Any, invoice: Any, sub_job: Any
) -> None:
    client = client_for(admin)
    for url, data in _page_posts(project, invoice, sub_job):
        before = fingerprint()
        response = client.post(url, data)
        assert response.status_code == 422, (url, data)
        assert fingerprint() == before, (url, data)


def invoice_edit_url(invoice: Any) -> str:
    return reverse("invoice_edit", args=[invoice.prime_contract.project_id, invoice.pk])


def invoice_edit_data(invoice: Any) -> dict[str, Any]:
    """What the invoice's Edit form submits unchanged, with its two blank extra rows."""
    lines = list(invoice.lines.order_by("position", "id"))
    data: dict[str, Any] = {
        "number": invoice.number,
        "billing_period": invoice.billing_period_id or "",
        "status": invoice.status,
        "lines-TOTAL_FORMS": len(lines) + 2,
        "lines-INITIAL_FORMS": len(lines),
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000,
    }
    for i, line in enumerate(lines):
        data |= {
            f"lines-{i}-id": line.pk,
            f"lines-{i}-description": line.description,
            f"lines-{i}-scheduled_value": line.scheduled_value,
            f"lines-{i}-work_completed_this_period": line.work_completed_this_period,
            f"lines-{i}-materials_stored": line.materials_stored,
            f"lines-{i}-retainage_percent": line.retainage_percent,
        }
    for i in range(len(lines), len(lines) + 2):
        data |= {f"lines-{i}-id": ""}
    return data


@pytest.mark.parametrize(
    "field", ["number", "lines-0-description", "lines-2-description"], ids=lambda s: s
)
def test_a_nul_on_the_invoice_edit_form_is_a_422_at_the_field(
    admin: Any, invoice: Any, field: str
) -> None:
    data = invoice_edit_data(invoice)
    data[field] = "Text\x00"
    before = fingerprint()
    response = client_for(admin).post(invoice_edit_url(invoice), data)
    assert response.status_code == 422
    assert f'data-error-for="{field}"' in text(response)
    assert fingerprint() == before


# ----- 4. special decimals in an amount ---------------------------------------------------

SPECIAL_NUMBERS = ["sNaN", "NaN", "-sNaN", "Infinity", "-Infinity", "inf", "1e999999", "1E+30"]


@pytest.mark.parametrize("value", SPECIAL_NUMBERS)
@pytest.mark.parametrize(
    "field",
    [
        "lines-0-scheduled_value",
        "lines-0-work_completed_this_period",
        "lines-1-materials_stored",
        "lines-1-retainage_percent",
        "lines-2-work_completed_this_period",
    ],
)
def test_a_special_number_in_an_amount_is_a_field_error_and_saves_nothing(
    admin: Any, invoice: Any, field: str, value: str
) -> None:
    data = invoice_edit_data(invoice)
    data[field] = value
    if field.startswith("lines-2-"):
        data["lines-2-description"] = "New line"
    before = fingerprint()
    response = client_for(admin).post(invoice_edit_url(invoice), data)
    assert response.status_code == 422
    assert f'data-error-for="{field}"' in text(response)
    assert fingerprint() == before


@pytest.mark.parametrize("value", ["sNaN", "NaN", "Infinity"])
def test_the_line_services_refuse_a_number_that_is_not_finite(
    admin: Any, invoice: Any, value: str
) -> None:
    """The services are the last word: they refuse it at the field, not with InvalidOperation."""
    before = fingerprint()
    with pytest.raises(ValidationError) as refused:
        invoice_line_add(
            invoice=invoice, user=admin, description="X", materials_stored=Decimal(value)
        )
    assert "materials_stored" in refused.value.message_dict
    line = invoice.lines.first()
    with pytest.raises(ValidationError):
        invoice_line_update(line=line, user=admin, retainage_percent=Decimal(value))
    assert fingerprint() == before


# ----- 5. next and Referer: only this site's own pages ------------------------------------


@pytest.mark.parametrize(
    "next_url",
    ["javascript:alert(1)", "https://evil.example/", "//evil.example/x", "/\\evil.example"],
)
def test_sub_job_approve_never_redirects_off_site(project: Any, admin: Any, next_url: str) -> None:
    draft = f.SubJobFactory(project=project)
    url = reverse("sub_job_approve", args=[project.pk, draft.pk])
    response = client_for(admin).post(url, {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("sub_job_list", args=[project.pk])


def test_sub_job_approve_follows_a_next_on_this_site(project: Any, admin: Any) -> None:
    draft = f.SubJobFactory(project=project)
    url = reverse("sub_job_approve", args=[project.pk, draft.pk])
    response = client_for(admin).post(url, {"next": draft.get_absolute_url()})
    assert response.status_code == 302 and response["Location"] == draft.get_absolute_url()


@pytest.mark.parametrize(
    "next_url", ["javascript:alert(1)", "https://evil.example/", "http://testserver/x"]
)
def test_decisions_never_redirect_off_site(
    company: Any, approver: Any, pending: Any, next_url: str
) -> None:
    """http://testserver is this host but not HTTPS when the request came over HTTPS."""
    client = client_for(approver)
    response = client.post(
        decide_url(pending, "reject"), {"reason": "No", "next": next_url}, secure=True
    )
    assert response.status_code == 302
    assert response["Location"] == queue_url(company, "sub_job")


@pytest.mark.parametrize(
    "next_url", ["javascript:alert(1)", "https://evil.example/", "http://testserver/x"]
)
def test_bulk_decisions_never_redirect_off_site(
    company: Any, approver: Any, pending: Any, next_url: str
) -> None:
    response = client_for(approver).post(
        bulk_url(company),
        {"decision": "accept", "selected": [f"{pending.pk}:1"], "next": next_url},
        secure=True,
    )
    assert response.status_code == 302
    assert response["Location"] == queue_url(company, "sub_job")


@pytest.mark.parametrize("referer", ["javascript:alert(1)", "https://evil.example/page"])
def test_a_refusal_page_links_back_only_to_this_site(
    admin: Any, sub_job: Any, referer: str
) -> None:
    response = client_for(admin).post(
        sub_job.get_absolute_url() + "erp/retrieve/", HTTP_REFERER=referer
    )
    assert response.status_code == 409
    assert referer not in response.content.decode()


def test_a_refusal_page_links_back_to_the_page_it_came_from(admin: Any, sub_job: Any) -> None:
    back = sub_job.get_absolute_url()
    response = client_for(admin).post(
        back + "erp/retrieve/", HTTP_REFERER=f"http://testserver{back}"
    )
    assert response.status_code == 409
    assert f'href="http://testserver{back}"' in response.content.decode()


# ----- 6. the version an approver accepts -------------------------------------------------

BAD_VERSIONS = ["-1", "abc", "", " ", "١", "1.0", "+1", "1e0", "0x1", " 1", "1 ", "²", "1\x00"]


@pytest.mark.parametrize("headers", [HTMX, {}], ids=["htmx", "page"])
@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_accept_with_an_invalid_version_is_refused_and_changes_nothing(
    approver: Any, pending: Any, version: str, headers: dict[str, str]
) -> None:
    before = fingerprint()
    response = client_for(approver).post(
        decide_url(pending, "accept"), {"version": version}, **headers
    )
    assert response.status_code == 422
    assert "version" in text(response) and "reload the page" in text(response).lower()
    assert fingerprint() == before


def test_accept_without_a_version_is_refused(approver: Any, pending: Any) -> None:
    before = fingerprint()
    response = client_for(approver).post(decide_url(pending, "accept"))
    assert response.status_code == 422
    assert fingerprint() == before


def test_accept_with_the_version_shown_in_ascii_digits_is_done(approver: Any, pending: Any) -> None:
    response = client_for(approver).post(decide_url(pending, "accept"), {"version": "1"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.erp_state == "accepted"


@pytest.mark.parametrize(
    "selected",
    [["{pk}:-1"], ["{pk}:abc"], ["{pk}:"], ["{pk}"], ["{pk}:١"], ["١:1"], ["x:1"], ["{pk}:1:2"]],
)
def test_bulk_accept_with_an_invalid_selection_is_refused_and_changes_nothing(
    company: Any, approver: Any, pending: Any, selected: list[str]
) -> None:
    before = fingerprint()
    values = [value.format(pk=pending.pk) for value in selected]
    response = client_for(approver).post(
        bulk_url(company), {"decision": "accept", "selected": values}
    )
    assert response.status_code == 422
    assert "reload the page" in text(response).lower()
    assert fingerprint() == before


def test_the_pages_send_the_version_with_every_accept(
    company: Any, approver: Any, pending: Any
) -> None:
    client = client_for(approver)
    for url in (queue_url(company, "sub_job"), preview_url(pending)):
        page = client.get(url).content.decode()
        assert 'name="version" value="1"' in page, url
    assert f'value="{pending.pk}:1"' in client.get(queue_url(company, "sub_job")).content.decode()


# ----- 7. any input at all: never a 5xx, and a refusal changes nothing ---------------------

# Form data cannot carry lone surrogates; everything else can arrive.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SPECIALS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "sNaN",
    "-sNaN",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999999",
    "-1e999999",
    "1E+30",
    "١",
    "١٢٣",
    "²",
    "１",
    "-1",
    "0",
    "1",
    "01",
    "+1",
    "1.0",
    "0x1",
    "1_000",
    "1\n",
    "9" * 30,
    "9" * 5000,
    "\u200b1",
]
ANY = st.one_of(st.sampled_from(SPECIALS), TEXT)
NUMBERISH = st.one_of(
    st.sampled_from(SPECIALS),
    st.integers().map(str),
    st.decimals().map(str),
    st.floats().map(str),
    TEXT,
)
PROPERTY = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def post_and_check(client: Client, url: str, data: dict[str, Any], *, htmx: bool) -> int:
    """POST inside a savepoint that is rolled back, so every example starts from the same
    rows: never a 5xx; a 4xx leaves everything as it was. Returns the status."""
    with transaction.atomic():
        before = fingerprint()
        response = client.post(url, data, **(HTMX if htmx else {}))
        assert response.status_code < 500, (data, response.status_code)
        if 400 <= response.status_code < 500:
            assert fingerprint() == before, data
        transaction.set_rollback(True)
    return response.status_code


def quiet_client(user: Any) -> Client:
    """A 500 comes back as a response to assert on, not as the view's exception."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@PROPERTY
@given(reason=ANY, htmx=st.booleans())
@example(reason="Wrong\x00code", htmx=False)
@example(reason="Wrong\x00code", htmx=True)
def test_any_reject_reason(approver: Any, pending: Any, reason: str, htmx: bool) -> None:
    status = post_and_check(
        quiet_client(approver), decide_url(pending, "reject"), {"reason": reason}, htmx=htmx
    )
    done = status < 400
    kept = reason.strip()
    assert done == bool(kept and "\x00" not in kept and len(kept) <= REASON_MAX), status


@PROPERTY
@given(version=st.one_of(st.none(), NUMBERISH), htmx=st.booleans())
@example(version="²", htmx=False)
@example(version="١", htmx=False)
@example(version="-1", htmx=True)
@example(version="abc", htmx=False)
@example(version="", htmx=False)
@example(version="9" * 5000, htmx=False)
def test_any_accept_version(approver: Any, pending: Any, version: str | None, htmx: bool) -> None:
    """Accepted only with the version shown, in ASCII digits; anything else is refused."""
    data = {} if version is None else {"version": version}
    status = post_and_check(quiet_client(approver), decide_url(pending, "accept"), data, htmx=htmx)
    # The pages send ASCII digits; anything longer than 18 of them is no version of ours.
    shown = version is not None and re.fullmatch(r"[0-9]{1,18}", version) is not None
    done = status < 400
    assert done == (shown and int(version or 0) == pending.erp_version), (version, status)


@PROPERTY
@given(
    decision=st.one_of(st.sampled_from(["accept", "reject"]), TEXT),
    selected=st.lists(
        st.one_of(
            ANY,
            st.tuples(st.sampled_from(["{pk}", *SPECIALS]), NUMBERISH).map(":".join),
            st.just("{pk}:1"),
        ),
        max_size=4,
    ),
    reason=ANY,
)
@example(decision="reject", selected=["{pk}:1"], reason="No\x00")
@example(decision="accept", selected=["{pk}:²"], reason="")
@example(decision="accept", selected=["{pk}:abc"], reason="")
def test_any_bulk_selection(
    company: Any, approver: Any, pending: Any, decision: str, selected: list[str], reason: str
) -> None:
    data = {
        "decision": decision,
        "selected": [value.replace("{pk}", str(pending.pk)) for value in selected],
        "reason": reason,
    }
    post_and_check(quiet_client(approver), bulk_url(company), data, htmx=False)


EDIT_FIELDS = [
    "number",
    "status",
    "billing_period",
    "lines-0-description",
    "lines-0-scheduled_value",
    "lines-0-work_completed_this_period",
    "lines-1-materials_stored",
    "lines-1-retainage_percent",
    "lines-1-DELETE",
    "lines-0-id",
    "lines-2-description",
    "lines-2-work_completed_this_period",
    "lines-TOTAL_FORMS",
    "lines-INITIAL_FORMS",
]


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(EDIT_FIELDS), NUMBERISH, max_size=4))
@example(changes={"lines-0-scheduled_value": "sNaN"})
@example(changes={"lines-2-description": "New", "lines-2-work_completed_this_period": "-sNaN"})
@example(changes={"lines-0-description": "a\x00b"})
def test_any_invoice_edit(admin: Any, invoice: Any, changes: dict[str, str]) -> None:
    data = invoice_edit_data(invoice) | changes
    post_and_check(quiet_client(admin), invoice_edit_url(invoice), data, htmx=False)
