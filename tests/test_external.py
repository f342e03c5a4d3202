"""External validation and pooling from exported count tables equal the row-level figures."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pandas as pd
import pytest

from kg_editor.cli import main
from kg_editor.model.external import SiteCounts, external_report, pooled_families
from kg_editor.model.fit import CodeTable, fit_families, sampled_cohort
from kg_editor.model.graph import CausalGraph
from kg_editor.model.metrics import (
    family_row_loglik,
    group_codes,
    markov_blanket_factor,
    posterior_from_factors,
    target_metrics,
)
from kg_editor.model.session import EditSession

TOL = 1e-9
TARGETS = ["lung", "bronc"]


@functools.lru_cache(maxsize=1)
def two_sites():
    """Two hospitals sampled from the same network (every state kept at both)."""
    from kg_editor.model.fit import bundled_network

    a = sampled_cohort("asia", 1200, target="lung", seed=1)
    b = sampled_cohort("asia", 800, target="lung", seed=2)
    model = bundled_network("asia")
    graph = CausalGraph.from_edges(list(model.edges()), nodes=a.codes)
    return a, b, graph


def direct(families, cohort, rows: pd.DataFrame, target: str):
    """The model evaluated on a site's rows (what the site would compute itself)."""
    nodes = list(families)
    test = CodeTable.from_frame(rows[nodes], cohort.cardinalities)
    ll = sum(float(family_row_loglik(f, test).sum()) for f in families.values()) / test.n
    children = [n for n, f in families.items() if target in f.parents]
    fams = [families[target], *(families[c] for c in sorted(children))]
    post = posterior_from_factors([markov_blanket_factor(f, target, test) for f in fams])
    persons = cohort.persons.loc[rows.index]
    groups = {k: group_codes(persons[k].astype(str).to_numpy()) for k in ("sex", "age_band")}
    block, _, _ = target_metrics(test.columns[target], post, groups)
    for f in families.values():
        f.drop_patient_cache()
    return ll, block


def test_external_report_from_tables_equals_direct_evaluation_on_the_site(tmp_path):
    a, b, graph = two_sites()
    session = EditSession(a, graph, targets=TARGETS, bootstrap=0)
    site = SiteCounts.from_cohort(b, graph, TARGETS, min_cell=1, site="B")
    site = SiteCounts.read(site.write(tmp_path / "B"))  # through the files
    ext = session.external(site)
    assert ext["families_missing"] == [] and ext["min_cell"] == 1
    for t in TARGETS:
        ll, block = direct(session.families, b, b.data, t)
        assert math.isclose(ext["loglik_per_patient"], ll, rel_tol=TOL)
        got = ext["targets"][t]
        for k in ("n", "prevalence", "auroc", "brier", "accuracy", "ece"):
            assert math.isclose(got[k], block[k], rel_tol=TOL, abs_tol=TOL), (t, k)
        assert [(r["group"], r["n"]) for r in got["subgroups"]] == [
            (r["group"], r["n"]) for r in block["subgroups"]
        ]
        for x, y in zip(got["subgroups"], block["subgroups"], strict=True):
            assert math.isclose(x["auroc"], y["auroc"], abs_tol=TOL)
    # internal and external differ (different patients) but describe the same model
    assert ext["targets"]["lung"]["n"] == b.n_patients
    assert session.report.targets["lung"]["n"] == int(a.is_test.sum())


def test_suppressed_tables_state_their_remainder_and_cover_the_rest(tmp_path):
    a, b, graph = two_sites()
    k = 11
    site = SiteCounts.from_cohort(b, graph, ["lung"], min_cell=k, site="B")
    folder = site.write(tmp_path / "B")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["suppression"]["min_cell"] == k
    for spec in manifest["tables"]:
        rows = pd.read_csv(folder / spec["file"])
        assert (rows["n"] >= k).all()
        assert rows["n"].sum() + spec["suppressed_patients"] == b.n_patients
    blanket = site.tables["blanket:lung"]
    assert blanket.remainder[1] > 0  # the blanket x sex x age band has small cells
    # figures from the suppressed table equal direct evaluation on the rows it kept
    session = EditSession(a, graph, targets=["lung"], bootstrap=0)
    ext = external_report(session.families, site, a.states, ["lung"])
    cols = list(blanket.columns)
    keyed = (
        b.data[cols].astype(str).agg("|".join, axis=1)
        + "|"
        + b.persons.loc[b.data.index, ["sex", "age_band"]].astype(str).agg("|".join, axis=1)
    )
    sizes = keyed.map(keyed.value_counts())
    kept = b.data.loc[(sizes >= k).to_numpy()]
    _, block = direct(session.families, b, kept, "lung")
    got = ext["targets"]["lung"]
    assert got["n"] == len(kept) == blanket.n
    for m in ("auroc", "brier", "accuracy"):
        assert math.isclose(got[m], block[m], rel_tol=TOL, abs_tol=TOL)


