"""Shared fixtures: small cohorts built from real readers, never downloaded."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

# Tests write nothing into the checkout: numba's compiled kernels, hypothesis's example
# database and Python's bytecode go under build/test-cache/ (ignored by git), unless the
# test command (scripts/test.sh) already chose a place.
BUILD = Path(
    os.environ.get(
        "KG_EDITOR_TEST_CACHE", Path(__file__).resolve().parents[1] / "build" / "test-cache"
    )
)
os.environ.setdefault("NUMBA_CACHE_DIR", str(BUILD / "numba"))
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(BUILD / "hypothesis"))
if sys.pycache_prefix is None:
    sys.pycache_prefix = str(BUILD / "pycache")
os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")

try:
    from hypothesis import settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.database import DirectoryBasedExampleDatabase
except ImportError:  # pragma: no cover - hypothesis is in the [test] extra
    pass
else:
    set_hypothesis_home_dir(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"])
    settings.register_profile(
        "kg-editor",
        database=DirectoryBasedExampleDatabase(
            os.path.join(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"], "examples")
        ),
    )
    settings.register_profile(
        "ci", parent=settings.get_profile("kg-editor"), derandomize=True, database=None
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kg-editor"))
warnings.filterwarnings("ignore", category=FutureWarning, module="pgmpy")


@pytest.fixture(scope="session")
def demo_source():
    from kg_editor.data.sources import load_source

    return load_source("demo")


@pytest.fixture(scope="session")
def demo_cohort(demo_source):
    from kg_editor.data.cohort import build_cohort

    return build_cohort(demo_source, target="Gastrointestinal hemorrhage")


@pytest.fixture(scope="session")
def demo_distiller(demo_cohort):
    """The demo distilled once with the default settings (read-only: don't refit it)."""
    from kg_editor.discovery.distill import Distiller

    return Distiller().fit(demo_cohort)


@pytest.fixture(scope="session")
def demo_graph(demo_distiller):
    return demo_distiller.graph_


@pytest.fixture(scope="session")
def make_demo_app(demo_cohort, demo_graph, tmp_path_factory):
    """Build the editor app on the distilled demo with its own SQLite store."""

    def make(**session_options):
        from kg_editor.ui import create_app

        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'kg.db'}"
        return create_app(
            "demo",
            cohort=demo_cohort,
            graph=demo_graph,
            store_url=url,
            session_options=session_options,
        )

    return make


def page_text(app, path: str = "/", search: str = "") -> str:
    """The JSON of the page the router callback renders for ``path`` and ``search``, asked
    through the app's real HTTP endpoint (as the browser does after loading the shell)."""
    body = {
        "output": "kg-page.children",
        "outputs": {"id": "kg-page", "property": "children"},
        "inputs": [{"id": "kg-page-url", "property": "pathname", "value": path}],
        "state": [{"id": "kg-page-url", "property": "search", "value": search}],
        "changedPropIds": ["kg-page-url.pathname"],
    }
    resp = app.server.test_client().post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


@pytest.fixture(scope="session")
def render_page():
    """``render_page(app, path, search)``: the page JSON a URL shows (see :func:`page_text`)."""
    return page_text


@pytest.fixture(scope="session")
def asia_synthetic():
    from kg_editor.data.sources.synthetic import network_events

    return network_events("asia", 3000, seed=3)


# --- one throw-away PostgreSQL server and one Spark session per run -----------------------
@pytest.fixture(scope="session")
def postgres_socket():
    """A throw-away PostgreSQL server (benchmarks/local_postgres.py); yields its socket
    folder (user ``kg``). Skipped only when the binaries or psycopg are missing."""
    pytest.importorskip("psycopg")
    from benchmarks.local_postgres import start_postgres

    try:
        root, stop = start_postgres()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        yield root
    finally:
        stop()


@pytest.fixture(scope="session")
def pg_engine_url(postgres_socket):
    """A libpq URL of the throw-away server (the counts engines' tests)."""
    return f"postgresql://kg@/postgres?host={postgres_socket}"


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session (``local[2]``) for the whole test run; skipped only when
    pyspark or a Java runtime cannot start."""
    import shutil

    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (install openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    try:
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("kg-editor-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "1g")
            .getOrCreate()
        )
    except Exception as exc:  # the JVM did not start
        pytest.skip(f"Spark could not start: {exc}")
    yield spark
    spark.stop()


# --- end counts engines ---
