"""Small-cell suppression: patient counts below ``k`` are never shown or exported.

Any count of patients below the threshold (default 11, the usual rule for releasing
health statistics) is replaced by the string ``"<11"``. Zero is suppressed too: "no
patient" is as identifying as "three patients" when combined with other tables.

Examples
--------
>>> suppress(4), suppress(11), suppress(250)
('<11', 11, 250)
>>> suppress_counts({"n11": 3, "n10": 40, "share": 0.7})
{'n11': '<11', 'n10': 40, 'share': 0.7}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_MIN_CELL",
    "is_suppressed",
    "suppress",
    "suppress_counts",
    "suppress_frame",
]

#: The smallest patient count that may be shown as a number.
DEFAULT_MIN_CELL = 11

#: Keys of evidence dictionaries that hold patient counts (suppressed by default).
COUNT_KEYS: frozenset[str] = frozenset(
    {
        "n",
        "n_a",
        "n_b",
        "n11",
        "n10",
        "n01",
        "n00",
        "patients",
        "n_both_dated",
        "a_first",
        "b_first",
        "ties",
        "source_first",
        "target_first",
    }
)


def suppress(count: Any, k: int = DEFAULT_MIN_CELL) -> int | str | None:
    """A patient count as it may be shown: the number, or ``"<k"`` below ``k``.

    ``None``/NaN stay ``None`` (no count), and an already suppressed string passes through.

    Examples
    --------
    >>> suppress(0), suppress(10, k=5), suppress(None)
    ('<11', 10, None)
    """
    if count is None or isinstance(count, str):
        return count
    if isinstance(count, float | np.floating) and not np.isfinite(count):
        return None
    value = int(count)
    return f"<{k}" if value < k else value


def is_suppressed(value: Any) -> bool:
    """True for a value that :func:`suppress` replaced by ``"<k"``."""
    return isinstance(value, str) and value.startswith("<")


def suppress_counts(
    mapping: Mapping[str, Any], k: int = DEFAULT_MIN_CELL, keys: Iterable[str] = COUNT_KEYS
) -> dict[str, Any]:
    """Copy of ``mapping`` with every count under ``keys`` suppressed (nested dicts too)."""
    wanted = set(keys)
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            out[key] = suppress_counts(value, k, wanted)
        elif key in wanted:
            out[key] = suppress(value, k)
        else:
            out[key] = value
    return out


def suppress_frame(
    frame: pd.DataFrame, k: int = DEFAULT_MIN_CELL, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """Copy of ``frame`` whose count columns (``COUNT_KEYS`` present, or ``columns``) are
    object columns holding numbers or ``"<k"``.

    Examples
    --------
    >>> suppress_frame(pd.DataFrame({"n11": [3, 30], "lift": [1.5, 2.0]}))["n11"].tolist()
    ['<11', 30]
    """
    cols = [c for c in (columns if columns is not None else COUNT_KEYS) if c in frame.columns]
    out = frame.copy()
    for c in cols:
        out[c] = pd.Series(
            [suppress(v, k) for v in frame[c].tolist()], index=frame.index, dtype=object
        )
    return out
