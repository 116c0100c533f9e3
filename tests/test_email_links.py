"""Decisions from email: the signed, single-use Accept and Reject links in submission and
reminder emails, and the confirm page they open (README, Approval policy → Decisions from
email)."""

from __future__ import annotations

import datetime as dt
import re
import time
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.email_links import SALT, make_token, read_token
from approvals.models import UsedEmailLink
from approvals.reminders import deliver_reminders
from erpsync.models import Approval, ApprovalRule, ErpEvent, OutboxEmail
from erpsync.outbox import deliver_email
from erpsync.services import erp_accept, erp_reject, erp_resend, erp_send
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:8000"
LINK = re.compile(r"(Review and accept|Reject…): (\S+)")


@pytest.fixture
def pending(sub_job: Any, admin: Any) -> Any:
    """The sub job, sent: version 1 waits for an accounting approver."""
    return erp_send(item=sub_job, user=admin)


def path_of(user: Any, item: Any, action: str, **kwargs: Any) -> str:
    return reverse("email_decision", args=[make_token(user, item, action, **kwargs)])


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def opened_and_posted(user: Any, path: str) -> tuple[Any, Any]:
    """The link opened (GET) and its decision posted (POST) by `user`: a refusal answers both
    the same way."""
    client = as_user(user)
    return client.get(path), client.post(path)


def fresh(item: Any) -> Any:
    return type(item).objects.get(pk=item.pk)


def events(item: Any) -> list[str]:
    return list(
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item), object_id=item.pk
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


def text(response: Any) -> str:
    """The page's words, without tags, as a reader sees them."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def email_links(message: Any) -> dict[str, str]:
    """{"Review and accept": url, "Reject…": url} from a message's text part."""
    return dict(LINK.findall(message.body))


# ----- the links in the emails ------------------------------------------------------------


def test_submission_emails_carry_accept_and_reject_links_for_each_recipient(
    company: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    other = f.approver(company)
    erp_send(item=sub_job, user=admin)
    for row in OutboxEmail.objects.filter(kind="submission"):
        assert deliver_email(row.pk) == "sent"

    by_recipient = {m.to[0]: m for m in mailoutbox}
    assert set(by_recipient) == {approver.email, other.email}
    for user in (approver, other):
        message = by_recipient[user.email]
        links = email_links(message)
        assert set(links) == {"Review and accept", "Reject…"}
        for label, action in (("Review and accept", "accept"), ("Reject…", "reject")):
            url = links[label]
            assert url.startswith(f"{BASE}/email-links/")
            assert f'href="{url}"' in message.alternatives[0].content
            link = read_token(urlsplit(url).path.split("/")[2])
            assert (link.user_id, link.kind, link.item_id, link.version, link.action) == (
                user.pk,
                "sub_job",
                sub_job.pk,
                1,
                action,
            )
    assert email_links(by_recipient[approver.email]) != email_links(by_recipient[other.email])


def test_an_approver_who_may_not_accept_gets_no_accept_link(
    company: Any, project: Any, mailoutbox: list[Any]
) -> None:
    sender = f.approver(company)
    f.ProjectMembershipFactory(project=project, user=sender, admin_level=ToolLevel.ADMIN)
    f.approver(company)
    item = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=sender)
    for row in OutboxEmail.objects.filter(kind="submission"):
        deliver_email(row.pk)

    [own] = [m for m in mailoutbox if m.to == [sender.email]]
    # The company blocks self-approval: the sender may reject their item, not accept it.
    assert set(email_links(own)) == {"Reject…"}
    assert item.code in own.body


