"""Idempotency-Key on the API's writes: replay, refusal of another body, per user, 24 hours,
5xx and 401 not stored, and one effect for concurrent requests (real PostgreSQL, threads)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from api.models import IdempotencyRecord
from api.services import idempotency_prune, token_create
from api.tasks import prune_idempotency_records
from erpsync.models import ErpEvent
from erpsync.services import erp_send
from erpsync.states import ErpAction
from erpsync.urls import urlpatterns as app_urlpatterns
from tests import factories as f
from tests.transactions import held_open

pytestmark = pytest.mark.django_db


class Flaky(APIView):
    """Fails with 503 once per key's first try, then succeeds: the key must stay usable."""

    calls: list[str] = []

    def post(self, request: Any) -> Response:
        Flaky.calls.append(request.data.get("note", ""))
        if len(Flaky.calls) == 1:
            return Response({"detail": "try again"}, status=503)
        return Response({"call": len(Flaky.calls)}, status=201, headers={"Location": "/x/1/"})


urlpatterns = [path("api/v1/test-flaky/", Flaky.as_view()), *app_urlpatterns]


def bearer(user: Any, company: Any) -> str:
    _, raw = token_create(user=user, company=company, name="script")
    return f"Bearer {raw}"


def accept_url(item: Any) -> str:
    return f"/api/v1/companies/{item.erp_company.slug}/sub-jobs/{item.pk}/accept/"


def post(
    client: Client, url: str, body: Any, auth: str, key: str | None = None, raw: bool = False
) -> Any:
    headers = {"Authorization": auth}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if raw else json.dumps(body)
    return client.post(url, data, content_type="application/json", headers=headers)


def accepts(item: Any) -> int:
    return ErpEvent.objects.filter(object_id=item.pk, action=ErpAction.ACCEPT).count()


@pytest.fixture
def pending(sub_job: Any, admin: Any) -> Any:
    return erp_send(item=sub_job, user=admin)


def test_the_same_key_and_body_replays_the_first_answer_and_acts_once(
    client: Client, pending: Any, approver: Any, company: Any
) -> None:
    auth = bearer(approver, company)
    first = post(client, accept_url(pending), {"version": 1}, auth, key="k-1")
    assert first.status_code == 200, first.content
    assert "Idempotent-Replayed" not in first
    # The same JSON with other spacing is the same request.
    again = post(client, accept_url(pending), '{ "version" : 1 }', auth, key="k-1", raw=True)
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Content-Type"] == first["Content-Type"]
    assert accepts(pending) == 1
    # Without the key the same request acts again, and is refused: it was accepted already.
    assert post(client, accept_url(pending), {"version": 1}, auth).status_code == 409


def test_a_refusal_is_stored_and_replayed_too(
    client: Client, pending: Any, approver: Any, company: Any
) -> None:
    auth = bearer(approver, company)
    first = post(client, accept_url(pending), {}, auth, key="no-version")
    assert first.status_code == 422
    again = post(client, accept_url(pending), {}, auth, key="no-version")
    assert (again.status_code, again["Idempotent-Replayed"]) == (422, "true")
    assert again["Content-Type"] == "application/problem+json"


def test_the_same_key_with_another_body_or_address_is_422_with_the_reason(
    client: Client, pending: Any, approver: Any, company: Any, project: Any, admin: Any
) -> None:
    auth = bearer(approver, company)
    assert post(client, accept_url(pending), {"version": 1}, auth, key="k-2").status_code == 200
    other = post(client, accept_url(pending), {"version": 2}, auth, key="k-2")
    assert other.status_code == 422
    problem = other.json()
    assert "Idempotency-Key" in problem["errors"]
    assert "same address with another body" in problem["detail"]
    second = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    elsewhere = post(client, accept_url(second), {"version": 1}, auth, key="k-2")
    assert elsewhere.status_code == 422
    assert f"POST {accept_url(pending)}" in elsewhere.json()["detail"]
    assert accepts(second) == 0


