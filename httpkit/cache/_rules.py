"""RFC 9111 rules: which exchanges are stored, ``Cache-Control``, freshness and age."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from httpkit._http import parse_delta_seconds, parse_http_date

#: Methods whose responses are stored.
CACHEABLE_METHODS: Final = frozenset({"GET", "HEAD"})
#: Statuses stored when the response gives a freshness lifetime or a validator
#: (RFC 9110 §15.1's heuristically cacheable statuses, 206 excluded: no ranges here).
CACHEABLE_STATUSES: Final = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
#: Methods whose success invalidates what is stored for the URL (RFC 9111 §4.4).
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def freshness_lifetime(headers: Mapping[str, str], directives: Mapping[str, str | None]) -> float:
    """How long a response stays fresh, in seconds (RFC 9111 §4.2.1); 0 if it says nothing.

    ``s-maxage`` is for shared caches and ignored; an invalid ``Expires`` means stale.

    >>> freshness_lifetime({}, {"max-age": "60"})
    60.0
    >>> freshness_lifetime(
    ...     {"Date": "Sun, 06 Nov 1994 08:49:37 GMT", "Expires": "Sun, 06 Nov 1994 08:50:37 GMT"},
    ...     {},
    ... )
    60.0
    """
    if "max-age" in directives:
        seconds = parse_delta_seconds(directives["max-age"])
        return float(seconds) if seconds is not None else 0.0
    expires = headers.get("Expires")
    if expires is None:
        return 0.0
    expires_at = parse_http_date(expires)
    if expires_at is None:
        return 0.0
    date = parse_http_date(headers.get("Date"))
    return max(0.0, expires_at - (date if date is not None else time.time()))


def initial_age(headers: Mapping[str, str], request_time: float, response_time: float) -> float:
    """The age of a response when it arrived (RFC 9111 §4.2.3 ``corrected_initial_age``).

    Times are seconds since the epoch: when the request was sent and the response came.

    >>> initial_age({"Age": "30"}, 1000.0, 1002.0)
    32.0
    >>> initial_age({"Date": "Thu, 01 Jan 1970 00:15:00 GMT"}, 1000.0, 1000.0)
    100.0
    """
    date = parse_http_date(headers.get("Date"))
    apparent = max(0.0, response_time - date) if date is not None else 0.0
    age = parse_delta_seconds(headers.get("Age")) or 0
    return max(apparent, age + (response_time - request_time))
