"""Shared fixtures: small cohorts built from real readers, never downloaded."""

from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")
warnings.filterwarnings("ignore", category=FutureWarning, module="pgmpy")


@pytest.fixture(scope="session")
def demo_source():
    from kg_editor.sources import load_source

    return load_source("demo")


@pytest.fixture(scope="session")
def demo_cohort(demo_source):
    from kg_editor.cohort import build_cohort

    return build_cohort(demo_source, target="Gastrointestinal hemorrhage")


@pytest.fixture(scope="session")
def asia_synthetic():
    from kg_editor.sources.synthetic import network_events

    return network_events("asia", 3000, seed=3)
