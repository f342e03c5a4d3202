"""What a request tells the web editor: which page, which session, which branch.

The browser holds ids and view state only; everything else lives in the store behind
the :class:`~kg_editor.workspace.Workspace`. These helpers read the page's URL (path and
query string, as the router's ``dcc.Location`` reports them) and the session stores.

Examples
--------
>>> page_of("/versions/"), page_of("/sessions"), page_of("/"), page_of(None)
('versions', 'sessions', 'editor', 'editor')
>>> creates_session("/", ""), creates_session("/", "?session=x"), creates_session("/sessions", "")
(True, False, False)
>>> branch_of("?session=3f2a9c0d1e2b4a5f&branch=dr_a"), branch_of(None)
('dr_a', 'main')
>>> session_id({"session_id": "3f2a9c0d1e2b4a5f"}), session_id(None)
('3f2a9c0d1e2b4a5f', None)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from kg_editor.ui import ids

__all__ = [
    "branch_of",
    "creates_session",
    "page_of",
    "query_value",
    "session_id",
]


def query_value(search: str | None, key: str) -> str | None:
    """The first value of ``key`` in a query string (``"?a=1&b=2"``), stripped."""
    values = parse_qs((search or "").lstrip("?")).get(key)
    return values[0].strip() if values and values[0].strip() else None


def page_of(pathname: str | None) -> str:
    """``"versions"`` or ``"sessions"`` for those pages' paths, ``"editor"`` for any other."""
    path = (pathname or "/").rstrip("/")
    if path.endswith(ids.VERSIONS_PATH):
        return "versions"
    return "sessions" if path.endswith(ids.SESSIONS_PATH) else "editor"


def creates_session(pathname: str | None, search: str | None) -> bool:
    """True when loading this address opens a new editing session: the editor or the
    versions page without ``?session=`` (an unknown session id opens none: its page says
    so and links to the person's sessions)."""
    return page_of(pathname) != "sessions" and query_value(search, "session") is None


def branch_of(search: str | None) -> str:
    """The branch named by ``?branch=`` (default ``main``)."""
    return query_value(search, "branch") or "main"


def session_id(data: Any) -> str | None:
    """The session id held by a page's session store (``{"session_id": ...}``)."""
    value = (data or {}).get("session_id") if isinstance(data, dict) else None
    return str(value) if value is not None else None
