"""The concept boxes of the editor and teaching mode, ranked by :func:`kg_editor.model.search.rank_concepts`.

Each "find a concept" dropdown sends what the user types (``search_value``) here; the
callback answers with the matching options, exact and prefix matches of labels and codes
first (ties: more patients first, then alphabetical). The dropdowns keep that order
(``search_order="original"``). The selected option is always kept in the list, so a
search never clears a choice.

Examples
--------
>>> opts = concept_options({"a": "Essential hypertension", "b": "Portal hypertension",
...                         "c": "Other hypotension"}, "hypertension")
>>> [o["label"] for o in opts]
['Essential hypertension', 'Portal hypertension']
>>> [o["value"] for o in concept_options({"a": "A", "b": "B"}, "", value="b")]
['a', 'b']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, no_update

from kg_editor.model.search import rank_concepts
from kg_editor.ui import ids
from kg_editor.ui.state import session_id

__all__ = ["CONCEPT_BOXES", "MAX_OPTIONS", "concept_options", "register_search_callbacks"]

logger = logging.getLogger(__name__)

#: At most this many options while the user types.
MAX_OPTIONS = 60

#: The dropdowns that pick one variable of the graph.
CONCEPT_BOXES = (
    ids.SEARCH,
    ids.TEACH_SET_NODE,
    ids.TEACH_CAUSE,
    ids.TEACH_OUTCOME,
    ids.TEACH_PATH_A,
    ids.TEACH_PATH_B,
)


def _option(cid: str, label: str) -> dict[str, str]:
    # "search" lets the dropdown's own filter keep options matched by their code
    return {"label": label, "value": cid, "search": f"{label} {cid}"}


def concept_options(
    labels: Mapping[str, str],
    query: str | None,
    *,
    value: str | None = None,
    weights: Mapping[str, float] | None = None,
    limit: int = MAX_OPTIONS,
) -> list[dict[str, str]]:
    """Dropdown options for ``query``: ranked matches, or every concept A-Z when it is empty.

    The option of ``value`` (the current choice) is always included.
    """
    if not (query or "").strip():
        order = sorted(labels, key=lambda n: (labels[n].casefold(), n))
    else:
        order = rank_concepts(str(query), labels, weights=weights, limit=limit)
        if value is not None and value in labels and value not in order:
            order.append(value)
    return [_option(n, labels[n]) for n in order]


def _weights(session: Any) -> dict[str, float]:
    """Patients with a non-zero state, per variable (breaks ties between equal matches)."""
    try:
        data = session.cohort.data
        return {str(c): float((data[c] > 0).sum()) for c in data.columns}
    except Exception:  # a session without a cohort table still searches
        return {}


def register_search_callbacks(app: Any, workspace: Any) -> None:
    """One small callback per concept box: ``search_value`` -> ranked ``options``."""
    for box in CONCEPT_BOXES:

        @app.callback(
            Output(box, "options"),
            Input(box, "search_value"),
            State(box, "value"),
            State(ids.SESSION, "data"),
            prevent_initial_call=True,
        )
        def search(query: Any, value: Any, session_data: Any) -> Any:
            try:
                with workspace.reading(session_id(session_data)) as session:
                    graph = session.graph
                    labels = {str(n): graph.label(n) for n in graph.nodes}
                    weights = _weights(session) if query else {}
            except Exception:
                logger.exception("concept search: could not read the session")
                return no_update
            return concept_options(
                labels, query, value=str(value) if value else None, weights=weights
            )
