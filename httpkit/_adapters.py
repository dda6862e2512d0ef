"""HostAdapter: an ``HTTPAdapter`` that carries one host policy's timeouts, retries and pools."""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Any, Final

import requests
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, ReadTimeoutError

from httpkit._hosts import HostConfig, HostPattern
from httpkit._retry import DEFAULT_RETRY, RetryHistory, RetryPolicy, to_urllib3
from httpkit._timeouts import DEFAULT_TIMEOUTS, UNSET, Timeouts, _Unset, to_requests_timeout

if TYPE_CHECKING:
    from requests import PreparedRequest, Response
    from urllib3.util.retry import Retry

#: Session-level settings when the caller gives none.
DEFAULT_SESSION_CONFIG: Final = HostConfig(
    timeout=DEFAULT_TIMEOUTS, retry=DEFAULT_RETRY, deadline=300.0
)


class _UnboundedLifoQueue(queue.LifoQueue):  # type: ignore[type-arg]  # holds connections or None
    """A LIFO queue that never refuses a connection handed back.

    urllib3 discards a connection returned to a full pool ("Connection pool is full,
    discarding connection"). Ignoring ``maxsize`` keeps every connection that was needed
    at the same time, so the pool grows to the peak number of threads sharing the host.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(0)


class _GrowingHTTPConnectionPool(HTTPConnectionPool):
    QueueCls = _UnboundedLifoQueue


class _GrowingHTTPSConnectionPool(HTTPSConnectionPool):
    QueueCls = _UnboundedLifoQueue


_GROWING_POOLS: Final = {"http": _GrowingHTTPConnectionPool, "https": _GrowingHTTPSConnectionPool}


class HostAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies one host policy.

    Timeouts the caller did not give come from the policy (or the session default),
    retries come from its ``RetryPolicy``, and with ``pool_maxsize=None`` connection pools
    grow instead of discarding connections. Responses carry ``response.retries``.

    Args:
        policy: the settings this host policy sets itself.
        defaults: the session's settings, for everything ``policy`` leaves unset.
        pattern: the target this adapter is mounted for (``None`` for the scheme-wide
            defaults).
        pool_maxsize: connections kept per host; ``None`` keeps as many as were in use at
            once, so threads sharing a host never discard connections.
    """

    # requests pickles the attributes this class-level list names.
    __attrs__ = [*HTTPAdapter.__attrs__, "policy", "defaults", "pattern", "pool_maxsize"]  # noqa: RUF012

    policy: HostConfig
    defaults: HostConfig
    pattern: HostPattern | None
    pool_maxsize: int | None
    timeouts: Timeouts
    retry: RetryPolicy | Retry
    deadline: float | None

    def __init__(
        self,
        policy: HostConfig | None = None,
        *,
        defaults: HostConfig = DEFAULT_SESSION_CONFIG,
        pattern: HostPattern | None = None,
        pool_connections: int = DEFAULT_POOLSIZE,
        pool_maxsize: int | None = None,
        pool_block: bool = DEFAULT_POOLBLOCK,
    ) -> None:
        # Set before super().__init__(), which calls init_poolmanager().
        self.policy = policy or HostConfig()
        self.defaults = defaults
        self.pattern = pattern
        self.pool_maxsize = pool_maxsize
        self._derive()
        super().__init__(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize or DEFAULT_POOLSIZE,
            max_retries=to_urllib3(self.retry),
            pool_block=pool_block,
        )

    def _derive(self) -> None:
        """Compute the effective settings: the policy's, else the session's."""

        def pick(name: str) -> Any:
            value = getattr(self.policy, name)
            return getattr(self.defaults, name) if isinstance(value, _Unset) else value

        self.timeouts = pick("timeout")
        self.retry = pick("retry")
        self.deadline = pick("deadline")
        self.max_retries = to_urllib3(self.retry)

    def update(self, policy: HostConfig) -> None:
        """Replace this adapter's policy in place; pooled connections stay open."""
        self.policy = policy
        self._derive()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.pool_maxsize = state.get("pool_maxsize")
        super().__setstate__(state)
        self._derive()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        if self.pool_maxsize is None and not block:
            self.poolmanager.pool_classes_by_scheme = _GROWING_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if (
            self.pool_maxsize is None
            and not self._pool_block
            and not proxy.lower().startswith("socks")
        ):
            manager.pool_classes_by_scheme = _GROWING_POOLS
        return manager

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = UNSET,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        """Send with this policy's timeouts when the caller gave none (``UNSET``).

        An explicit ``timeout=None`` disables timeouts, as in requests.
        """
        # requests' annotations omit urllib3 Timeout objects, which its adapter accepts.
        resolved: Any = (
            self.timeouts.as_tuple() if timeout is UNSET else to_requests_timeout(timeout)
        )
        try:
            return super().send(
                request, stream=stream, timeout=resolved, verify=verify, cert=cert, proxies=proxies
            )
        except requests.ConnectionError as exc:
            # requests reports read timeouts that exhausted the retries as ConnectionError;
            # they are timeouts, and callers catching requests.Timeout expect them.
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, MaxRetryError) and isinstance(cause.reason, ReadTimeoutError):
                raise requests.ReadTimeout(cause, request=request) from exc
            raise

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        response = super().build_response(req, resp)
        response.retries = RetryHistory.from_urllib3(getattr(resp, "retries", None))  # type: ignore[attr-defined]  # httpkit's addition
        return response
