"""External validation and pooling from a site's count tables: no patient row leaves a site.

A site runs ``kg-editor counts export`` and sends back :class:`SiteCounts`: for a
graph's variables,

* one *family table* per node (the node and its parents: patients per combination of
  states), enough to refit the CPDs and to score the held-out log-likelihood of any
  model with those families;
* one *blanket table* per target (the target, its Markov blanket, sex and age band),
  enough for AUROC, Brier, accuracy, calibration and subgroup figures.

Small cells are suppressed before the tables are written: rows with fewer than
``min_cell`` patients are left out, and each table states how many rows and patients
were (its *remainder*). With ``min_cell=1`` nothing is left out and every figure
computed from the tables equals the one computed on the site's rows (the tests prove
it); otherwise the figures cover the patients counted, and the report says how many.

Tables carry state *names*, not codes, so sites whose values were coded in a different
order still line up. Summing the family tables of several sites gives the pooled counts:
:func:`pooled_families` fits the CPDs the pooled rows would give.

Examples
--------
>>> from kg_editor.model.session import demo_cohort_for_doctest
>>> cohort, graph = demo_cohort_for_doctest()
>>> site = SiteCounts.from_cohort(cohort, graph, ["lung"], min_cell=1, site="A")
>>> sorted(site.tables)[:2], site.tables["blanket:lung"].n + site.tables["blanket:lung"].remainder[1]
(['blanket:lung', 'family:asia'], 600)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg_editor.engines.patterns import Patterns
from kg_editor.errors import FormatError, KGEditorError
from kg_editor.model.fit import ESTIMATORS, CodeTable, Family, _strides, family_counts
from kg_editor.model.metrics import (
    group_codes,
    markov_blanket_factor,
    posterior_from_factors,
    target_metrics,
)

__all__ = [
    "COUNTS_FORMAT",
    "CountTable",
    "SiteCounts",
    "external_report",
    "pooled_families",
    "side_by_side",
]

COUNTS_FORMAT = "kg-editor-counts"
SUBGROUP_KEYS = ("sex", "age_band")


@dataclass(frozen=True)
class CountTable:
    """Patients per combination of states of some variables (and subgroup keys).

    Attributes
    ----------
    name : str
        ``family:NODE`` or ``blanket:TARGET``.
    columns : tuple of str
        Variable codes; the first is the family's node or the blanket's target.
    keys : tuple of str
        Subgroup columns (``sex``, ``age_band``) that are part of each row.
    rows : DataFrame
        One row per combination: state names per column, key values, and ``n``.
    remainder : (int, int)
        Rows and patients left out by suppression.
    """

    name: str
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    rows: pd.DataFrame
    remainder: tuple[int, int] = (0, 0)

    @property
    def n(self) -> int:
        """Patients counted (those left out by suppression excluded)."""
        return int(self.rows["n"].sum()) if len(self.rows) else 0

    def patterns(self, states: Mapping[str, Sequence[str]]) -> Patterns:
        """The table as weighted patterns coded with ``states`` (the model's)."""
        codes = np.zeros((len(self.rows), len(self.columns)), np.int8)
        for j, c in enumerate(self.columns):
            lookup = {str(s): i for i, s in enumerate(states[c])}
            vals = self.rows[c].astype(str).tolist()
            unknown = sorted({v for v in vals if v not in lookup})
            if unknown:
                raise KGEditorError(
                    f"The count table {self.name!r} has state(s) {', '.join(map(repr, unknown[:5]))} "
                    f"of {c!r} that the model does not know (its states: {', '.join(states[c])}). "
                    "Map the site's values to the same states before exporting."
                )
            codes[:, j] = [lookup[v] for v in vals]
        return Patterns.from_arrays(
            self.columns,
            {c: len(states[c]) for c in self.columns},
            codes,
            self.rows["n"].to_numpy().astype(np.int64),
            extra={k: self.rows[k].astype(str).to_numpy() for k in self.keys},
            remainder=self.remainder,
        )


def _suppressed_table(
    name: str,
    frame: pd.DataFrame,
    cols: Sequence[str],
    states: Mapping[str, Sequence[str]],
    keys: Mapping[str, np.ndarray],
    min_cell: int,
) -> CountTable:
    cards = {c: len(states[c]) for c in cols}
    pats = Patterns.from_frame(frame[list(cols)], cards, dict(keys) or None)
    assert isinstance(pats, Patterns)
    keep = pats.weights >= min_cell
    out = {c: np.asarray(states[c], dtype=object)[pats.codes[keep, j]] for j, c in enumerate(cols)}
    for k in keys:
        out[k] = pats.extra[k][keep]
    out["n"] = pats.weights[keep]
    rem = (int((~keep).sum()), int(pats.weights[~keep].sum()))
    return CountTable(name, tuple(cols), tuple(keys), pd.DataFrame(out), rem)


@dataclass
class SiteCounts:
    """A site's suppressed count tables for one graph's variables.

    Attributes
    ----------
    site : str
    min_cell : int
        Rows with fewer patients were suppressed (1: none).
    states : dict
        Variable code -> state names (the exporting cohort's).
    parents : dict
        The graph's families at export time: node -> parents.
    targets : list of str
    tables : dict
        Table name -> :class:`CountTable`.
    patients : int
        Patients the tables describe (before suppression).
    split : str
        Which of the site's patients were counted: ``all``, ``train`` or ``test``.
    """

    site: str
    min_cell: int
    states: dict[str, tuple[str, ...]]
    parents: dict[str, tuple[str, ...]]
    targets: list[str]
    tables: dict[str, CountTable]
    patients: int
    split: str = "all"
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    # ------------------------------------------------------------------ export
    @classmethod
    def from_cohort(
        cls,
        cohort: Any,
        graph: Any,
        targets: Sequence[str],
        *,
        min_cell: int = 11,
        site: str = "site",
        split: str = "all",
    ) -> SiteCounts:
        """Count tables of ``cohort``'s patients for ``graph``'s families and targets'
        Markov blankets, suppressed below ``min_cell``."""
        if split not in ("all", "train", "test"):
            raise KGEditorError(f"split must be 'all', 'train' or 'test', got {split!r}.")
        if min_cell < 1:
            raise KGEditorError(f"The suppression threshold must be at least 1, got {min_cell}.")
        data = {"all": cohort.data, "train": cohort.train, "test": cohort.test}[split]
        persons = cohort.persons.loc[data.index]
        states = {c: tuple(cohort.states[c]) for c in graph.nodes}
        parents = {n: tuple(sorted(graph.parents(n))) for n in graph.nodes}
        tables: dict[str, CountTable] = {}
        for n in graph.nodes:
            tables[f"family:{n}"] = _suppressed_table(
                f"family:{n}", data, (n, *parents[n]), states, {}, min_cell
            )
        keys = {k: persons[k].astype(str).to_numpy() for k in SUBGROUP_KEYS if k in persons}
        tgts = [graph.resolve(t) for t in targets]
        for t in tgts:
            mb = sorted(graph.markov_blanket(t))
            tables[f"blanket:{t}"] = _suppressed_table(
                f"blanket:{t}", data, (t, *mb), states, keys, min_cell
            )
        return cls(site, int(min_cell), states, parents, tgts, tables, int(data.shape[0]), split)

    @classmethod
    def from_engine(
        cls,
        source: Any,
        graph: Any,
        targets: Sequence[str],
        *,
        min_cell: int = 11,
        site: str | None = None,
    ) -> SiteCounts:
        """The same tables counted and suppressed inside the engine holding the data
        (an :class:`kg_editor.engines.EngineSource`): only the kept rows of each table
        and its remainder leave it. Every patient is counted (``split="all"``); graph
        variables must be event codes (sex and age band are the blanket tables' keys).
        Concept sets and an index date: pass ``source.prepared(...)``."""
        from kg_editor.engines import Var
        from kg_editor.engines.queries import split_units_sql

        if min_cell < 1:
            raise KGEditorError(f"The suppression threshold must be at least 1, got {min_cell}.")
        all_states, _ = source._states(source.code_values())
        missing = [n for n in graph.nodes if n not in all_states]
        if missing:
            raise KGEditorError(
                f"The graph's variable(s) {', '.join(map(repr, missing[:5]))} are not event codes "
                f"in {source.name!r}; export from an in-memory cohort (a file SOURCE) or remove them."
            )
        states = {n: tuple(all_states[n]) for n in graph.nodes}
        parents = {n: tuple(sorted(graph.parents(n))) for n in graph.nodes}
        tables: dict[str, CountTable] = {}

        def table(
            name: str, cols: Sequence[str], keys: Sequence[str], units: str | None
        ) -> CountTable:
            pats = source.patterns(
                [Var(c, states[c]) for c in cols], keys=keys, min_count=min_cell, units=units
            )
            out = {
                c: np.asarray(states[c], dtype=object)[pats.codes[:, j]] for j, c in enumerate(cols)
            }
            for k in keys:
                out[k] = pats.extra[k]
            out["n"] = pats.weights
            return CountTable(name, tuple(cols), tuple(keys), pd.DataFrame(out), pats.remainder)

        for n in graph.nodes:
            tables[f"family:{n}"] = table(f"family:{n}", (n, *parents[n]), (), None)
        units = split_units_sql(
            source.events,
            None,
            test_size=0.0,
            persons=source.persons,
            age_dates=source.age_dates,
        )
        tgts = [graph.resolve(t) for t in targets]
        for t in tgts:
            mb = sorted(graph.markov_blanket(t))
            tables[f"blanket:{t}"] = table(f"blanket:{t}", (t, *mb), SUBGROUP_KEYS, units)
        first = next(iter(tables.values()), None)
        patients = (first.n + first.remainder[1]) if first is not None else 0
        return cls(
            site or source.name, int(min_cell), states, parents, tgts, tables, patients, "all"
        )

    # ------------------------------------------------------------------ files
    def write(self, folder: str | Path) -> Path:
        """Write ``manifest.json`` and one CSV per table into ``folder``."""
        out = Path(folder)
        (out / "tables").mkdir(parents=True, exist_ok=True)
        specs: list[dict[str, Any]] = []
        manifest: dict[str, Any] = {
            "format": COUNTS_FORMAT,
            "version": 1,
            "site": self.site,
            "created": self.created,
            "split": self.split,
            "patients": self.patients,
            "suppression": {
                "min_cell": self.min_cell,
                "rule": f"rows with fewer than {self.min_cell} patients are left out; "
                "each table states how many rows and patients that removed",
            },
            "states": {c: list(s) for c, s in self.states.items()},
            "parents": {n: list(p) for n, p in self.parents.items()},
            "targets": self.targets,
            "tables": specs,
        }
        for i, (name, t) in enumerate(self.tables.items()):
            fname = f"tables/{i:03d}_{name.split(':', 1)[0]}.csv"
            t.rows.to_csv(out / fname, index=False)
            specs.append(
                {
                    "name": name,
                    "file": fname,
                    "columns": list(t.columns),
                    "keys": list(t.keys),
                    "patients_counted": t.n,
                    "suppressed_rows": t.remainder[0],
                    "suppressed_patients": t.remainder[1],
                }
            )
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return out

    @classmethod
    def read(cls, folder: str | Path) -> SiteCounts:
        """Read a folder written by :meth:`write` (``kg-editor counts export``)."""
        root = Path(folder)
        path = root / "manifest.json"
        if not path.exists():
            raise FormatError(
                f"{root} has no manifest.json; give the folder `kg-editor counts export` wrote."
            )
        m = json.loads(path.read_text(encoding="utf-8"))
        if m.get("format") != COUNTS_FORMAT:
            raise FormatError(
                f"{path} is not a kg-editor count export (format {m.get('format')!r})."
            )
        tables = {}
        for spec in m["tables"]:
            cols = [*spec["columns"], *spec["keys"]]
            rows = pd.read_csv(root / spec["file"], dtype=dict.fromkeys(cols, str))
            rows["n"] = rows["n"].astype(np.int64)
            tables[spec["name"]] = CountTable(
                spec["name"],
                tuple(spec["columns"]),
                tuple(spec["keys"]),
                rows,
                (int(spec["suppressed_rows"]), int(spec["suppressed_patients"])),
            )
        return cls(
            m["site"],
            int(m["suppression"]["min_cell"]),
            {c: tuple(s) for c, s in m["states"].items()},
            {n: tuple(p) for n, p in m["parents"].items()},
            list(m["targets"]),
            tables,
            int(m["patients"]),
            m.get("split", "all"),
            m.get("created", ""),
        )


# ------------------------------------------------------------------ evaluation
def _family_table(site: SiteCounts, fam: Family) -> CountTable | None:
    t = site.tables.get(f"family:{fam.node}")
    if t is None or tuple(sorted(t.columns[1:])) != fam.parents:
        return None
    return t


def external_report(
    families: Mapping[str, Family],
    site: SiteCounts,
    states: Mapping[str, Sequence[str]],
    targets: Sequence[str] | None = None,
    graph: Any = None,
    bins: int = 10,
) -> dict[str, Any]:
    """Accuracy of a fitted model on another site, from that site's count tables.

    Parameters
    ----------
    families : mapping
        The fitted model (``EditSession.families``).
    site : SiteCounts
    states : mapping
        The model's state names (``cohort.states``).
    targets : sequence of str, optional
        Default: the site's targets that are in the model.
    graph : CausalGraph, optional
        The model's graph (for the Markov blanket); default from ``families``.

    Returns
    -------
    dict
        ``loglik_per_patient`` (``None`` when a family's table is missing: the graph
        changed since export), ``n``, suppression, and per target the same block as the
        internal report (AUROC, Brier, accuracy, ECE, reliability, ROC, subgroups).
    """
    missing = [n for n, f in families.items() if _family_table(site, f) is None]
    ll = None
    counted: list[int] = []
    if not missing:
        # each family's term is averaged over the patients its table counts: the
        # per-patient held-out log-likelihood when nothing was suppressed
        ll = 0.0
        for f in families.values():
            ft = _family_table(site, f)
            assert ft is not None
            pats = ft.patterns(states)
            cols = (f.node, *f.parents)
            order = [list(ft.columns).index(c) for c in cols]
            table = CodeTable.from_patterns(
                pats.codes[:, order], cols, {c: len(states[c]) for c in cols}, pats.weights
            )
            counts = family_counts(table, f.node, f.parents)
            term = float(
                np.where(counts > 0, counts * np.where(counts > 0, f.log_cpd, 0.0), 0.0).sum()
            )
            n_f = int(counts.sum())
            counted.append(n_f)
            ll += term / n_f if n_f else 0.0
    children: dict[str, list[str]] = {n: [] for n in families}
    for n, f in families.items():
        for p in f.parents:
            children.setdefault(p, []).append(n)
    out_targets: dict[str, Any] = {}
    for t in targets if targets is not None else [x for x in site.targets if x in families]:
        tab = site.tables.get(f"blanket:{t}")
        fams = [families[t], *(families[c] for c in sorted(children.get(t, [])))]
        need = {t} | {p for f in fams for p in f.parents} | {f.node for f in fams}
        if tab is None or not need <= set(tab.columns):
            out_targets[t] = {
                "available": False,
                "reason": f"the site's blanket table for {t!r} lacks "
                f"{', '.join(sorted(need - set(tab.columns if tab else ())))}; export again with "
                "the current graph",
            }
            continue
        pats = tab.patterns(states)
        test = CodeTable.from_patterns(
            pats.codes, pats.columns, {c: len(states[c]) for c in pats.columns}, pats.weights
        )
        fresh = [_uncached(f) for f in fams]
        post = posterior_from_factors([markov_blanket_factor(f, t, test) for f in fresh])
        groups = {k: group_codes(pats.extra[k]) for k in tab.keys}
        block, _, _ = target_metrics(test.columns[t], post, groups, bins=bins, weights=test.weights)
        out_targets[t] = {
            "available": True,
            "suppressed_rows": tab.remainder[0],
            "suppressed_patients": tab.remainder[1],
            **block,
        }
    return {
        "site": site.site,
        "patients": site.patients,
        "split": site.split,
        "min_cell": site.min_cell,
        "loglik_per_patient": ll,
        "families_missing": missing,
        "families_counted_patients": min(counted) if counted else None,
        "note": (
            f"rows with fewer than {site.min_cell} patients were suppressed at the site"
            if site.min_cell > 1
            else "nothing was suppressed"
        ),
        "targets": out_targets,
    }


def _uncached(f: Family) -> Family:
    """The same fitted family with an empty cache (per-table caches are keyed by id)."""
    return f.uncached()


def side_by_side(internal: Any, external: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows ``metric, target, internal, external`` for a report and an external one."""
    acc = internal.accuracy if hasattr(internal, "accuracy") else internal["accuracy"]
    tg = internal.targets if hasattr(internal, "targets") else internal["targets"]
    rows = [
        {
            "target": None,
            "metric": "loglik_per_patient",
            "internal": acc["loglik_per_patient"],
            "external": external["loglik_per_patient"],
        }
    ]
    for t, block in tg.items():
        ext = external["targets"].get(t, {})
        for m in ("auroc", "brier", "accuracy", "ece", "prevalence", "n"):
            rows.append(
                {"target": t, "metric": m, "internal": block.get(m), "external": ext.get(m)}
            )
        for r in block.get("subgroups", []):
            er: Mapping[str, Any] = next(
                (
                    x
                    for x in ext.get("subgroups", [])
                    if x["attribute"] == r["attribute"] and x["group"] == r["group"]
                ),
                {},
            )
            rows.append(
                {
                    "target": t,
                    "metric": f"auroc[{r['attribute']}={r['group']}]",
                    "internal": r["auroc"],
                    "external": er.get("auroc"),
                }
            )
    return rows


# ------------------------------------------------------------------ pooling
def pooled_families(
    sites: Sequence[SiteCounts],
    states: Mapping[str, Sequence[str]],
    parents: Mapping[str, Sequence[str]] | None = None,
    *,
    estimator: str = "bdeu",
    equivalent_sample_size: float = 10.0,
) -> dict[str, Family]:
    """CPDs fitted from the summed family tables of several sites.

    Equal to fitting the pooled rows (when nothing was suppressed; otherwise the
    suppressed patients are missing from the pool and each site states how many).
    """
    if not sites:
        raise KGEditorError("Give at least one site's count tables to pool.")
    pa = {n: tuple(sorted(p)) for n, p in (parents or sites[0].parents).items()}
    out: dict[str, Family] = {}
    for node, ps in pa.items():
        cards = [len(states[c]) for c in (node, *ps)]
        total = np.zeros((cards[0], int(np.prod(cards[1:], dtype=np.int64))), np.int64)
        for s in sites:
            t = s.tables.get(f"family:{node}")
            if t is None or tuple(sorted(t.columns[1:])) != ps:
                raise KGEditorError(
                    f"Site {s.site!r} has no family table for {node!r} with parents "
                    f"{', '.join(ps) or '(none)'}; every site must export the same graph."
                )
            pats = t.patterns(states)
            cols = (node, *ps)
            order = [list(t.columns).index(c) for c in cols]
            table = CodeTable.from_patterns(
                pats.codes[:, order], cols, {c: len(states[c]) for c in cols}, pats.weights
            )
            total += family_counts(table, node, ps)
        cpd = ESTIMATORS[estimator.lower()](total, equivalent_sample_size)
        out[node] = Family(
            node=node,
            parents=ps,
            card=cards[0],
            parent_cards=tuple(cards[1:]),
            counts=total,
            cpd=cpd,
            strides=_strides(cards[1:]),
        )
    return out
