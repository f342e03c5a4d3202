"""Connections to the engines that hold the data: DuckDB, PostgreSQL, Spark.

An :class:`Engine` knows its SQL dialect (the name sqlglot uses), can run a query and
return a pandas frame, and can load a small frame as a table (the split, a list of
patients). Engines are opened by URL with :func:`open_engine`; the URL schemes are
registered in :data:`ENGINES`, the built-ins through the same hook
(:func:`register_engine`) as any other.

========================================  =============================================
URL                                        engine
========================================  =============================================
``duckdb://`` or ``duckdb:///:memory:``    an in-memory DuckDB (events as frames or files)
``duckdb:///path/to/file.duckdb``          a DuckDB database file (read-only)
``postgresql://user@host:port/db``         PostgreSQL through psycopg (also ``?host=/sock``)
``spark://local[2]``                       a local Spark session (pyspark, Java 17)
``spark://host:7077``                      a Spark cluster master
``sc://host:15002``                        Spark Connect (e.g. Databricks Connect)
========================================  =============================================

Examples
--------
>>> import pandas as pd
>>> eng = open_engine("duckdb://")
>>> eng.dialect
'duckdb'
>>> eng.register("t", pd.DataFrame({"x": [1, 2, 3]}))
>>> int(eng.query("SELECT sum(x) AS s FROM t")["s"].iloc[0])
6
>>> eng.close()
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from kg_editor.errors import DataSourceError

__all__ = [
    "ENGINES",
    "DuckDBEngine",
    "Engine",
    "PostgresEngine",
    "SparkEngine",
    "open_engine",
    "register_engine",
]


class Engine(ABC):
    """A place where SQL runs. Subclasses set :attr:`dialect` and implement the methods.

    Attributes
    ----------
    dialect : str
        sqlglot dialect name (``duckdb``, ``postgres``, ``spark``).
    url : str
        How the engine was opened (without credentials).
    """

    dialect: str = ""
    url: str = ""

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` (already in this engine's dialect) and return the rows."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement that returns no rows."""

    @abstractmethod
    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make ``frame`` available as the table ``name`` for this connection's lifetime."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (a shared Spark session is left running)."""

    def materialize(self, name: str, sql: str) -> str:
        """Compute ``sql`` (already in this engine's dialect) once into the temporary
        table ``name`` for this connection's lifetime (replacing one of that name), so
        several queries read it without computing it again; returns ``name``."""
        from kg_editor.engines.queries import q, render

        self.execute(render(f"DROP TABLE IF EXISTS {q(name)}", self.dialect))
        self.execute(render(f"CREATE TEMPORARY TABLE {q(name)} AS {sql}", self.dialect))
        return name

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class DuckDBEngine(Engine):
    """DuckDB, embedded: the default engine; reads Parquet/CSV larger than memory.

    Parameters
    ----------
    database : str
        ``":memory:"`` or a database file (opened read-only unless ``read_only=False``).
    con : duckdb connection, optional
        Use this connection instead (e.g. one with a memory limit set).
    """

    dialect = "duckdb"

    def __init__(
        self, database: str = ":memory:", *, read_only: bool = True, con: Any = None
    ) -> None:
        import duckdb

        self.url = f"duckdb:///{database}"
        self._own = con is None
        if con is not None:
            self.con = con
        elif database == ":memory:":
            self.con = duckdb.connect()
        else:
            self.con = duckdb.connect(database, read_only=read_only)

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def close(self) -> None:
        if self._own:
            self.con.close()


_PG_TYPES = {
    "b": "BOOLEAN",
    "i": "BIGINT",
    "u": "BIGINT",
    "f": "DOUBLE PRECISION",
    "M": "TIMESTAMP",
}


