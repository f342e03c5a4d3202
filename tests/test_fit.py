"""The numpy family estimator equals pgmpy's estimators; incremental refit equals a full fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_editor.errors import KGEditorError
from kg_editor.model.fit import (
    CodeTable,
    families_to_pgmpy,
    family_counts,
    fit_families,
    fit_family,
    pgmpy_fit,
    refit_families,
    sampled_cohort,
)


def _random_frame(seed: int, n: int, cards: dict[str, int]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.integers(0, k, n).astype(np.int8) for c, k in cards.items()})


def _labelled(frame: pd.DataFrame, states: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {c: np.array(states[c], dtype=object)[frame[c].to_numpy()] for c in frame.columns}
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 120),
    cards=st.lists(st.integers(2, 4), min_size=3, max_size=5),
    estimator=st.sampled_from(["bdeu", "mle"]),
    ess=st.floats(0.5, 20.0),
    data=st.data(),
)
def test_family_estimator_equals_pgmpy(seed, n, cards, estimator, ess, data):
    names = [f"v{i}" for i in range(len(cards))]
    card = dict(zip(names, cards, strict=True))
    frame = _random_frame(seed, n, card)
    states = {c: [f"s{j}" for j in range(k)] for c, k in card.items()}
    # a random DAG: edges only from lower to higher index
    edges = [
        (names[i], names[j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if data.draw(st.booleans(), label=f"{i}->{j}")
    ]
    parents = {v: [u for u, w in edges if w == v] for v in names}
    table = CodeTable.from_frame(frame, card)
    ours = fit_families(table, parents, estimator=estimator, equivalent_sample_size=ess)
    ref = pgmpy_fit(
        _labelled(frame, states),
        edges,
        states,
        nodes=names,
        estimator=estimator,
        equivalent_sample_size=ess,
    )
    for v in names:
        cpd = ref.get_cpds(v)
        assert cpd.variables == [v, *ours[v].parents]
        np.testing.assert_allclose(ours[v].cpd, cpd.get_values(), rtol=0, atol=1e-12)


def test_counts_layout_matches_pgmpy_state_counts():
    from pgmpy.utils import get_state_counts

    frame = _random_frame(3, 200, {"a": 3, "b": 2, "c": 4})
    states = {"a": ["x", "y", "z"], "b": ["p", "q"], "c": ["0", "1", "2", "3"]}
    counts = family_counts(CodeTable.from_frame(frame, {"a": 3, "b": 2, "c": 4}), "a", ("b", "c"))
    ref = get_state_counts(_labelled(frame, states), states, "a", ["b", "c"])
    np.testing.assert_array_equal(counts, ref.to_numpy())


def test_refit_touches_only_changed_families():
    frame = _random_frame(1, 300, {"a": 2, "b": 3, "c": 2})
    table = CodeTable.from_frame(frame, {"a": 2, "b": 3, "c": 2})
    fams = fit_families(table, {"a": [], "b": ["a"], "c": ["b"]})
    new = refit_families(fams, table, {"c": ["a", "b"]}, ["c"])
    assert new["a"] is fams["a"] and new["b"] is fams["b"]
    assert new["c"].parents == ("a", "b")
    full = fit_family(table, "c", ["b", "a"])
    np.testing.assert_array_equal(new["c"].cpd, full.cpd)
    assert fams["c"].parents == ("b",)  # the input dict is unchanged


def test_families_to_pgmpy_round_trip():
    frame = _random_frame(2, 150, {"a": 2, "b": 3, "c": 2})
    states = {"a": ["n", "y"], "b": ["lo", "mid", "hi"], "c": ["n", "y"]}
    fams = fit_families(
        CodeTable.from_frame(frame, {"a": 2, "b": 3, "c": 2}),
        {"a": [], "b": ["a"], "c": ["a", "b"]},
    )
    model = families_to_pgmpy(fams, states)
    assert model.check_model()
    assert model.get_cpds("c").state_names["b"] == ["lo", "mid", "hi"]
    np.testing.assert_array_equal(model.get_cpds("c").get_values(), fams["c"].cpd)


def test_mle_unseen_parent_configuration_is_uniform():
    frame = pd.DataFrame(
        {"a": np.array([0, 0, 0], dtype=np.int8), "b": np.array([0, 1, 1], dtype=np.int8)}
    )
    fam = fit_family(CodeTable.from_frame(frame, {"a": 2, "b": 2}), "b", ["a"], estimator="mle")
    np.testing.assert_allclose(fam.cpd[:, 1], [0.5, 0.5])
    assert fam.n_parameters == 2


def test_unknown_estimator_is_refused_clearly():
    frame = _random_frame(0, 10, {"a": 2})
    with pytest.raises(KGEditorError, match="Unknown estimator 'ml'.*bdeu, mle"):
        fit_family(CodeTable.from_frame(frame, {"a": 2}), "a", [], estimator="ml")


def test_sampled_cohort_keeps_every_state():
    c = sampled_cohort("child", 300, target="Disease", seed=2)
    assert c.variables["Disease"].states[0] == "PFC"
    assert len(c.variables["Disease"].states) == 6
    assert c.data.dtypes.unique().tolist() == [np.dtype("int8")]
