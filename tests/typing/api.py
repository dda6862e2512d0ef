"""How users call httpkit's public API. Checked by mypy, never executed."""

from __future__ import annotations

import requests
from urllib3.util.retry import Retry

import httpkit


def configure_session() -> requests.Response:
    session = httpkit.Session(
        timeout=httpkit.Timeouts(connect=3.05, read=30),
        retry=httpkit.RetryPolicy(total=5, backoff_factor=0.2),
        deadline=60,
        user_agent="myapp/1.4",
        base_url="https://api.example.com/v1",
        pool_maxsize=None,
    )
    session.configure("https://api.example.com", timeout=10, retry=Retry(total=2))
    session.configure("https://*.corp.example", verify="/etc/ssl/corp.pem", timeout=(1, 5))
    policy: httpkit.HostConfig = session.policy_for("https://api.example.com/x")
    assert policy is not None
    session.get("users", timeout=None)
    session.get("users", timeout=(2, 10))
    return session.post("items", json={"a": 1}, timeout=httpkit.Timeouts(read=5))


def from_file() -> httpkit.Session:
    return httpkit.Session.from_config("httpkit.toml")


def still_a_requests_session(session: requests.Session) -> None:
    session.get("https://example.com")


def accepts_an_httpkit_session() -> None:
    still_a_requests_session(httpkit.Session(retry=False))


def ssrf_policy() -> httpkit.Session:
    policy = httpkit.SSRFPolicy(allow=["10.0.0.0/8", "db.internal"], deny=["10.9.9.9"], ports=[443])
    session = httpkit.Session(ssrf=policy)
    session.configure("https://hooks.example.com", ssrf=True)
    addresses: list[str] = policy.resolve("example.com", 443)
    assert addresses
    try:
        session.get("https://example.com/")
    except httpkit.BlockedAddress as exc:
        rule: str | None = exc.rule
        print(rule)
    return session