def test_reminder_emails_carry_the_links_of_each_item(
    project: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    items = []
    for _ in range(2):
        item = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
        SubJob.objects.filter(pk=item.pk).update(
            erp_sent_at=timezone.make_aware(dt.datetime(2026, 11, 20, 10))
        )
        items.append(item)

    deliver_reminders(day=dt.date(2026, 11, 24))

    [message] = mailoutbox
    found = LINK.findall(message.body)
    tokens = [read_token(urlsplit(url).path.split("/")[2]) for _, url in found]
    assert sorted((t.item_id, t.action, t.user_id) for t in tokens) == sorted(
        (item.pk, action, approver.pk) for item in items for action in ("accept", "reject")
    )


# ----- opening a link ---------------------------------------------------------------------


def test_a_link_asks_for_a_login_first_and_comes_back_to_it(pending: Any, approver: Any) -> None:
    path = path_of(approver, pending, "accept")

    response = Client().get(path)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("login")
    assert parse_qs(location.query)["next"] == [path]


def test_opening_the_link_decides_nothing(pending: Any, approver: Any) -> None:
    client = as_user(approver)
    before = events(pending)

    accept = client.get(path_of(approver, pending, "accept"))
    reject = client.get(path_of(approver, pending, "reject"))
    head = client.head(path_of(approver, pending, "accept"))

    assert (accept.status_code, reject.status_code, head.status_code) == (200, 200, 200)
    assert fresh(pending).erp_state == "pending"
    assert events(pending) == before
    assert not UsedEmailLink.objects.exists()
    page = accept.content.decode()
    assert 'method="post"' in page and "csrfmiddlewaretoken" in page
    assert "Accept version 1" in text(accept)
    assert f"sub job {pending.code}" in text(accept)
    preview = reverse("erp_item", args=[pending.erp_company.slug, "sub_job", pending.pk])
    assert f'href="{preview}"' in page
    assert '<textarea name="reason"' in reject.content.decode()
    assert "required" in reject.content.decode().split('<textarea name="reason"')[1][:80]


def test_the_decision_needs_the_csrf_token(pending: Any, approver: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)

    response = client.post(path_of(approver, pending, "accept"))

    assert response.status_code == 403
    assert fresh(pending).erp_state == "pending"


# ----- deciding -----------------------------------------------------------------------------


def test_confirming_accepts_the_version_of_the_email(pending: Any, approver: Any) -> None:
    path = path_of(approver, pending, "accept")

    response = as_user(approver).post(path)

    preview = reverse("erp_item", args=[pending.erp_company.slug, "sub_job", pending.pk])
    assert (response.status_code, response["Location"]) == (302, preview)
    item = fresh(pending)
    assert (item.erp_state, item.erp_accepted_by) == ("accepted", approver)
    event = ErpEvent.objects.get(object_id=item.pk, action="accept")
    use = UsedEmailLink.objects.get()
    assert (use.user, use.action, use.version, use.event) == (approver, "accept", 1, event)


def test_confirming_a_rejection_needs_a_reason(pending: Any, approver: Any) -> None:
    client = as_user(approver)
    path = path_of(approver, pending, "reject")

    missing = client.post(path, {"reason": "   "})

    assert missing.status_code == 422
    assert "Enter a reason" in text(missing)
    assert fresh(pending).erp_state == "pending"
    assert not UsedEmailLink.objects.exists()

    done = client.post(path, {"reason": "Wrong cost code"})

    assert done.status_code == 302
    item = fresh(pending)
    assert (item.erp_state, item.erp_rejection_reason) == ("rejected", "Wrong cost code")


def test_self_approval_is_refused_as_in_the_tool(company: Any, project: Any, approver: Any) -> None:
    sender = f.approver(company)
    f.ProjectMembershipFactory(project=project, user=sender, admin_level=ToolLevel.ADMIN)
    item = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=sender)
    path = path_of(sender, item, "accept")

    opened, posted = opened_and_posted(sender, path)

    for response in (opened, posted):
        assert response.status_code == 403
        assert "You sent this sub job" in text(response)
    assert fresh(item).erp_state == "pending"
    assert not UsedEmailLink.objects.exists()


def test_a_first_approval_of_two_leaves_the_item_partly_approved(
    company: Any, pending: Any, approver: Any
) -> None:
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    second = f.approver(company)

    first = as_user(approver).get(path_of(approver, pending, "accept"))
    assert "Approve version 1" in text(first)
    assert "0 of 2 approvals" in text(first)
    as_user(approver).post(path_of(approver, pending, "accept"))

    assert fresh(pending).erp_state == "partially_approved"
    assert Approval.objects.get().approver == approver
    as_user(second).post(path_of(second, pending, "accept"))
    assert fresh(pending).erp_state == "accepted"
    assert [a.approver for a in Approval.objects.order_by("pk")] == [approver, second]


def test_a_second_approval_from_the_same_approver_is_refused(
    company: Any, pending: Any, approver: Any
) -> None:
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    erp_accept(item=pending, user=approver, expected_version=1)

    response = as_user(approver).post(path_of(approver, pending, "accept"))

    assert response.status_code == 403
    assert "You already approved version 1" in text(response)
    assert Approval.objects.count() == 1


# ----- links that no longer work ------------------------------------------------------------


