"""The webhook adapter against a real HTTP server of the test's own on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from erpsync.adapters import PermanentErpError, TransientErpError, adapter_class
from erpsync.adapters.webhook import WebhookAdapter
from tests.factories import CompanyFactory

SECRET = "s3cret-shared-with-the-erp"
KEY = "erpsync:sub_job:41:v1"
SNAPSHOT: dict[str, Any] = {
    "kind": "sub_job",
    "code": "08-000",
    "name": "Concrete",
    "amount": "1.50",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeErp:
    """A scripted ERP: queued answers first, then a well-behaved ERP that dedupes by key."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    # (status, body, delay in seconds); a dict body is sent as JSON, bytes or str as text.
    script: deque[tuple[int, Any, float]] = field(default_factory=deque)
    records: dict[str, str] = field(default_factory=dict)

    def answer(self, status: int, body: Any = b"", delay: float = 0.0) -> None:
        self.script.append((status, body, delay))

    def respond(self, request: Recorded) -> tuple[int, Any, float]:
        if self.script:
            return self.script.popleft()
        if request.method == "POST":
            key = request.json()["idempotency_key"]
            erp_id = self.records.setdefault(key, f"ERP-{len(self.records) + 1}")
            return 201, {"id": erp_id}, 0.0
        params = parse_qs(request.query)
        if "idempotency_key" in params:
            found = self.records.get(params["idempotency_key"][0])
            return (200, {"id": found}, 0.0) if found else (404, {"error": "not found"}, 0.0)
        return 200, {"ok": True}, 0.0


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    fake: FakeErp

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Recorded(
                method=self.command,
                path=parts.path,
                query=parts.query,
                headers=dict(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
            )
            fake.requests.append(request)
            status, body, delay = fake.respond(request)
            if delay:
                time.sleep(delay)
            if isinstance(body, dict):
                payload, content_type = json.dumps(body).encode(), "application/json"
            else:
                payload = body.encode() if isinstance(body, str) else body
                content_type = "text/plain; charset=utf-8"
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (a timeout test)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    host, port = server.server_address[:2]
    fake = FakeErp(url=f"http://{host}:{port}/erp/items")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def make_adapter(url: str, **settings: Any) -> WebhookAdapter:
    erp_settings = {"url": url, "secret": SECRET, **settings}
    company = CompanyFactory.build(erp_adapter="webhook", erp_settings=erp_settings)
    return WebhookAdapter(company=company, settings=company.erp_settings)


def export(adapter: WebhookAdapter, key: str = KEY) -> str:
    return adapter.export(kind="sub_job", snapshot=SNAPSHOT, idempotency_key=key)


def expected_signature(secret: str, message: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- the registry --------------------------------------------------------------------------


def test_the_registry_resolves_the_webhook_key() -> None:
    cls = adapter_class("webhook")
    assert cls is WebhookAdapter
    assert (cls.key, cls.label) == ("webhook", "Webhook")
    assert cls.supports == {"sub_job", "owner_invoice"}


# ----- export --------------------------------------------------------------------------------


def test_a_2xx_returns_the_id(erp: FakeErp) -> None:
    erp.answer(201, {"id": 4711})
    assert export(make_adapter(erp.url)) == "4711"


def test_the_body_is_the_json_with_the_snapshot_and_the_key_header(erp: FakeErp) -> None:
    export(make_adapter(erp.url))
    [request] = erp.requests
    assert (request.method, request.path) == ("POST", "/erp/items")
    assert request.json() == {"kind": "sub_job", "idempotency_key": KEY, "snapshot": SNAPSHOT}
    assert request.body == json.dumps(request.json(), sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "erpsync"


def test_the_signature_verifies_with_the_secret_and_not_with_another(erp: FakeErp) -> None:
    export(make_adapter(erp.url))
    [request] = erp.requests
    signature = request.headers["X-Erpsync-Signature"]
    assert hmac.compare_digest(signature, expected_signature(SECRET, request.body))
    assert not hmac.compare_digest(signature, expected_signature("another-secret", request.body))


def test_the_same_key_twice_sends_the_same_key_and_the_erp_keeps_one_record(
    erp: FakeErp,
) -> None:
    adapter = make_adapter(erp.url)
    first, second = export(adapter), export(adapter)
    assert first == second == "ERP-1"
    assert [r.headers["Idempotency-Key"] for r in erp.requests] == [KEY, KEY]
    assert [r.json()["idempotency_key"] for r in erp.requests] == [KEY, KEY]
    assert erp.records == {KEY: "ERP-1"}


def test_a_500_is_transient_and_the_retry_returns_the_id(erp: FakeErp) -> None:
    erp.answer(500, {"error": "database is restarting"})
    adapter = make_adapter(erp.url)
    with pytest.raises(TransientErpError, match="The ERP answered 500: database is restarting"):
        export(adapter)
    assert export(adapter) == "ERP-1"
    assert len(erp.requests) == 2


@pytest.mark.parametrize("status", [503, 429])
def test_503_and_429_are_transient(erp: FakeErp, status: int) -> None:
    erp.answer(status, "slow down")
    with pytest.raises(TransientErpError) as raised:
        export(make_adapter(erp.url))
    assert raised.value.message == f"The ERP answered {status}: slow down"


def test_a_server_slower_than_the_timeout_is_transient_and_names_the_timeout(
    erp: FakeErp,
) -> None:
    erp.answer(201, {"id": "late"}, delay=1.0)
    started = time.monotonic()
    with pytest.raises(TransientErpError) as raised:
        export(make_adapter(erp.url, timeout=0.2))
    assert raised.value.message == "The ERP did not answer within 0.2 s"
    assert time.monotonic() - started < 0.9


def test_the_default_timeout_is_10_seconds() -> None:
    assert make_adapter("https://erp.example.com/hook").timeout == 10.0


def test_a_refused_connection_is_transient() -> None:
    port = closed_port()
    with pytest.raises(TransientErpError, match=f"could not be reached at 127.0.0.1:{port}"):
        export(make_adapter(f"http://127.0.0.1:{port}/erp"))


def test_a_400_with_a_json_error_is_permanent_with_that_text(erp: FakeErp) -> None:
    erp.answer(400, {"error": "Cost code 08-000 is closed"})
    with pytest.raises(PermanentErpError) as raised:
        export(make_adapter(erp.url))
    assert "Cost code 08-000 is closed" in raised.value.message


def test_a_json_message_field_is_used_too(erp: FakeErp) -> None:
    erp.answer(409, {"message": "Job JOB-1 is archived"})
    with pytest.raises(PermanentErpError, match="The ERP answered 409: Job JOB-1 is archived"):
        export(make_adapter(erp.url))


def test_a_422_with_a_text_body_is_permanent_with_the_text(erp: FakeErp) -> None:
    erp.answer(422, "  Vendor 123 is on hold\n")
    with pytest.raises(PermanentErpError) as raised:
        export(make_adapter(erp.url))
    assert raised.value.message == "The ERP answered 422: Vendor 123 is on hold"


def test_a_long_text_body_is_trimmed_to_500_characters(erp: FakeErp) -> None:
    erp.answer(400, "x" * 5000)
    with pytest.raises(PermanentErpError) as raised:
        export(make_adapter(erp.url))
    assert len(raised.value.message.removeprefix("The ERP answered 400: ")) == 500


def test_a_2xx_without_an_id_is_permanent(erp: FakeErp) -> None:
    erp.answer(200, {"status": "ok"})
    with pytest.raises(PermanentErpError, match="The ERP answered without an id"):
        export(make_adapter(erp.url))


def test_a_redirect_is_not_followed(erp: FakeErp) -> None:
    erp.answer(302, "moved")
    with pytest.raises(PermanentErpError, match="The ERP answered 302"):
        export(make_adapter(erp.url))
    assert len(erp.requests) == 1


# ----- lookup --------------------------------------------------------------------------------


def test_lookup_finds_the_id_of_an_earlier_export(erp: FakeErp) -> None:
    adapter = make_adapter(erp.url)
    erp_id = export(adapter)
    assert adapter.lookup(kind="sub_job", idempotency_key=KEY) == erp_id
    request = erp.requests[-1]
    assert (request.method, request.path, request.body) == ("GET", "/erp/items", b"")
    assert parse_qs(request.query) == {"idempotency_key": [KEY]}


def test_lookup_returns_none_on_404(erp: FakeErp) -> None:
    assert make_adapter(erp.url).lookup(kind="sub_job", idempotency_key="never-sent") is None


def test_lookup_signs_the_raw_query_string(erp: FakeErp) -> None:
    make_adapter(erp.url).lookup(kind="sub_job", idempotency_key=KEY)
    [request] = erp.requests
    signature = request.headers["X-Erpsync-Signature"]
    assert signature == expected_signature(SECRET, request.query.encode())
    assert signature != expected_signature("another-secret", request.query.encode())


def test_lookup_appends_to_a_url_that_already_has_a_query(erp: FakeErp) -> None:
    make_adapter(erp.url + "?tenant=7").lookup(kind="sub_job", idempotency_key=KEY)
    [request] = erp.requests
    assert parse_qs(request.query) == {"tenant": ["7"], "idempotency_key": [KEY]}


def test_lookup_on_a_5xx_is_transient(erp: FakeErp) -> None:
    erp.answer(502, "bad gateway")
    with pytest.raises(TransientErpError, match="The ERP answered 502: bad gateway"):
        make_adapter(erp.url).lookup(kind="sub_job", idempotency_key=KEY)


# ----- check ---------------------------------------------------------------------------------


def test_check_passes_on_200(erp: FakeErp) -> None:
    make_adapter(erp.url).check()
    [request] = erp.requests
    assert request.method == "GET"
    assert parse_qs(request.query) == {"check": ["1"]}


@pytest.mark.parametrize("status", [404, 405])
def test_check_counts_404_and_405_as_reachable(erp: FakeErp, status: int) -> None:
    erp.answer(status, "no such route")
    assert make_adapter(erp.url).check() is None  # reachable: no error raised
    [request] = erp.requests
    assert (request.method, request.query) == ("GET", "check=1")
    assert request.headers["X-Erpsync-Signature"].startswith("sha256=")


def test_check_raises_permanent_on_401(erp: FakeErp) -> None:
    erp.answer(401, {"error": "bad signature"})
    with pytest.raises(PermanentErpError, match="The ERP refused our signature: check the secret"):
        make_adapter(erp.url).check()


def test_check_on_a_refused_connection_is_transient() -> None:
    with pytest.raises(TransientErpError):
        make_adapter(f"http://127.0.0.1:{closed_port()}/erp").check()


# ----- settings ------------------------------------------------------------------------------


def test_validate_settings_accepts_good_settings() -> None:
    settings = {"url": "https://erp.example.com/hook", "secret": "x", "timeout": "2.5"}
    assert WebhookAdapter.validate_settings(settings) == []


def test_validate_settings_reports_a_missing_url_and_secret() -> None:
    problems = WebhookAdapter.validate_settings({})
    assert problems == [
        "The webhook URL (url) is missing.",
        "The webhook secret (secret) is missing.",
    ]


def test_validate_settings_reports_a_bad_scheme() -> None:
    problems = WebhookAdapter.validate_settings({"url": "ftp://erp.example.com/", "secret": "x"})
    assert problems == [
        "The webhook URL 'ftp://erp.example.com/' must start with http:// or https://."
    ]


@pytest.mark.parametrize("timeout", ["soon", True, 0, -1, "nan"])
def test_validate_settings_reports_a_bad_timeout(timeout: Any) -> None:
    settings = {"url": "https://erp.example.com/hook", "secret": "x", "timeout": timeout}
    [problem] = WebhookAdapter.validate_settings(settings)
    assert "timeout" in problem


def test_a_misconfigured_adapter_raises_permanent_on_use_without_a_request() -> None:
    company = CompanyFactory.build(erp_adapter="webhook", erp_settings={"url": "ftp://x"})
    adapter = WebhookAdapter(company=company, settings=company.erp_settings)
    with pytest.raises(PermanentErpError, match=r"not configured: .*http:// or https://"):
        adapter.check()
