"""The pgmpy adapter: the one module (with :mod:`kg_editor.metrics`) that imports pgmpy.

Reading the networks bundled with pgmpy, sampling them, and fitting discrete Bayesian
networks all go through here, so an upstream rename touches one file.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataSourceError

__all__ = ["bundled_network", "bundled_network_names", "sample_network"]

logger = logging.getLogger(__name__)


def _example_dir() -> Path:
    import pgmpy

    return Path(pgmpy.__file__).parent / "utils" / "example_models"


def bundled_network_names() -> list[str]:
    """Names of the ``.bif.gz`` networks that ship inside pgmpy (no download needed)."""
    return sorted(p.name[: -len(".bif.gz")] for p in _example_dir().glob("*.bif.gz"))


def bundled_network(name: str) -> Any:
    """Read a network bundled with pgmpy (``asia``, ``alarm``, ``child``, ``hepar2`` ...).

    Reads the file that ships in the wheel; never downloads (pgmpy's
    ``get_example_model`` fetches from a hub and fails offline).

    Examples
    --------
    >>> m = bundled_network("asia")
    >>> sorted(m.nodes())[:3]
    ['asia', 'bronc', 'dysp']
    """
    from pgmpy.readwrite import BIFReader

    path = _example_dir() / f"{name.lower()}.bif.gz"
    if not path.exists():
        raise DataSourceError(
            f"No bundled network named {name!r}; choose one of {', '.join(bundled_network_names())}."
        )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    return BIFReader(string=text).get_model()


def sample_network(model: Any, n: int, seed: int = 0) -> pd.DataFrame:
    """Forward-sample ``n`` rows of state names from a discrete Bayesian network."""
    from pgmpy.sampling import BayesianModelSampling

    df = BayesianModelSampling(model).forward_sample(size=n, seed=seed, show_progress=False)
    return df.astype(str)
