"""Immutable value classes: what httpkit used ``dataclasses`` for, without its import cost.

Creating a frozen dataclass compiles five or six methods with ``exec`` when the class is
defined; with the ``dataclasses`` module itself (which imports ``inspect``) that was about
half the cost of ``import httpkit``. A :class:`Record` generates nothing: a subclass annotates
its fields (in order) and names them in ``__slots__``, sets them in its own typed
``__init__`` with :meth:`_init`, and inherits equality, hashing, ``repr``, ``replace``,
pickling and immutability from here.

>>> class Point(Record):
...     __slots__ = ("x", "y")
...     x: int
...     y: int
...
...     def __init__(self, x: int, y: int = 0) -> None:
...         self._init(locals())
>>> p = Point(1, y=2)
>>> p, p == Point(1, 2), p.replace(y=5)
(Point(x=1, y=2), True, Point(x=1, y=5))
>>> p.x = 3
Traceback (most recent call last):
...
AttributeError: Point is immutable: use replace(x=...) for a changed copy
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

_R = TypeVar("_R", bound="Record")


class Record:
    """An immutable value: its fields are its ``__slots__``, in order."""

    __slots__ = ()
    #: Slots that ``__init__`` derives instead of taking (left out of ``replace``,
    #: pickling, equality and ``repr``).
    _derived: ClassVar[tuple[str, ...]] = ()
    #: The fields ``__init__`` takes, in the order the class annotates them.
    _field_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [k for k in reversed(cls.__mro__) if issubclass(k, Record) and k is not Record]
        # Not inspect.get_annotations(): importing inspect costs what this module saves.
        annotated = [name for k in own for name in k.__dict__.get("__annotations__", {})]  # noqa: RUF063
        slots = {name for k in own for name in k.__dict__.get("__slots__", ())}
        if set(annotated) != slots:
            raise TypeError(f"{cls.__name__}: __slots__ must name the annotated fields")
        cls._field_names = tuple(name for name in annotated if name not in cls._derived)
        names = cls._field_names
        if len(names) > 1:
            cls._get_values = staticmethod(attrgetter(*names))
        elif names:
            one = attrgetter(names[0])
            cls._get_values = staticmethod(lambda record: (one(record),))

    def _init(self, values: dict[str, Any]) -> None:
        """Set every field from ``values`` (the ``locals()`` of the subclass's ``__init__``)."""
        for name in self._field_names:
            object.__setattr__(self, name, values[name])

    #: The fields' values of a record, in order: one ``attrgetter`` per class.
    _get_values: ClassVar[Callable[[Any], tuple[Any, ...]]] = staticmethod(lambda record: ())

    def _values(self) -> tuple[Any, ...]:
        return type(self)._get_values(self)

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with ``changes`` applied, checked as the constructor checks them."""
        values = {name: getattr(self, name) for name in self._field_names}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return type(self)(**values)

    __replace__ = replace  # copy.replace() on Python 3.13+

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._field_names)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} is immutable: use replace({name}=...) for a changed copy"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt through __init__, which checks the values and derives the rest again.
        return (_rebuild, (type(self), dict(zip(self._field_names, self._values(), strict=True))))


def _rebuild(cls: type[_R], values: dict[str, Any]) -> _R:
    return cls(**values)


_T = TypeVar("_T")


def from_setting(
    kind: type[_T], value: Any, where: str, *, keys: tuple[str, ...], expected: str
) -> _T | None:
    """A feature's setting as its value object: ``None``/``False`` (off), ``True`` (the
    defaults), an instance, or a mapping of its keyword arguments (a config file's table).

    ``where`` starts every error message; ``expected`` says what would be accepted.

    >>> from httpkit._retry import RetryBudget
    >>> from_setting(RetryBudget, {"ratio": 0.1}, "retry", keys=("ratio",), expected="...")
    RetryBudget(ratio=0.1, minimum=10, window=10.0)

    Raises:
        ConfigError: an unknown key, a bad value, or a value of another kind.
    """
    from httpkit._exceptions import ConfigError

    if value is None or value is False:
        return None
    if value is True:
        return kind()
    if isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - set(keys)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]!r}; known keys: {', '.join(keys)}"
            )
        try:
            return kind(**value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")
