"""The one JSON sanitizer: everything kg-editor writes as JSON goes through :func:`json_safe`.

Examples
--------
>>> import numpy as np
>>> json_safe({"a": (1, np.float64(2.5)), "b": float("nan"), 3: {np.int64(4)}})
{'a': [1, 2.5], 'b': None, '3': [4]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON (``allow_nan=False``) accepts.

    Mappings get string keys; tuples, sets and lists become lists (sets sorted when they
    can be); numpy scalars become Python numbers; dates and datetimes ISO strings; NaN
    and infinities ``None``.
    """
    t = type(obj)
    # the common leaves and containers first, by exact type (the abstract-class checks
    # below cost most of the time on a session's graph with its evidence)
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is float:
        return obj if math.isfinite(obj) else None
    if t is dict:
        return {(k if type(k) is str else str(k)): json_safe(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [json_safe(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, set | frozenset):
        items = [json_safe(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if not isinstance(obj, str | bytes) and hasattr(obj, "item") and callable(obj.item):
        return json_safe(obj.item())  # numpy scalar
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
