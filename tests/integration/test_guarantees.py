"""The guarantee matrix: each guarantee holds on every entry path, retry form and body shape.

One parametrized test per guarantee, against real loopback servers. The axes:

* entry paths (:data:`ENTRIES`): a verb method, ``request()``, ``send(prepare_request())``,
  a call made from another call's response hook, and a call whose ``send`` a middleware
  runs on a worker thread;
* retry forms (:data:`FORMS`): the session default, a ``RetryPolicy``, an int, a
  ``urllib3.Retry`` and ``False``;
* body shapes (:data:`~tests.integration.raw.SHAPES`): ``Content-Length``, chunked and
  close-delimited, buffered and (where the guarantee speaks of it) ``stream=True``.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import io
import itertools
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

import httpkit
from httpkit import DeadlineExceeded, RetryAfterTooLong, RetryPolicy, UnreplayableBody
from tests.integration.raw import SHAPES, Answer, RawServer, raw_server
from tests.integration.tls_servers import TLSServer

# -- the axes ----------------------------------------------------------------------------

Call = Callable[..., requests.Response]


def _verb(s: httpkit.Session, method: str, url: str, **kw: Any) -> requests.Response:
    return getattr(s, method.lower())(url, **kw)  # type: ignore[no-any-return]


def _request(s: httpkit.Session, method: str, url: str, **kw: Any) -> requests.Response:
    return s.request(method, url, **kw)


_SEND_ARGS = ("timeout", "stream", "verify", "cert", "deadline", "allow_redirects")


def _send(s: httpkit.Session, method: str, url: str, **kw: Any) -> requests.Response:
    send_kw = {name: kw.pop(name) for name in _SEND_ARGS if name in kw}
    return s.send(s.prepare_request(requests.Request(method, url, **kw)), **send_kw)


def _from_hook(s: httpkit.Session, method: str, url: str, **kw: Any) -> requests.Response:
    """The call is made from the response hook of another call to the same server."""
    outcome: list[Any] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        try:
            outcome.append(s.request(method, url, **kw))
        except Exception as exc:
            outcome.append(exc)

    outer = url.split("/", 3)
    # The outer call has no deadline and a long timeout: the inner call must not take them.
    s.get("/".join(outer[:3]) + "/outer", hooks={"response": hook}, deadline=None, timeout=30)
    (result,) = outcome
    if isinstance(result, Exception):
        raise result
    return result  # type: ignore[no-any-return]


def on_a_thread(request: requests.PreparedRequest, send: Any) -> requests.Response:
    """A middleware that sends from a worker thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(send, request).result()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Entry:
    name: str
    call: Call
    middlewares: tuple[Any, ...] = ()

    def session(self, **kw: Any) -> httpkit.Session:
        return httpkit.Session(middlewares=self.middlewares, **kw)


ENTRIES = [
    Entry("verb", _verb),
    Entry("request", _request),
    Entry("send", _send),
    Entry("hook", _from_hook),
    Entry("thread", _request, (on_a_thread,)),
]

_OMITTED = object()
#: Retry forms; every one retries 503 and read errors on GET and PUT, except False.
FORMS: dict[str, Any] = {
    "default": _OMITTED,
    "policy": RetryPolicy(total=5, backoff_factor=1),
    "int": 5,
    "urllib3": Retry(total=5, backoff_factor=1, status_forcelist=[503]),
    "false": False,
}


