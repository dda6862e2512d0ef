"""httpkit's value classes: equal by value, immutable, replaced and pickled with their checks."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import httpkit
from httpkit import ConfigError, HostConfig, RetryHistory, RetryPolicy, Timeouts
from httpkit._record import Record
from httpkit._retry import RetryRules
from httpkit._tls import TLSConfig

VALUES: list[Any] = [
    Timeouts(connect=1, read=None),
    RetryPolicy(total=5, statuses=[503], methods=["GET"], redirects=2),
    RetryHistory(3),
    HostConfig(timeout=Timeouts(connect=2), headers=(("Accept", "x/y"),), deadline=None),
    TLSConfig(verify=False, ca="", pins=frozenset({"sha256:" + "0" * 64})),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_are_equal_hashable_and_survive_pickle_and_copy(value: Any) -> None:
    again = pickle.loads(pickle.dumps(value))
    assert again == value
    assert hash(again) == hash(value)
    assert copy.deepcopy(value) == value
    assert repr(again) == repr(value)
    assert value.replace() == value


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_are_immutable(value: Any) -> None:
    name = type(value)._field_names[0]
    with pytest.raises(AttributeError, match="immutable"):
        setattr(value, name, None)
    with pytest.raises(AttributeError, match="immutable"):
        delattr(value, name)


def test_a_pickled_retry_policy_rebuilds_its_urllib3_retry() -> None:
    policy = pickle.loads(pickle.dumps(RetryPolicy(total=7, backoff_factor=0)))
    assert policy.to_urllib3().total == 7
    assert RetryRules.of(policy).retry is policy.to_urllib3()


def test_replace_checks_as_the_constructor_does() -> None:
    policy = RetryPolicy()
    assert policy.replace(total=1).total == 1
    assert policy.replace(total=1).to_urllib3().total == 1  # the derived Retry follows
    with pytest.raises(ConfigError, match="total"):
        policy.replace(total=-1)
    with pytest.raises(TypeError, match="no field 'tota'"):
        policy.replace(tota=1)
    with pytest.raises(ConfigError):
        Timeouts().replace(read=-5)


def test_equality_needs_the_same_class() -> None:
    assert Timeouts() != RetryHistory(1)
    assert Timeouts() != (3.05, 30.0)
    assert RetryPolicy(total=2) != RetryPolicy(total=3)
    assert len({RetryPolicy(), RetryPolicy(), httpkit.RetryPolicy(total=1)}) == 2


def test_a_record_must_slot_exactly_its_annotated_fields() -> None:
    with pytest.raises(TypeError, match="__slots__ must name the annotated fields"):

        class Broken(Record):
            __slots__ = ("a",)
            a: int
            b: int
