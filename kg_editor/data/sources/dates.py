"""Dates read exactly: one format per column, decided from every value in it.

A column of text dates is read with a single format. When the user gives one
(``date_format="%d/%m/%Y"``, the CLI's ``--date-format``) it is used as is; otherwise the
format is detected from all distinct values: ISO (``2020-04-05``, with an optional time),
``YYYYMMDD``, and day/month orders with ``/``, ``-`` or ``.``. A day/month column is read
day-first when some value has a first field above 12, month-first when some value has a
second field above 12; a column where neither happens (``05/04/2020`` only) is refused,
naming the rows that make it ambiguous, and a column where both happen is refused as
mixed. Integer dates (epoch counts, ``YYYYMMDD`` numbers) are read only by their declared
unit (``date_unit=``: ``days``, ``s``, ``ms``, ``us``, ``ns`` since 1970-01-01, or
``yyyymmdd``). Timezone-suffixed values and dates outside 1677-2262 (what a
nanosecond timestamp holds) are refused. Every refusal is one :class:`SchemaError`
line naming the file, the column, the row and the value, and saying what to do.

Examples
--------
>>> s = pd.Series(["13/04/2020", "05/04/2020", None])
>>> parse_dates(s, where="ev.csv", column="date").dt.strftime("%Y-%m-%d").tolist()[:2]
['2020-04-13', '2020-04-05']
>>> detect_date_format(pd.Series(["2020-04-05", "2021-12-31"]))
'%Y-%m-%d'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kg_editor.errors import SchemaError

__all__ = ["DATE_UNITS", "detect_date_format", "parse_dates", "row_hint"]

#: Units an integer date column may be declared in.
DATE_UNITS: tuple[str, ...] = ("days", "s", "ms", "us", "ns", "yyyymmdd")

_MIN_YEAR, _MAX_YEAR = 1678, 2261  # whole years a datetime64[ns] holds

_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
_TZ = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)$|Z$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + "$")
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME + "$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DM = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME + "$")


def row_hint(where: str, pos: int) -> str:
    """``row N`` (data rows from 1), with the file's line number for CSV files."""
    line = (
        f" (line {pos + 2} of the file)"
        if where.lower().endswith((".csv", ".tsv", ".csv.gz"))
        else ""
    )
    return f"row {pos + 1}{line}"


def _rows_of(s: pd.Series, values: Sequence[str], limit: int = 3, where: str = "") -> str:
    text = s.astype(str).str.strip()
    pos = np.flatnonzero(text.isin(list(values)).to_numpy())[:limit]
    return ", ".join(f"{row_hint(where, int(p))} {s.iloc[int(p)]!r}" for p in pos)


def _time_suffix(m: re.Match[str], first_time_group: int) -> str:
    if m.group(first_time_group) is None:
        return ""
    return " %H:%M:%S" if m.group(first_time_group + 2) is not None else " %H:%M"


