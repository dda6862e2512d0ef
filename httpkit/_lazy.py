"""Public names whose module is imported when the name is first used.

``import httpkit`` should cost only what a plain ``Session().get()`` needs; a feature's
module (the cache, SSRF policies, Digest auth...) loads when its name is first looked up.

>>> getattr_, dir_ = on_first_use({"__name__": "pkg"}, {"sqrt": "math"})
>>> getattr_("sqrt")(9.0), "sqrt" in dir_()
(3.0, True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def on_first_use(
    namespace: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` for ``names`` (name -> module to import).

    Each name is imported once, then kept in ``namespace`` (the module's ``globals()``), so
    later lookups never come back here.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