def test_pooled_fit_from_summed_tables_equals_pooled_rows_fit():
    a, b, graph = two_sites()
    sites = [
        SiteCounts.from_cohort(c, graph, [], min_cell=1, site=s) for c, s in ((a, "A"), (b, "B"))
    ]
    pooled = pooled_families(sites, a.states)
    rows = pd.concat([a.data, b.data])
    ref = fit_families(
        CodeTable.from_frame(rows, a.cardinalities), {n: graph.parents(n) for n in graph.nodes}
    )
    for n in graph.nodes:
        np.testing.assert_array_equal(pooled[n].counts, ref[n].counts)
        np.testing.assert_allclose(pooled[n].cpd, ref[n].cpd, atol=TOL)
    mle = pooled_families(sites, a.states, estimator="mle")
    ref_mle = fit_families(
        CodeTable.from_frame(rows, a.cardinalities),
        {n: graph.parents(n) for n in graph.nodes},
        estimator="mle",
    )
    for n in graph.nodes:
        np.testing.assert_allclose(mle[n].cpd, ref_mle[n].cpd, atol=TOL)


def test_an_edited_graph_needs_a_fresh_export():
    a, b, graph = two_sites()
    site = SiteCounts.from_cohort(b, graph, ["lung"], min_cell=1)
    session = EditSession(a, graph, targets=["lung"], bootstrap=0)
    session.add("asia", "dysp")
    ext = session.external(site)
    assert ext["families_missing"] == ["dysp"] and ext["loglik_per_patient"] is None
    assert ext["targets"]["lung"]["available"]  # lung's blanket did not change


def test_unknown_site_state_is_named():
    a, b, graph = two_sites()
    site = SiteCounts.from_cohort(b, graph, ["lung"], min_cell=1)
    tab = site.tables["family:asia"]
    tab.rows.loc[0, "asia"] = "maybe"
    with pytest.raises(Exception, match="'maybe'.*'asia'"):
        pooled_families([site], a.states)


def test_counts_cli_export_validate_pool(tmp_path, capsys):
    from kg_editor.data.sources.synthetic import network_events

    syn = network_events("asia", 1500, seed=5)
    ev_a = tmp_path / "a.csv"
    ev_b = tmp_path / "b.csv"
    ids = syn.source.events["patient_id"].unique()
    half = set(ids[: len(ids) // 2])
    mask = syn.source.events["patient_id"].isin(half)
    syn.source.events[mask].to_csv(ev_a, index=False)
    syn.source.events[~mask].to_csv(ev_b, index=False)
    nodes = ["smoke", "lung", "bronc", "either", "xray", "dysp"]
    graph = CausalGraph.from_edges(
        [(u, v) for u, v in syn.true_edges if u in nodes and v in nodes], nodes=nodes
    )
    gpath = tmp_path / "g.json"
    graph.to_json(gpath)
    common = ["--target", "lung", "--graph", str(gpath), "--min-patients", "5"]
    assert (
        main(["counts", "export", str(ev_b), *common, "--out", str(tmp_path / "B"), "--site", "B"])
        == 0
    )
    out = capsys.readouterr().out
    assert "suppressed" in out and "fewer than 11" in out
    manifest = json.loads((tmp_path / "B" / "manifest.json").read_text())
    assert manifest["site"] == "B" and manifest["suppression"]["min_cell"] == 11
    assert (
        main(["counts", "validate", str(ev_a), *common, "--site", str(tmp_path / "B"), "--json"])
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    ext = res["sites"][0]["external"]
    assert ext["site"] == "B" and ext["targets"]["lung"]["available"]
    assert 0.5 < ext["targets"]["lung"]["auroc"] <= 1.0
    assert main(["counts", "validate", str(ev_a), *common, "--site", str(tmp_path / "B")]) == 0
    text = capsys.readouterr().out
    assert "internal" in text and "lung: auroc" in text
    assert (
        main(
            [
                "counts",
                "export",
                str(ev_a),
                *common,
                "--out",
                str(tmp_path / "A"),
                "--min-cell",
                "1",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["counts", "pool", "--site", str(tmp_path / "A"), "--site", str(tmp_path / "B")]) == 0
    )
    pooled = json.loads(capsys.readouterr().out)
    assert set(pooled["families"]) == set(graph.nodes)
    assert (
        pooled["patients"]
        == manifest["patients"]
        + json.loads((tmp_path / "A" / "manifest.json").read_text())["patients"]
    )
