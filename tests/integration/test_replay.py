"""Retries and redirects never corrupt a request: bodies and idempotency keys."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest

import httpkit
from httpkit import RetryPolicy, UnreplayableBody
from tests.integration.servers import Reply, ScriptedServer

FAST = RetryPolicy(backoff_factor=0)
KEYED = RetryPolicy(backoff_factor=0, idempotency_key=True)


def chunks() -> Iterator[bytes]:
    yield b"first,"
    yield b"second"


def test_generator_body_is_not_resent_by_a_retry(server: ScriptedServer) -> None:
    server.script("/upload", Reply(503), Reply(200))
    with httpkit.Session(retry=FAST) as s, pytest.raises(UnreplayableBody) as caught:
        s.put(server.url("/upload?sig=s3cret"), data=chunks())
    (only,) = server.requests_to("/upload")
    assert only.body == b"first,second"  # sent whole, once
    assert f"PUT {server.url('/upload')} would be retried, but its body is a generator" in str(
        caught.value
    )
    assert "s3cret" not in str(caught.value)


def test_generator_body_is_not_resent_by_a_307(server: ScriptedServer) -> None:
    server.script("/old", Reply(307, headers=[("Location", "/new")]))
    with httpkit.Session(retry=FAST) as s, pytest.raises(UnreplayableBody, match="307"):
        s.post(server.url("/old"), data=chunks())
    assert server.requests_to("/new") == []


def test_generator_body_may_follow_a_303(server: ScriptedServer) -> None:
    """A 303 turns the request into a GET without a body: nothing to replay."""
    server.script("/form", Reply(303, headers=[("Location", "/done")]))
    with httpkit.Session(retry=FAST) as s:
        assert s.post(server.url("/form"), data=chunks()).status_code == 200
    assert server.requests_to("/done")[0].method == "GET"


def test_seekable_file_is_rewound_for_each_attempt(server: ScriptedServer) -> None:
    server.script("/upload", Reply(503), Reply(503), Reply(200))
    body = io.BytesIO(b"payload-bytes")
    with httpkit.Session(retry=FAST) as s:
        assert s.put(server.url("/upload"), data=body).status_code == 200
    assert [r.body for r in server.requests_to("/upload")] == [b"payload-bytes"] * 3


def test_seekable_file_is_rewound_for_a_307(server: ScriptedServer) -> None:
    server.script("/old", Reply(307, headers=[("Location", "/new")]))
    with httpkit.Session(retry=FAST) as s:
        s.post(server.url("/old"), data=io.BytesIO(b"payload"))
    assert server.requests_to("/new")[0].body == b"payload"


def test_idempotency_key_makes_post_retryable_with_one_key(server: ScriptedServer) -> None:
    server.script("/orders", Reply(503), Reply(503), Reply(201))
    with httpkit.Session(retry=KEYED) as s:
        response = s.post(server.url("/orders"), json={"item": 1})
        s.post(server.url("/orders"), json={"item": 2})
    assert response.status_code == 201
    seen = [r.headers["Idempotency-Key"] for r in server.requests_to("/orders")]
    assert len(seen) == 4
    assert seen[0] == seen[1] == seen[2] != seen[3]  # one key per call, kept across retries
    assert uuid.UUID(seen[0]).version == 4


def test_user_idempotency_key_is_kept(server: ScriptedServer) -> None:
    server.script("/orders", Reply(503), Reply(201))
    with httpkit.Session(retry=KEYED) as s:
        s.post(server.url("/orders"), data=b"x", headers={"Idempotency-Key": "mine-1"})
    assert [r.headers["Idempotency-Key"] for r in server.requests_to("/orders")] == [
        "mine-1",
        "mine-1",
    ]


def test_no_idempotency_key_without_the_option(server: ScriptedServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        s.post(server.url("/orders"), data=b"x")
        s.get(server.url("/orders"))
    assert all("Idempotency-Key" not in r.headers for r in server.requests_to("/orders"))


def test_host_policy_can_enable_idempotency_keys(server: ScriptedServer) -> None:
    server.script("/orders", Reply(503), Reply(201))
    with httpkit.Session(retry=FAST) as s:
        s.configure(server.origin, retry=KEYED)
        assert s.post(server.url("/orders"), data=b"x").status_code == 201
    assert len(server.requests_to("/orders")) == 2
