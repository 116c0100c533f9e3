"""Outbound event webhooks: rows written with the transition, POSTed signed to a real HTTP
server of the test's own, retried, given up, disabled; and their settings pages."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from erpsync.adapters.webhook import SignatureError, verify
from erpsync.models import OutboxEmail
from erpsync.services import erp_accept, erp_reject, erp_resend, erp_retrieve, erp_send
from erpsync.states import ErpActionRefused
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f
from tests.live import http_server
from tests.procs import wait_for
from webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from webhooks.outbox import deliver, due_deliveries
from webhooks.services import subscription_create
from webhooks.tasks import sweep_webhooks

ALL_EVENTS = [
    "item.sent",
    "item.resent",
    "item.retrieved",
    "item.rejected",
    "item.approval_added",
    "item.accepted",
    "item.synced",
    "item.export_failed",
]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    # Why verify() refused the signature; "" when it was good.
    refusal: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver that checks each signature with verify() as a subscriber would
    (answering 401 when refused), then answers from its script, else 200."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    script: deque[int] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    fake = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            refusal = ""
            try:
                verify(self.headers, body, fake.secrets)
            except SignatureError as error:
                refusal = str(error)
            with fake.lock:
                fake.received.append(Received(dict(self.headers.items()), body, refusal))
                status = 401 if refusal else (fake.script.popleft() if fake.script else 200)
            payload = json.dumps({"status": status, "note": "from the test receiver"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http_server(Handler) as base:
        fake.url = f"{base}/hooks/erpsync"
        yield fake


@pytest.fixture
def erp_admin(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=False)


def subscribe(
    company: Any, user: Any, receiver: Receiver, events: list[str] | None = None
) -> WebhookSubscription:
    new = subscription_create(
        company=company, user=user, url=receiver.url, events=events or ALL_EVENTS
    )
    receiver.secrets = [new.secret]
    return new.subscription


def deliveries(**filters: Any) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(**filters).order_by("pk"))


def readme_snippet() -> dict[str, Any]:
    """The names the README's Python snippet under "Event webhooks" defines."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Event webhooks", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace


def disabled_emails(outbox: list[Any]) -> list[Any]:
    return [m for m in outbox if m.subject.startswith("Webhook disabled")]


def make_due(row: WebhookDelivery, **changes: Any) -> None:
    """Move a row's clock: its retry is due now (and any other field given, e.g. its age)."""
    WebhookDelivery.objects.filter(pk=row.pk).update(
        next_try_at=timezone.now() - timedelta(seconds=1), **changes
    )


# ----- events from real transitions, through a real worker -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_transitions_post_signed_events_that_a_receiver_verifies(
    worker: None, company: Any, sub_job: Any, admin: Any, approver: Any, erp_admin: Any,
    receiver: Receiver,
) -> None:  # fmt: skip
    subscription = subscribe(company, erp_admin, receiver)
    erp_send(item=sub_job, user=admin)
    wait_for(lambda: receiver.count() == 1, "item.sent")
    erp_accept(item=SubJob.objects.get(pk=sub_job.pk), user=approver)
    # The worker exports to the sandbox ERP, which syncs the item: accepted, then synced.
    wait_for(lambda: receiver.count() == 3, "item.accepted and item.synced")
    wait_for(
        lambda: all(d.state == "delivered" for d in deliveries()) and len(deliveries()) == 3,
        "the rows marked delivered",
    )

    assert [r.refusal for r in receiver.received] == ["", "", ""]
    by_type = {r.json()["type"]: r for r in receiver.received}
    assert set(by_type) == {"item.sent", "item.accepted", "item.synced"}
    for event_type, state in [
        ("item.sent", "pending"),
        ("item.accepted", "accepted"),
        ("item.synced", "synced"),
    ]:
        request = by_type[event_type]
        body = request.json()
        assert set(body) == {"id", "type", "created", "company", "data"}
        assert body["company"] == company.slug
        # The item as the transition left it, not as it is when the POST goes out.
        item = body["data"]["item"]
        assert (item["kind"], item["id"], item["state"]) == ("sub_job", sub_job.pk, state)
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("erpsync")
        assert headers["x-erpsync-event-id"] == body["id"]
        assert headers["x-erpsync-event"] == event_type
        row = WebhookDelivery.objects.get(event_id=body["id"])
        assert (row.subscription, row.event_type, row.tries, row.last_status) == (
            subscription,
            event_type,
            1,
            200,
        )
        assert '"from the test receiver"' in row.last_response
    assert by_type["item.synced"].json()["data"]["item"]["erp_id"].startswith("SBX-")

    # The README's verification snippet agrees, and refuses a wrong secret or an altered body.
    readme_verify = readme_snippet()["verify"]
    request = by_type["item.accepted"]
    assert readme_verify(request.headers, request.body, receiver.secrets)
    assert not readme_verify(request.headers, request.body, ["whsec_wrong"])
    altered = request.body.replace(b"accepted", b"rejected")
    assert not readme_verify(request.headers, altered, receiver.secrets)


