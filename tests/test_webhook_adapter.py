"""The webhook adapter against a real HTTP server of the test's own on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from erpsync.adapters import PermanentErpError, TransientErpError, adapter_class, webhook
from erpsync.adapters.webhook import (
    DEFAULT_TOLERANCE,
    SignatureError,
    WebhookAdapter,
    signature_header,
    verify,
)
from tests.factories import CompanyFactory
from tests.live import http_server

SECRET = "s3cret-shared-with-the-erp"
OLD_SECRET = "the-secret-being-rotated-out"
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
    """A scripted ERP that verifies every request's signature with verify() as a receiver would
    (401 when refused), then answers: queued answers first, then a well-behaved ERP that dedupes
    by key."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    # (status, body, delay in seconds); a dict body is sent as JSON, bytes or str as text.
    script: deque[tuple[int, Any, float]] = field(default_factory=deque)
    records: dict[str, str] = field(default_factory=dict)
    # The secrets this ERP accepts.
    secrets: list[str] = field(default_factory=lambda: [SECRET])
    # Seconds the ERP's clock runs ahead of ours: a replay "later" without waiting.
    clock_offset: float = 0.0
    # Why each refused request was refused (SignatureError messages).
    refusals: list[str] = field(default_factory=list)

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
            signed = request.body if self.command == "POST" else parts.query.encode()
            try:
                # http.server's own headers, as a receiver would pass them.
                verify(self.headers, signed, fake.secrets, now=time.time() + fake.clock_offset)
            except SignatureError as refused:
                fake.refusals.append(str(refused))
                status, body, delay = 401, {"error": str(refused)}, 0.0
            else:
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

    with http_server(Handler) as base:
        fake = FakeErp(url=f"{base}/erp/items")
        yield fake


def make_adapter(url: str, **settings: Any) -> WebhookAdapter:
    erp_settings = {"url": url, "secret": SECRET, **settings}
    company = CompanyFactory.build(erp_adapter="webhook", erp_settings=erp_settings)
    return WebhookAdapter(company=company, settings=company.erp_settings)


def export(adapter: WebhookAdapter, key: str = KEY) -> str:
    return adapter.export(kind="sub_job", snapshot=SNAPSHOT, idempotency_key=key)


