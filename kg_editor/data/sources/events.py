"""Events and wide files (CSV or Parquet), validated at the boundary.

Every error names the file, the column and, where it is one row, the row (counted as a
data row from 1, with the file's line number beside it for CSV).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from kg_editor.data.sources.base import EHRSource, register_reader
from kg_editor.data.sources.dates import parse_dates, row_hint
from kg_editor.errors import DataSourceError, SchemaError

__all__ = ["normalise_events", "normalise_persons", "read_events", "read_table", "read_wide"]

_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv", ".csv.gz")


def _is_table_file(spec: str) -> bool:
    low = spec.lower()
    return low.endswith(_TABLE_SUFFIXES) and Path(spec).is_file()


def read_table(path: str | Path, *, what: str = "file") -> pd.DataFrame:
    """Read a CSV or Parquet file as strings, with clear errors for bad files.

    Raises
    ------
    DataSourceError
        Missing file, empty file, bytes that are not UTF-8.
    SchemaError
        Duplicated column names.
    """
    p = Path(path)
    if not p.exists():
        raise DataSourceError(f"The {what} {p} does not exist. Check the path.")
    if p.is_dir():
        raise DataSourceError(f"The {what} {p} is a folder; give a CSV or Parquet file.")
    if p.stat().st_size == 0:
        raise DataSourceError(f"The {what} {p} is empty (0 bytes).")
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            schema_names = pq.read_schema(p).names
        except Exception as exc:
            raise DataSourceError(f"The {what} {p} is not a readable Parquet file: {exc}") from exc
        _check_duplicates(schema_names, p)
        try:
            df = pd.read_parquet(p)
        except Exception as exc:
            raise DataSourceError(f"The {what} {p} is not a readable Parquet file: {exc}") from exc
        if df.empty:
            raise DataSourceError(f"The {what} {p} has a header but no rows.")
        return df
    raw = p.read_bytes()
    if p.suffix.lower() == ".gz":
        import gzip
        import zlib

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataSourceError(
                f"The {what} {p} is not a readable gzip file ({exc}). Compress it again "
                "(gzip FILE.csv) or give the uncompressed CSV."
            ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataSourceError(
            f"The {what} {p} is not UTF-8: byte 0x{raw[exc.start]:02x} at line {line}. "
            "Re-save it as UTF-8 (in Excel: 'CSV UTF-8')."
        ) from exc
    if not text.strip():
        raise DataSourceError(f"The {what} {p} is empty (no header, no rows).")
    sep = "\t" if p.name.lower().endswith(".tsv") else ","
    header = next(csv.reader(io.StringIO(text.splitlines()[0]), delimiter=sep))
    _check_duplicates(header, p)
    _check_rows(text, sep, len(header), p, what)
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=True, na_values=[""]
        )
    except pd.errors.ParserError as exc:
        raise DataSourceError(
            f"The {what} {p} cannot be parsed as CSV: {' '.join(str(exc).split())}. "
            "Check its quotes and separators."
        ) from exc
    if df.empty:
        raise DataSourceError(f"The {what} {p} has a header but no rows.")
    return df


def _check_rows(text: str, sep: str, n_fields: int, p: Path, what: str) -> None:
    """Every row has the header's number of fields, and every quote is closed."""
    if '"' not in text:
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            got = line.count(sep) + 1
            if got != n_fields:
                raise _ragged(p, what, i + 1, got, n_fields, line)
        return
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    start = 1
    try:
        for row in reader:
            if row and len(row) != n_fields:
                raise _ragged(p, what, start, len(row), n_fields, sep.join(row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataSourceError(
            f"The {what} {p} has a quote opened at line {start} that is never closed ({exc}). "
            'Close the quote, or double quotes inside a quoted value ("").'
        ) from exc


def _ragged(p: Path, what: str, line: int, got: int, want: int, text: str) -> DataSourceError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return DataSourceError(
        f"The {what} {p} has {got} field(s) at line {line} ({shown!r}) where the header has "
        f"{want}. Fix that row (a missing or extra separator, or an unquoted comma in a value)."
    )


def _check_duplicates(names: list[str], p: Path) -> None:
    seen: set[str] = set()
    dups = []
    for n in names:
        key = n.strip()
        if key in seen and key not in dups:
            dups.append(key)
        seen.add(key)
    if dups:
        raise SchemaError(
            f"{p}: the column name(s) {', '.join(repr(d) for d in dups)} appear more than once. "
            "Rename or remove the duplicates.",
            column=dups[0],
        )


def _require(df: pd.DataFrame, required: tuple[str, ...], where: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ", ".join(repr(c) for c in df.columns)
        raise SchemaError(
            f"{where}: missing required column(s) {', '.join(repr(c) for c in missing)}. "
            f"Columns found: {found}.",
            column=missing[0],
        )


_row_hint = row_hint


def normalise_events(
    df: pd.DataFrame,
    *,
    where: str = "events",
    date_format: str | None = None,
    date_unit: str | None = None,
) -> pd.DataFrame:
    """Check and convert an events frame to the canonical columns and types.

    Dates are read by :func:`kg_editor.data.sources.dates.parse_dates` (one format per
    column, ``date_format``/``date_unit`` when given).
    """
    df = df.rename(columns=lambda c: str(c).strip())
    _require(df, ("patient_id", "code"), where)
    pid = df["patient_id"]
    bad = pid.isna() | (pid.astype(str).str.strip() == "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"{where}: {_row_hint(where, pos)} has no patient_id ({int(bad.sum())} row(s) in all). "
            "Every event must belong to a patient; remove or fix those rows.",
            column="patient_id",
            row=pos + 1,
        )
    code = df["code"]
    bad = code.isna() | (code.astype(str).str.strip() == "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"{where}: {_row_hint(where, pos)} has no code ({int(bad.sum())} row(s) in all).",
            column="code",
            row=pos + 1,
        )
    out = pd.DataFrame(
        {
            "patient_id": pid.astype(str).str.strip().to_numpy(),
            "code": code.astype(str).str.strip().to_numpy(),
        }
    )
    if "date" in df.columns:
        out["date"] = parse_dates(
            df["date"], where=where, column="date", date_format=date_format, date_unit=date_unit
        ).to_numpy()
    else:
        out["date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    for col in ("description", "domain", "value"):
        if col in df.columns:
            s = df[col]
            out[col] = s.astype(object).where(s.notna(), None).to_numpy()
        else:
            out[col] = None
    out["domain"] = [str(d).lower() if d is not None else None for d in out["domain"]]
    return out


def normalise_persons(
    df: pd.DataFrame,
    *,
    where: str = "persons",
    date_format: str | None = None,
    date_unit: str | None = None,
) -> pd.DataFrame:
    """Check and convert a persons frame (patient_id, sex, birth_year).

    Rows repeating a patient with the same sex and birth year are merged; repeats that
    disagree are an error naming the patients and rows.
    """
    df = df.rename(columns=lambda c: str(c).strip())
    _require(df, ("patient_id",), where)
    bad = df["patient_id"].isna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"{where}: {_row_hint(where, pos)} has no patient_id.", column="patient_id", row=pos + 1
        )
    out = pd.DataFrame({"patient_id": df["patient_id"].astype(str).str.strip().to_numpy()})
    out["sex"] = df["sex"].astype(object).to_numpy() if "sex" in df else None
    if "birth_year" in df:
        by = pd.to_numeric(df["birth_year"], errors="coerce")
        bad = by.isna() & df["birth_year"].notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise SchemaError(
                f"{where}: birth_year {df['birth_year'].iloc[pos]!r} in {_row_hint(where, pos)} is not a year.",
                column="birth_year",
                row=pos + 1,
            )
        out["birth_year"] = by.to_numpy()
    elif "birth_date" in df:
        out["birth_year"] = parse_dates(
            df["birth_date"],
            where=where,
            column="birth_date",
            date_format=date_format,
            date_unit=date_unit,
        ).dt.year.to_numpy()
    else:
        out["birth_year"] = np.nan
    if "index_date" in df:
        out["index_date"] = parse_dates(
            df["index_date"],
            where=where,
            column="index_date",
            date_format=date_format,
            date_unit=date_unit,
        ).to_numpy()
    return _merge_duplicate_persons(out, where)


def _merge_duplicate_persons(out: pd.DataFrame, where: str) -> pd.DataFrame:
    dup = out["patient_id"].duplicated(keep=False)
    if not dup.any():
        return out
    rows = out[dup]
    sex = rows["sex"].astype(object).where(rows["sex"].notna(), "").astype(str)
    key = sex + "|" + rows["birth_year"].astype(str)
    n_keys = key.groupby(rows["patient_id"]).nunique()
    conflicting = n_keys[n_keys > 1].index.tolist()
    if conflicting:
        shown = []
        for pid in conflicting[:3]:
            pos = np.flatnonzero((out["patient_id"] == pid).to_numpy())
            rows_txt = ", ".join(_row_hint(where, int(i)) for i in pos[:3])
            shown.append(f"{pid!r} ({rows_txt})")
        more = f" and {len(conflicting) - 3} more" if len(conflicting) > 3 else ""
        raise SchemaError(
            f"{where}: {len(conflicting)} patient(s) appear more than once with different sex or "
            f"birth year: {'; '.join(shown)}{more}. Keep one row per patient.",
            column="patient_id",
        )
    return out.drop_duplicates("patient_id").reset_index(drop=True)


@register_reader("events", detect=_is_table_file)
def read_events(
    spec: str,
    persons: str | Path | None = None,
    *,
    date_format: str | None = None,
    date_unit: str | None = None,
    **_: object,
) -> EHRSource:
    """Read a long events file, and optionally a persons file.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "ev.csv")
    >>> _ = open(f, "w").write("patient_id,code,date\\n1,E11,2020-01-02\\n2,I10,\\n")
    >>> read_events(f).events[["patient_id", "code"]].values.tolist()
    [['1', 'E11'], ['2', 'I10']]
    """
    df = read_table(spec, what="events file")
    ev = normalise_events(df, where=str(spec), date_format=date_format, date_unit=date_unit)
    pe = None
    if persons is not None:
        pe = normalise_persons(
            read_table(persons, what="persons file"),
            where=str(persons),
            date_format=date_format,
            date_unit=date_unit,
        )
    return EHRSource(events=ev, persons=pe, name=Path(spec).name, kind="events")


def read_wide(spec: str | Path, id_column: str | None = None, **_: object) -> EHRSource:
    """Read a wide file: one row per patient, one categorical column per variable.

    The patient id comes from ``id_column`` (or a column named ``patient_id``/``id``;
    else the row number). Columns ``sex`` and ``age``/``birth_year`` also give subgroups.
    """
    df = read_table(spec, what="wide file")
    df = df.rename(columns=lambda c: str(c).strip())
    where = str(spec)
    idc = id_column or next((c for c in ("patient_id", "id", "person_id") if c in df.columns), None)
    if id_column and id_column not in df.columns:
        _require(df, (id_column,), where)
    if idc:
        bad = df[idc].isna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise SchemaError(
                f"{where}: {_row_hint(where, pos)} has no {idc}.", column=idc, row=pos + 1
            )
        dup = df[idc].duplicated()
        if dup.any():
            pos = int(np.flatnonzero(dup.to_numpy())[0])
            raise SchemaError(
                f"{where}: {idc} {df[idc].iloc[pos]!r} appears twice ({_row_hint(where, pos)}); a wide file "
                "has one row per patient.",
                column=idc,
                row=pos + 1,
            )
        df = df.set_index(df[idc].astype(str)).drop(columns=[idc])
    else:
        df.index = pd.Index([str(i + 1) for i in range(len(df))])
    df.index.name = "patient_id"
    persons = pd.DataFrame({"patient_id": df.index.to_numpy()})
    persons["sex"] = df["sex"].to_numpy() if "sex" in df else None
    persons["birth_year"] = (
        pd.to_numeric(df["birth_year"], errors="coerce").to_numpy()
        if "birth_year" in df
        else np.nan
    )
    if "age" in df:
        persons["age"] = pd.to_numeric(df["age"], errors="coerce").to_numpy()
    wide = df.drop(columns=[c for c in ("birth_year", "age") if c in df.columns])
    domains = {"sex": "demographic"} if "sex" in wide else {}
    return EHRSource(
        events=normalise_events(pd.DataFrame({"patient_id": [], "code": []}), where=where),
        persons=persons,
        wide=wide,
        name=Path(spec).name,
        kind="wide",
        domains=domains,
    )


# registered without auto-detection: a wide file looks like any table; ask for it by kind.
register_reader("wide", detect=lambda spec: False)(read_wide)