def detect_date_format(values: pd.Series, *, where: str = "", column: str = "date") -> str:
    """The one strftime format that reads every non-empty value of ``values``.

    Raises
    ------
    SchemaError
        Values in several layouts, a day/month order the values cannot decide (the rows
        are named), a value in no known layout, or a timezone suffix.
    """
    s = values[values.notna()].astype(str).str.strip()
    s = s[s != ""]
    uniq = pd.unique(s)
    here = f"{where}: " if where else ""
    if len(uniq) == 0:
        return "%Y-%m-%d"
    tz = [u for u in uniq if _TZ.search(u)]
    if tz:
        raise SchemaError(
            f"{here}the {column} {tz[0]!r} ({_rows_of(values, tz[:1], 1, where=where)}) carries a time zone; "
            f"kg-editor reads calendar dates. Convert the column to local dates without a zone "
            "(e.g. 2020-04-05 or 2020-04-05 13:00) and read the file again.",
            column=column,
        )
    layouts: dict[str, list[str]] = {}
    first_big: list[str] = []
    second_big: list[str] = []
    dm_sep = ""
    dm_time: set[str] = set()
    iso_time: set[str] = set()
    for u in uniq:
        if m := _ISO.match(u):
            layouts.setdefault("iso", []).append(u)
            iso_time.add(_time_suffix(m, 4))
        elif m := _YMD_SLASH.match(u):
            layouts.setdefault("ymd/", []).append(u)
            iso_time.add(_time_suffix(m, 4))
        elif _COMPACT.match(u):
            layouts.setdefault("compact", []).append(u)
        elif m := _DM.match(u):
            dm_sep = m.group(2)
            layouts.setdefault(f"dm{dm_sep}", []).append(u)
            dm_time.add(_time_suffix(m, 5))
            if int(m.group(1)) > 12:
                first_big.append(u)
            if int(m.group(3)) > 12:
                second_big.append(u)
        else:
            pos = int(np.flatnonzero((values.astype(str).str.strip() == u).to_numpy())[0])
            raise SchemaError(
                f"{here}cannot read the {column} {u!r} in {row_hint(where, pos)}. Use ISO dates "
                "such as 2024-03-31, or give the format with --date-format (e.g. %d/%m/%Y).",
                column=column,
                row=pos + 1,
            )
    if len(layouts) > 1:
        ex = [v[0] for v in layouts.values()]
        raise SchemaError(
            f"{here}the {column} column mixes date layouts ({_rows_of(values, ex, 3, where=where)}); one column "
            "must use one format. Re-export it in one format, or give it with --date-format.",
            column=column,
        )
    (layout,) = layouts
    if layout in ("iso", "ymd/"):
        base = "%Y-%m-%d" if layout == "iso" else "%Y/%m/%d"
        times = iso_time - {""}
        return base + (" %H:%M:%S" if " %H:%M:%S" in times else " %H:%M" if times else "")
    if layout == "compact":
        return "%Y%m%d"
    if first_big and second_big:
        raise SchemaError(
            f"{here}the {column} column has day-first and month-first dates "
            f"({_rows_of(values, [first_big[0], second_big[0]], 2, where=where)}); one column must use one "
            "order. Fix the file, or give the order with --date-format.",
            column=column,
        )
    if not first_big and not second_big:
        raise SchemaError(
            f"{here}the {column} column is ambiguous: every value (e.g. "
            f"{_rows_of(values, list(uniq[:3]), 3, where=where)}) reads both day-first and month-first. Say "
            f"which with --date-format %d{dm_sep}%m{dm_sep}%Y (day first) or "
            f"%m{dm_sep}%d{dm_sep}%Y (month first).",
            column=column,
        )
    order = f"%d{dm_sep}%m{dm_sep}%Y" if first_big else f"%m{dm_sep}%d{dm_sep}%Y"
    times = dm_time - {""}
    return order + (" %H:%M:%S" if " %H:%M:%S" in times else " %H:%M" if times else "")


def _range_error(where: str, column: str, s: pd.Series, pos: int) -> SchemaError:
    here = f"{where}: " if where else ""
    return SchemaError(
        f"{here}the {column} {s.iloc[pos]!r} in {row_hint(where, pos)} is outside the years "
        f"{_MIN_YEAR}-{_MAX_YEAR} kg-editor can hold. Correct it, or leave the cell empty when "
        "the date is a placeholder (such as 9999-12-31).",
        column=column,
        row=pos + 1,
    )


