"""Response bodies with a size cap (``max_body``), and redirect bodies that are not read.

A cap on ``response.content`` has to hold while the body is decoded: a 200 KB gzip "bomb"
becomes 200 MiB. :class:`CappedBody` stands in for the urllib3 response behind
``response.raw`` and counts decoded bytes as requests reads them, so ``content``, ``text``,
``json()`` and ``iter_content()`` stop with :class:`~httpkit.BodyTooLarge` as soon as the cap
is crossed, holding at most the cap plus one chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from httpkit._exceptions import BodyTooLarge

#: Decoded bytes asked of urllib3 at a time while counting towards the cap.
_STEP: Final = 64 * 1024
#: The most of a redirect response's body that is read (undecoded) before following it.
REDIRECT_DRAIN_LIMIT: Final = 64 * 1024


class RawProxy:
    """Stands in for the urllib3 response behind ``response.raw``, as the response itself.

    Every attribute a caller reads comes from the response; every public attribute a caller
    sets goes to it (``r.raw.decode_content = True`` before ``shutil.copyfileobj(r.raw, f)``
    is requests' download idiom). ``read()`` and ``stream()`` decode as the response would:
    ``decode_content=None`` means the response's own setting.
    """

    _raw: Any

    def __init__(self, raw: Any) -> None:
        object.__setattr__(self, "_raw", raw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._raw, name, value)

    def _decoding(self, decode_content: bool | None) -> bool:
        if decode_content is None:
            return bool(getattr(self._raw, "decode_content", False))
        return decode_content


class CappedBody(RawProxy):
    """A urllib3 response whose decoded body may not exceed ``limit`` bytes."""

    def __init__(self, raw: Any, limit: int, url: str) -> None:
        super().__init__(raw)
        self._limit = limit
        self._url = url
        self._seen = 0

    def _count(self, data: bytes) -> bytes:
        self._seen += len(data)
        if self._seen > self._limit:
            self._raw.close()
            raise BodyTooLarge(
                f"the response body from {self._url} is larger than max_body "
                f"({self._limit} bytes, decoded); stream it with stream=True or raise max_body",
                limit=self._limit,
            )
        return data

    def stream(
        self, amt: int | None = _STEP, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        step = min(amt or _STEP, _STEP)
        decode = self._decoding(decode_content)
        for chunk in self._raw.stream(step, decode_content=decode):
            yield self._count(chunk)

    def read(self, amt: int | None = None, decode_content: bool | None = None, **kw: Any) -> bytes:
        decode = self._decoding(decode_content)
        if amt is None:
            return b"".join(self.stream(_STEP, decode_content=decode))
        return self._count(self._raw.read(amt, decode_content=decode, **kw))


def keep_small_body(response: Any, limit: int = REDIRECT_DRAIN_LIMIT) -> None:
    """Read a body of at most ``limit`` bytes into ``response.content``, freeing its connection.

    For a response carried by an error (``RetryAfterTooLong``): the caller can still read
    it, and its connection goes back to the pool instead of waiting for a ``close()``
    nobody calls. A longer body is cut at ``limit`` and its connection closed.
    """
    if response._content_consumed:
        return
    raw = response.raw
    try:
        data = raw.read(limit + 1, decode_content=True)
    except Exception:
        data = b""
        raw.close()
    if len(data) > limit:
        data = data[:limit]
        raw.close()
    else:
        raw.release_conn()
    response._content = data
    response._content_consumed = True


def discard_body(response: Any) -> None:
    """Read at most :data:`REDIRECT_DRAIN_LIMIT` undecoded bytes of a body nobody will use.

    For a redirect that is followed and a response that is retried: requests decodes a
    redirect response's whole body before following it, and urllib3 drains a retried one
    in full; httpkit keeps none of it. The body is marked empty, and the connection goes
    back to the pool only if the body ended within the limit.
    """
    if response._content_consumed:
        return
    raw = response.raw
    try:
        leftover = raw.read(REDIRECT_DRAIN_LIMIT, decode_content=False)
        finished = len(leftover) < REDIRECT_DRAIN_LIMIT or not raw.read(1, decode_content=False)
    except Exception:
        finished = False
    response._content = b""
    response._content_consumed = True
    if not finished:
        raw.close()
    else:
        raw.release_conn()
