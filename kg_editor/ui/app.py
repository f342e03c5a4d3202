"""The Dash app factory of the web editor.

Examples
--------
>>> app = create_app("demo", "Gastrointestinal hemorrhage")  # doctest: +SKIP
>>> app.run(host="127.0.0.1", port=8050)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import dash
import dash_cytoscape as cyto
import flask
from dash import html

from kg_editor.errors import KGEditorError
from kg_editor.ui.editor.callbacks import register_callbacks
from kg_editor.ui.editor.cards import node_details
from kg_editor.ui.editor.layout import FOCUS_THRESHOLD, editor_layout
from kg_editor.ui.editor.render import render_view, visible_nodes
from kg_editor.ui.state import SessionRegistry, valid_session_id
from kg_editor.ui.teaching.callbacks import register_teaching_callbacks
from kg_editor.ui.versions.callbacks import (
    is_versions_request,
    register_versions_callbacks,
    versions_page,
)

__all__ = ["assets_folder", "create_app"]

logger = logging.getLogger(__name__)


def assets_folder() -> Path:
    """The ``assets/`` folder (CSS, edgehandles, glue script): at the project root in a
    checkout or editable install, under ``<prefix>/share/kg-editor`` otherwise."""
    import sys

    here = Path(__file__).resolve()
    share = Path(sys.prefix) / "share" / "kg-editor" / "assets"
    for cand in (here.parents[2] / "assets", share):
        if (cand / "kg_editor.css").exists():
            return cand
    return here.parents[2] / "assets"


def _requested_session() -> str | None:
    """The ``?session=`` of the page that asked for the layout (from the referrer)."""
    try:
        ref = flask.request.referrer or ""
    except RuntimeError:  # outside a request
        return None
    values = parse_qs(urlparse(ref).query).get("session")
    return values[0] if values and valid_session_id(values[0]) else None


def _binary_options(session: Any) -> list[dict[str, str]]:
    out = []
    for code in session.graph.nodes:
        var = session.cohort.variables.get(code)
        if var is not None and len(var.states) == 2:
            out.append({"label": session.graph.label(code), "value": str(code)})
    return sorted(out, key=lambda o: o["label"].lower())


def create_app(
    source: str = "demo",
    target: str | None = None,
    store_url: str | None = None,
    *,
    graph: Any = None,
    cohort: Any = None,
    registry: SessionRegistry | None = None,
    session_options: dict[str, Any] | None = None,
    cohort_options: dict[str, Any] | None = None,
    title: str = "kg-editor",
) -> dash.Dash:
    """Build the editor app.

    Parameters
    ----------
    source : str
        EHR source (``"demo"`` or a path), read once.
    target : str, optional
        Target diagnosis (code or label); the demo's default is gastrointestinal
        haemorrhage.
    store_url : str, optional
        SQLAlchemy URL of the version/session store (default: the user's SQLite file).
    graph : CausalGraph, optional
        Start from this graph instead of distilling one.
    cohort : Cohort, optional
        Use this cohort instead of building it from ``source``.
    registry : SessionRegistry, optional
        Share a registry (tests, benchmarks); built from the arguments above otherwise.

    Returns
    -------
    dash.Dash
        ``app.server`` is the Flask app; ``app.registry`` the session registry.
    """
    if target is None and source.strip().lower() == "demo":
        from kg_editor.data.sources.demo import DEMO_TARGET

        target = DEMO_TARGET
    reg = registry or SessionRegistry(
        source,
        target,
        store_url=store_url,
        graph=graph,
        cohort=cohort,
        cohort_options=cohort_options,
        session_options=session_options,
    )
    os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")
    cyto.load_extra_layouts()
    app = dash.Dash(
        __name__,
        title=title,
        assets_folder=str(assets_folder()),
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.registry = reg  # type: ignore[attr-defined]

    def layout() -> Any:
        if not flask.has_request_context():  # Dash inspecting the layout at start-up
            return html.Div(className="kg-app")
        try:
            sid = _requested_session()
            if sid is None or not reg.exists(sid):
                sid = reg.create()
            if is_versions_request():
                return versions_page(reg, sid)
            with reg.reading(sid) as session:
                big = len(session.graph) > FOCUS_THRESHOLD
                nodes = visible_nodes(session, big, None, 2)
                view = render_view(session, nodes=nodes)
                options = sorted(
                    (
                        {"label": session.graph.label(n), "value": str(n)}
                        for n in session.graph.nodes
                    ),
                    key=lambda o: o["label"].lower(),
                )
                cohort_ = session.cohort
                name = getattr(cohort_, "source_name", None) or reg.source
                tgt = session.targets[0] if session.targets else None
                title_text = (
                    f"{name} · {cohort_.n_patients:,} patients · {len(session.graph)} variables · "
                    f"{len(session.graph.edges)} edges"
                )
                return editor_layout(
                    view,
                    session_id=sid,
                    title=title_text,
                    options=options,
                    target_options=_binary_options(session),
                    target=tgt,
                    focus_on=big,
                    n_nodes=len(session.graph),
                    author=session.author if session.author != "anonymous" else "",
                )
        except KGEditorError as exc:
            return html.Div(
                [html.H2("kg-editor cannot open this data"), html.P(str(exc))], className="fatal"
            )
        except Exception:
            logger.exception("could not build the editor page")
            return html.Div(
                [
                    html.H2("kg-editor could not start"),
                    html.P("The error was logged; see the server output."),
                ],
                className="fatal",
            )

    app.layout = layout
    register_callbacks(app, reg)
    register_versions_callbacks(app, reg)
    register_teaching_callbacks(app, reg)
    # exposed for tests: node details of the current session
    app.node_details = node_details  # type: ignore[attr-defined]
    return app