@pytest.mark.django_db(transaction=True)
def test_a_500_is_retried_after_its_backoff_then_delivered_with_the_same_event(
    worker: None, company: Any, sub_job: Any, admin: Any, erp_admin: Any, receiver: Receiver
) -> None:
    subscription = subscribe(company, erp_admin, receiver, ["item.sent"])
    receiver.answer(500)
    erp_send(item=sub_job, user=admin)
    wait_for(lambda: deliveries(state="failed") != [], "the failed first try")
    [row] = deliveries()
    assert (row.tries, row.last_status) == (1, 500)
    assert row.next_try_at > timezone.now() + timedelta(seconds=50)  # 1 minute's backoff
    assert WebhookSubscription.objects.get().consecutive_failures == 1
    assert sweep_webhooks() == 0  # not due yet

    make_due(row)
    assert sweep_webhooks() == 1
    wait_for(lambda: deliveries(state="delivered") != [], "the retry")
    row.refresh_from_db()
    assert (row.tries, row.last_status, row.last_error) == (2, 200, "")
    first, second = receiver.received
    assert first.body == second.body and first.refusal == second.refusal == ""
    assert first.headers["X-Erpsync-Event-Id"] == second.headers["X-Erpsync-Event-Id"]
    subscription.refresh_from_db()
    assert (subscription.consecutive_failures, subscription.failing_since) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_a_delivery_gives_up_24_hours_after_its_event(
    worker: None, company: Any, sub_job: Any, admin: Any, erp_admin: Any, receiver: Receiver
) -> None:
    subscribe(company, erp_admin, receiver, ["item.sent"])
    receiver.answer(503, 503)
    erp_send(item=sub_job, user=admin)
    wait_for(lambda: deliveries(state="failed") != [], "the failed first try")
    [row] = deliveries()
    # A day and an hour later (the row's clock moved): the next failure is the last one.
    make_due(row, created_at=timezone.now() - timedelta(hours=23, minutes=59, seconds=30))
    sweep_webhooks()
    wait_for(lambda: deliveries(state="gave_up") != [], "giving up")
    row.refresh_from_db()
    assert (row.tries, row.last_status) == (2, 503)
    assert "Not delivered within 24 h" in row.last_error
    assert due_deliveries() == []


@pytest.mark.django_db
def test_a_row_older_than_24_hours_gives_up_without_a_post(
    company: Any, sub_job: Any, admin: Any, erp_admin: Any, receiver: Receiver
) -> None:
    subscribe(company, erp_admin, receiver, ["item.sent"])
    erp_send(item=sub_job, user=admin)
    [row] = deliveries()
    make_due(row, created_at=timezone.now() - timedelta(hours=25))
    assert deliver(row.pk) == "gave_up"
    assert receiver.count() == 0
    assert deliver(row.pk) == "already"


