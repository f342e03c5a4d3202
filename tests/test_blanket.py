"""The target's posterior from small per-family tables (issue 16, PATHFINDER-style targets)
equals the row-level computation: per-patient factors (``markov_blanket_factor``) summed
and normalised by ``posterior_from_factors``, then ``target_metrics``."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_editor.errors import KGEditorError
from kg_editor.model.fit import (
    CodeTable,
    family_counts,
    fit_families,
    fit_family,
    sampled_cohort,
    state_dtype,
)
from kg_editor.model.graph import AddEdge, CausalGraph, RemoveEdge, ReverseEdge
from kg_editor.model.metrics import (
    blanket_index,
    blanket_logits,
    blanket_table,
    fixed_blanket_table,
    group_codes,
    markov_blanket_factor,
    posterior_from_factors,
    posterior_from_logits,
    resort,
    summarise_logits,
    target_metrics,
    target_metrics_from_scores,
)

TOL = 1e-9


def _close(a, b, path="", tol=TOL):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}", tol)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]", tol)
    elif isinstance(a, float) and isinstance(b, float):
        if math.isnan(a):
            assert math.isnan(b), path
        else:
            assert math.isclose(a, b, rel_tol=tol, abs_tol=tol), (path, a, b)
    else:
        assert a == b, (path, a, b)


def random_model(seed: int, n: int, r_target: int, n_children: int, mle: bool):
    """A random cohort around a target ``t``: parents ``a``/``b``, children ``c0..`` each
    with an extra parent, the extra parents sharing states with the children."""
    rng = np.random.default_rng(seed)
    cards = {"t": r_target, "a": int(rng.integers(2, 5)), "b": int(rng.integers(2, 4))}
    cols = {"a": rng.integers(0, cards["a"], n), "b": rng.integers(0, cards["b"], n)}
    cols["t"] = np.where(
        rng.random(n) < 0.5, (cols["a"] + cols["b"]) % r_target, rng.integers(0, r_target, n)
    )
    parents: dict[str, tuple[str, ...]] = {"a": (), "b": (), "t": ("a", "b")}
    for j in range(n_children):
        e, c = f"e{j}", f"c{j}"
        cards[e] = int(rng.integers(2, 4))
        cards[c] = int(rng.integers(2, 6))
        cols[e] = rng.integers(0, cards[e], n)
        cols[c] = np.where(
            rng.random(n) < 0.6, (cols["t"] + cols[e]) % cards[c], rng.integers(0, cards[c], n)
        )
        parents[e] = ()
        parents[c] = ("t", e) if j % 2 == 0 else (e, "t")  # the target first or last
    frame = pd.DataFrame({k: v.astype(np.int8) for k, v in cols.items()})
    split = n * 2 // 3
    train = CodeTable.from_frame(frame.iloc[:split], cards)
    test = CodeTable.from_frame(frame.iloc[split:], cards)
    fams = fit_families(train, parents, estimator="mle" if mle else "bdeu")
    mb = [fams["t"], *(fams[f"c{j}"] for j in range(n_children))]
    return train, test, fams, mb, rng


models = st.tuples(
    st.integers(0, 10_000),  # seed
    st.integers(12, 400),  # patients
    st.integers(2, 9),  # target states
    st.integers(0, 4),  # children
    st.booleans(),  # MLE (zero probabilities, -inf logs) or BDeu
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models)
def test_blanket_tables_equal_the_per_patient_factors(spec):
    _, test, _, mb, _ = random_model(*spec)
    for f in mb:
        row_level = markov_blanket_factor(f, "t", test)  # states x patients
        table = blanket_table(f, "t")
        assert table.shape[0] <= max(f.n_configurations * f.card, 1)  # no patient axis
        np.testing.assert_array_equal(table[blanket_index(f, "t", test)], row_level.T)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models, st.integers(1, 40))
def test_logits_posterior_and_metrics_equal_the_row_level_ones(spec, chunk):
    _, test, _, mb, rng = random_model(*spec)
    post = posterior_from_factors([markov_blanket_factor(f, "t", test) for f in mb])
    truth = test.columns["t"]
    logits = blanket_logits(mb, "t", test)
    p, hit = summarise_logits(logits, truth, chunk=chunk)
    np.testing.assert_allclose(p, 1.0 - post[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(hit, np.argmax(post, axis=0) == truth)
    groups = {"sex": group_codes(rng.choice(np.array(["F", "M"]), test.n_rows))}
    # the metrics from the row-level posterior normalised row by row: the two posteriors
    # agree to 1e-12 (above), but two patients tied in one may differ by an ulp in the
    # other, and AUROC counts ties half (at 8 held-out rows, 0.61 against 0.72)
    post = posterior_from_logits(logits).T
    ref, _, _ = target_metrics(truth, post, groups)
    # any order sorting p gives the same figures: one found from an unrelated order
    order = resort(p, rng.permutation(test.n_rows))
    assert np.all(np.diff(p[order]) >= 0)
    ours, _, _ = target_metrics_from_scores(truth, p, hit, groups, order=order)
    _close(ref, ours)
    # and weighted (patients per row)
    w = rng.integers(1, 5, test.n_rows)
    ref_w, _, _ = target_metrics(truth, post, groups, weights=w)
    ours_w, _, _ = target_metrics_from_scores(truth, p, hit, groups, weights=w, order=order)
    _close(ref_w, ours_w)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models, st.data())
def test_logits_updated_by_the_changed_factors_equal_a_fresh_sum(spec, data):
    train, test, _, mb, _ = random_model(*spec)
    if len(mb) < 2:
        return
    j = data.draw(st.integers(1, len(mb) - 1))
    new = fit_family(train, mb[j].node, ("t",), estimator="bdeu")  # as an edit would
    new_mb = [*mb[:j], new, *mb[j + 1 :]]
    if any(fixed_blanket_table(f, "t") is None for f in mb):
        with pytest.raises(KGEditorError):
            blanket_logits(mb, "t", test, fixed=True)
        return
    logits = blanket_logits(mb, "t", test, fixed=True)
    blanket_logits([mb[j]], "t", test, out=logits, sign=-1.0, fixed=True)
    blanket_logits([new], "t", test, out=logits, fixed=True)
    np.testing.assert_array_equal(logits, blanket_logits(new_mb, "t", test, fixed=True))  # bits
    # and the fixed-point posterior is the floating-point one to 1e-9
    exact = posterior_from_factors([markov_blanket_factor(f, "t", test) for f in new_mb])
    np.testing.assert_allclose(posterior_from_logits(logits).T, exact, rtol=0, atol=1e-9)


@pytest.mark.parametrize("cards", [[9, 9, 9, 9], [130, 3], [2, 200, 5]])
def test_state_codes_are_small_and_configurations_do_not_overflow(cards):
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame({f"v{i}": rng.integers(0, k, n) for i, k in enumerate(cards)})
    card = {f"v{i}": k for i, k in enumerate(cards)}
    table = CodeTable.from_frame(frame, card)
    for c, k in card.items():
        assert table.columns[c].dtype == state_dtype(k)
        assert table.columns[c].itemsize <= 2
    parents = [c for c in card if c != "v0"]
    idx, q, strides = table.config_index(parents)
    expect = sum(frame[p].to_numpy(np.int64) * s for p, s in zip(parents, strides, strict=True))
    np.testing.assert_array_equal(idx, expect)
    assert q == math.prod(cards[1:])
    counts = family_counts(table, "v0", parents)
    flat = frame["v0"].to_numpy(np.int64) * q + expect
    np.testing.assert_array_equal(counts.ravel(), np.bincount(flat, minlength=cards[0] * q))


# ----------------------------------------------------------------------------------
# the session: an edit updates the posterior; every figure equals the row-level one
# ----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _child():
    from kg_editor.model.fit import bundled_network

    cohort = sampled_cohort("child", 1500, target="Disease", seed=4)  # 6 states
    truth = bundled_network("child")
    graph = CausalGraph.from_edges(list(truth.edges()), nodes=cohort.codes, provenance="distilled")
    return cohort, graph


def _row_level_block(session, target):
    fams = [
        session.families[target],
        *(session.families[c] for c in session.graph.children(target)),
    ]
    post = posterior_from_factors([markov_blanket_factor(f, target, session._test) for f in fams])
    block, _, _ = target_metrics(
        session._test.columns[target], post, session._groups, weights=session._test.weights
    )
    return block, post


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_session_posterior_after_random_edits_equals_the_row_level_one(data, patterns):
    from kg_editor.errors import KGEditorError
    from kg_editor.model.session import EditSession

    cohort, graph = _child()
    s = EditSession(cohort, graph, bootstrap=0, patterns=patterns)
    nodes = sorted(s.graph.nodes)
    first = dict(s.report.targets["Disease"])
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["add", "remove", "reverse"]))
        if kind == "add":
            other = data.draw(st.sampled_from([n for n in nodes if n != "Disease"]))
            u, v = ("Disease", other) if data.draw(st.booleans()) else (other, "Disease")
            edit = AddEdge(u, v)
        else:
            edges = sorted(e for e in s.graph.edges if "Disease" in e) or sorted(s.graph.edges)
            u, v = data.draw(st.sampled_from(edges))
            edit = RemoveEdge(u, v) if kind == "remove" else ReverseEdge(u, v)
        try:
            s.apply(edit)
        except KGEditorError:
            continue
        ref, post = _row_level_block(s, "Disease")
        _close(ref, {k: v for k, v in s.report.targets["Disease"].items() if k in ref})
        np.testing.assert_allclose(s.posterior_table("Disease"), post, rtol=0, atol=1e-12)
    while s.can_undo:
        s.undo()
    _close(first, dict(s.report.targets["Disease"]))


def test_session_keeps_no_states_by_patients_array_per_family():
    from kg_editor.model.session import EditSession

    cohort, graph = _child()
    s = EditSession(cohort, graph, bootstrap=20)
    s.reverse(*next(e for e in sorted(s.graph.edges) if "Disease" in e)).to_dict()
    n, r = s._test.n_rows, s._test.cards["Disease"]
    for f in s.families.values():
        for v in f.cache.values():
            if isinstance(v, np.ndarray):
                assert v.size < n * min(r, 2), (f.node, v.shape)  # small tables, 1-D indices
