"""The compiled separator kernel and the incremental graph check (issue 14, instant
feedback): the kernel gives the reference's separator for every pair, and a check moved
through any sequence of edits (add, remove, reverse, latent causes) equals a fresh fit
pair by pair: separators, p-values, q-values and failures."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kg_editor.errors import KGEditorError
from kg_editor.model.checks import ImpliedIndependencies, minimal_separator
from kg_editor.model.graph import (
    AddEdge,
    AddLatent,
    CausalGraph,
    RemoveEdge,
    RemoveLatent,
    ReverseEdge,
    apply_edit,
)
from kg_editor.model.separators import minimal_separators

NAMES = [f"n{i}" for i in range(8)]


@st.composite
def dags_with_latents(draw):
    """A random DAG over up to 9 nodes (names shuffled against the causal order) with
    up to three unobserved common causes."""
    n = draw(st.integers(3, 9))
    names = draw(st.permutations([*NAMES, "m"]))[:n]
    g = nx.DiGraph()
    g.add_nodes_from(names)
    for i in range(n):
        for j in range(i + 1, n):
            if draw(st.booleans()) and draw(st.booleans()):
                g.add_edge(names[i], names[j])
    for k in range(draw(st.integers(0, 3))):
        a, b = draw(st.permutations(sorted(names)))[:2]
        g.add_node(f"U{k}", latent=True)
        g.add_edges_from([(f"U{k}", a), (f"U{k}", b)])
    return g


@settings(max_examples=150, deadline=None)
@given(dags_with_latents())
def test_kernel_equals_the_reference_separator_for_every_pair(g):
    obs = sorted(n for n in g.nodes if not g.nodes[n].get("latent"))
    pairs = [(a, b) for i, a in enumerate(obs) for b in obs[i + 1 :]]
    fast = minimal_separators(g, pairs)
    for (a, b), got in zip(pairs, fast, strict=True):
        if g.has_edge(a, b) or g.has_edge(b, a):
            assert got is None
            continue
        assert got == minimal_separator(g, a, b), (a, b)
        if got is not None:  # and it is a d-separator of the pair
            assert nx.is_d_separator(g, {a}, {b}, set(got))


def _data(n_nodes: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Data from a chain over the names, so that some implications fail and some hold."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    prev = rng.integers(0, 2, 800)
    for i, name in enumerate(NAMES[:n_nodes]):
        flip = rng.random(800) < (0.2 if i % 3 else 0.5)
        cols[name] = np.where(flip, 1 - prev, prev) if i % 4 else rng.integers(0, 3, 800)
        prev = cols[name] % 2
    return cols, {k: int(v.max()) + 1 for k, v in cols.items()}


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "reverse", "latent", "unlatent"]),
        st.integers(0, 7),
        st.integers(0, 7),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(4, 8), st.integers(0, 3), EDITS)
def test_incremental_update_equals_a_fresh_fit_after_any_edits(n_nodes, seed, edits):
    cols, cards = _data(n_nodes, seed)
    names = NAMES[:n_nodes]
    g = CausalGraph.from_edges(list(itertools.pairwise(names)), nodes=names)
    check = ImpliedIndependencies(max_given=None, min_per_cell=1.0).fit(g, cols, cards)
    kinds = {
        "add": AddEdge,
        "remove": RemoveEdge,
        "reverse": ReverseEdge,
        "latent": AddLatent,
        "unlatent": RemoveLatent,
    }
    for kind, i, j in edits:
        a, b = names[i % n_nodes], names[j % n_nodes]
        try:
            g = apply_edit(g, kinds[kind](a, b))
        except KGEditorError:
            continue  # a refused edit (cycle, missing edge) leaves the graph as it was
        check.update(g)
        fresh = ImpliedIndependencies(max_given=None, min_per_cell=1.0).fit(g, cols, cards)
        causal = g.causal_nx()
        for x, y in ((x, y) for k, x in enumerate(names) for y in names[k + 1 :]):
            assert check.separator(x, y) == fresh.separator(x, y)
            linked = causal.has_edge(x, y) or causal.has_edge(y, x)
            expected = None if linked else minimal_separator(causal, x, y)
            assert fresh.separator(x, y) == expected
        ours = [(r.x, r.y, r.given, r.dof, r.reliable, r.fails) for r in check.results_]
        assert ours == [(r.x, r.y, r.given, r.dof, r.reliable, r.fails) for r in fresh.results_]
        for r, f in zip(check.results_, fresh.results_, strict=True):
            for v, w in ((r.p, f.p), (r.q, f.q), (r.statistic, f.statistic)):
                assert (math.isnan(v) and math.isnan(w)) or v == w
        assert check.failures_ == fresh.failures_
        failing = sorted((r for r in check.results_ if r.fails), key=lambda r: (r.q, r.x, r.y))
        assert check.failures_ == failing
        assert check.first_failures(3) == failing[:3]
        assert check.summary() == fresh.summary()