@pytest.mark.django_db(transaction=True)
def test_repeated_failures_disable_the_webhook_and_email_the_admins(
    worker: None, company: Any, project: Any, sub_job: Any, admin: Any, approver: Any,
    erp_admin: Any, receiver: Receiver, settings: Any, mailoutbox: list[Any],
) -> None:  # fmt: skip
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    subscription = subscribe(company, erp_admin, receiver, ["item.sent", "item.retrieved"])
    receiver.answer(*[500] * 10)
    erp_send(item=sub_job, user=admin)
    erp_retrieve(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    erp_send(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    wait_for(lambda: len(deliveries(state="failed")) == 3, "three failed tries")
    subscription.refresh_from_db()
    # Three in a row, but within minutes: a short outage does not disable a webhook.
    assert (subscription.active, subscription.consecutive_failures) == (True, 3)

    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        failing_since=timezone.now() - timedelta(hours=25)
    )
    first = deliveries()[0]
    make_due(first)
    sweep_webhooks()
    wait_for(lambda: not WebhookSubscription.objects.get().active, "the webhook disabled")
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 4
    assert "4 tries in a row failed" in subscription.disabled_reason
    wait_for(lambda: len(disabled_emails(mailoutbox)) == 1, "the email to the Admins")
    [message] = disabled_emails(mailoutbox)
    assert message.to == [erp_admin.email]  # the ERP tool Admins only
    assert receiver.url in message.subject and receiver.url in message.body
    assert "4 tries in a row failed" in message.body

    # Disabled: a new event records nothing for it, and its waiting rows are not swept.
    rows_before = WebhookDelivery.objects.count()
    erp_retrieve(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    assert WebhookDelivery.objects.count() == rows_before
    WebhookDelivery.objects.update(next_try_at=timezone.now() - timedelta(seconds=1))
    assert due_deliveries() == []


@pytest.mark.django_db
def test_410_gone_disables_at_once(
    company: Any, sub_job: Any, admin: Any, erp_admin: Any, receiver: Receiver
) -> None:
    subscription = subscribe(company, erp_admin, receiver, ["item.sent"])
    receiver.answer(410)
    erp_send(item=sub_job, user=admin)
    [row] = deliveries()
    assert deliver(row.pk) == "gave_up"
    subscription.refresh_from_db()
    assert not subscription.active and "410 Gone" in subscription.disabled_reason
    assert list(
        OutboxEmail.objects.filter(kind="webhook_disabled").values_list("kind", "recipient")
    ) == [("webhook_disabled", erp_admin.email)]


# ----- which transitions write rows ----------------------------------------------------------


@pytest.mark.django_db
def test_each_transition_maps_to_its_event_and_only_subscribers_get_it(
    company: Any, sub_job: Any, admin: Any, approver: Any, erp_admin: Any, drive: Any
) -> None:
    rejections = WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/a", events=["item.rejected"], secret="s"
    )
    everything = WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/b", events=ALL_EVENTS, secret="s"
    )
    other = f.CompanyFactory()
    WebhookSubscription.objects.create(
        company=other, url="http://127.0.0.1:9/c", events=ALL_EVENTS, secret="s"
    )
    erp_send(item=sub_job, user=admin)
    erp_reject(item=SubJob.objects.get(pk=sub_job.pk), user=approver, reason="Wrong code")
    erp_resend(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    erp_retrieve(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    assert [d.event_type for d in deliveries(subscription=everything)] == [
        "item.sent",
        "item.rejected",
        "item.resent",
        "item.retrieved",
    ]
    [rejected] = deliveries(subscription=rejections)
    assert rejected.event_type == "item.rejected"
    assert rejected.payload["data"]["item"]["state"] == "rejected"
    # One event, one id, whatever the number of subscriptions.
    assert rejected.event_id == deliveries(subscription=everything)[1].event_id
    assert deliveries(subscription__company=other) == []


@pytest.mark.django_db
def test_an_approval_that_leaves_the_item_partly_approved_is_approval_added(
    company: Any, invoice: Any, erp_admin: Any, drive: Any
) -> None:
    subscription = WebhookSubscription.objects.create(
        company=company,
        url="http://127.0.0.1:9/a",
        events=["item.approval_added", "item.accepted"],
        secret="s",
    )
    drive(invoice, "partially_approved")
    [row] = deliveries(subscription=subscription)
    assert row.event_type == "item.approval_added"
    item = row.payload["data"]["item"]
    assert (item["kind"], item["state"]) == ("owner_invoice", "partially_approved")


@pytest.mark.django_db
def test_a_refused_transition_writes_no_delivery(
    company: Any, sub_job: Any, admin: Any, viewer: Any, erp_admin: Any
) -> None:
    WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/a", events=ALL_EVENTS, secret="s"
    )
    erp_send(item=sub_job, user=admin)
    with pytest.raises(ErpActionRefused):
        erp_accept(item=SubJob.objects.get(pk=sub_job.pk), user=viewer)
    assert [d.event_type for d in deliveries()] == ["item.sent"]


@pytest.mark.django_db
def test_a_rolled_back_transition_writes_none(
    company: Any, sub_job: Any, admin: Any, erp_admin: Any
) -> None:
    WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/a", events=ALL_EVENTS, secret="s"
    )

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        erp_send(item=sub_job, user=admin)
        assert len(deliveries()) == 1
        raise Undo
    assert deliveries() == []


