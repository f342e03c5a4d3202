"""Weighted patterns: a cohort compressed to its distinct rows, each with a patient count.

Every figure kg-editor reports is a function of counts, so a cohort of ``n`` patients
and its ``k`` distinct state patterns (with their counts as weights) give the same
figures; downstream costs then grow with ``k``, not ``n``. :class:`Patterns` holds the
distinct rows (int8 state codes), their weights, optional key columns (split, sex,
age band) and, when small cells were suppressed, what was left out.

Bootstrap resamples of patients become weights on patterns: drawing ``n`` patients
with replacement gives each pattern a Multinomial(``n``, ``w / n``) count (the row-level
draw summed over the pattern's patients); Poisson(1) per patient sums to Poisson(``w``)
per pattern. :func:`pattern_bootstrap_weights` draws either.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"a": [0, 1, 1, 0, 1], "b": [1, 0, 0, 1, 0]}, dtype="int8")
>>> p = Patterns.from_frame(df, {"a": 2, "b": 2})
>>> p.codes.tolist(), p.weights.tolist(), p.n
([[0, 1], [1, 0]], [2, 3], 5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kg_editor.errors import SchemaError

__all__ = ["Patterns", "compress_rows", "pattern_bootstrap_weights"]


def compress_rows(codes: np.ndarray, cards: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a non-negative integer matrix (sorted) and each row's pattern index.

    Rows are packed into one int64 key (mixed radix over ``cards``) when the product of
    the cardinalities fits, else compared column-wise.

    Examples
    --------
    >>> u, inv = compress_rows(np.array([[1, 0], [0, 1], [1, 0]]), [2, 2])
    >>> u.tolist(), inv.tolist()
    ([[0, 1], [1, 0]], [1, 0, 1])
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise SchemaError("Patterns need a two-dimensional table of state codes.")
    if codes.shape[0] == 0:
        return codes.copy(), np.zeros(0, np.int64)
    width = float(np.prod([max(int(c), 1) for c in cards], dtype=float)) if len(cards) else 1.0
    if width < 2.0**62:
        key = np.zeros(codes.shape[0], np.int64)
        for j, c in enumerate(cards):
            key = key * max(int(c), 1) + codes[:, j].astype(np.int64)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        return codes[first], inv.astype(np.int64)
    uniq, inv = np.unique(codes, axis=0, return_inverse=True)
    return uniq, np.asarray(inv).reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class Patterns:
    """Distinct state patterns and their patient counts.

    Attributes
    ----------
    columns : tuple of str
        Variable codes (the columns of ``codes``).
    cards : dict
        Variable code -> number of states.
    codes : ndarray (k, p) of int8
        One distinct pattern per row.
    weights : ndarray (k,) of int64
        Patients per pattern.
    extra : dict
        Key columns that are part of the pattern (e.g. ``sex``, ``age_band``,
        ``is_test``): one text value per pattern.
    min_count : int
        Patterns below this count were suppressed (1: nothing was).
    remainder : (int, int)
        Suppressed patterns and the patients in them.
    """

    columns: tuple[str, ...]
    cards: dict[str, int]
    codes: np.ndarray
    weights: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    min_count: int = 1
    remainder: tuple[int, int] = (0, 0)

    @property
    def n(self) -> int:
        """Patients represented (suppressed ones excluded)."""
        return int(self.weights.sum())

    @property
    def k(self) -> int:
        """Distinct patterns."""
        return int(self.weights.shape[0])

    @classmethod
    def from_arrays(
        cls,
        columns: Sequence[str],
        cards: Mapping[str, int],
        codes: np.ndarray,
        weights: np.ndarray,
        *,
        extra: Mapping[str, np.ndarray] | None = None,
        min_count: int = 1,
        remainder: tuple[int, int] = (0, 0),
    ) -> Patterns:
        """Patterns from arrays already distinct (as an engine returns them), sorted."""
        codes = np.asarray(codes, dtype=np.int8).reshape(-1, len(columns))
        weights = np.asarray(weights, dtype=np.int64)
        ex = {k: np.asarray(v).astype(str) for k, v in (extra or {}).items()}
        if codes.shape[0]:
            keys = [
                *(ex[k] for k in reversed(list(ex))),
                *(codes[:, j] for j in reversed(range(codes.shape[1]))),
            ]
            order = np.lexsort(keys) if keys else np.arange(codes.shape[0])
            codes, weights = codes[order], weights[order]
            ex = {k: v[order] for k, v in ex.items()}
        return cls(
            columns=tuple(columns),
            cards={c: int(cards[c]) for c in columns},
            codes=codes,
            weights=weights,
            extra=ex,
            min_count=int(min_count),
            remainder=(int(remainder[0]), int(remainder[1])),
        )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        cards: Mapping[str, int],
        extra: pd.DataFrame | Mapping[str, np.ndarray] | None = None,
        *,
        return_inverse: bool = False,
    ) -> Patterns | tuple[Patterns, np.ndarray]:
        """Compress a frame of state codes (``Cohort.train``), optionally with key
        columns (``Cohort.test_persons[["sex", "age_band"]]``) in the pattern.

        ``return_inverse`` also gives each row's pattern index.
        """
        cols = [str(c) for c in frame.columns]
        arr = frame.to_numpy().astype(np.int64)
        ex_cols: list[str] = []
        ex_labels: list[np.ndarray] = []
        all_cards = [int(cards[c]) for c in cols]
        mats = [arr]
        if extra is not None:
            items = extra.items()
            for name, values in items:
                labels, inv = np.unique(np.asarray(values).astype(str), return_inverse=True)
                ex_cols.append(str(name))
                ex_labels.append(labels)
                mats.append(np.asarray(inv).reshape(-1, 1).astype(np.int64))
                all_cards.append(len(labels))
        full = np.concatenate(mats, axis=1) if len(mats) > 1 else arr
        uniq, inv = compress_rows(full, all_cards)
        weights = np.bincount(inv, minlength=uniq.shape[0]).astype(np.int64)
        ex = {
            n: lab[uniq[:, len(cols) + i]]
            for i, (n, lab) in enumerate(zip(ex_cols, ex_labels, strict=True))
        }
        out = cls(
            columns=tuple(cols),
            cards={c: int(cards[c]) for c in cols},
            codes=uniq[:, : len(cols)].astype(np.int8),
            weights=weights,
            extra=ex,
        )
        return (out, inv) if return_inverse else out

    def frame(self) -> pd.DataFrame:
        """The patterns as a frame: state codes, key columns and ``n``."""
        out = pd.DataFrame(self.codes, columns=list(self.columns))
        for k, v in self.extra.items():
            out[k] = v
        out["n"] = self.weights
        return out

    def select(self, mask: np.ndarray) -> Patterns:
        """The patterns where ``mask`` holds (e.g. ``p.extra["is_test"] == "True"``)."""
        return Patterns(
            self.columns,
            dict(self.cards),
            self.codes[mask],
            self.weights[mask],
            {k: v[mask] for k, v in self.extra.items()},
            self.min_count,
            self.remainder,
        )

    def marginal(self, columns: Sequence[str], keys: Sequence[str] = ()) -> Patterns:
        """Patterns over a subset of the columns (and key columns), re-compressed."""
        if tuple(columns) == self.columns and list(keys) == list(self.extra):
            return self  # already distinct (a patterns x variables copy saved)
        idx = [self.columns.index(c) for c in columns]
        frame = pd.DataFrame(self.codes[:, idx].astype(np.int64), columns=list(columns))
        if not len(frame):
            return Patterns.from_arrays(
                columns, self.cards, frame.to_numpy(), np.zeros(0, np.int64)
            )
        ex = {k: self.extra[k] for k in keys}
        sub, inv = Patterns.from_frame(frame, self.cards, ex or None, return_inverse=True)  # type: ignore[misc]
        w = np.bincount(inv, weights=self.weights, minlength=sub.k).round().astype(np.int64)
        return Patterns(
            sub.columns, sub.cards, sub.codes, w, sub.extra, self.min_count, self.remainder
        )

    def __add__(self, other: Patterns) -> Patterns:
        """Patterns of two sites pooled (the same columns): counts of equal rows add."""
        if self.columns != other.columns or set(self.extra) != set(other.extra):
            raise SchemaError(
                "Pooled count tables must cover the same variables and key columns; "
                f"got {list(self.columns)} and {list(other.columns)}."
            )
        keys = list(self.extra)
        frame = pd.DataFrame(
            np.concatenate([self.codes, other.codes]).astype(np.int64), columns=list(self.columns)
        )
        ex = {k: np.concatenate([self.extra[k], other.extra[k]]) for k in keys}
        cards = {c: max(self.cards[c], other.cards[c]) for c in self.columns}
        sub, inv = Patterns.from_frame(frame, cards, ex or None, return_inverse=True)  # type: ignore[misc]
        w = np.bincount(inv, weights=np.concatenate([self.weights, other.weights]), minlength=sub.k)
        rem = (self.remainder[0] + other.remainder[0], self.remainder[1] + other.remainder[1])
        return Patterns(
            sub.columns,
            sub.cards,
            sub.codes,
            w.round().astype(np.int64),
            sub.extra,
            max(self.min_count, other.min_count),
            rem,
        )


def pattern_bootstrap_weights(
    weights: np.ndarray, resamples: int, seed: int = 0, kind: str = "multinomial"
) -> np.ndarray:
    """Bootstrap counts per pattern (``k x resamples`` float32, one column per resample).

    ``multinomial`` draws ``n = sum(weights)`` patients with replacement (each pattern
    Multinomial(n, w / n)); ``poisson`` gives each patient a Poisson(1) count (each
    pattern Poisson(w)). Both have the row-level bootstrap's distribution.

    Examples
    --------
    >>> w = pattern_bootstrap_weights(np.array([3, 1]), 4, seed=1)
    >>> w.shape, w.sum(axis=0).tolist()
    ((2, 4), [4.0, 4.0, 4.0, 4.0])
    """
    w = np.asarray(weights, dtype=np.int64)
    rng = np.random.default_rng(seed)
    n = int(w.sum())
    out = np.empty((w.size, resamples), dtype=np.float32)
    if kind == "multinomial":
        p = w / n if n else np.zeros(w.size)
        for b in range(resamples):
            out[:, b] = rng.multinomial(n, p)
    elif kind == "poisson":
        for b in range(resamples):
            out[:, b] = rng.poisson(w)
    else:
        raise SchemaError(f"Unknown bootstrap kind {kind!r}; choose 'multinomial' or 'poisson'.")
    return out
