"""EHR-like cohorts with a known causal truth, sampled from networks bundled with pgmpy.

Each network node becomes an event code. A patient has an event for a node when the
sampled state is not the node's reference state (its most probable one); for nodes with
more than two states the event carries the state as ``value``. First-occurrence dates
follow the true causal order (topological depth) with Gaussian noise, so temporal
precedence is informative but not perfect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from kg_editor.data.sources.base import EHRSource

__all__ = ["SyntheticCohort", "network_events", "wide_chain"]


@dataclass
class SyntheticCohort:
    """A synthetic source with its ground truth."""

    source: EHRSource
    true_edges: list[tuple[str, str]]
    model: Any
    reference_states: dict[str, str]
    samples: pd.DataFrame

    def wide_source(self) -> EHRSource:
        """The same patients as an undated wide table: one column per node, its most
        common state first (the reference state), no dates.

        Examples
        --------
        >>> w = network_events("asia", 200, seed=1).wide_source()
        >>> w.kind, w.wide.shape
        ('wide', (200, 8))
        """
        wide = self.samples.copy()
        for c in wide.columns:
            ref = self.reference_states[c]
            states = wide[c].astype(str)
            cats = [ref, *sorted(s for s in states.unique() if s != ref)]
            wide[c] = pd.Categorical(states, categories=cats)
        wide.index = pd.Index([f"S{i:07d}" for i in range(len(wide))], name="patient_id")
        src = EHRSource.from_frames(
            pd.DataFrame(columns=["patient_id", "code", "date"]),
            pd.DataFrame(columns=["patient_id"]),
            name=f"wide-{self.source.name}",
        )
        src.wide = wide
        src.kind = "wide"
        return src


def network_events(
    name: str,
    n_patients: int = 20_000,
    *,
    seed: int = 0,
    date_noise_days: float = 20.0,
    step_days: float = 30.0,
) -> SyntheticCohort:
    """Sample ``n_patients`` from a bundled network and turn them into dated events.

    Examples
    --------
    >>> syn = network_events("asia", 200, seed=1)
    >>> syn.source.events.columns.tolist()[:3], len(syn.true_edges)
    (['patient_id', 'code', 'date'], 8)
    """
    from kg_editor.model.fit import bundled_network, sample_network

    model = bundled_network(name)
    samples = sample_network(model, n_patients, seed=seed)
    rng = np.random.default_rng(seed + 7919)
    g = nx.DiGraph(list(model.edges()))
    g.add_nodes_from(model.nodes())
    depth: dict[str, int] = {}
    for node in nx.topological_sort(g):
        preds = list(g.predecessors(node))
        depth[node] = 0 if not preds else 1 + max(depth[p] for p in preds)
    reference = {}
    for node in model.nodes():
        cpd = model.get_cpds(node)
        marg = samples[node].value_counts()
        reference[node] = str(marg.index[0]) if len(marg) else str(cpd.state_names[node][0])
    base = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 3650, n_patients), unit="D")
    pids = np.array([f"S{i:07d}" for i in range(n_patients)])
    frames = []
    for node in sorted(model.nodes()):
        vals = samples[node].to_numpy()
        hit = vals != reference[node]
        if not hit.any():
            continue
        k = int(hit.sum())
        offs = depth[node] * step_days + rng.normal(0.0, date_noise_days, k)
        n_states = len(model.get_cpds(node).state_names[node])
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": pids[hit],
                    "code": node,
                    "date": base[hit] + pd.to_timedelta(np.round(offs), unit="D"),
                    "description": node.replace("_", " "),
                    "domain": "condition",
                    "value": vals[hit] if n_states > 2 else None,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True)
    persons = pd.DataFrame(
        {
            "patient_id": pids,
            "sex": rng.choice(np.array(["F", "M"]), n_patients),
            "birth_year": rng.integers(1930, 2000, n_patients),
        }
    )
    src = EHRSource.from_frames(events, persons, name=f"synthetic-{name}")
    src.kind = "synthetic"
    return SyntheticCohort(
        source=src,
        true_edges=sorted((str(u), str(v)) for u, v in model.edges()),
        model=model,
        reference_states=reference,
        samples=samples,
    )


def wide_chain(
    n_variables: int = 200, n_patients: int = 1500, *, seed: int = 4
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """A wide table of ``n_variables`` binary variables ``v000``... feeding an ``outcome``,
    and the edges of its generating chain (plus a skip edge every fifth variable): a
    large cohort for layout and latency checks, built in a fraction of a second.

    Examples
    --------
    >>> table, edges = wide_chain(10, 100)
    >>> table.shape, edges[:2], edges[-1]
    ((100, 12), [('v000', 'v001'), ('v001', 'v002')], ('v009', 'outcome'))
    """
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {"patient_id": [f"P{i:05d}" for i in range(n_patients)]}
    prev = rng.random(n_patients) < 0.3
    for j in range(n_variables):
        flip = rng.random(n_patients) < 0.15
        cur = np.where(flip, ~prev, prev) if j % 3 else rng.random(n_patients) < 0.25
        cols[f"v{j:03d}"] = np.where(cur, "present", "absent")
        prev = cur
    cols["outcome"] = np.where(prev | (rng.random(n_patients) < 0.1), "present", "absent")
    codes = [f"v{j:03d}" for j in range(n_variables)]
    edges = [(codes[j], codes[j + 1]) for j in range(n_variables - 1)]
    edges += [(codes[j], codes[j + 7]) for j in range(0, n_variables - 7, 5)]
    edges.append((codes[-1], "outcome"))
    return pd.DataFrame(cols), edges
