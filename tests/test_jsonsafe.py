"""The JSON sanitizer's fast paths (exact-type checks first) give what the general
rules give, on nested values of every kind it meets."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from kg_editor.jsonsafe import json_safe


def _reference(obj: Any) -> Any:
    """The general rules alone (the sanitizer as it was before its fast paths)."""
    if isinstance(obj, Mapping):
        return {str(k): _reference(v) for k, v in obj.items()}
    if isinstance(obj, set | frozenset):
        items = [_reference(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(obj, list | tuple):
        return [_reference(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if not isinstance(obj, str | bytes) and hasattr(obj, "item") and callable(obj.item):
        return _reference(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.integers(-5, 5).map(np.int64),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.booleans().map(np.bool_),
    st.dates(),
    st.datetimes(),
)
keys = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.integers(-3, 3).map(np.int64))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4).map(OrderedDict),
        st.frozensets(st.integers(-9, 9), max_size=4),
    ),
    max_leaves=25,
)


@given(values)
def test_json_safe_equals_the_general_rules(obj):
    out = json_safe(obj)
    ref = _reference(obj)
    assert json.dumps(out, allow_nan=False, sort_keys=True) == json.dumps(
        ref, allow_nan=False, sort_keys=True
    )
    assert type(out) is type(ref)


def test_fast_paths_keep_the_documented_conversions():
    out = json_safe({1: (np.float64("nan"), float("inf"), np.int64(3)), "d": date(2020, 1, 2)})
    assert out == {"1": [None, None, 3], "d": "2020-01-02"}
    assert type(out["1"][2]) is int
