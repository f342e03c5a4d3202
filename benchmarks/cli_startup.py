"""Start-up time of the command line: ``kg-editor --version``, ``--help`` and a
sub-command's ``--help``, each as a fresh process (what a user waits for).

Also reports which heavy libraries ``--version`` loaded (none should be), from
``python -X importtime``.

Run: ``python benchmarks/cli_startup.py [--runs 9]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HEAVY = ("pandas", "numpy", "networkx", "pgmpy", "dash", "sqlalchemy", "numba", "scipy")


def _command() -> list[str]:
    exe = shutil.which("kg-editor")
    return [exe] if exe else [sys.executable, "-m", "kg_editor.cli"]


def _time(args: list[str], runs: int) -> list[float]:
    out = []
    env = {**os.environ, "DASH_DISABLE_VERSION_CHECK": "true"}
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(_command() + args, check=True, capture_output=True, env=env)
        out.append(time.perf_counter() - t0)
    return out


def heavy_imports() -> list[str]:
    """Heavy top-level packages imported by ``kg-editor --version``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kg_editor.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    seen = set()
    for line in proc.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        if name.split(".")[0] in HEAVY:
            seen.add(name.split(".")[0])
    return sorted(seen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    for what in (["--version"], ["--help"], ["evaluate", "--help"]):
        ts = _time(what, args.runs)
        print(
            f"kg-editor {' '.join(what):<16} median {statistics.median(ts):.3f} s  "
            f"min {min(ts):.3f} s  max {max(ts):.3f} s  ({args.runs} runs)"
        )
    print(f"heavy libraries loaded by --version: {heavy_imports() or 'none'}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
