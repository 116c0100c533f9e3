"""Search, filters and sort on the ERP Integrations tool's queues and history (issue 11, 2)."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from erpsync.services import erp_reject, erp_retrieve, erp_send
from invoicing.models import OwnerInvoice
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue(company: Any, kind: str = "sub_job", filter_: str = "ready") -> str:
    return reverse("erp_queue", args=[company.slug, kind, filter_])


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def titles(response: Any) -> list[str]:
    """The items listed, in order."""
    assert response.status_code == 200, response.status_code
    return re.findall(r'<tr id="erp-[^"]+" data-item="([^"]+)"', text(response))


def send(project: Any, admin: Any, code: str, name: str, *, by: Any = None) -> SubJob:
    item = f.SubJobFactory(project=project, status="approved", code=code, name=name)
    return erp_send(item=item, user=by or admin)


def sent_on(item: Any, day: dt.date, hour: int = 12) -> None:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
    type(item).objects.filter(pk=item.pk).update(erp_sent_at=moment)


@pytest.fixture
def jobs(project: Any, admin: Any) -> dict[str, SubJob]:
    """Three pending sub jobs: two of `project`, one of another project of the company."""
    other = f.ProjectFactory(
        company=project.company,
        number="Z-9",
        name="Harbour Bridge",
        erp_synced=True,
        erp_job_id="J",
    )
    other_admin = f.member(other, admin=True)
    items = {
        "concrete": send(project, admin, "03-100", "Cast-in-place Concrete"),
        "masonry": send(project, admin, "04-200", "Unit Masonry"),
        "steel": send(other, other_admin, "05-100", "Structural Steel"),
    }
    sent_on(items["concrete"], dt.date(2026, 10, 1))
    sent_on(items["masonry"], dt.date(2026, 10, 15))
    sent_on(items["steel"], dt.date(2026, 10, 31), hour=23)
    return items


# ----- each filter narrows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("concrete", ["sub job 03-100"]),  # name, any case
        ("04-2", ["sub job 04-200"]),  # code
        ("HARBOUR", ["sub job 05-100"]),  # project name
        ("Z-9", ["sub job 05-100"]),  # project number
        ("unit masonry", ["sub job 04-200"]),  # every word
        ("unit steel", []),
        ("", ["sub job 03-100", "sub job 04-200", "sub job 05-100"]),
    ],
)
def test_free_text_searches_code_name_and_project(
    company: Any, approver: Any, jobs: Any, q: str, expected: list[str]
) -> None:
    response = client_for(approver).get(queue(company), {"q": q})
    assert titles(response) == expected


def test_the_project_filter(company: Any, approver: Any, jobs: Any) -> None:
    project = jobs["steel"].project
    assert titles(client_for(approver).get(queue(company), {"project": project.pk})) == [
        "sub job 05-100"
    ]


def test_the_sender_filter(company: Any, approver: Any, jobs: Any) -> None:
    sender = jobs["steel"].erp_sent_by
    response = client_for(approver).get(queue(company), {"sender": sender.pk})
    assert titles(response) == ["sub job 05-100"]


def test_the_sent_date_range_counts_whole_days(company: Any, approver: Any, jobs: Any) -> None:
    client = client_for(approver)
    assert titles(client.get(queue(company), {"sent_from": "2026-10-15"})) == [
        "sub job 04-200",
        "sub job 05-100",
    ]
    # The last day counts until its end (steel was sent at 23:00 on it).
    assert titles(client.get(queue(company), {"sent_to": "2026-10-31"})) == [
        "sub job 03-100",
        "sub job 04-200",
        "sub job 05-100",
    ]
    between = {"sent_from": "2026-10-02", "sent_to": "2026-10-30"}
    assert titles(client.get(queue(company), between)) == ["sub job 04-200"]


def test_filters_combine(company: Any, approver: Any, jobs: Any, project: Any) -> None:
    response = client_for(approver).get(
        queue(company),
        {"q": "0", "project": project.pk, "sent_from": "2026-10-10", "sort": "-item"},
    )
    assert titles(response) == ["sub job 04-200"]


@pytest.fixture
def invoices(project: Any, admin: Any) -> dict[str, OwnerInvoice]:
    """Pending owner invoices due 22,500.00 (two default lines), 11,250.00 and 0.00."""
    items = {
        "two": f.invoice_ready_to_send(project=project, user=admin, lines=2),
        "one": f.invoice_ready_to_send(project=project, user=admin, lines=1),
        "none": f.invoice_ready_to_send(project=project, user=admin, lines=0),
    }
    return {key: erp_send(item=item, user=admin) for key, item in items.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"amount_min": "11250"}, {"two", "one"}),
        ({"amount_min": "11250.01"}, {"two"}),
        ({"amount_max": "11250.00"}, {"one", "none"}),
        ({"amount_max": "0"}, {"none"}),  # no lines: due 0.00
        ({"amount_min": "1", "amount_max": "20000"}, {"one"}),
        ({"amount_min": "-5"}, {"two", "one", "none"}),
    ],
)
def test_the_amount_due_range_on_owner_invoices(
    company: Any, approver: Any, invoices: Any, query: dict[str, str], expected: set[str]
) -> None:
    response = client_for(approver).get(queue(company, "owner_invoice"), query)
    shown = set(titles(response))
    assert shown == {invoices[key].erp_title for key in expected}


def test_owner_invoices_search_contract_and_sort_by_amount(
    company: Any, approver: Any, invoices: Any
) -> None:
    client = client_for(approver)
    contract = invoices["one"].prime_contract.number
    assert titles(client.get(queue(company, "owner_invoice"), {"q": contract})) == [
        invoices["one"].erp_title
    ]
    by_amount = titles(client.get(queue(company, "owner_invoice"), {"sort": "-amount"}))
    assert by_amount == [invoices[k].erp_title for k in ("two", "one", "none")]


def test_sub_jobs_have_no_amount_filter(company: Any, approver: Any, jobs: Any) -> None:
    response = client_for(approver).get(queue(company), {"amount_min": "abc"})
    assert len(titles(response)) == 3  # not a filter of this list: ignored
    assert 'name="amount_min"' not in text(response)


# ----- bad input: a field error and 400, never a 500 ---------------------------------------------


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("amount_min", "abc", "Enter a number."),
        ("amount_min", "sNaN", "Enter a number."),
        ("amount_max", "NaN", "Enter a number."),
        ("amount_max", "Infinity", "Enter a number."),
        ("amount_min", "1e999999", "Ensure that there are no more than 14 digits in total."),
        ("amount_min", "12.345", "Ensure that there are no more than 2 decimal places."),
        ("sent_from", "2026-13-40", "Enter a valid date."),
        ("sent_to", "tomorrow", "Enter a valid date."),
        ("sent_from", "0001-01-01", "Enter a date between 1900 and 9998."),
        ("project", "abc", "Select a valid choice."),
        ("project", "99999999999999999999", "Select a valid choice."),
        ("sender", "-1", "Select a valid choice."),
        ("q", "x" * 101, "Ensure this value has at most 100 characters"),
        ("q", "nul\x00here", "Null characters are not allowed."),
        ("sort", "password", "There is no sort password here"),
        ("sort", "--item", "There is no sort --item here"),
    ],
)
@pytest.mark.parametrize("kind", ["sub_job", "owner_invoice"])
def test_unreadable_filters_are_field_errors_with_400(
    company: Any, approver: Any, jobs: Any, kind: str, param: str, value: str, message: str
) -> None:
    if kind == "sub_job" and param.startswith("amount"):
        return  # sub jobs have no amount (see test_sub_jobs_have_no_amount_filter)
    response = client_for(approver).get(queue(company, kind), {param: value})
    assert response.status_code == 400
    body = text(response)
    if param == "sort":
        assert message in body and 'role="alert" data-error-for="sort"' in body
    else:
        error = re.search(
            rf'<ul class="field-error" data-error-for="{param}">(.*?)</ul>', body, re.S
        )
        assert error and message in error[1], body[-3000:]
    assert "Fix the filters above to see the list." in body
    assert "data-item=" not in body


def test_a_project_of_another_company_is_not_a_choice(
    company: Any, approver: Any, jobs: Any
) -> None:
    elsewhere = f.ProjectFactory()
    response = client_for(approver).get(queue(company), {"project": elsewhere.pk})
    assert response.status_code == 400
    assert elsewhere.name not in text(response)


def test_reversed_ranges_are_refused_at_the_upper_field(
    company: Any, approver: Any, invoices: Any
) -> None:
    client = client_for(approver)
    response = client.get(
        queue(company, "owner_invoice"), {"sent_from": "2026-11-02", "sent_to": "2026-11-01"}
    )
    assert response.status_code == 400
    assert "The end date is before the start date." in text(response)
    response = client.get(
        queue(company, "owner_invoice"), {"amount_min": "10", "amount_max": "9.99"}
    )
    assert response.status_code == 400
    assert "The upper amount is below the lower one." in text(response)


# ----- sort ------------------------------------------------------------------------------------


def test_column_headings_sort_both_ways(company: Any, approver: Any, jobs: Any) -> None:
    client = client_for(approver)
    assert titles(client.get(queue(company))) == [
        "sub job 03-100",
        "sub job 04-200",
        "sub job 05-100",
    ]
    assert titles(client.get(queue(company), {"sort": "-item"})) == [
        "sub job 05-100",
        "sub job 04-200",
        "sub job 03-100",
    ]
    assert titles(client.get(queue(company), {"sort": "waiting"}))[0] == "sub job 05-100"
    assert titles(client.get(queue(company), {"sort": "-project"}))[0] == "sub job 05-100"
    body = text(client.get(queue(company), {"sort": "item", "q": "0"}))
    # The sorted heading says so and links to the other direction, keeping the search.
    assert re.search(r'<th aria-sort="ascending"><a href="[^"]*\?q=0&sort=-item"', body)
    assert re.search(r'<a href="[^"]*\?q=0&sort=project" class="sort" data-sort="project"', body)


def test_ties_are_broken_by_pk(company: Any, approver: Any, project: Any, admin: Any) -> None:
    items = [send(project, admin, f"T-{n}", "Same") for n in range(4)]
    same = timezone.now() - dt.timedelta(days=1)
    SubJob.objects.filter(pk__in=[i.pk for i in items]).update(erp_sent_at=same, name="Same")
    client = client_for(approver)
    expected = [i.erp_title for i in sorted(items, key=lambda i: i.pk)]
    assert titles(client.get(queue(company), {"sort": "waiting"})) == expected
    assert titles(client.get(queue(company), {"sort": "-waiting"})) == expected[::-1]


def test_synced_stays_grouped_by_project_whatever_the_sort(
    company: Any, approver: Any, jobs: Any, drive: Any, project: Any
) -> None:
    from erpsync.services import erp_accept, erp_mark_synced

    for item in jobs.values():
        erp_mark_synced(item=erp_accept(item=item, user=approver), erp_id=f"E-{item.code}")
    body = text(client_for(approver).get(queue(company, filter_="synced"), {"sort": "-item"}))
    groups = re.findall(r'<tr class="group"><th colspan="5">(\S+)', body)
    assert groups == sorted({project.number, "Z-9"})


# ----- the page around the list ----------------------------------------------------------------


def test_counts_stay_unfiltered_and_the_summary_says_n_of_m(
    company: Any, approver: Any, jobs: Any
) -> None:
    body = text(client_for(approver).get(queue(company), {"q": "concrete"}))
    assert 'data-count="sub_job">3<' in body
    assert "Ready to Export (3)" in body
    assert "1 of 3 match" in body


def test_the_filter_bar_keeps_what_was_asked_and_the_state_links_keep_the_search(
    company: Any, approver: Any, jobs: Any, project: Any
) -> None:
    body = text(
        client_for(approver).get(
            queue(company), {"q": "con", "project": project.pk, "sort": "-item", "page": "1"}
        )
    )
    assert '<form method="get" action="' + queue(company) + '"' in body
    assert 'value="con"' in body
    assert f'<option value="{project.pk}" selected>' in body
    assert '<input type="hidden" name="sort" value="-item"' in body
    synced = queue(company, filter_="synced")
    assert f'href="{synced}?q=con&project={project.pk}"' in body
    csv_link = re.search(r'<a href="([^"]+)" download data-download-csv>', body)
    assert csv_link and csv_link[1] == (
        f"{queue(company)}?q=con&project={project.pk}&sort=-item&format=csv"
    )


def test_pagination_links_keep_the_filters(company: Any, approver: Any, project: Any, admin: Any):
    from tests.bulk import pending_sub_jobs

    pending_sub_jobs(project, admin, 120)
    client = client_for(approver)
    body = text(client.get(queue(company), {"q": "bulk", "sort": "-item"}))
    assert "Page 1 of 3 (120 items)" in body
    assert f'href="{queue(company)}?q=bulk&sort=-item&page=2" rel="next"' in body
    second = client.get(queue(company), {"q": "bulk", "sort": "-item", "page": "2"})
    assert titles(second)[0] == "sub job B-0000069"
    assert f'href="{queue(company)}?q=bulk&sort=-item&page=1" rel="prev"' in text(second)


def test_the_history_filters_by_what_who_item_and_day(
    company: Any, approver: Any, jobs: Any, admin: Any
) -> None:
    erp_reject(item=jobs["concrete"], user=approver, reason="Wrong code")
    erp_retrieve(item=jobs["masonry"], user=admin)
    client = client_for(approver)
    history = queue(company, filter_="history")

    def events(query: dict[str, Any]) -> list[str]:
        response = client.get(history, query)
        assert response.status_code == 200
        return re.findall(r'<tr data-event="(\w+)">', text(response))

    assert events({}) == ["retrieve", "reject"]
    assert events({"action": "reject"}) == ["reject"]
    assert events({"who": admin.pk}) == ["retrieve"]
    assert events({"q": "masonry"}) == ["retrieve"]
    assert events({"project": jobs["steel"].project.pk}) == []
    today = timezone.localdate().isoformat()
    assert events({"when_from": today, "when_to": today, "sort": "when"}) == [
        "reject",
        "retrieve",
    ]
    assert client.get(history, {"when_from": "2026-02-30"}).status_code == 400


def test_a_read_only_user_filters_too(company: Any, jobs: Any) -> None:
    viewer = f.approver(company, erp_tool_level=10, can_push_to_accounting=False)
    response = client_for(viewer).get(queue(company), {"q": "masonry"})
    assert titles(response) == ["sub job 04-200"]
    assert "Accept selected" not in text(response)


def test_the_sender_choices_are_the_companys_people(company: Any, approver: Any, jobs: Any):
    stranger = f.UserFactory(first_name="Stranger", last_name="Elsewhere")
    f.CompanyMembershipFactory(user=stranger)
    body = text(client_for(approver).get(queue(company)))
    assert "Stranger Elsewhere" not in body
    sender = get_user_model().objects.get(pk=jobs["steel"].erp_sent_by_id)
    assert f'<option value="{sender.pk}">' in body


def test_amounts_are_decimal_not_float() -> None:
    from erpsync.filters import AmountField

    assert AmountField().clean("0.10") == Decimal("0.10")
    assert isinstance(AmountField().clean("1234567.89"), Decimal)
