"""Counts engines: cohorts, counts and weighted patterns computed where the data lives.

The package sits at the bottom of the data flow beside :mod:`kg_editor.data` (it needs
only the error tree, numpy, pandas and sqlglot), so the cohort builder, the discovery
layer and the model can all use it without an upward import:

* :mod:`~kg_editor.engines.connection` -- DuckDB, PostgreSQL and Spark behind one
  :class:`Engine`, opened by URL;
* :mod:`~kg_editor.engines.queries` -- the one SQL definition of every count, generated
  per dialect by sqlglot;
* :mod:`~kg_editor.engines.counts` -- :class:`EngineSource`: a cohort, pair counts and
  weighted patterns from an engine;
* :mod:`~kg_editor.engines.patterns` -- :class:`Patterns`: distinct rows with weights,
  and bootstrap weights on them.
* :mod:`~kg_editor.engines.prepare` -- concept sets and an index date with its windows,
  applied to the events inside the engine.
"""

from kg_editor.engines.connection import (
    ENGINES,
    DuckDBEngine,
    Engine,
    PostgresEngine,
    SparkEngine,
    open_engine,
    register_engine,
)
from kg_editor.engines.counts import EngineSource, PatternCohort, variables_of
from kg_editor.engines.patterns import Patterns, compress_rows, pattern_bootstrap_weights
from kg_editor.engines.queries import EventsTable, PersonsTable, Var, render

__all__ = [
    "ENGINES",
    "DuckDBEngine",
    "Engine",
    "EngineSource",
    "EventsTable",
    "PatternCohort",
    "Patterns",
    "PersonsTable",
    "PostgresEngine",
    "SparkEngine",
    "Var",
    "compress_rows",
    "open_engine",
    "pattern_bootstrap_weights",
    "register_engine",
    "render",
    "variables_of",
]
