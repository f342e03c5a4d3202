"""The web app's hardening layer: who may reach it, from where, with what, and as whom.

:func:`install_security` attaches Flask hooks to a Dash app's server. Every request then
passes, in order:

1. **Host allow-list** - the ``Host`` header must be a loopback name or one given in
   :attr:`SecurityPolicy.allowed_hosts`; a page on another site that re-points its own
   name at 127.0.0.1 (DNS rebinding) is refused.
2. **Origin check** - a request whose ``Origin`` (or ``Sec-Fetch-Site: cross-site``)
   says it comes from another site is refused.
3. **Size limits** - the body may be at most ``max_request_bytes``; in a Dash callback no
   text field (a rationale, a message, a comment) may exceed ``max_field_chars``. The
   refusal says which field and the limit.
4. **Sign-in** - when the store holds accounts, every page and callback needs a signed
   session cookie (HttpOnly, SameSite=Lax, Secure behind TLS) from the ``/login`` page;
   sign-in attempts are rate-limited per account and per client address.
5. **CSRF** - a state-changing request that carries credentials (the session cookie) or
   comes from a browser (``Origin``/``Sec-Fetch-*``) must echo the ``_csrf_token``
   cookie in the ``X-CSRFToken`` header, which Dash's renderer does by itself.
6. **Roles** - each Dash callback trigger that writes (edits, saves, votes ...) names
   the least role it needs (:data:`WRITE_TRIGGERS`); a viewer's edit is refused on the
   server, whatever the page shows. The author fields of a signed-in request are
   replaced by the account name, so the author of every edit and version is the
   signed-in account.
7. **Session creation** - opening a new editing session (the router callback of a page
   load without ``?session=``; an unknown id opens none, its page says so) is
   rate-limited per client address, and untouched anonymous sessions (nobody edited nor
   named them) older than ``anonymous_session_ttl`` are deleted.

The layer reads and writes the store through the application layer
(:class:`~kg_editor.workspace.Workspace`: its accounts, session revisions and expiry).

Every response carries ``X-Frame-Options: DENY``, a Content-Security-Policy with
``frame-ancestors 'none'`` that Dash runs under (script hashes from
``dash.Dash.csp_hashes``), ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: same-origin``.

Examples
--------
>>> app = create_app("demo")  # doctest: +SKIP
>>> install_security(app, app.workspace, SecurityPolicy(allowed_hosts=("kg.ward7.example",)))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

import flask
from werkzeug.wrappers import Response

from kg_editor.errors import AccessError
from kg_editor.ui import ids
from kg_editor.ui.state import creates_session
from kg_editor.versions.accounts import role_allows

if TYPE_CHECKING:
    from kg_editor.versions.accounts import Account
    from kg_editor.workspace import Workspace

__all__ = [
    "AUTHOR_FIELDS",
    "LOOPBACK_HOSTS",
    "WRITE_TRIGGERS",
    "Security",
    "SecurityPolicy",
    "current_account",
    "install_security",
    "required_role",
]

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
DASH_UPDATE = "/_dash-update-component"
#: Paths reachable without signing in (the login page needs its stylesheet).
PUBLIC_PATHS = ("/login", "/logout", "/assets/kg_editor.css", "/favicon.ico")

#: Component id (pattern ids: their ``type``) of a Dash callback trigger that writes ->
#: the least role allowed to fire it. Triggers not listed only read (selecting, focusing,
#: comparing, exporting, teaching queries) and are open to every signed-in role.
WRITE_TRIGGERS: dict[str, str] = {
    ids.CLIENT_ACTION: "editor",  # add/remove/reverse/undo/redo from the canvas
    ids.FORM_ADD: "editor",
    ids.EDGE_REMOVE: "editor",
    ids.EDGE_REVERSE: "editor",
    ids.UNDO: "editor",
    ids.REDO: "editor",
    ids.SUGGEST_ACCEPT: "editor",
    ids.SUGGEST_REJECT: "editor",
    ids.TARGET: "editor",
    ids.E_SAVE: "editor",
    ids.V_SAVE: "editor",
    ids.V_BRANCH: "editor",
    ids.V_RESTORE: "editor",
    ids.V_MERGE_SAVE: "editor",  # and a reviewer for a protected branch (the workspace checks)
    ids.TEACH_SCN_SAVE: "editor",
    "kg-vote": "reviewer",  # consensus votes (pattern: {"type": "kg-vote", ...})
    "kg-proposal-approve": "reviewer",
    "kg-proposal-reject": "reviewer",
}
#: Context-menu items of the canvas that edit (the others only show details).
_MENU_EDITS = (ids.MENU_REMOVE, ids.MENU_REVERSE)
#: Fields whose value a signed-in request has replaced by the account name.
AUTHOR_FIELDS: tuple[str, ...] = (ids.AUTHOR, ids.V_SAVE_AUTHOR, ids.S_NAME)


@dataclass(frozen=True)
class SecurityPolicy:
    """Settings of the hardening layer (defaults suit a ward's team server).

    Parameters
    ----------
    allowed_hosts : tuple of str
        Host names (without port) the app answers to, besides the loopback ones.
    max_request_bytes : int
        Largest request body accepted.
    max_field_chars : int
        Longest text field accepted in a Dash callback (rationale, message, comment).
    session_creations : int
        New anonymous editing sessions one client address may open per
        ``session_window``.
    anonymous_session_ttl : timedelta
        Sessions nobody edited are deleted after this long without use.
    login_lifetime : timedelta
        How long a sign-in lasts.
    secure_cookies : bool or None
        Mark cookies ``Secure``; ``None`` does so when the request came over TLS
        (``X-Forwarded-Proto: https`` counts only with ``trust_proxy``).
    trust_proxy : bool
        Believe ``X-Forwarded-For`` / ``X-Forwarded-Proto`` from a reverse proxy.
    """

    allowed_hosts: tuple[str, ...] = ()
    max_request_bytes: int = 1_000_000
    max_field_chars: int = 10_000
    session_creations: int = 60
    session_window: timedelta = timedelta(minutes=10)
    anonymous_session_ttl: timedelta = timedelta(days=2)
    login_lifetime: timedelta = timedelta(hours=12)
    secure_cookies: bool | None = None
    trust_proxy: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def hosts(self) -> frozenset[str]:
        return frozenset(h.lower().strip("[]") for h in (*LOOPBACK_HOSTS, *self.allowed_hosts))


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _KGRequest(flask.Request):
    """Flask's request whose parsed JSON the security layer may replace (author
    fields set to the signed-in account)."""

    kg_json: Any = None

    def get_json(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.kg_json is not None:
            return self.kg_json
        return super().get_json(*args, **kwargs)


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8050
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _component(prop_id: str) -> str:
    """``"kg-undo.n_clicks"`` -> ``"kg-undo"``; a pattern id -> its ``type``."""
    if prop_id.startswith("{"):
        try:
            return str(json.loads(prop_id.rsplit(".", 1)[0]).get("type", ""))
        except ValueError:
            return ""
    return prop_id.rsplit(".", 1)[0]


def _walk_values(items: Any) -> Iterator[tuple[Any, str, Any]]:
    """(id, property, value) of every input/state entry of a Dash request."""
    for it in items or []:
        if isinstance(it, list):  # pattern-matching ALL
            yield from _walk_values(it)
        elif isinstance(it, dict):
            yield it.get("id"), str(it.get("property", "")), it.get("value")


def _longest_text(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest_text(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_text(v) for v in value), default=0)
    return 0


def required_role(body: Mapping[str, Any]) -> str | None:
    """The least role a Dash callback request needs, from what triggered it (``None``:
    it only reads).

    Examples
    --------
    >>> required_role({"changedPropIds": ["kg-undo.n_clicks"]})
    'editor'
    >>> required_role({"changedPropIds": ["kg-canvas.tapNodeData"]}) is None
    True
    """
    need: str | None = None
    values = {
        (json.dumps(i, sort_keys=True) if isinstance(i, dict) else str(i), p): v
        for i, p, v in _walk_values([*(body.get("inputs") or [])])
    }
    for prop_id in body.get("changedPropIds") or []:
        comp = _component(str(prop_id))
        role = WRITE_TRIGGERS.get(comp)
        if comp == ids.CANVAS and str(prop_id).endswith(".contextMenuData"):
            item = (values.get((ids.CANVAS, "contextMenuData")) or {}).get("menuItemId")
            role = "editor" if item in _MENU_EDITS else None
        if role and (need is None or role_allows(role, need)):
            need = role
    return need


def current_account() -> Account | None:
    """The account signed in for the current request (``None``: nobody, or no
    accounts exist and the app runs single-user)."""
    return flask.g.get("kg_account") if flask.has_request_context() else None


class Security:
    """The installed layer (``app.security``); see the module docstring."""

    def __init__(self, app: Any, workspace: Workspace, policy: SecurityPolicy):
        self.app = app
        self.server: flask.Flask = app.server
        self.workspace = workspace
        self.accounts = workspace.accounts
        self.policy = policy
        self._hosts = policy.hosts()
        try:
            hashes = app.csp_hashes()
        except Exception:  # pragma: no cover - an older Dash
            hashes = []
        self.csp = "; ".join(
            [
                "default-src 'self'",
                "script-src 'self' " + " ".join(hashes),
                "style-src 'self' 'unsafe-inline'",
                "img-src 'self' data: blob:",
                "font-src 'self' data:",
                "connect-src 'self'",
                "worker-src 'self' blob:",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )

    # -- helpers ---------------------------------------------------------------------------
    def accounts_exist(self) -> bool:
        return self.accounts.any()

    def client(self) -> str:
        req = flask.request
        if self.policy.trust_proxy and req.headers.get("X-Forwarded-For"):
            return req.headers["X-Forwarded-For"].split(",")[0].strip()
        return req.remote_addr or "unknown"

    def over_tls(self) -> bool:
        req = flask.request
        if req.is_secure:
            return True
        return self.policy.trust_proxy and req.headers.get("X-Forwarded-Proto") == "https"

    def _secure(self) -> bool:
        return self.over_tls() if self.policy.secure_cookies is None else self.policy.secure_cookies

    def _refuse(self, status: int, message: str) -> Response:
        req = flask.request
        if req.path.startswith("/_dash") or req.is_json:
            resp = flask.jsonify({"error": message})
        else:
            page = (
                "<!doctype html><html><head><meta charset='utf-8'><title>kg-editor</title>"
                "<link rel='stylesheet' href='/assets/kg_editor.css'></head><body>"
                f"<main class='fatal'><h2>kg-editor refused this request</h2><p>{_esc(message)}</p>"
                "</main></body></html>"
            )
            resp = flask.make_response(page)
        resp.status_code = status
        return resp

    # -- the request gate ------------------------------------------------------------------
    def before(self) -> Response | None:
        try:
            self._check()
        except _Refused as exc:
            logger.info("refused %s %s: %s", flask.request.method, flask.request.path, exc.message)
            return self._refuse(exc.status, exc.message)
        except AccessError as exc:
            return self._refuse(403, str(exc))
        return None

    def _check(self) -> None:
        req = flask.request
        host = _host_name(req.host or "")
        if host not in self._hosts:
            raise _Refused(
                421,
                f"This editor does not answer to the address {host!r}. A page on another "
                "site may be trying to reach it (DNS rebinding). If this is your team's "
                "server name, start it with --allowed-host " + host + ".",
            )
        origin = req.headers.get("Origin")
        if origin and origin != "null":
            o = urlparse(origin)
            if (o.netloc or "").lower() != (req.host or "").lower():
                raise _Refused(
                    403,
                    f"A page from {origin} tried to use this editor; only pages it served "
                    "itself may. Nothing was changed.",
                )
        if req.headers.get("Sec-Fetch-Site") == "cross-site" and req.method != "GET":
            raise _Refused(403, "A page from another site tried to use this editor; refused.")
        size = req.content_length
        if size is not None and size > self.policy.max_request_bytes:
            raise _Refused(
                413,
                f"The request is too large ({size / 1e6:.1f} MB; the limit is "
                f"{self.policy.max_request_bytes / 1e6:.1f} MB). Shorten the text you "
                "entered and try again.",
            )
        accounts_on = self.accounts_exist()
        flask.g.kg_accounts = accounts_on
        account = self._signed_in() if accounts_on else None
        flask.g.kg_account = account
        public = req.path in PUBLIC_PATHS
        if accounts_on and account is None and not public:
            if req.path.startswith("/_dash") or req.method != "GET":
                raise _Refused(401, "Please sign in again (your sign-in expired or is missing).")
            raise _Login()
        if req.method not in ("GET", "HEAD", "OPTIONS"):
            self._check_csrf(account)
        if req.method == "POST" and req.path == DASH_UPDATE:
            self._check_callback(account)

    def _signed_in(self) -> Account | None:
        sess = flask.session
        name = sess.get("user")
        since = sess.get("since")
        if not name or not since:
            return None
        try:
            started = datetime.fromisoformat(str(since))
        except ValueError:
            return None
        if datetime.now(UTC) - started > self.policy.login_lifetime:
            sess.clear()
            return None
        acc = self.accounts.get(str(name))
        if acc is None or not acc.active:
            sess.clear()
            return None
        return acc

    def _check_csrf(self, account: Account | None) -> None:
        req = flask.request
        browser = bool(
            req.headers.get("Origin")
            or req.headers.get("Sec-Fetch-Site")
            or req.cookies.get(self.server.config.get("SESSION_COOKIE_NAME", "session"))
        )
        if not browser and account is None and req.path != "/login":
            return  # no ambient credentials: nothing a forged request could borrow
        cookie = req.cookies.get(CSRF_COOKIE, "")
        sent = req.headers.get(CSRF_HEADER) or req.form.get("csrf_token", "")
        ok = bool(cookie) and secrets.compare_digest(cookie, sent or "")
        if ok and account is not None:
            ok = secrets.compare_digest(str(flask.session.get("csrf", "")), cookie)
        if not ok:
            raise _Refused(
                403,
                "This request lacks the page's security token (CSRF); nothing was changed. "
                "Reload the page and try again.",
            )

    def _check_callback(self, account: Account | None) -> None:
        req = flask.request
        try:
            body = json.loads(req.get_data(cache=True) or b"{}")
        except ValueError as exc:
            raise _Refused(400, "The request is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise _Refused(400, "The request is not a Dash callback.")
        limit = self.policy.max_field_chars
        for cid, _prop, value in _walk_values(
            [*(body.get("inputs") or []), *(body.get("state") or [])]
        ):
            n = _longest_text(value)
            if n > limit:
                what = cid.get("type") if isinstance(cid, dict) else cid
                raise _Refused(
                    413,
                    f"The text in {_field_name(str(what))} is too long ({n:,} characters; "
                    f"the limit is {limit:,}). Shorten it and try again.",
                )
        need = required_role(body)
        if need and flask.g.get("kg_accounts") and (account is None or not account.can(need)):
            have = account.role if account else "not signed in"
            raise AccessError(
                f"Your role ({have}) may not do this; it needs the {need} role. "
                "Ask an administrator (`kg-editor users set-role`).",
                required=need,
            )
        if str(body.get("output", "")) == f"{ids.PAGE}.children":  # the router: a page load
            url = {
                p: v
                for i, p, v in _walk_values(
                    [*(body.get("inputs") or []), *(body.get("state") or [])]
                )
                if i == ids.PAGE_URL
            }
            self._check_session_creation(url.get("pathname"), url.get("search"))
        if account is not None:
            changed = False
            for group in ("inputs", "state"):
                for entry in _flat(body.get(group)):
                    if entry.get("id") in AUTHOR_FIELDS and entry.get("value") != account.username:
                        entry["value"] = account.username
                        changed = True
            if changed:
                req.kg_json = body  # type: ignore[attr-defined]

    def _check_session_creation(self, pathname: Any, search: Any) -> None:
        if not creates_session(
            pathname if isinstance(pathname, str) else None,
            search if isinstance(search, str) else None,
        ):
            return  # an existing (or unknown) session, or the sessions page: none is made
        key = f"ip:{self.client()}"
        n = self.accounts.count("session_created", key, self.policy.session_window)
        if n >= self.policy.session_creations:
            raise _Refused(
                429,
                f"Too many new editing sessions from this computer ({n} in "
                f"{int(self.policy.session_window.total_seconds() // 60)} minutes). Reopen a "
                "session you already have (its link has ?session=...) or wait a few minutes.",
            )
        self.accounts.record("session_created", key)
        cutoff = datetime.now(UTC) - self.policy.anonymous_session_ttl
        gone = self.workspace.expire_sessions(cutoff)
        if gone:
            logger.info("expired %d unused anonymous sessions", gone)
            self.accounts.prune_events()

    # -- response headers ------------------------------------------------------------------
    def after(self, resp: Response) -> Response:
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy", self.csp)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if not flask.request.cookies.get(CSRF_COOKIE) and not flask.g.get("kg_csrf_set"):
            token = secrets.token_urlsafe(32)
            resp.set_cookie(
                CSRF_COOKIE, token, samesite="Strict", secure=self._secure(), httponly=False
            )
        return resp

    # -- sign-in pages ---------------------------------------------------------------------
    def login(self) -> Response:
        req = flask.request
        nxt = req.args.get("next") or req.form.get("next") or "/"
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        error = ""
        if req.method == "POST":
            name = (req.form.get("username") or "").strip()
            try:
                acc = self.accounts.authenticate(
                    name, req.form.get("password") or "", self.client()
                )
            except AccessError as exc:
                error = str(exc)
            else:
                flask.session.clear()
                flask.session.permanent = True
                flask.session["user"] = acc.username
                flask.session["since"] = datetime.now(UTC).isoformat()
                token = secrets.token_urlsafe(32)
                flask.session["csrf"] = token
                resp = flask.redirect(nxt, code=303)
                resp.set_cookie(
                    CSRF_COOKIE, token, samesite="Strict", secure=self._secure(), httponly=False
                )
                flask.g.kg_csrf_set = True
                return resp
        token = req.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        page = _LOGIN_PAGE.format(
            error=f"<p class='login-error' role='alert'>{_esc(error)}</p>" if error else "",
            next=_esc(nxt),
            csrf=_esc(token),
        )
        resp = flask.make_response(page, 401 if error else 200)
        if not req.cookies.get(CSRF_COOKIE):
            resp.set_cookie(
                CSRF_COOKIE, token, samesite="Strict", secure=self._secure(), httponly=False
            )
            flask.g.kg_csrf_set = True
        return resp

    def logout(self) -> Response:
        flask.session.clear()
        return flask.redirect("/login", code=303)


class _Login(Exception):
    """Raised by the gate: send the browser to the sign-in page."""


def _flat(items: Any) -> Iterator[dict[str, Any]]:
    for it in items or []:
        if isinstance(it, list):
            yield from _flat(it)
        elif isinstance(it, dict):
            yield it


def _field_name(component: str) -> str:
    names = {
        ids.RATIONALE: "the rationale",
        ids.AUTHOR: "your name",
        ids.V_SAVE_MESSAGE: "the version message",
        ids.E_SAVE_MESSAGE: "the version message",
        ids.V_SAVE_AUTHOR: "your name",
        ids.TEACH_SCN_NAME: "the scenario name",
        ids.TEACH_SCN_QUESTION: "the scenario question",
    }
    return names.get(component, f"the field {component!r}")


def _esc(text: str) -> str:
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - kg-editor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/kg_editor.css"></head>
<body><main class="login">
<h1>kg-editor</h1><p>Sign in with the account your administrator gave you.</p>
{error}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>User name <input id="login-username" name="username" autocomplete="username" required></label>
<label>Password <input id="login-password" name="password" type="password"
 autocomplete="current-password" required></label>
<button id="login-submit" type="submit">Sign in</button>
</form></main></body></html>
"""