# ----- signing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_during_a_rotation_both_secrets_sign_then_only_the_new_one(
    company: Any, sub_job: Any, admin: Any, erp_admin: Any, receiver: Receiver
) -> None:
    from webhooks.services import subscription_end_rotation, subscription_rotate_secret

    subscription = subscribe(company, erp_admin, receiver, ["item.sent", "item.retrieved"])
    old = receiver.secrets[0]
    new = subscription_rotate_secret(
        company=company, user=erp_admin, subscription_id=subscription.pk
    ).secret
    assert new != old
    erp_send(item=sub_job, user=admin)
    [row] = deliveries()
    for accepted in ([old], [new]):
        receiver.secrets = accepted
        WebhookDelivery.objects.filter(pk=row.pk).update(state="pending")
        assert deliver(row.pk) == "delivered"
    assert [r.refusal for r in receiver.received] == ["", ""]
    assert receiver.received[0].headers["X-Erpsync-Signature"].count("v1=") == 2

    subscription_end_rotation(company=company, user=erp_admin, subscription_id=subscription.pk)
    erp_retrieve(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    last = deliveries()[-1]
    receiver.secrets = [old]
    assert deliver(last.pk) == "retrying"  # the receiver refused the old secret: 401
    assert receiver.received[-1].refusal.startswith("No v1 signature matches")
    receiver.secrets = [new]
    make_due(last)
    assert deliver(last.pk) == "delivered"
    assert receiver.received[-1].headers["X-Erpsync-Signature"].count("v1=") == 1


@pytest.mark.django_db
def test_a_timeout_or_a_closed_port_is_a_failed_try(
    company: Any, sub_job: Any, admin: Any, erp_admin: Any, settings: Any
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    WebhookSubscription.objects.create(
        company=company, url=f"http://127.0.0.1:{port}/x", events=["item.sent"], secret="s"
    )
    erp_send(item=sub_job, user=admin)
    [row] = deliveries()
    started = time.monotonic()
    assert deliver(row.pk) == "retrying"
    assert time.monotonic() - started < 5
    row.refresh_from_db()
    assert row.last_status is None and row.last_error.startswith("Could not connect")
    assert row.state == DeliveryState.FAILED


@pytest.mark.django_db
def test_the_sweeper_takes_up_a_delivery_whose_queued_task_was_lost(
    company: Any, sub_job: Any, admin: Any, erp_admin: Any, receiver: Receiver, settings: Any
) -> None:
    # This test's transaction never commits, so no task is queued: as if the publish was lost.
    subscribe(company, erp_admin, receiver, ["item.sent"])
    erp_send(item=sub_job, user=admin)
    [row] = deliveries()
    assert due_deliveries() == []  # fresh: the task its commit queued is sending it
    WebhookDelivery.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.WEBHOOK_SWEEP_SECONDS + 1)
    )
    assert due_deliveries() == [row.pk]
    # A worker holding it (a live lease) keeps it from the sweeper until the lease runs out.
    WebhookDelivery.objects.filter(pk=row.pk).update(
        lease_until=timezone.now() + timedelta(seconds=30)
    )
    assert due_deliveries() == [] and deliver(row.pk) == "leased"
    WebhookDelivery.objects.filter(pk=row.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert due_deliveries() == [row.pk]
    assert deliver(row.pk) == "delivered" and receiver.count() == 1
    assert due_deliveries() == [] and deliver(row.pk) == "already"