@pytest.fixture(params=ENTRIES, ids=[e.name for e in ENTRIES])
def entry(request: pytest.FixtureRequest) -> Entry:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=list(FORMS))
def form(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def session(entry: Entry, form: str, **kw: Any) -> httpkit.Session:
    if FORMS[form] is not _OMITTED:
        kw["retry"] = FORMS[form]
    return entry.session(**kw)


@pytest.fixture
def raw2() -> Iterator[RawServer]:
    """Another origin."""
    with raw_server("127.0.0.2") as server:
        yield server


def elapsed(since: float) -> float:
    return time.monotonic() - since


# -- the guarantees ----------------------------------------------------------------------

FAULTS = {
    "silent": Answer(hang=True),
    "trickled-length": Answer(body=b"x" * 100, every=0.1, shape="length"),
    "trickled-chunked": Answer(body=b"x" * 100, every=0.1, shape="chunked"),
    "trickled-close": Answer(body=b"x" * 100, every=0.1, shape="close"),
    "endless-close": Answer(body=b"x", every=0.05, endless=True, shape="close"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_deadline_bounds_the_call(entry: Entry, form: str, fault: str, raw: RawServer) -> None:
    """Whatever the server does, a buffered call ends within its deadline (+0.5 s)."""
    raw.script("/slow", FAULTS[fault])
    with session(entry, form) as s:
        started = time.monotonic()
        with pytest.raises(requests.Timeout) as caught:
            # the read timeout lets retries (and their backoff) happen inside the deadline
            entry.call(s, "GET", raw.url("/slow"), deadline=0.6, timeout=(1, 0.25))
        took = elapsed(started)
    assert took < 0.6 + 0.5, f"{fault} ran {took:.2f} s past a 0.6 s deadline"
    if fault != "silent" or form != "false":
        assert isinstance(caught.value, DeadlineExceeded)


def test_deadline_caps_a_urllib3_timeout(entry: Entry, raw: RawServer) -> None:
    """A ``urllib3.Timeout`` given as the timeout is cut to what is left of the deadline."""
    raw.script("/silent", Answer(hang=True))
    with entry.session(retry=0) as s:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            entry.call(s, "GET", raw.url("/silent"), deadline=0.5, timeout=Timeout(4, 4))
    assert elapsed(started) < 0.5 + 0.5


def test_streamed_body_outlives_the_deadline_under_its_read_timeout(
    entry: Entry, shape: str, raw: RawServer
) -> None:
    """``stream=True``: the deadline ends at the headers; the body has its read timeout."""
    raw.script("/download", Answer(body=b"y" * 8, every=0.15, shape=shape))
    with entry.session() as s:
        response = entry.call(
            s, "GET", raw.url("/download"), stream=True, deadline=0.5, timeout=(1, 0.6)
        )
        with response:
            assert response.raw.read() == b"y" * 8  # 1.2 s of body, after a 0.5 s deadline


def test_streamed_trailers_are_bounded(entry: Entry, raw: RawServer) -> None:
    raw.script("/trailers", Answer(body=b"ok", shape="chunked", endless_trailers=True))
    with entry.session() as s:
        response = entry.call(s, "GET", raw.url("/trailers"), stream=True, deadline=5)
        started = time.monotonic()
        with response, pytest.raises(requests.RequestException, match="trailer section"):
            response.content  # noqa: B018
    assert elapsed(started) < 5


@pytest.mark.parametrize("section", ["many-fields", "long-line"])
def test_header_section_is_bounded(entry: Entry, section: str, raw: RawServer) -> None:
    """A response header section past the limits ends in a library error, never a hang."""
    headers = [(f"X-Field-{i}", "v") for i in range(150)]
    if section == "long-line":
        headers = [("X-Long", "v" * 70_000)]
    raw.script("/head", Answer(headers=headers))
    with entry.session(retry=0) as s:
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError, match="more than"):
            entry.call(s, "GET", raw.url("/head"), deadline=5)
    assert elapsed(started) < 2


@pytest.mark.parametrize("asked", ["86400", "3"])
def test_retry_after_ceiling(
    entry: Entry, form: str, shape: str, asked: str, raw: RawServer
) -> None:
    """A long Retry-After is never slept: past the ceiling, or past the deadline."""
    raw.script("/busy", Answer(503, [("Retry-After", asked)], b"later", shape), Answer())
    with session(entry, form) as s:
        started = time.monotonic()
        if form == "false":
            assert entry.call(s, "GET", raw.url("/busy"), deadline=1).status_code == 503
        elif asked == "86400":
            with pytest.raises(RetryAfterTooLong) as caught:
                entry.call(s, "GET", raw.url("/busy"), deadline=5)
            assert caught.value.retry_after == 86400
        else:
            with pytest.raises(DeadlineExceeded):
                entry.call(s, "GET", raw.url("/busy"), deadline=1)
        assert elapsed(started) < 1.2
    assert len(raw.requests_to("/busy")) == 1


def _generator() -> Iterator[bytes]:
    yield b"first,"
    yield b"second"


@pytest.mark.parametrize("answer", ["503", "307"])
def test_no_empty_replay(entry: Entry, form: str, shape: str, answer: str, raw: RawServer) -> None:
    """A body that cannot be replayed goes out once, whole; never again, never empty."""
    if answer == "503":
        raw.script("/upload", Answer(503, body=b"busy", shape=shape), Answer())
    else:
        raw.script("/upload", Answer(307, [("Location", "/moved")], b"moved", shape))
    with session(entry, form) as s:
        if form == "false":
            response = entry.call(s, "PUT", raw.url("/upload"), data=_generator())
            assert response.status_code == int(answer)
        else:
            with pytest.raises(UnreplayableBody):
                entry.call(s, "PUT", raw.url("/upload"), data=_generator())
    assert [r.body for r in raw.requests_to("/upload")] == [b"first,second"]
    assert raw.requests_to("/moved") == []


@pytest.mark.parametrize("body", ["generator", "file"])
def test_no_empty_replay_from_a_middleware(body: str, raw: RawServer) -> None:
    """A middleware that sends a request twice sends a file whole twice, a generator once."""

    def twice(request: requests.PreparedRequest, send: Any) -> requests.Response:
        send(request).close()
        return send(request)  # type: ignore[no-any-return]

    data = _generator() if body == "generator" else io.BytesIO(b"first,second")
    with httpkit.Session(middlewares=[twice]) as s:
        if body == "generator":
            with pytest.raises(UnreplayableBody):
                s.put(raw.url("/upload"), data=data)
        else:
            assert s.put(raw.url("/upload"), data=data).status_code == 200
    sent = [r.body for r in raw.requests_to("/upload")]
    assert sent == [b"first,second"] * (1 if body == "generator" else 2)


def test_unfollowed_307_keeps_an_unreplayable_body(entry: Entry, raw: RawServer) -> None:
    """``allow_redirects=False``: a 307 is returned, as requests does; nothing is re-sent."""
    raw.script("/upload", Answer(307, [("Location", "/moved")], b""))
    with entry.session() as s:
        response = entry.call(
            s, "POST", raw.url("/upload"), data=_generator(), allow_redirects=False
        )
    assert response.status_code == 307
    assert response.next is not None
    assert raw.requests_to("/moved") == []


LIMITS = {
    "false": False,
    "policy-0": RetryPolicy(redirects=0),
    "urllib3-redirect-0": Retry(total=3, redirect=0),
    "urllib3-total-0": Retry(total=0),
    "urllib3-total-false": Retry(total=False),
}


@pytest.mark.parametrize("limit", list(LIMITS))
def test_redirect_limits(entry: Entry, limit: str, shape: str, raw: RawServer) -> None:
    """``redirect=0``, ``total=0``, ``total=False`` and ``retry=False`` follow no redirect."""
    raw.script("/old", Answer(302, [("Location", "/new")], b"see /new", shape))
    with entry.session(retry=LIMITS[limit]) as s:
        response = entry.call(s, "GET", raw.url("/old"))
    assert response.status_code == 302
    assert raw.requests_to("/new") == []


@pytest.mark.parametrize("followed", [1, 2])
def test_redirect_limit_counts_hops(
    entry: Entry, followed: int, shape: str, raw: RawServer
) -> None:
    for step in range(3):
        raw.script(f"/r{step}", Answer(302, [("Location", f"/r{step + 1}")], b"", shape))
    with (
        entry.session(retry=Retry(total=5, redirect=followed)) as s,
        pytest.raises(requests.TooManyRedirects),
    ):
        entry.call(s, "GET", raw.url("/r0"))
    assert len(raw.requests_to(f"/r{followed}")) == 1
    assert raw.requests_to(f"/r{followed + 1}") == []


def _send_with_environment(
    s: httpkit.Session, method: str, url: str, **kw: Any
) -> requests.Response:
    """requests' documented flow: merge_environment_settings(), then send(**settings)."""
    prepared = s.prepare_request(requests.Request(method, url, **kw))
    settings = s.merge_environment_settings(prepared.url, {}, None, None, None)
    return s.send(prepared, **settings)


PER_HOP_ENTRIES = [*ENTRIES, Entry("send-environment", _send_with_environment)]


@pytest.mark.parametrize("via", PER_HOP_ENTRIES, ids=[e.name for e in PER_HOP_ENTRIES])
def test_settings_resolved_per_hop(via: Entry, raw: RawServer, untrusted_https: TLSServer) -> None:
    """A host policy's verify=False and headers do not travel to the next origin."""
    raw.script("/start", Answer(302, [("Location", untrusted_https.url("/"))], b""))
    with via.session(retry=0) as s:
        s.configure(raw.origin, verify=False, headers={"X-Policy": "a"})
        with pytest.raises(requests.exceptions.SSLError):
            via.call(s, "GET", raw.url("/start"))
    assert untrusted_https.requests == 0
    assert raw.requests_to("/start")[0].headers["x-policy"] == "a"


def test_credentials_stay_with_their_origin(entry: Entry, raw: RawServer, raw2: RawServer) -> None:
    """Every header the call's auth plugin sets is stripped on a redirect to another origin."""
    raw.script("/start", Answer(302, [("Location", raw2.url("/next"))], b""))
    auth = httpkit.TokenAuth("t0ken", header="X-My-Token", scheme=None)
    with entry.session() as s:
        assert entry.call(s, "GET", raw.url("/start"), auth=auth).status_code == 200
    assert raw.requests_to("/start")[0].headers["x-my-token"] == "t0ken"
    assert "x-my-token" not in raw2.requests_to("/next")[0].headers


def _nested(kind: str, inner: Callable[[], Any]) -> Any:
    """Run ``inner`` from a response hook or a middleware of an outer call."""
    if kind == "hook":

        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            outcome.append(_outcome(inner))

        outcome: list[Any] = []
        return hook, (), outcome

    def middleware(request: requests.PreparedRequest, send: Any) -> requests.Response:
        if request.url and request.url.endswith("/outer"):
            outcome.append(_outcome(inner))
        return send(request)  # type: ignore[no-any-return]

    outcome = []
    return None, (middleware,), outcome


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:
        return exc


INNER = {"verb": _verb, "request": _request, "send": _send}


@pytest.mark.parametrize("inner", list(INNER))
@pytest.mark.parametrize("kind", ["hook", "middleware"])
def test_nested_call_inherits_nothing(
    kind: str, inner: str, raw: RawServer, untrusted_https: TLSServer
) -> None:
    """A call made inside another takes neither its verify=False, its timeout nor deadline."""
    raw.script("/silent", Answer(hang=True))
    inner_call = INNER[inner]
    with httpkit.Session(retry=0) as s:

        def both() -> tuple[Any, Any, float]:
            tls = _outcome(lambda: inner_call(s, "GET", untrusted_https.url("/")))
            started = time.monotonic()
            slow = _outcome(lambda: inner_call(s, "GET", raw.url("/silent"), timeout=0.3))
            return tls, slow, elapsed(started)

        hook, middlewares, outcome = _nested(kind, both)
        s.configure(raw.origin, middlewares=middlewares)
        s.get(
            raw.url("/outer"),
            hooks={"response": hook} if hook else {},
            verify=False,
            timeout=30,
            deadline=None,
        )
    ((tls, slow, took),) = outcome
    assert isinstance(tls, requests.exceptions.SSLError)
    assert isinstance(slow, requests.exceptions.ReadTimeout)
    assert not isinstance(slow, DeadlineExceeded)  # its own timeout, not the outer deadline
    assert 0.25 < took < 1.5
    assert untrusted_https.requests == 0


def test_rate_limit_token_per_attempt(entry: Entry, form: str, raw: RawServer) -> None:
    """Every attempt, retries included, takes a token: 10/s spaces them 0.1 s apart."""
    raw.script("/flaky", Answer(503), Answer(503), Answer(200))
    with session(entry, form, rate_limit="10/s") as s:
        response = entry.call(s, "GET", raw.url("/flaky"))
    attempts = [r.at for r in raw.requests_to("/flaky")]
    if form == "false":
        assert response.status_code == 503
        assert len(attempts) == 1
        return
    assert response.status_code == 200
    assert len(attempts) == 3
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Without the limiter the first retry follows at once (its backoff is 0): a few ms.
    # The server stamps arrivals, so scheduling on a loaded machine can eat into the
    # 0.1 s; half of it is the margin.
    assert min(gaps) > 0.05, gaps


#: A body that is not gzip, sent as gzip: decoding it raises; draining it does not.
NOT_GZIP = b"this is not gzip data " * 3000


@pytest.mark.parametrize("stream", [False, True])
def test_redirect_body_is_drained_not_decoded(
    entry: Entry, shape: str, stream: bool, raw: RawServer
) -> None:
    """A redirect's body is drained (64 KiB at most), never decoded nor read to its end."""
    raw.script(
        "/moved",
        Answer(
            302,
            [("Location", "/landing"), ("Content-Encoding", "gzip")],
            NOT_GZIP,
            shape,
            endless=True,
        ),
    )
    with entry.session() as s:
        started = time.monotonic()
        response = entry.call(s, "GET", raw.url("/moved"), stream=stream, deadline=5)
        assert response.status_code == 200
        assert response.content == b"ok"
        assert elapsed(started) < 3
    assert [r.status_code for r in response.history] == [302]
    # far less than 5 s of an endless body: the client read 64 KiB and hung up
    assert raw.sent["/moved"] < 32 * 1024 * 1024


WRAPPERS: dict[str, dict[str, Any]] = {
    "plain": {},
    "max_body": {"max_body": 10_000_000},
    "cache": {"cache": True},
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
def test_raw_download_idiom(entry: Entry, shape: str, wrapper: str, raw: RawServer) -> None:
    """``r.raw.decode_content = True; shutil.copyfileobj(r.raw, f)`` writes decoded bytes."""
    data = b"decoded text\n" * 4000
    headers = [("Content-Encoding", "gzip"), ("Cache-Control", "max-age=60")]
    raw.script("/file", Answer(200, headers, gzip.compress(data), shape))
    with entry.session(**WRAPPERS[wrapper]) as s:
        for _ in range(2):  # the second one is a cache hit under "cache"
            response = entry.call(s, "GET", raw.url("/file"), stream=True)
            with response:
                response.raw.decode_content = True
                out = io.BytesIO()
                shutil.copyfileobj(response.raw, out)
            assert out.getvalue() == data
    assert len(raw.requests_to("/file")) == (1 if wrapper == "cache" else 2)
