"""Property on the real `sitaware api` server (the one tests/api starts): whatever the
path, query, headers (missing or malformed bearer tokens, bytes that are not UTF-8) and
body, every request gets an HTTP answer with a status below 500 — never a server error,
never a dropped connection — and no request without a valid token gets a 2xx from /api/.

Requests go over a raw socket, so the fuzzer can send what urllib would refuse to.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.records import BAD_INSTANTS, TOPICS, arbitrary_json, instants, mutated_record, valid_record
from tests.pipeline.conftest import poll

pytestmark = pytest.mark.stack

ROLES = ("viewer", "dispatcher", "admin")
ENDPOINTS = ["/api/situations", "/api/cells", "/api/stream", "/api/units", "/api/subscriptions",
             "/api/subscriptions/{id}", "/api/districts", "/api/whoami", "/health", "/metrics", "/",
             "/static/app.js", "/api/", "/api/nothing-here", "/api/subscriptions/{id}/more"]
PARAMS = ["limit", "since", "until", "type", "district", "minutes", "token"]
SITUATION_TYPES = ["alarm_hotspot", "watchlist_hit", "flow_anomaly", "coverage_gap"]


@dataclass
class Call:
    method: str
    target: bytes  # path and query, as on the request line
    auth: str  # the Authorization header: none | valid:<role> | bearer (a wrong token) | other
    query_token: bool  # a valid ?token= is in the query
    headers: list[tuple[bytes, bytes]]
    body: bytes | None

    @property
    def authenticated(self) -> bool:
        """As the API decides: a `Bearer <token>` header decides; without one, the stream
        (only) takes ?token=."""
        if self.auth != "none" and self.auth != "other":
            return self.auth.startswith("valid:")
        stream = self.target == b"/api/stream" or self.target.startswith(b"/api/stream?")
        return stream and self.query_token


texts = st.text(max_size=40)
raw_bytes = st.binary(min_size=1, max_size=12)
subscription_ids = st.one_of(st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True), texts.filter(bool),
                             st.just("x" * 300))
param_values = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.just("9" * 5000), instants, st.sampled_from(BAD_INSTANTS),
    st.sampled_from(SITUATION_TYPES + ["Nanhu", "Dongping", "nowhere", ",", "alarm_hotspot,bogus"]), texts)


@st.composite
def paths(draw) -> bytes:
    template = draw(st.sampled_from(ENDPOINTS))
    if "{id}" in template:
        how = draw(st.sampled_from(["quoted", "raw"]))
        if how == "quoted":
            segment = quote(draw(subscription_ids), safe="").encode()
        else:  # bytes as they are: not UTF-8, not percent-encoded
            segment = draw(raw_bytes).replace(b"/", b"_").replace(b" ", b"_").replace(b"?", b"_").replace(b"#", b"_")
            segment = bytes(b for b in segment if b > 0x20 and b != 0x7F) or b"x"
        return template.replace("{id}", "\x00").encode().replace(b"\x00", segment)
    return template.encode()


@st.composite
def queries(draw, token_for) -> tuple[bytes, bool]:
    params = draw(st.lists(st.tuples(st.sampled_from(PARAMS), param_values), max_size=4))
    valid = False
    if draw(st.booleans()):  # the stream also takes ?token=
        params = [(k, v) for k, v in params if k != "token"]
        params.append(("token", token_for(draw(st.sampled_from(ROLES)))))
        valid = True
    query = urlencode(params).encode()
    if draw(st.integers(0, 9)) == 0:
        query += b"&district=" + draw(raw_bytes).replace(b" ", b"").replace(b"#", b"")
    return query, valid


@st.composite
def authorizations(draw, token_for) -> tuple[str, bytes | None]:
    how = draw(st.sampled_from(["none", "valid", "valid", "junk_token", "wrong_scheme", "empty",
                                "token_plus", "raw_bytes", "basic"]))
    if how == "none":
        return "none", None
    if how == "valid":
        role = draw(st.sampled_from(ROLES))
        return f"valid:{role}", b"Bearer " + token_for(role).encode()
    if how == "junk_token":
        return "bearer", b"Bearer " + draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                                                 min_size=1, max_size=60)).encode()
    if how == "wrong_scheme":
        return "other", b"Token " + token_for(draw(st.sampled_from(ROLES))).encode()
    if how == "empty":
        return "other", draw(st.sampled_from([b"Bearer", b"Bearer ", b"", b"bearer    "]))
    if how == "token_plus":
        return "bearer", b"Bearer " + token_for(draw(st.sampled_from(ROLES))).encode() + b"x"
    if how == "raw_bytes":  # obs-text: bytes 0x80-0xFF are legal in a header value, not UTF-8
        return "bearer", b"Bearer " + draw(st.binary(min_size=1, max_size=20).map(
            lambda b: bytes(0x80 | x for x in b)))
    return "other", b"Basic " + draw(st.binary(max_size=20)).hex().encode()


def _subscription_body(data: dict) -> dict:
    if data.get("channel") == "webhook":  # no DNS lookups of made-up names in a test
        data["webhook_url"] = "https://192.0.2.10/hook"
    return data


bodies = st.one_of(
    st.none(),
    valid_record(TOPICS["subscriptions"]).map(_subscription_body).map(lambda d: json.dumps(d).encode()),
    valid_record(TOPICS["subscriptions"]).map(_subscription_body).map(
        lambda d: json.dumps({k: v for k, v in d.items() if k != "subscription_id"}).encode()),
    mutated_record(TOPICS["subscriptions"]).map(lambda m: m.raw),
    arbitrary_json().map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"[" * 50_000, b'{"a":' * 20_000, b"x" * 70_000, b"NaN", b'{"bbox":[NaN,0,1,1]}']),
)


@st.composite
def calls(draw, token_for) -> Call:
    method = draw(st.sampled_from(["GET", "GET", "PUT", "PUT", "DELETE", "POST", "HEAD", "OPTIONS", "PATCH"]))
    path = draw(paths())
    query, query_token = draw(queries(token_for))
    auth, header = draw(authorizations(token_for))
    headers = [(b"Authorization", header)] if header is not None else []
    body = draw(bodies) if method in ("PUT", "POST", "PATCH", "DELETE") or draw(st.booleans()) else None
    if body is not None and draw(st.booleans()):
        headers.append((b"Content-Type", draw(st.sampled_from([b"application/json", b"text/plain", b"\xff/\xfe"]))))
    target = path + (b"?" + query if query else b"")
    return Call(method, target, auth, query_token, headers, body)


def send(port: int, call: Call) -> int:
    """The status of the answer; fails when the server drops the connection without one."""
    lines = [f"{call.method} ".encode() + call.target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in call.headers]
    if call.body is not None:
        lines.append(b"Content-Length: " + str(len(call.body)).encode())
    request = b"\r\n".join(lines) + b"\r\n\r\n" + (call.body or b"")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before reading a large body: read that answer
        head = b""
        while b"\r\n" not in head:  # the status line is all we need (the stream never ends)
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                chunk = b""
            assert chunk, f"connection closed without an answer to {call}"
            head += chunk
    status_line = head.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1."), status_line
    return int(status_line.split()[1])


@pytest.fixture(scope="module")
def token_for(api):
    return lambda role: api.tokens[role]


def _check(api, call: Call) -> None:
    status = send(api.port, call)
    assert 100 <= status < 500, (status, call)
    if call.target.startswith(b"/api/") and not call.authenticated:
        assert not 200 <= status < 400, (status, call)


FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@FUZZ
@given(data=st.data())
def test_every_request_gets_an_answer_below_500(api, token_for, data):
    _check(api, data.draw(calls(token_for)))


@st.composite
def unauthenticated_calls(draw, token_for) -> Call:
    """Calls to /api/ that a wrong, missing or misplaced token must not get through."""
    method = draw(st.sampled_from(["GET", "GET", "PUT", "DELETE"]))
    path = draw(paths().filter(lambda p: p.startswith(b"/api/") and p != b"/api/stream"))
    query, query_token = draw(queries(token_for))  # ?token= is taken by the stream only
    auth, header = draw(authorizations(token_for).filter(lambda a: not a[0].startswith("valid:")))
    body = draw(bodies) if method == "PUT" else None
    headers = [(b"Authorization", header)] if header is not None else []
    return Call(method, path + b"?" + query, auth, query_token, headers, body)


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_no_token_no_access(api, token_for, data):
    call = data.draw(unauthenticated_calls(token_for))
    assert not call.authenticated
    assert send(api.port, call) in (400, 401, 413), call


def _call(method: str, target: bytes, auth: bytes | None = None, body: bytes | None = None,
          role: str = "bearer") -> Call:
    return Call(method, target, role, False, [(b"Authorization", auth)] if auth else [], body)


REGRESSIONS = [
    # Found by fuzzing: a bearer token that is not UTF-8 raised UnicodeEncodeError (500).
    ("GET", b"/api/situations", b"Bearer \xff\xfe", None),
    # Found by fuzzing: instants beyond datetime's range raised OverflowError (500).
    ("GET", b"/api/situations?since=0001-01-01T00:00:00%2B01:00", "valid", None),
    ("GET", b"/api/cells?until=0001-01-01T00:00:00Z", "valid", None),
    ("GET", b"/api/situations?until=9999-12-31T23:59:59-01:00", "valid", None),
    # Edges of the instant range that do not overflow: ClickHouse gets them as they are.
    ("GET", b"/api/situations?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z", "valid", None),
    ("GET", b"/api/cells?until=9999-12-31T23:59:59Z&minutes=1440", "valid", None),
    # Found by fuzzing: a deeply nested JSON body raised RecursionError (500).
    ("PUT", b"/api/subscriptions/deep", "valid", b"[" * 50_000),
]


@pytest.mark.parametrize("method,target,auth,body", REGRESSIONS)
def test_regressions(api, token_for, method, target, auth, body):
    header = b"Bearer " + token_for("admin").encode() if auth == "valid" else auth
    _check(api, _call(method, target, header, body, role="valid:admin" if auth == "valid" else "bearer"))


def test_the_api_stays_healthy_and_its_audit_log_drains(api):
    """After the fuzzing above: still healthy, and no row it audited blocks the audit log."""
    def drained():
        status, body = api.call("GET", "/health")
        return status == 200 and body["status"] == "ok" and body["audit_pending"] == 0

    poll(drained, timeout=30, message="a healthy API with an empty audit queue")