class PostgresEngine(Engine):
    """PostgreSQL through psycopg 3; frames are loaded with ``COPY`` into temp tables.

    Parameters
    ----------
    conninfo : str
        A libpq URL or key/value string (``postgresql://kg@/db?host=/tmp/sock``).
    """

    dialect = "postgres"

    def __init__(self, conninfo: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a test dependency
            raise DataSourceError(
                "Reading from PostgreSQL needs the psycopg driver: pip install 'psycopg[binary]'."
            ) from exc
        parsed = urlparse(conninfo)
        self.url = parsed._replace(netloc=parsed.hostname or "").geturl()
        try:
            self.con = psycopg.connect(conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise DataSourceError(
                f"Could not connect to PostgreSQL at {self.url}: {exc}. Check the host, "
                "database and user in the URL."
            ) from exc

    def query(self, sql: str) -> pd.DataFrame:
        with self.con.cursor() as cur:
            cur.execute(sql.encode())
            cols = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        return pd.DataFrame.from_records(rows, columns=cols)

    def execute(self, sql: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql.encode())

    def register(self, name: str, frame: pd.DataFrame) -> None:
        from psycopg import sql as psql

        cols = []
        for c in frame.columns:
            kind = frame[c].dtype.kind
            cols.append(
                psql.SQL("{} {}").format(
                    psql.Identifier(str(c)), psql.SQL(_PG_TYPES.get(kind, "TEXT"))
                )
            )
        with self.con.cursor() as cur:
            cur.execute(psql.SQL("DROP TABLE IF EXISTS {}").format(psql.Identifier(name)))
            cur.execute(
                psql.SQL("CREATE TEMP TABLE {} ({})").format(
                    psql.Identifier(name), psql.SQL(", ").join(cols)
                )
            )
            copy_sql = psql.SQL("COPY {} FROM STDIN").format(psql.Identifier(name))
            with cur.copy(copy_sql) as cp:
                for row in frame.itertuples(index=False, name=None):
                    cp.write_row([None if _missing(v) else v for v in row])

    def close(self) -> None:
        self.con.close()


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


class SparkEngine(Engine):
    """Spark SQL through pyspark (local mode, a cluster master, or Spark Connect).

    Parameters
    ----------
    master : str
        ``local[2]``, ``spark://host:7077`` ...; ignored when ``session`` is given.
    session : SparkSession, optional
        An existing session (Databricks notebooks give one as ``spark``).
    remote : str, optional
        A Spark Connect URL (``sc://host:15002``).
    """

    dialect = "spark"

    def __init__(
        self, master: str = "local[2]", *, session: Any = None, remote: str | None = None
    ) -> None:
        self.url = f"spark://{master}" if remote is None else remote
        if session is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:
                raise DataSourceError(
                    "Reading from Spark needs pyspark (pip install pyspark) and a Java 17 runtime."
                ) from exc
            builder = SparkSession.builder.appName("kg-editor")
            builder = builder.remote(remote) if remote else builder.master(master)
            session = (
                builder.config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.session.timeZone", "UTC")
                .getOrCreate()
            )
        self.spark = session
        self._tmp: str | None = None

    def query(self, sql: str) -> pd.DataFrame:
        return self.spark.sql(sql).toPandas()

    def execute(self, sql: str) -> None:
        self.spark.sql(sql).collect()

    def materialize(self, name: str, sql: str) -> str:
        """A cached temporary view (Spark has no temporary tables)."""
        df = self.spark.sql(sql).cache()
        df.count()
        df.createOrReplaceTempView(name)
        return name

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Load ``frame`` through a Parquet file (fast for large frames; types kept)."""
        import tempfile
        from pathlib import Path

        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="kg-spark-")
        path = Path(self._tmp) / f"{name}.parquet"
        out = frame.copy()
        for c in out.columns:
            if out[c].dtype.kind == "M":
                out[c] = out[c].astype("datetime64[us]")
            elif out[c].dtype.kind not in "biuf":
                out[c] = out[c].astype(object).where(out[c].notna(), None).astype("string")
        out.to_parquet(path, index=False)
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def close(self) -> None:
        if self._tmp is not None:
            import shutil

            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


#: URL scheme -> factory ``f(url) -> Engine``.
ENGINES: dict[str, Callable[[str], Engine]] = {}


def register_engine(scheme: str) -> Callable[[Callable[[str], Engine]], Callable[[str], Engine]]:
    """Register a factory for URLs ``scheme://...`` (the built-ins use this hook too)."""

    def deco(fn: Callable[[str], Engine]) -> Callable[[str], Engine]:
        ENGINES[scheme] = fn
        return fn

    return deco


@register_engine("duckdb")
def _duckdb(url: str) -> Engine:
    rest = url.split("://", 1)[1]
    path = rest[1:] if rest.startswith("/") else rest
    return DuckDBEngine(path or ":memory:")


@register_engine("postgresql")
def _postgres(url: str) -> Engine:
    return PostgresEngine(url.replace("postgresql+psycopg://", "postgresql://"))


@register_engine("spark")
def _spark(url: str) -> Engine:
    rest = url.split("://", 1)[1]
    master = rest if rest.startswith("local") else f"spark://{rest}"
    return SparkEngine(master)


@register_engine("sc")
def _spark_connect(url: str) -> Engine:
    return SparkEngine(remote=url)


def open_engine(url: str | Engine) -> Engine:
    """Open an engine by URL (see the module docs); an :class:`Engine` passes through.

    Raises
    ------
    DataSourceError
        An unknown scheme (the known ones are listed) or a failed connection.
    """
    if isinstance(url, Engine):
        return url
    text = str(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    scheme = {"postgres": "postgresql", "postgresql+psycopg": "postgresql"}.get(scheme, scheme)
    factory = ENGINES.get(scheme)
    if factory is None:
        raise DataSourceError(
            f"Cannot open the engine {text!r}: use a URL starting with "
            f"{', '.join(s + '://' for s in sorted(ENGINES))} (for example duckdb:// or "
            "postgresql://user@host/db)."
        )
    if scheme == "postgresql":
        text = "postgresql://" + text.split("://", 1)[1]
    return factory(text)
