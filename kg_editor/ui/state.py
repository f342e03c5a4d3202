"""What a request tells the web editor: which page, which session, which branch.

The browser holds ids and view state only; everything else lives in the store behind
the :class:`~kg_editor.workspace.Workspace`. These helpers read the page's URL (path and
query string, as the router's ``dcc.Location`` reports them) and the session stores.

Examples
--------
>>> page_of("/versions/"), page_of("/"), page_of(None)
('versions', 'editor', 'editor')
>>> branch_of("?session=3f2a9c0d1e2b4a5f&branch=dr_a"), branch_of(None)
('dr_a', 'main')
>>> session_of("?session=3f2a9c0d1e2b4a5f"), session_of("?session=../etc")
('3f2a9c0d1e2b4a5f', None)
>>> session_id({"session_id": "3f2a9c0d1e2b4a5f"}), session_id(None)
('3f2a9c0d1e2b4a5f', None)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from kg_editor.ui import ids
from kg_editor.workspace import valid_session_id

__all__ = ["branch_of", "page_of", "query_value", "session_id", "session_of"]


def query_value(search: str | None, key: str) -> str | None:
    """The first value of ``key`` in a query string (``"?a=1&b=2"``), stripped."""
    values = parse_qs((search or "").lstrip("?")).get(key)
    return values[0].strip() if values and values[0].strip() else None


def page_of(pathname: str | None) -> str:
    """``"versions"`` for the versions page's path, ``"editor"`` for any other."""
    path = (pathname or "/").rstrip("/")
    return "versions" if path.endswith(ids.VERSIONS_PATH) else "editor"


def branch_of(search: str | None) -> str:
    """The branch named by ``?branch=`` (default ``main``)."""
    return query_value(search, "branch") or "main"


def session_of(search: str | None) -> str | None:
    """The session id of ``?session=``, when it is shaped like one."""
    value = query_value(search, "session")
    return value if valid_session_id(value) else None


def session_id(data: Any) -> str | None:
    """The session id held by a page's session store (``{"session_id": ...}``)."""
    value = (data or {}).get("session_id") if isinstance(data, dict) else None
    return str(value) if value is not None else None
