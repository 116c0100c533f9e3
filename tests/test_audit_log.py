"""The company audit log: who sees it, its filters in the URL, keyset pages and the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import os
import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.diff import changes_since_rejection
from approvals.emails import event_item
from approvals.kinds import kinds_for
from approvals.selectors import history_listing
from companysettings.audit import Cursor
from companysettings.export import HEADER, safe_cell
from companysettings.services import (
    company_set_adapter,
    company_set_dictionary,
    membership_set_flags,
)
from erpsync.models import ErpEvent
from erpsync.reconcile import _synced_via
from erpsync.selectors import erp_history
from erpsync.services import erp_accept, erp_mark_synced, erp_reject, erp_resend, erp_send
from projects.models import CompanyMembership, ToolLevel
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def log_url(company: Any, query: str = "") -> str:
    return reverse("audit_log", args=[company.slug]) + (f"?{query}" if query else "")


def export_url(company: Any, query: str = "") -> str:
    return reverse("audit_export", args=[company.slug]) + (f"?{query}" if query else "")


def listed(response: Any) -> list[str]:
    """The rows of the log page as 'action item' pairs, top to bottom."""
    rows = re.findall(
        r'<tr data-event="([a-z_]+)" data-item-ref="([^"]*)"', response.content.decode()
    )
    return [f"{action} {ref}" for action, ref in rows]


def read_csv(response: Any) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def erp_admin(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=False)


@pytest.fixture
def auditor(company: Any) -> Any:
    """Read Only on the ERP Integrations tool, on no project."""
    return f.approver(company, erp_tool_level=ToolLevel.READ_ONLY, can_push_to_accounting=False)


@pytest.fixture
def story(company: Any, project: Any, admin: Any, approver: Any, erp_admin: Any) -> dict[str, Any]:
    """A sub job sent and rejected, an invoice sent, the dictionary changed, a flag changed."""
    job = f.SubJobFactory(project=project, status="approved", code="03-100", created_by=admin)
    job = erp_send(item=job, user=admin)
    job = erp_reject(item=job, user=approver, reason="Wrong cost code")
    invoice = f.invoice_ready_to_send(project=project, user=admin)
    invoice = erp_send(item=invoice, user=admin)
    company_set_dictionary(company=company, user=erp_admin, pov="owner")
    target = CompanyMembership.objects.get(company=company, user=approver)
    membership_set_flags(membership=target, user=erp_admin, erp_digest_subscribed=True)
    return {"job": job, "invoice": invoice, "member": target}


# ----- who sees it ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["auditor", "approver", "erp_admin"])
def test_read_only_or_more_on_the_erp_tool_sees_the_log(
    request: pytest.FixtureRequest, who: str, company: Any
) -> None:
    user = request.getfixturevalue(who)
    assert client_for(user).get(log_url(company)).status_code == 200
    assert client_for(user).get(export_url(company)).status_code == 200


def test_a_member_without_the_erp_tool_is_refused_with_a_reason(company: Any, admin: Any) -> None:
    # `admin` is Admin on every project tool but has no level on the ERP Integrations tool.
    for address in (log_url(company), export_url(company)):
        response = client_for(admin).get(address)
        assert response.status_code == 403
        assert "The company audit log is for users of the company's ERP Integrations tool" in text(
            response
        )


def test_another_company_and_a_stranger_get_404(company: Any) -> None:
    outsider = f.approver(f.CompanyFactory(), erp_tool_level=ToolLevel.ADMIN)
    for user in (outsider, f.UserFactory()):
        assert client_for(user).get(log_url(company)).status_code == 404
        assert client_for(user).get(export_url(company)).status_code == 404


def test_the_log_shows_transitions_and_settings_changes_newest_first(
    company: Any, story: dict[str, Any], auditor: Any, erp_admin: Any
) -> None:
    job, invoice, member = story["job"], story["invoice"], story["member"]
    response = client_for(auditor).get(log_url(company))
    assert listed(response) == [
        f"edit directory:{member.pk}",
        f"edit company:{company.pk}",
        f"send owner_invoice:{invoice.pk}",
        f"reject sub_job:{job.pk}",
        f"send sub_job:{job.pk}",
    ]
    body = text(response)
    assert "Point-of-view dictionary: General Contractors (default) → Owners" in body
    assert "Subscribe to ERP digest emails: No → Yes" in body
    assert "Wrong cost code" in body
    # Items in the company's (new) dictionary, linked to the approvers' preview.
    assert f"Funding Invoice {invoice.number}" in body
    assert reverse("erp_item", args=[company.slug, "sub_job", job.pk]) in body
    # Settings rows link to the settings pages only for an Admin.
    assert reverse("settings_member_history", args=[company.slug, member.pk]) not in body
    admin_body = text(client_for(erp_admin).get(log_url(company)))
    assert reverse("settings_member_history", args=[company.slug, member.pk]) in admin_body


# ----- filters, kept in the URL ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=send", ["send owner_invoice", "send sub_job"]),
        ("action=edit", ["edit directory", "edit company"]),
        ("kind=sub_job", ["reject sub_job", "send sub_job"]),
        ("kind=owner_invoice", ["send owner_invoice"]),
        ("kind=company", ["edit company"]),
        ("kind=directory", ["edit directory"]),
        ("q=03-1", ["reject sub_job", "send sub_job"]),
        ("q=inv-", ["send owner_invoice"]),
        ("kind=sub_job&action=reject", ["reject sub_job"]),
    ],
)
def test_filters_narrow_the_log(
    query: str, expected: list[str], company: Any, story: dict[str, Any], auditor: Any
) -> None:
    response = client_for(auditor).get(log_url(company, query))
    assert response.status_code == 200
    assert [row.split(":")[0] for row in listed(response)] == expected


def test_filter_by_user(
    company: Any, story: dict[str, Any], auditor: Any, admin: Any, approver: Any, erp_admin: Any
) -> None:
    client = client_for(auditor)
    assert [r.split(" ")[0] for r in listed(client.get(log_url(company, f"user={admin.pk}")))] == [
        "send",
        "send",
    ]
    assert listed(client.get(log_url(company, f"user={approver.pk}"))) == [
        f"reject sub_job:{story['job'].pk}"
    ]
    assert len(listed(client.get(log_url(company, f"user={erp_admin.pk}")))) == 2
    # The filter form offers the company's members and keeps the choice.
    body = text(client.get(log_url(company, f"user={approver.pk}")))
    assert re.search(rf'<option value="{approver.pk}" selected>', body)


def test_filter_by_the_item_link(company: Any, story: dict[str, Any], auditor: Any) -> None:
    job = story["job"]
    response = client_for(auditor).get(log_url(company, "action=send"))
    assert f"?action=send&amp;item=sub_job%3A{job.pk}" in response.content.decode()
    response = client_for(auditor).get(log_url(company, f"item=sub_job:{job.pk}"))
    assert listed(response) == [f"reject sub_job:{job.pk}", f"send sub_job:{job.pk}"]
    assert "Showing one item only." in text(response)


def test_filter_by_date_range(company: Any, story: dict[str, Any], auditor: Any) -> None:
    old = ErpEvent.objects.get(action="reject")
    old.created_at = timezone.now() - dt.timedelta(days=10)
    old.save()
    today = timezone.localdate()
    earlier = today - dt.timedelta(days=10)
    client = client_for(auditor)
    only_old = listed(client.get(log_url(company, f"since={earlier}&until={earlier}")))
    assert only_old == [f"reject sub_job:{story['job'].pk}"]
    recent = listed(client.get(log_url(company, f"since={today}")))
    assert len(recent) == 4 and all("reject" not in r for r in recent)
    up_to_yesterday = listed(client.get(log_url(company, f"until={today - dt.timedelta(days=1)}")))
    assert up_to_yesterday == only_old


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "Enter a valid date."),
        ("since=2026-12-02&until=2026-12-01", "The end of the range is before its start."),
        ("action=explode", "Select a valid choice."),
        ("user=abc", "Select a valid choice."),
        ("kind=spaceship", "Select a valid choice."),
        ("item=sub_job:x", "This item link is damaged"),
    ],
)
def test_bad_filters_are_400_with_the_reason_at_the_field(
    query: str, message: str, company: Any, story: dict[str, Any], auditor: Any
) -> None:
    client = client_for(auditor)
    response = client.get(log_url(company, query))
    assert response.status_code == 400
    assert message in text(response)
    assert listed(response) == []
    assert client.get(export_url(company, query)).status_code == 400


@pytest.mark.parametrize("cursor", ["abc", "1.2.3", "99999999999999999999.1", "-5.1"])
def test_a_damaged_page_link_is_400(cursor: str, company: Any, auditor: Any) -> None:
    for param in ("after", "before"):
        response = client_for(auditor).get(log_url(company, f"{param}={cursor}"))
        assert response.status_code == 400
        assert "This page link is damaged" in text(response)


# ----- keyset pages ---------------------------------------------------------------------------


def many_events(company: Any, user: Any, n: int, *, start: dt.datetime | None = None) -> list[int]:
    """n audit rows of one sub job, some sharing a timestamp (keyset ties), oldest first."""
    job = f.SubJobFactory(project=f.ProjectFactory(company=company))
    ct = ContentType.objects.get_for_model(SubJob)
    start = start or timezone.now() - dt.timedelta(days=1)
    rows = ErpEvent.objects.bulk_create(
        ErpEvent(
            content_type=ct,
            object_id=job.pk,
            company=company,
            action="edit",
            from_state="not_sent",
            to_state="not_sent",
            actor=user,
            details={"changes": {"name": [f"n{i}", f"n{i + 1}"]}},
            # Three rows per second: pages must break ties by id.
            created_at=start + dt.timedelta(seconds=i // 3),
        )
        for i in range(n)
    )
    return [r.pk for r in rows]


def row_ids(response: Any) -> list[str]:
    return re.findall(r"data-change>name: (n\d+) →", text(response))


def test_pages_walk_every_row_once_newest_first_and_back(
    company: Any, auditor: Any, admin: Any
) -> None:
    many_events(company, admin, 130)
    client = client_for(auditor)
    seen: list[str] = []
    pages = []
    response = client.get(log_url(company, "kind=sub_job"))
    while True:
        pages.append(response)
        seen += row_ids(response)
        older = re.search(r'href="\?([^"]*)" rel="next"', response.content.decode())
        if older is None:
            break
        response = client.get(log_url(company, html.unescape(older.group(1))))
    assert [len(row_ids(p)) for p in pages] == [50, 50, 30]
    assert seen == [f"n{i}" for i in range(129, -1, -1)]
    assert "kind=sub_job" in html.unescape(pages[1].content.decode()).split('rel="next"')[0]

    # Newer from the last page gives the middle page again, then the first.
    newer = re.search(r'href="\?([^"]*)" rel="prev"', pages[2].content.decode())
    assert newer is not None
    middle = client.get(log_url(company, html.unescape(newer.group(1))))
    assert row_ids(middle) == row_ids(pages[1])
    newer = re.search(r'href="\?([^"]*)" rel="prev"', middle.content.decode())
    assert newer is not None
    assert row_ids(client.get(log_url(company, html.unescape(newer.group(1))))) == row_ids(pages[0])


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    moment = dt.datetime(2026, 12, 1, 10, 11, 12, 345678, tzinfo=dt.UTC)
    assert Cursor.parse(str(Cursor(moment, 42))) == Cursor(moment, 42)


def test_the_query_count_does_not_grow_with_rows(
    company: Any, project: Any, admin: Any, approver: Any, erp_admin: Any, auditor: Any
) -> None:
    def add_round(i: int) -> None:
        job = f.SubJobFactory(project=project, status="approved", code=f"Q{i:03d}")
        erp_send(item=job, user=admin)
        erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
        company_set_dictionary(
            company=company, user=erp_admin, pov=["owner", "general_contractor"][i % 2]
        )
        member = CompanyMembership.objects.get(company=company, user=approver)
        membership_set_flags(
            membership=member, user=erp_admin, erp_digest_subscribed=bool(i % 2 == 0)
        )

    client = client_for(auditor)
    add_round(0)
    client.get(log_url(company))  # content types cached, as in a running server
    with CaptureQueriesContext(connection) as few:
        assert client.get(log_url(company)).status_code == 200
    for i in range(1, 20):
        add_round(i)
    with CaptureQueriesContext(connection) as many:
        response = client.get(log_url(company))
    assert len(listed(response)) == 50
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    with CaptureQueriesContext(connection) as text_search:
        client.get(log_url(company, "q=Q00&kind=sub_job"))
    assert len(text_search) <= len(few)


# ----- CSV ------------------------------------------------------------------------------------


def test_the_csv_streams_the_filtered_view_with_a_header(
    company: Any, story: dict[str, Any], auditor: Any, approver: Any
) -> None:
    response = client_for(auditor).get(export_url(company, "kind=sub_job"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="' in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == HEADER
    job = story["job"]
    assert [r[4] for r in rows[1:]] == ["Reject", "Send to ERP"]
    reject = rows[1]
    assert reject[1] == company.name
    assert reject[2:4] == ["Sub job", f"Sub job {job.code}"]
    assert reject[5:8] == ["Pending acceptance", "Rejected", approver.username]
    assert reject[8:10] == ["Wrong cost code", "1"]
    assert dt.datetime.fromisoformat(reject[0]).tzinfo is not None


def test_the_csv_has_settings_changes_and_names_system_and_deleted_actors(
    company: Any, story: dict[str, Any], auditor: Any, approver: Any
) -> None:
    invoice = erp_accept(item=story["invoice"], user=approver)
    erp_mark_synced(item=invoice, erp_id="ERP-7")
    approver.delete()
    rows = read_csv(client_for(auditor).get(export_url(company)))
    by_action = {r[4]: r for r in rows[1:]}
    assert by_action["Synced"][7] == "erpsync"
    assert by_action["Accept"][7] == "a deleted user"
    company_rows = [r for r in rows if r[2] == "Company settings"]
    assert company_rows[0][3] == company.name
    assert company_rows[0][10] == "Point-of-view dictionary: General Contractors (default) → Owners"
    directory = [r for r in rows if r[2] == "Directory"]
    assert directory[0][10] == "Subscribe to ERP digest emails: No → Yes"


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(
    company: Any, project: Any, admin: Any, approver: Any, auditor: Any
) -> None:
    job = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    erp_reject(item=job, user=approver, reason='=HYPERLINK("http://evil.example","x")')
    approver.first_name, approver.last_name = "@Pat", "-Approver"
    approver.save()
    rows = read_csv(client_for(auditor).get(export_url(company, "action=reject")))
    assert rows[1][8] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1][7] == "'@Pat -Approver"
    assert [safe_cell(v) for v in ("+1", "-1", "\tx", "ok", None, 3)] == [
        "'+1",
        "'-1",
        "'\tx",
        "ok",
        "",
        "3",
    ]


def test_the_csv_of_a_secret_change_holds_no_secret(
    company: Any, erp_admin: Any, auditor: Any
) -> None:
    company_set_adapter(
        company=company,
        user=erp_admin,
        adapter="webhook",
        settings={"url": "https://erp.example.com/hook", "secret": "hunter2-hunter2"},
    )
    body = b"".join(client_for(auditor).get(export_url(company)).streaming_content).decode()
    assert "hunter2" not in body
    assert "ERP setting secret: — → ***" in body


# ----- code that reads audit rows of items is not confused by settings rows ------------------


def test_item_readers_ignore_company_and_directory_rows(
    company: Any, story: dict[str, Any], approver: Any, admin: Any
) -> None:
    job = story["job"]
    assert [e.action for e in erp_history(job)] == ["send", "reject"]
    kind = next(k for k in kinds_for(company) if k.key == "sub_job")
    listing = history_listing(company, kind, QueryDict())
    assert listing.page is not None
    assert [e.action for e in listing.page] == ["reject"]
    # Resent after the rejection: the changes since are read from the item's rows only.
    job.name = "Renamed"
    job.save()
    resent = erp_resend(item=job, user=admin)
    since = changes_since_rejection(resent)
    assert since is not None and since.rejection.action == "reject"
    assert [c.field for c in since.changes] == ["Name"]
    assert _synced_via(company) == {}
    settings_rows = ErpEvent.objects.filter(company=company, action="edit")
    assert settings_rows.count() == 2
    assert all(event_item(e) is None for e in settings_rows)


# ----- 100,000 rows ---------------------------------------------------------------------------


def bulk_rows(company: Any, user: Any, n: int) -> None:
    """n audit rows of one sub job, inserted by PostgreSQL itself, one a second."""
    job = f.SubJobFactory(project=f.ProjectFactory(company=company))
    ct = ContentType.objects.get_for_model(SubJob)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ErpEvent._meta.db_table}
              (content_type_id, object_id, company_id, action, from_state, to_state, actor_id,
               reason, version, snapshot, details, created_at)
            SELECT %s, %s, %s, CASE WHEN i %% 10 = 0 THEN 'reject' ELSE 'edit' END,
                   'not_sent', 'not_sent', %s, '', NULL, NULL,
                   jsonb_build_object('changes', jsonb_build_object('name',
                     jsonb_build_array('n' || i, 'n' || (i + 1)))),
                   now() - interval '1 second' * (%s - i)
            FROM generate_series(1, %s) AS i
            """,
            [ct.pk, job.pk, company.pk, user.pk, n, n],
        )
        cursor.execute(f"ANALYZE {ErpEvent._meta.db_table}")