def _from_integers(s: pd.Series, where: str, column: str, unit: str | None) -> pd.Series:
    here = f"{where}: " if where else ""
    if unit is None:
        pos = int(np.flatnonzero(s.notna().to_numpy())[0]) if s.notna().any() else 0
        raise SchemaError(
            f"{here}the {column} column holds integers (e.g. {s.iloc[pos]!r} in "
            f"{row_hint(where, pos)}), not dates. Say what they count with --date-unit "
            f"({', '.join(DATE_UNITS)}; epoch units count from 1970-01-01).",
            column=column,
        )
    if unit not in DATE_UNITS:
        raise SchemaError(
            f"Unknown date unit {unit!r}; choose one of {', '.join(DATE_UNITS)}.", column=column
        )
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna() & (s.astype(str).str.strip() != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"{here}the {column} {s.iloc[pos]!r} in {row_hint(where, pos)} is not an integer "
            f"{unit} value; the whole column must use one unit.",
            column=column,
            row=pos + 1,
        )
    if unit == "yyyymmdd":
        text = num.astype("Int64").astype(str).where(num.notna(), None)
        return parse_dates(text, where=where, column=column, date_format="%Y%m%d")
    pd_unit = {"days": "D"}.get(unit, unit)
    per_day = {"D": 1, "s": 86_400, "ms": 86_400_000, "us": 86_400_000_000}.get(pd_unit)
    lo = (pd.Timestamp(f"{_MIN_YEAR}-01-01") - pd.Timestamp("1970-01-01")).days
    hi = (pd.Timestamp(f"{_MAX_YEAR}-12-31") - pd.Timestamp("1970-01-01")).days
    days = num / per_day if per_day else num / 86_400_000_000_000
    out_of_range = days.notna() & ((days < lo) | (days > hi))
    if out_of_range.any():
        raise _range_error(where, column, s, int(np.flatnonzero(out_of_range.to_numpy())[0]))
    return pd.to_datetime(num, unit=pd_unit).astype("datetime64[ns]")


def parse_dates(
    s: pd.Series,
    *,
    where: str = "",
    column: str = "date",
    date_format: str | None = None,
    date_unit: str | None = None,
) -> pd.Series:
    """Read a date column exactly (see the module docstring); ``datetime64[ns]`` out.

    Parameters
    ----------
    s : Series
        Text, integers or datetimes.
    where, column : str
        File and column, for messages.
    date_format : str, optional
        strftime format for every value (skips detection).
    date_unit : str, optional
        Unit of an integer column (one of :data:`DATE_UNITS`).
    """
    here = f"{where}: " if where else ""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        raise SchemaError(
            f"{here}the {column} column carries a time zone ({s.dtype.tz}); kg-editor reads "
            "calendar dates. Store local dates without a zone.",
            column=column,
        )
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]")
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_float_dtype(s) or date_unit:
        return _from_integers(s, where, column, date_unit)
    obj = s.astype(object)
    stamps = obj.map(lambda v: isinstance(v, pd.Timestamp | np.datetime64))
    if bool(stamps.all()) and len(obj):
        return pd.to_datetime(obj).astype("datetime64[ns]")
    text = obj.where(obj.notna(), None)
    text = text.map(lambda v: None if v is None else str(v).strip() or None)
    nonempty = text.notna()
    if nonempty.any() and bool(text[nonempty].str.fullmatch(r"-?\d{1,7}").all()):
        # integers stored as text: never guessed as dates
        return _from_integers(text, where, column, None)
    fmt = date_format or detect_date_format(text, where=where, column=column)
    years = text.str.extract(r"(?<!\d)(\d{4})(?!\d)", expand=False)
    far = pd.to_numeric(years, errors="coerce")
    far_mask = far.notna() & ((far < _MIN_YEAR) | (far > _MAX_YEAR))
    if far_mask.any():
        raise _range_error(where, column, s, int(np.flatnonzero(far_mask.to_numpy())[0]))
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except (ValueError, OverflowError) as exc:  # an invalid strftime format
        raise SchemaError(
            f"The date format {fmt!r} cannot be used ({exc}); give a strftime format such as "
            "%d/%m/%Y.",
            column=column,
        ) from exc
    bad = parsed.isna() & nonempty
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"{here}cannot read the {column} {s.iloc[pos]!r} in {row_hint(where, pos)} as {fmt} "
            f"({int(bad.sum())} bad date(s) in all). Fix the value, or give the column's format "
            "with --date-format.",
            column=column,
            row=pos + 1,
        )
    return parsed.astype("datetime64[ns]")