def expected_signature(secret: str, message: bytes, timestamp: int) -> str:
    """Computed here, not with the module's sign(), so a wrong sign() cannot agree with itself."""
    signed = f"{timestamp}.".encode() + message
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def parse_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and the v1 signatures of an X-Erpsync-Signature, asserting its form."""
    assert re.fullmatch(r"t=[0-9]+(,v1=[0-9a-f]{64})+", header), header
    first, *signatures = header.split(",")
    return int(first.removeprefix("t=")), [s.removeprefix("v1=") for s in signatures]


def replay(erp: FakeErp, request: Recorded) -> int:
    """Send a recorded request again, byte for byte, as an eavesdropper would; its status."""
    parts = urlsplit(erp.url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        target = request.path + (f"?{request.query}" if request.query else "")
        connection.request(
            request.method, target, body=request.body or None, headers=request.headers
        )
        return connection.getresponse().status
    finally:
        connection.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- the registry --------------------------------------------------------------------------


def test_the_registry_resolves_the_webhook_key() -> None:
    cls = adapter_class("webhook")
    assert cls is WebhookAdapter
    assert (cls.key, cls.label) == ("webhook", "Webhook")
    assert cls.supports == {"job", "sub_job", "owner_invoice"}


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


def test_the_signature_covers_the_timestamp_and_the_body_with_the_secret_only(
    erp: FakeErp,
) -> None:
    before = int(time.time())
    export(make_adapter(erp.url))
    [request] = erp.requests
    timestamp, [signature] = parse_header(request.headers["X-Erpsync-Signature"])
    assert before <= timestamp <= time.time()
    assert signature == expected_signature(SECRET, request.body, timestamp)
    assert signature != expected_signature("another-secret", request.body, timestamp)
    assert erp.refusals == []


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


# ----- replay and signatures ------------------------------------------------------------------


def test_a_request_replayed_after_the_tolerance_is_refused_by_the_erp(erp: FakeErp) -> None:
    export(make_adapter(erp.url))
    [original] = erp.requests
    assert replay(erp, original) == 201  # a retry inside the window is still authentic

    erp.clock_offset = 301  # five minutes and a second later
    assert replay(erp, original) == 401
    [refusal] = erp.refusals
    assert "more than the 300 s allowed" in refusal


def signed_request(erp: FakeErp, **settings: Any) -> tuple[dict[str, str], bytes, int]:
    """The headers, body and timestamp of one real export by the adapter."""
    export(make_adapter(erp.url, **settings))
    request = erp.requests[-1]
    timestamp, _ = parse_header(request.headers["X-Erpsync-Signature"])
    return request.headers, request.body, timestamp


def test_the_default_tolerance_is_five_minutes() -> None:
    assert DEFAULT_TOLERANCE == 300


@pytest.mark.parametrize("age", [0, 1, 299, 300, -1, -300])
def test_verify_accepts_a_request_within_the_tolerance(erp: FakeErp, age: int) -> None:
    headers, body, timestamp = signed_request(erp)
    assert verify(headers, body, [SECRET], now=timestamp + age) is None


def test_verify_accepts_a_request_just_signed_by_the_clock(erp: FakeErp) -> None:
    headers, body, _ = signed_request(erp)
    verify(headers, body, [SECRET])


@pytest.mark.parametrize("age", [301, 3600, 10**9])
def test_verify_refuses_a_replay_older_than_the_tolerance(erp: FakeErp, age: int) -> None:
    headers, body, timestamp = signed_request(erp)
    with pytest.raises(SignatureError, match="more than the 300 s allowed: a replay"):
        verify(headers, body, [SECRET], now=timestamp + age)


def test_verify_takes_a_tolerance(erp: FakeErp) -> None:
    headers, body, timestamp = signed_request(erp)
    verify(headers, body, [SECRET], tolerance=10, now=timestamp + 10)
    with pytest.raises(SignatureError, match="more than the 10 s allowed"):
        verify(headers, body, [SECRET], tolerance=10, now=timestamp + 11)


@pytest.mark.parametrize("ahead", [301, 86400])
def test_verify_refuses_a_timestamp_in_the_future_beyond_the_tolerance(
    erp: FakeErp, ahead: int
) -> None:
    headers, body, timestamp = signed_request(erp)
    with pytest.raises(SignatureError, match="in the future"):
        verify(headers, body, [SECRET], now=timestamp - ahead)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.replace(b'"amount":"1.50"', b'"amount":"9.50"'),
        lambda body: body + b" ",
        lambda body: b"",
    ],
    ids=["amount-changed", "byte-appended", "emptied"],
)
def test_verify_refuses_a_tampered_body(erp: FakeErp, tamper: Any) -> None:
    headers, body, timestamp = signed_request(erp)
    tampered = tamper(body)
    assert tampered != body
    with pytest.raises(SignatureError, match="No v1 signature matches"):
        verify(headers, tampered, [SECRET], now=timestamp)


def test_verify_refuses_a_refreshed_timestamp_on_an_old_signature(erp: FakeErp) -> None:
    """A replayer cannot make an old request fresh: the timestamp is signed too."""
    headers, body, timestamp = signed_request(erp)
    _, [signature] = parse_header(headers["X-Erpsync-Signature"])
    later = timestamp + 3600
    forged = {"X-Erpsync-Signature": f"t={later},v1={signature}"}
    with pytest.raises(SignatureError, match="No v1 signature matches"):
        verify(forged, body, [SECRET], now=later)


def test_verify_refuses_a_wrong_secret(erp: FakeErp) -> None:
    headers, body, timestamp = signed_request(erp)
    with pytest.raises(SignatureError, match="No v1 signature matches"):
        verify(headers, body, ["another-secret"], now=timestamp)
    with pytest.raises(SignatureError, match="No v1 signature matches"):
        verify(headers, body, [SECRET.upper(), SECRET + " "], now=timestamp)


def test_the_erp_answers_401_to_a_wrong_secret_and_the_export_is_permanent(
    erp: FakeErp,
) -> None:
    erp.secrets = ["the-erp-has-another-secret"]
    with pytest.raises(PermanentErpError, match="The ERP refused our signature"):
        export(make_adapter(erp.url))
    assert erp.records == {}
    [refusal] = erp.refusals
    assert "No v1 signature matches" in refusal


@pytest.mark.parametrize(
    "name", ["X-Erpsync-Signature", "x-erpsync-signature", "X-ERPSYNC-SIGNATURE"]
)
def test_verify_finds_the_header_whatever_its_case(erp: FakeErp, name: str) -> None:
    headers, body, timestamp = signed_request(erp)
    verify({name: headers["X-Erpsync-Signature"]}, body, [SECRET], now=timestamp)


def test_signature_header_is_the_timestamp_then_one_signature_per_secret() -> None:
    header = signature_header([SECRET, OLD_SECRET], b"the message", 1700000000)
    assert header == (
        f"t=1700000000,v1={expected_signature(SECRET, b'the message', 1700000000)}"
        f",v1={expected_signature(OLD_SECRET, b'the message', 1700000000)}"
    )


def test_verify_wants_a_list_of_secrets_not_one_string(erp: FakeErp) -> None:
    headers, body, timestamp = signed_request(erp)
    # A string is a sequence of one-letter secrets: refused rather than misread.
    with pytest.raises(ValueError, match="list of one or more secrets"):
        verify(headers, body, SECRET, now=timestamp)
    with pytest.raises(ValueError, match="list of one or more secrets"):
        verify(headers, body, [], now=timestamp)


def test_the_signing_part_runs_on_its_own_with_the_standard_library(erp: FakeErp) -> None:
    """What a receiver copies: the module's text from the signing divider to the adapter's."""
    source = Path(webhook.__file__).read_text()
    start = source.index("# ----- signing and verifying")
    end = source.index("# ----- HTTP and the adapter")
    copied: dict[str, Any] = {}
    prelude = "import hashlib, hmac, re, time\nfrom collections.abc import Mapping, Sequence\n"
    exec(compile(prelude + source[start:end], "receiver.py", "exec"), copied)

    headers, body, timestamp = signed_request(erp)
    copied["verify"](headers, body, [SECRET], now=timestamp)
    with pytest.raises(copied["SignatureError"]):
        copied["verify"](headers, body, [SECRET], now=timestamp + 301)


# ----- rotation --------------------------------------------------------------------------------


def test_during_rotation_both_signatures_are_sent(erp: FakeErp) -> None:
    erp.secrets = [SECRET, OLD_SECRET]
    headers, body, timestamp = signed_request(erp, previous_secret=OLD_SECRET)
    _, signatures = parse_header(headers["X-Erpsync-Signature"])
    assert signatures == [
        expected_signature(SECRET, body, timestamp),
        expected_signature(OLD_SECRET, body, timestamp),
    ]


@pytest.mark.parametrize(
    "receiver_holds", [[OLD_SECRET], [SECRET], [SECRET, OLD_SECRET], [OLD_SECRET, SECRET]]
)
def test_during_rotation_a_receiver_with_the_old_or_the_new_secret_accepts(
    erp: FakeErp, receiver_holds: list[str]
) -> None:
    erp.secrets = receiver_holds
    adapter = make_adapter(erp.url, previous_secret=OLD_SECRET)
    assert export(adapter) == "ERP-1"
    assert adapter.lookup(kind="sub_job", idempotency_key=KEY) == "ERP-1"
    adapter.check()
    assert erp.refusals == []
    for request in erp.requests:
        message = request.body if request.method == "POST" else request.query.encode()
        verify(request.headers, message, receiver_holds)


def test_during_rotation_a_receiver_with_neither_secret_refuses(erp: FakeErp) -> None:
    erp.secrets = ["a-third-secret"]
    with pytest.raises(PermanentErpError, match="The ERP refused our signature"):
        export(make_adapter(erp.url, previous_secret=OLD_SECRET))


def test_after_rotation_a_receiver_with_only_the_old_secret_refuses(erp: FakeErp) -> None:
    erp.secrets = [OLD_SECRET]
    with pytest.raises(PermanentErpError, match="The ERP refused our signature"):
        export(make_adapter(erp.url))  # previous_secret removed: signed with the new one only
    headers = erp.requests[-1].headers
    _, signatures = parse_header(headers["X-Erpsync-Signature"])
    assert len(signatures) == 1


# ----- malformed signature headers --------------------------------------------------------------

GOOD_V1 = "v1=" + "0" * 64
NOW = 1_700_000_000


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        ",,,",
        "t=1700000000",  # no v1
        f"t=1700000000,v2={'0' * 64}",  # only an unknown scheme
        GOOD_V1,  # no t
        f"t=,{GOOD_V1}",
        f"t=soon,{GOOD_V1}",
        f"t=-5,{GOOD_V1}",
        f"t=+1700000000,{GOOD_V1}",
        f"t=1.7e9,{GOOD_V1}",
        f"t=1700000000.5,{GOOD_V1}",
        f"t=١٧٠٠٠٠٠٠٠٠,{GOOD_V1}",  # Arabic-Indic digits, which int() would accept
        f"t={'9' * 5000},{GOOD_V1}",  # longer than int() converts
        f"t=1700000000,t=1700000001,{GOOD_V1}",
        f"t=1700000000;{GOOD_V1}",
        f"t=1700000000,{GOOD_V1},",
        "t=1700000000,v1=",
        "t=1700000000,v1=ü€\ud800",  # non-ASCII, a lone surrogate among it
        "t=1700000000,v1=\x00",
        "sha256=" + "0" * 64,  # the old format
        "t=1700000000,v1=" + "a" * 100_000,
    ],
)
def test_a_malformed_header_raises_signature_error_and_nothing_else(header: str) -> None:
    with pytest.raises(SignatureError):
        verify({"X-Erpsync-Signature": header}, b"body", [SECRET], now=NOW)


def test_verify_ignores_other_schemes_but_refuses_an_item_that_is_not_key_value() -> None:
    header = signature_header([SECRET], b"body", NOW)
    verify({"X-Erpsync-Signature": f"{header},v2=later-scheme"}, b"body", [SECRET], now=NOW)
    with pytest.raises(SignatureError, match="malformed: 'junk'"):
        verify({"X-Erpsync-Signature": f"{header},junk"}, b"body", [SECRET], now=NOW)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"X-Erpsync-Signatures": f"t={NOW},{GOOD_V1}"},
        {"X-Erpsync-Signature": f"t={NOW},{GOOD_V1}", "x-erpsync-signature": f"t={NOW},{GOOD_V1}"},
        {"X-Erpsync-Signature": f"t={NOW},{GOOD_V1}".encode()},
        {"X-Erpsync-Signature": None},
    ],
    ids=["none", "other-headers", "misspelt", "twice", "bytes", "null"],
)
def test_a_missing_or_doubled_header_raises_signature_error(headers: dict[str, Any]) -> None:
    with pytest.raises(SignatureError):
        verify(headers, b"body", [SECRET], now=NOW)


def test_the_erp_answers_401_to_a_request_without_a_signature(erp: FakeErp) -> None:
    parts = urlsplit(erp.url)
    connection = HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request("GET", parts.path + "?check=1")
        assert connection.getresponse().status == 401
    finally:
        connection.close()
    assert erp.refusals == ["The X-Erpsync-Signature header is missing."]


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


def test_lookup_signs_the_timestamp_and_the_raw_query_string(erp: FakeErp) -> None:
    make_adapter(erp.url + "?tenant=7").lookup(kind="sub_job", idempotency_key=KEY)
    [request] = erp.requests
    timestamp, [signature] = parse_header(request.headers["X-Erpsync-Signature"])
    assert signature == expected_signature(SECRET, request.query.encode(), timestamp)
    assert signature != expected_signature("another-secret", request.query.encode(), timestamp)
    assert erp.refusals == []


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
    parse_header(request.headers["X-Erpsync-Signature"])
    assert erp.refusals == []


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


def test_validate_settings_accepts_a_previous_secret() -> None:
    settings = {"url": "https://erp.example.com/hook", "secret": "new", "previous_secret": "old"}
    assert WebhookAdapter.validate_settings(settings) == []


@pytest.mark.parametrize(
    ("previous", "problem"),
    [
        ("", "The previous webhook secret (previous_secret) is empty: remove the setting"),
        (42, "The previous webhook secret (previous_secret) must be text."),
        ("new", "must differ from the secret (secret)."),
    ],
)
def test_validate_settings_reports_a_bad_previous_secret(previous: Any, problem: str) -> None:
    settings = {"url": "https://erp.example.com/hook", "secret": "new", "previous_secret": previous}
    [reported] = WebhookAdapter.validate_settings(settings)
    assert problem in reported


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