def test_100000_rows_a_deep_page_and_the_csv_stay_fast_and_small(
    company: Any, auditor: Any, admin: Any, report_figure: Any
) -> None:
    import time

    bulk_rows(company, admin, 100_000)
    bulk_rows(f.CompanyFactory(), admin, 20_000)  # another company's rows are not read
    client = client_for(auditor)
    client.get(log_url(company))
    timings = {}
    for name, query in [
        ("first page", ""),
        (
            "a page 99,000 rows down",
            f"after={Cursor(timezone.now() - dt.timedelta(seconds=99_000), 1)}",
        ),
        ("first page, action=reject", "action=reject"),
    ]:
        started = time.perf_counter()
        response = client.get(log_url(company, query))
        timings[name] = time.perf_counter() - started
        assert response.status_code == 200 and len(listed(response)) == 50, name
    for name, seconds in timings.items():
        report_figure(f"audit log, 100,000 rows, {name}: {seconds * 1000:.0f} ms")
        assert seconds < 1.0, timings

    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN SELECT id FROM {ErpEvent._meta.db_table} WHERE company_id = %s "
            "AND created_at <= now() - interval '99000 seconds' "
            "ORDER BY created_at DESC, id DESC LIMIT 51",
            [company.pk],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "erpevent_company_idx" in plan, plan

    started = time.perf_counter()
    response = client.get(export_url(company))
    assert response.streaming
    lines, baseline, peak = 0, 0, 0
    for _chunk in response.streaming_content:
        lines += 1
        if lines % 5_000 == 1:
            # Resident memory, sampled as rows stream out: it must not grow with the rows.
            rss = resident_bytes()
            baseline = baseline or rss
            peak = max(peak, rss)
    seconds = time.perf_counter() - started
    growth = (peak - baseline) / 2**20
    report_figure(
        f"audit CSV, 100,000 rows: {seconds:.1f} s, resident memory grew {growth:.1f} MiB"
    )
    assert lines == 100_001
    assert growth < 64, growth


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_free_text_finds_a_members_directory_rows_by_username(
    company: Any, story: dict[str, Any], auditor: Any, approver: Any
) -> None:
    response = client_for(auditor).get(log_url(company, f"q={approver.username.upper()}"))
    assert listed(response) == [f"edit directory:{story['member'].pk}"]