def test_another_user_with_the_same_key_is_independent(
    client: Client, project: Any, admin: Any, company: Any, approver: Any
) -> None:
    first = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    second = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    other = f.approver(company)
    one = post(client, accept_url(first), {"version": 1}, bearer(approver, company), key="same")
    two = post(client, accept_url(second), {"version": 1}, bearer(other, company), key="same")
    assert (one.status_code, two.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in two
    assert accepts(first) == accepts(second) == 1


def test_a_key_older_than_24_hours_is_forgotten(
    client: Client, pending: Any, approver: Any, company: Any
) -> None:
    auth = bearer(approver, company)
    assert post(client, accept_url(pending), {"version": 1}, auth, key="old").status_code == 200
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    late = post(client, accept_url(pending), {"version": 1}, auth, key="old")
    # The request ran again (and was refused: the item is accepted), it was not replayed.
    assert late.status_code == 409
    assert "Idempotent-Replayed" not in late
    assert IdempotencyRecord.objects.get().status == 409


def test_the_beat_task_prunes_answers_older_than_24_hours(approver: Any) -> None:
    now = timezone.now()
    for key, age in (("fresh", timedelta(hours=23)), ("stale", timedelta(hours=25))):
        IdempotencyRecord.objects.create(
            user=approver, key=key, method="POST", path="/", fingerprint="x", created_at=now - age
        )
    assert prune_idempotency_records.apply().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert idempotency_prune(now=now + timedelta(hours=2)) == 1


@pytest.mark.parametrize(
    ("key", "why"),
    [("x" * 256, "256 characters"), ("ключ", "printable ASCII"), ("a\tb", "printable ASCII")],
)
def test_a_malformed_key_is_422_and_nothing_happens(
    client: Client, pending: Any, approver: Any, company: Any, key: str, why: str
) -> None:
    response = client.post(
        accept_url(pending),
        json.dumps({"version": 1}),
        content_type="application/json",
        HTTP_AUTHORIZATION=bearer(approver, company),
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 422
    assert why in response.json()["detail"]
    assert accepts(pending) == 0


def test_a_key_of_255_printable_characters_is_fine(
    client: Client, pending: Any, approver: Any, company: Any
) -> None:
    key = ("~ !" * 85)[:255]
    auth = bearer(approver, company)
    assert post(client, accept_url(pending), {"version": 1}, auth, key=key).status_code == 200
    assert post(client, accept_url(pending), {"version": 1}, auth, key=key)["Idempotent-Replayed"]


@pytest.mark.urls("tests.test_api_idempotency")
def test_a_5xx_is_not_stored_and_the_retry_acts(
    client: Client, approver: Any, company: Any
) -> None:
    Flaky.calls = []
    auth = bearer(approver, company)
    url = "/api/v1/test-flaky/"
    assert post(client, url, {"note": "a"}, auth, key="flaky").status_code == 503
    assert not IdempotencyRecord.objects.exists()
    retried = post(client, url, {"note": "a"}, auth, key="flaky")
    assert (retried.status_code, retried.json()) == (201, {"call": 2})
    replay = post(client, url, {"note": "a"}, auth, key="flaky")
    assert (replay.status_code, replay.json()) == (201, {"call": 2})
    assert replay["Location"] == "/x/1/" and replay["Idempotent-Replayed"] == "true"
    assert len(Flaky.calls) == 2


def test_a_401_is_not_stored(client: Client, pending: Any, approver: Any, company: Any) -> None:
    refused = post(client, accept_url(pending), {"version": 1}, "Bearer esk_nope_nope", key="k")
    assert refused.status_code == 401
    good = post(client, accept_url(pending), {"version": 1}, bearer(approver, company), key="k")
    assert good.status_code == 200 and "Idempotent-Replayed" not in good


def test_a_browser_session_gets_it_too_with_its_csrf_token(
    pending: Any, approver: Any, company: Any
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(approver)
    browser.get("/account/api-tokens/")  # a page with a form sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    headers = {"X-CSRFToken": csrf, "Idempotency-Key": "from-the-page"}
    body = json.dumps({"version": 1})
    no_csrf = browser.post(
        accept_url(pending),
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "from-the-page"},
    )
    assert no_csrf.status_code == 403  # refused by the view, and not stored
    url, json_type = accept_url(pending), "application/json"
    first = browser.post(url, body, content_type=json_type, headers=headers)
    again = browser.post(url, body, content_type=json_type, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert accepts(pending) == 1


# ----- concurrency: real PostgreSQL connections, one per thread -----------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_make_one_effect(
    project: Any, admin: Any, approver: Any, company: Any
) -> None:
    item = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    auth = bearer(approver, company)
    start = threading.Barrier(20)
    answers: list[tuple[int, str | None, Any]] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            start.wait(10)
            response = post(Client(), accept_url(item), {"version": 1}, auth, key="bulk-1")
            with lock:
                answers.append(
                    (response.status_code, response.get("Idempotent-Replayed"), response.json())
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 20
    assert {status for status, _, _ in answers} == {200}, answers
    assert sorted(replayed or "" for _, replayed, _ in answers) == [""] + ["true"] * 19
    assert len({json.dumps(body, sort_keys=True) for _, _, body in answers}) == 1
    assert accepts(item) == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_too_long_for_the_same_key_is_409_and_may_retry(
    project: Any, admin: Any, approver: Any, company: Any, settings: Any
) -> None:
    settings.ERPSYNC_IDEMPOTENCY_WAIT_SECONDS = 1
    item = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    auth = bearer(approver, company)

    def in_flight() -> Any:
        # Another request with the key, stuck inside its view: its row is not committed.
        return IdempotencyRecord.objects.create(
            user=approver, key="slow", method="POST", path="/", fingerprint="x"
        )

    with held_open(in_flight, rollback=True):  # then it crashes: nothing of it stays
        busy = post(Client(), accept_url(item), {"version": 1}, auth, key="slow")
        assert busy.status_code == 409
        assert "in progress" in busy.json()["detail"]
        assert accepts(item) == 0
    retried = post(Client(), accept_url(item), {"version": 1}, auth, key="slow")
    assert retried.status_code == 200
    assert accepts(item) == 1
