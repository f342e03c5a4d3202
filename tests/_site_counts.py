"""Shared assertion of the engine tests: two sites' count tables hold the same rows."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["assert_same_site_tables"]


def assert_same_site_tables(got: Any, ref: Any, min_cell: int) -> None:
    """``got`` and ``ref`` (:class:`kg_editor.model.external.SiteCounts`) hold the same
    tables, remainders and rows (whatever their order and dtypes), none below ``min_cell``."""
    assert set(got.tables) == set(ref.tables)
    for name, t in ref.tables.items():
        g = got.tables[name]
        assert g.remainder == t.remainder, name
        cols = [*t.columns, *t.keys]
        a = t.rows.astype({c: str for c in cols}).sort_values(cols).reset_index(drop=True)
        b = g.rows.astype({c: str for c in cols}).sort_values(cols).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
        assert (g.rows["n"] >= min_cell).all()
