"""Teaching mode: beliefs under findings, seeing versus doing, active trails, adjustment sets.

Pure functions over a graph or a fitted model (:mod:`.paths`, :mod:`.adjustment`,
:mod:`.queries`, :mod:`.scenarios`; beliefs in :mod:`.beliefs`); every output is JSON-ready (plain dicts,
lists, strings and floats) so the canvas can draw it as is. Probabilities come from the
pgmpy adapter :mod:`kg_editor.teaching.beliefs` (exact variable elimination); graph questions
(d-separation, trails, back-door sets) are answered with networkx.

``model`` arguments take a :class:`~kg_editor.teaching.beliefs.TeachingModel` or a fitted pgmpy
``DiscreteBayesianNetwork``; ``graph`` arguments take a
:class:`~kg_editor.model.graph.CausalGraph`, a TeachingModel or any networkx ``DiGraph``.
Nodes may be named by id or by label.

Examples
--------
>>> from kg_editor.teaching.beliefs import TeachingModel
>>> tm = TeachingModel.from_bundled("asia")
>>> round(posteriors(tm, {"xray": "yes"})["lung"]["yes"], 3)
0.489
>>> [t["text"] for t in active_trails(tm, "smoke", "dysp")]
['smoke -> bronc -> dysp', 'smoke -> lung -> either -> dysp']
>>> [sorted(s) for s in adjustment_sets(tm, "either", "dysp")]  # smoking confounds
[['bronc'], ['lung'], ['smoke'], ['lung', 'tub']]
>>> sd = seeing_vs_doing(tm, "either", "yes", "dysp")
>>> round(sd["seeing"]["yes"], 3), round(sd["doing"]["yes"], 3), sd["open_backdoor_paths"][0]["text"]
(0.811, 0.79, 'either <- lung <- smoke -> bronc -> dysp')
"""

from __future__ import annotations

from kg_editor.teaching.adjustment import adjustment_report, adjustment_sets, is_backdoor_set
from kg_editor.teaching.beliefs import ImpossibleFindingsError, TeachingModel, as_teaching_model
from kg_editor.teaching.paths import TRAIL_SEARCH_BUDGET, active_trails, d_separated, path_report
from kg_editor.teaching.queries import belief_update, posteriors, seeing_vs_doing
from kg_editor.teaching.scenarios import (
    SCENARIO_FORMAT,
    SCENARIO_FORMAT_VERSION,
    Scenario,
    dump_scenarios,
    load_scenarios,
    replay,
)

__all__ = [
    "SCENARIO_FORMAT",
    "SCENARIO_FORMAT_VERSION",
    "TRAIL_SEARCH_BUDGET",
    "ImpossibleFindingsError",
    "Scenario",
    "TeachingModel",
    "active_trails",
    "adjustment_report",
    "adjustment_sets",
    "as_teaching_model",
    "belief_update",
    "d_separated",
    "dump_scenarios",
    "is_backdoor_set",
    "load_scenarios",
    "path_report",
    "posteriors",
    "replay",
    "seeing_vs_doing",
]