def install_security(
    app: Any, workspace: Workspace, policy: SecurityPolicy | None = None
) -> Security:
    """Harden a Dash app (see the module docstring); returns the layer, also kept as
    ``app.security``.

    Parameters
    ----------
    app : dash.Dash
        The app; its ``server`` (Flask) gets the hooks and the ``/login`` page.
    workspace : Workspace
        The application layer; its store holds the accounts, the cookie-signing secret
        and the rate-limit counts.
    policy : SecurityPolicy, optional
        Limits and allowed host names.
    """
    policy = policy or SecurityPolicy()
    # Dash sets itself up on the first request; do it now, outside any request, so the
    # first request through the hooks below is an ordinary one.
    setup = getattr(app, "_setup_server", None)
    if callable(setup):
        setup()
    sec = Security(app, workspace, policy)
    server: flask.Flask = app.server
    server.request_class = _KGRequest
    server.config["MAX_CONTENT_LENGTH"] = policy.max_request_bytes
    server.config["SECRET_KEY"] = sec.accounts.secret_key()
    server.config["SESSION_COOKIE_NAME"] = "kg_session"
    server.config["SESSION_COOKIE_HTTPONLY"] = True
    server.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    server.config["SESSION_COOKIE_SECURE"] = bool(policy.secure_cookies)
    server.config["PERMANENT_SESSION_LIFETIME"] = policy.login_lifetime

    def before() -> Response | None:
        try:
            return sec.before()
        except _Login:
            nxt = flask.request.full_path.rstrip("?")
            return flask.redirect(f"/login?next={quote(nxt)}", code=303)

    server.before_request_funcs.setdefault(None, []).insert(0, before)
    server.after_request(sec.after)
    server.add_url_rule("/login", "kg_login", sec.login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "kg_logout", sec.logout, methods=["GET", "POST"])

    @server.errorhandler(413)
    def too_large(_exc: Any) -> Response:
        return sec._refuse(
            413,
            f"The request is too large (the limit is {policy.max_request_bytes / 1e6:.1f} MB). "
            "Shorten the text you entered and try again.",
        )

    app.security = sec
    return sec