def test_a_link_works_once_and_then_says_who_used_it(pending: Any, approver: Any) -> None:
    approver.first_name, approver.last_name = "Pat", "Approver"
    approver.save()
    client = as_user(approver)
    path = path_of(approver, pending, "accept")
    client.post(path)

    again = client.post(path)
    opened = client.get(path)

    for response in (again, opened):
        assert response.status_code == 409
        assert "This link was already used" in text(response)
        assert "Accepted by Pat Approver at " in text(response)
    assert events(pending).count("accept") == 1
    preview = reverse("erp_item", args=[pending.erp_company.slug, "sub_job", pending.pk])
    assert f'href="{preview}"' in opened.content.decode()


def test_an_expired_link_is_refused(settings: Any, pending: Any, approver: Any) -> None:
    settings.ERP_EMAIL_LINK_MAX_AGE = 60
    path = path_of(approver, pending, "accept", now=time.time() - 120)

    opened, posted = opened_and_posted(approver, path)

    for response in (opened, posted):
        assert response.status_code == 410
        assert "This link expired at " in text(response)
    assert fresh(pending).erp_state == "pending"
    assert as_user(approver).get(path_of(approver, pending, "accept")).status_code == 200


def test_a_link_to_an_earlier_version_is_stale(pending: Any, admin: Any, approver: Any) -> None:
    admin.first_name, admin.last_name = "Alex", "Admin"
    admin.save()
    path = path_of(approver, pending, "accept")
    other = f.approver(pending.erp_company)
    erp_reject(item=pending, user=other, reason="Wrong code")
    erp_resend(item=fresh(pending), user=admin)

    opened, posted = opened_and_posted(approver, path)

    for response in (opened, posted):
        assert response.status_code == 409
        page = text(response)
        assert "changed since this email" in page
        assert "version 1" in page and "version 2" in page
        assert "Resent to ERP by Alex Admin at " in page
    assert fresh(pending).erp_state == "pending"


def test_a_link_to_an_item_decided_meanwhile_says_who_decided(pending: Any, approver: Any) -> None:
    other = f.approver(pending.erp_company)
    other.first_name, other.last_name = "Chris", "Controller"
    other.save()
    reject_path = path_of(approver, pending, "reject")
    erp_accept(item=pending, user=other, expected_version=1)

    response = as_user(approver).post(reject_path, {"reason": "Too late"})

    assert response.status_code == 409
    assert "Accepted by Chris Controller at " in text(response)
    assert fresh(pending).erp_state == "accepted"


def test_another_users_link_is_refused(company: Any, pending: Any, approver: Any) -> None:
    colleague = f.approver(company)
    path = path_of(approver, pending, "accept")

    opened, posted = opened_and_posted(colleague, path)

    for response in (opened, posted):
        assert response.status_code == 403
        assert "This link was emailed to someone else" in text(response)
    assert fresh(pending).erp_state == "pending"


def test_a_link_to_an_item_of_a_company_the_user_left_answers_404(
    pending: Any, approver: Any
) -> None:
    path = path_of(approver, pending, "accept")
    approver.company_memberships.all().delete()

    assert as_user(approver).get(path).status_code == 404


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: "not-a-token",
        lambda token: token[:-3],  # cut short when copied
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # tampered
        lambda token: "x" + token,
        lambda token: signing.Signer(salt="another.salt").sign_object({"u": 1}),
        lambda token: signing.Signer(salt=SALT).sign_object([1, 2, 3]),
        lambda token: signing.Signer(salt=SALT).sign_object({"u": "1", "a": "accept"}),
        lambda token: "%00" + token,
    ],
)
def test_a_damaged_link_answers_400(pending: Any, approver: Any, mangle: Any) -> None:
    token = make_token(approver, pending, "accept")
    client = as_user(approver)

    for method in (client.get, client.post):
        response = method(reverse("email_decision", args=["TOKEN"]).replace("TOKEN", mangle(token)))
        assert response.status_code == 400
        assert "This link is damaged" in text(response)
    assert fresh(pending).erp_state == "pending"


def test_a_link_to_an_item_that_is_gone_answers_404(pending: Any, approver: Any) -> None:
    path = path_of(approver, pending, "accept")
    token = read_token(path.split("/")[2])
    payload = {
        "u": approver.pk,
        "k": "sub_job",
        "i": pending.pk + 1000,
        "v": 1,
        "a": "accept",
        "n": token.nonce + "x",
        "t": int(time.time()),
    }
    gone = reverse("email_decision", args=[signing.Signer(salt=SALT).sign_object(payload)])
    unknown_kind = reverse(
        "email_decision",
        args=[signing.Signer(salt=SALT).sign_object({**payload, "k": "boat", "i": pending.pk})],
    )

    assert as_user(approver).get(gone).status_code == 404
    assert as_user(approver).get(unknown_kind).status_code == 404
