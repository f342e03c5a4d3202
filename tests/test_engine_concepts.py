"""Concept sets and an index date with its windows, applied inside the engine: the engine
cohort equals ``build_cohort`` on the same events and persons (variables, states, first
dates, subgroups, split, fingerprint, build report) on DuckDB, PostgreSQL and Spark local,
and the errors are the same."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _site_counts import assert_same_site_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engines import _engine, assert_same_cohort

from kg_editor.data.cohort import build_cohort
from kg_editor.data.concepts import ConceptSets
from kg_editor.data.sources import EHRSource
from kg_editor.engines import EngineSource, Patterns, open_engine
from kg_editor.errors import SchemaError, UnknownVariableError

# code -> (description, domain, share of patients with it)
CODES = {
    "K25.4": ("Chronic gastric ulcer", "condition", 0.25),
    "K25.9": ("Gastric ulcer", "condition", 0.2),
    "531.40": ("Gastric ulcer (ICD-9)", "observation", 0.15),
    "K26.1": ("Duodenal ulcer", "condition", 0.2),
    "K21.0": ("Reflux esophagitis", "condition", 0.3),
    "I10": ("Hypertension", "condition", 0.4),
    "401.9": ("Hypertension (ICD-9)", "condition", 0.2),
    "N17.9": ("Acute kidney failure", "condition", 0.2),
    "584.9": ("Acute kidney failure (ICD-9)", "condition", 0.15),
    "SMK": ("Smoker", "observation", 0.3),
    "TOB": ("Tobacco use", "observation", 0.2),
    "K92.2": ("Gastrointestinal hemorrhage", "condition", 0.3),
    "ADM": ("Hospital admission", "visit", 0.75),
}


def coded_source(n: int = 360, seed: int = 5) -> EHRSource:
    """ICD-10 and ICD-9 codes with descriptions and domains, an admission code to index on,
    a categorical lab, undated events, persons without events and persons with an
    ``index_date`` (some without one)."""
    rng = np.random.default_rng(seed)
    base = np.datetime64("2014-01-01")
    rows = []
    for i in range(n):
        pid = f"Q{i:04d}"
        risk = rng.random()
        for code, (desc, dom, share) in CODES.items():
            p = share + (0.3 * risk if code in ("K92.2", "K25.4", "SMK") else 0.0)
            if rng.random() < p:
                for _ in range(int(rng.integers(1, 4))):
                    d = base + np.timedelta64(int(rng.integers(0, 3200)), "D")
                    undated = rng.random() < 0.08 and code != "ADM"
                    rows.append((pid, code, None if undated else d, None, desc, dom))
        if rng.random() < 0.6:
            d = base + np.timedelta64(int(rng.integers(0, 3200)), "D")
            val = str(rng.choice(["high", "low", "normal"]))
            rows.append((pid, "LAB", d, val, "Creatinine", "measurement"))
    ev = pd.DataFrame(
        rows, columns=["patient_id", "code", "date", "value", "description", "domain"]
    )
    ev["date"] = pd.to_datetime(ev["date"])
    # an engine has no row order: ties on a date are broken by the smaller value
    ev = ev.sort_values("value", kind="stable", na_position="last").reset_index(drop=True)
    m = n + 20
    index_date = pd.Series(
        [base + np.timedelta64(int(rng.integers(800, 2400)), "D") for _ in range(m)]
    )
    index_date[rng.random(m) < 0.15] = pd.NaT
    persons = pd.DataFrame(
        {
            "patient_id": [f"Q{i:04d}" for i in range(m)],
            "sex": rng.choice(np.array(["F", "M"]), m),
            "birth_year": rng.integers(1930, 2005, m),
            "index_date": pd.to_datetime(index_date),
        }
    )
    return EHRSource.from_frames(ev, persons, name="coded")


def concept_sets() -> ConceptSets:
    """A mapping (ICD-9 to ICD-10), the icd3 roll-up, and sets by code, prefix, pattern and
    description."""
    sets = ConceptSets.from_dict(
        {
            "Ulcer": {"prefixes": ["K25", "K26"], "codes": ["531"]},
            "Reflux": {"patterns": ["^K2[01]$"]},
            "Smoking": {"names": ["smoker", "TOBACCO USE"]},
        }
    )
    sets.roll_up = "icd3"
    sets.mapping = {"401.9": ["I10"], "584.9": ["N17.9"]}
    return sets


@pytest.fixture(scope="module")
def coded():
    return coded_source()


CASES = {
    "concepts": dict(concepts="sets", target="K92"),
    "index-windows": dict(index="ADM", lookback_days=365, outcome_days=60, target="K92.2"),
    "concepts-index-on-a-concept": dict(
        concepts="sets", index="Ulcer", lookback_days=720, age_at="last_event", target="K92"
    ),
    "persons-index": dict(index="persons", outcome_days=400, target="K92.2"),
    # nothing precedes the first event: the target (on or after it) and demographics only
    "first-event": dict(index="first_event", age_at="first_event", target="K92.2"),
}


def _opts(case: str) -> dict:
    opts = dict(CASES[case])
    if opts.get("concepts") == "sets":
        opts["concepts"] = concept_sets()
    return opts


def _both(src: EHRSource, eng_src: EngineSource, **opts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = build_cohort(src, min_patients=10, **opts)
        got = eng_src.cohort(min_patients=10, **opts)
    return ref, got


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_engine_cohort_with_concepts_and_windows_equals_build_cohort(kind, case, request, coded):
    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, coded.events, coded.persons, name="coded")
    ref, got = _both(coded, src, **_opts(case))
    assert_same_cohort(ref, got)
    assert ref.n_patients >= 50 and ref.target in ref.codes and len(ref.codes) >= 3
    if "concepts" in CASES[case]:
        assert "concept:Smoking" in got.codes
        # the index code is never a feature, a concept-set name as the index included
        assert ("concept:Ulcer" in got.codes) == (CASES[case].get("index") != "Ulcer")
        # the mapping and the roll-up ran first: ICD-9 twins are one code
        assert got.build_report["concept_sets"]["concept:Ulcer"] == ["531", "K25", "K26"]
        if "concept:Ulcer" in got.variables:  # its members' most common domain, over events
            assert got.variables["concept:Ulcer"].domain == "condition"
        assert "I10" in got.codes and "401.9" not in got.codes and "N17" in got.codes
    if "index" in CASES[case]:
        notes = got.build_report
        assert notes["patients_without_index"] > 0  # persons without events, no index date
        assert notes["events_outside_windows"] > 0 and notes["undated_events_left_out"] > 0
        assert notes["patients_with_index"] + notes["patients_without_index"] == 380
    eng.close()


@pytest.mark.slow
def test_spark_cohort_with_concepts_and_an_index_equals_build_cohort(request, coded):
    """One small Spark case: concept sets (mapping, roll-up, every kind of member), an
    index on a concept with a look-back window, age at the last event."""
    eng = _engine("spark", request)
    src = EngineSource.from_frames(eng, coded.events, coded.persons, name="coded")
    ref, got = _both(coded, src, **_opts("concepts-index-on-a-concept"))
    assert_same_cohort(ref, got)
    eng.close()


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_overlapping_or_empty_concepts_give_the_same_error(kind, request, coded):
    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, coded.events, coded.persons, name="coded")
    overlap = ConceptSets.from_dict(
        {"Ulcer": {"prefixes": ["K25"]}, "Chronic ulcer": {"codes": ["K25.4"]}}
    )
    empty = ConceptSets.from_dict({"Ulcer": {"prefixes": ["K25"]}, "Nothing": {"codes": ["Z99"]}})
    for sets, says in ((overlap, "in both concept sets"), (empty, "matches no event")):
        with pytest.raises(SchemaError) as mem:
            build_cohort(coded, target="K92.2", concepts=sets)
        with pytest.raises(SchemaError) as engine:
            src.cohort(target="K92.2", concepts=sets)
        assert str(engine.value) == str(mem.value) and says in str(engine.value)
    # two sets whose members do not overlap but whose patients do: one variable each
    apart = ConceptSets.from_dict(
        {"Ulcer": {"prefixes": ["K25"]}, "Duodenal": {"codes": ["K26.1"]}}
    )
    ref, got = _both(coded, src, target="K92.2", concepts=apart)
    assert_same_cohort(ref, got)
    both = got.data[["concept:Ulcer", "concept:Duodenal"]].to_numpy().all(axis=1).sum()
    assert both > 0
    eng.close()


def test_option_errors_are_those_of_build_cohort(coded):
    src = EngineSource.from_frames(open_engine("duckdb://"), coded.events, coded.persons)
    bad = [
        (dict(lookback_days=30), SchemaError),
        (dict(age_at="index"), SchemaError),
        (dict(index="ADM", outcome_days=-1), SchemaError),
        (dict(index="Appendectomy"), UnknownVariableError),
        (dict(age_at="birth"), SchemaError),
    ]
    for opts, err in bad:
        with pytest.raises(err) as mem:
            build_cohort(coded, target="K92.2", **opts)
        with pytest.raises(err) as engine:
            src.cohort(target="K92.2", **opts)
        assert str(engine.value) == str(mem.value)
    # index="persons" needs the persons' index_date column
    bare = EngineSource.from_frames(
        open_engine("duckdb://"), coded.events, coded.persons.drop(columns="index_date")
    )
    with pytest.raises(SchemaError, match="index_date"):
        bare.cohort(target="K92.2", index="persons")


@pytest.mark.parametrize(
    "kind", ["duckdb", "postgres", pytest.param("spark", marks=pytest.mark.slow)]
)
def test_pattern_cohort_with_concepts_and_an_index_equals_the_row_level_cohort(
    kind, request, coded
):
    """The weighted patterns equal build_cohort's rows compressed over the engine's split
    (read back here only to build the reference), age bands at the index date."""
    eng = _engine(kind, request)
    src = EngineSource.from_frames(eng, coded.events, coded.persons, name="coded")
    opts = dict(concepts=concept_sets(), index="ADM", lookback_days=540, outcome_days=90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = build_cohort(coded, target="K92", min_patients=10, **opts)
        pc = src.pattern_cohort(target="K92", min_patients=10, **opts)
    codes = [c for c in ref.codes if c not in ("sex", "age_band")]
    assert pc.codes == codes and pc.n_patients == ref.n_patients
    assert {c: v.n_patients for c, v in pc.variables.items()} == {
        c: ref.variables[c].n_patients for c in codes
    }
    assert pc.settings["index"] == "ADM" and pc.settings["age_at"] == "index"
    split = src._q('SELECT * FROM "kg_split_units"').set_index("patient_id")
    split = split.reindex(ref.data.index)
    np.testing.assert_array_equal(split["age_band"].to_numpy(), ref.persons["age_band"].to_numpy())
    t = (split["split"] == "test").to_numpy()
    train = Patterns.from_frame(ref.data.loc[~t, codes], ref.cardinalities)
    keys = {k: ref.persons[k].to_numpy()[t] for k in ("sex", "age_band")}
    test = Patterns.from_frame(ref.data.loc[t, codes], ref.cardinalities, keys)
    for got, want in ((pc.train_patterns, train), (pc.test_patterns, test)):
        np.testing.assert_array_equal(got.codes, want.codes)
        np.testing.assert_array_equal(got.weights, want.weights)
    for k in keys:
        np.testing.assert_array_equal(pc.test_patterns.extra[k], test.extra[k])
    eng.close()


def test_cli_cohort_from_a_duckdb_url_with_concepts_and_an_index(tmp_path, capsys, coded):
    import duckdb

    from kg_editor.cli import main

    path = tmp_path / "site.duckdb"
    con = duckdb.connect(str(path))
    ev = coded.events  # noqa: F841 (read by DuckDB's replacement scan)
    pe = coded.persons  # noqa: F841
    con.execute("CREATE TABLE events AS SELECT * FROM ev")
    con.execute("CREATE TABLE people AS SELECT * FROM pe")
    con.close()
    (tmp_path / "map.csv").write_text("icd9,icd10\n401.9,I10\n584.9,N17.9\n")
    (tmp_path / "sets.yaml").write_text(
        "Ulcer:\n  prefixes: [K25, K26]\n  codes: ['531']\n"
        "Smoking:\n  names: [smoker, tobacco use]\nroll_up: icd3\nmapping: map.csv\n"
    )
    opts = ["--concepts", str(tmp_path / "sets.yaml"), "--index", "Ulcer"]
    opts += ["--lookback-days", "720", "--outcome-days", "365", "--min-patients", "10"]
    argv = ["cohort", f"duckdb:///{path}", "--persons-table", "people", "--target", "K92"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*argv, *opts, "--json"]) == 0
        ref = build_cohort(
            coded,
            target="K92",
            concepts=tmp_path / "sets.yaml",
            index="Ulcer",
            lookback_days=720,
            outcome_days=365,
            min_patients=10,
        )
    got = json.loads(capsys.readouterr().out)
    want = json.loads(json.dumps(ref.summary()))
    for key in ("patients", "split", "variables", "subgroups", "build"):
        assert got[key] == want[key], key
    assert got["build"]["patients_without_index"] > 0
    assert got["settings"]["index"] == "Ulcer" and "Ulcer" in got["settings"]["concepts"]
    # distill from the same URL: the graph records the cohort build_cohort gives
    out = tmp_path / "graph.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["distill", *argv[1:], *opts, "--out", str(out)]) == 0
    meta = json.loads(out.read_text())["metadata"]
    assert meta["cohort_fingerprint"] == ref.fingerprint()
    # counts export from the same URL: counted over the same patients, inside DuckDB
    from kg_editor.model.graph import CausalGraph

    graph = tmp_path / "event_graph.json"
    CausalGraph.from_edges([("concept:Smoking", "K92")], nodes=["K92", "concept:Smoking"]).to_json(
        graph
    )
    site = tmp_path / "site"
    export = ["counts", "export", *argv[1:], *opts, "--graph", str(graph), "--out", str(site)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(export) == 0
    assert json.loads((site / "manifest.json").read_text())["patients"] == ref.n_patients


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    use_sets=st.booleans(),
    index=st.sampled_from(["ADM", "first_event", "persons", "Ulcer", "Smoker"]),
    lookback=st.one_of(st.none(), st.integers(0, 1500)),
    outcome=st.one_of(st.none(), st.integers(0, 1500)),
    age_at=st.sampled_from([None, "first_event", "last_event"]),
)
def test_any_index_and_windows_give_build_cohort_or_its_error(
    seed, use_sets, index, lookback, outcome, age_at
):
    """On random events, any index, windows, age and concept sets: the DuckDB cohort is
    build_cohort's, or both raise the same error (too few patients, an unknown index)."""
    src = coded_source(n=120, seed=seed)
    eng = EngineSource.from_frames(open_engine("duckdb://"), src.events, src.persons, name="coded")
    opts = dict(
        index=index,
        lookback_days=lookback,
        outcome_days=outcome,
        age_at=age_at,
        concepts=concept_sets() if use_sets else None,
        target="K92" if use_sets else "K92.2",
    )
    outcomes = []
    for build in (build_cohort, lambda _src, **o: eng.cohort(**o)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                outcomes.append(build(src, min_patients=5, **opts))
            except (SchemaError, UnknownVariableError) as exc:
                outcomes.append(exc)
    ref, got = outcomes
    if isinstance(ref, Exception):
        assert type(got) is type(ref) and str(got) == str(ref)
    else:
        assert_same_cohort(ref, got)
    eng.engine.close()


def test_site_tables_with_concepts_and_an_index_equal_the_cohort_tables(coded):
    """``counts export`` from a SOURCE URL: the engine's tables over ``prepared`` events
    (concept sets, index, windows, age at the index) equal those of build_cohort's cohort."""
    from kg_editor.model.external import SiteCounts
    from kg_editor.model.graph import CausalGraph

    opts = dict(concepts=concept_sets(), index="ADM", lookback_days=540, outcome_days=90)
    src = EngineSource.from_frames(open_engine("duckdb://"), coded.events, coded.persons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = build_cohort(coded, target="K92", min_patients=10, **opts)
        prepared = src.prepared("K92", **opts)
    codes = ["K92", "concept:Ulcer", "concept:Smoking", "I10"]
    graph = CausalGraph.from_edges(
        [("concept:Ulcer", "K92"), ("concept:Smoking", "K92"), ("I10", "concept:Ulcer")],
        nodes=codes,
    )
    for k in (1, 5):
        got = SiteCounts.from_engine(prepared, graph, ["K92"], min_cell=k)
        ref = SiteCounts.from_cohort(cohort, graph, ["K92"], min_cell=k, split="all")
        assert got.patients == ref.patients == cohort.n_patients
        assert_same_site_tables(got, ref, k)
