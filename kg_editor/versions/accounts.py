"""Local accounts kept in the store: who may sign in to a served editor, and with what role.

Passwords are stored as salted scrypt hashes (``hashlib.scrypt``, OpenSSL's memory-hard
key-derivation function: n=2**14, r=8, p=1, i.e. 16 MiB per hash, a random 16-byte salt),
never in clear. Four roles, each allowed what the one before it is:

- ``viewer``   reads graphs, reports and versions;
- ``editor``   also edits sessions and saves versions;
- ``reviewer`` also votes on edges and approves proposals on a protected branch;
- ``admin``    also manages accounts.

Sign-in attempts and anonymous session creation are counted in the store
(``auth_events``), so rate limits hold across all worker processes.

Examples
--------
>>> from kg_editor.versions.store import Store
>>> accounts = Accounts(Store("sqlite://"))
>>> accounts.add("dr_lee", "correct horse battery", role="reviewer").role
'reviewer'
>>> accounts.authenticate("dr_lee", "correct horse battery").can("editor")
True
>>> accounts.authenticate("dr_lee", "wrong password")
Traceback (most recent call last):
...
kg_editor.errors.AccessError: Wrong user name or password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kg_editor.errors import AccessError, KGEditorError
from kg_editor.versions.store import Store, accounts_t, auth_events_t, server_settings_t

__all__ = [
    "ROLES",
    "Account",
    "Accounts",
    "hash_password",
    "role_allows",
    "verify_password",
]

#: Roles from least to most allowed.
ROLES: tuple[str, ...] = ("viewer", "editor", "reviewer", "admin")
_USER = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_PASSWORD = 10
#: Failed sign-ins allowed per user name and per client address in LOGIN_WINDOW.
LOGIN_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)


def _now() -> datetime:
    return datetime.now(UTC)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash: ``scrypt$n$r$p$salt$hash`` (base64 parts).

    Examples
    --------
    >>> h = hash_password("a long passphrase")
    >>> h.startswith("scrypt$16384$8$1$"), verify_password("a long passphrase", h)
    (True, True)
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` gives ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


#: Compared against when the user name is unknown, so both cases cost the same time.
_DUMMY = hash_password("not a real password")


def role_allows(role: str | None, required: str) -> bool:
    """True when ``role`` is ``required`` or above it in :data:`ROLES`.

    Examples
    --------
    >>> role_allows("reviewer", "editor"), role_allows("viewer", "editor"), role_allows(None, "viewer")
    (True, False, False)
    """
    if role not in ROLES or required not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(required)


@dataclass(frozen=True)
class Account:
    """A local account (never holds the password hash)."""

    username: str
    role: str
    active: bool
    created: datetime
    updated: datetime

    def can(self, required: str) -> bool:
        """True when this account is active and its role allows ``required``."""
        return self.active and role_allows(self.role, required)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "active": self.active,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
        }


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise KGEditorError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise KGEditorError(
            f"The password is too short ({len(password)} characters); use at least "
            f"{MIN_PASSWORD}, e.g. a few unrelated words."
        )
    if len(password) > 1024:
        raise KGEditorError("The password is longer than 1024 characters; use a shorter one.")
    return password


class Accounts:
    """The accounts of one store, sign-in with rate limiting, and the server secret.

    Parameters
    ----------
    store : Store
        The store (SQLite or PostgreSQL) that holds the accounts.
    """

    def __init__(self, store: Store):
        self.store = store

    # -- records -----------------------------------------------------------------------
    @staticmethod
    def _account(row: Any) -> Account:
        def aware(dt: datetime) -> datetime:
            return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)

        return Account(
            username=row["username"],
            role=row["role"],
            active=bool(row["active"]),
            created=aware(row["created"]),
            updated=aware(row["updated"]),
        )

    def add(self, username: str, password: str, role: str = "editor") -> Account:
        """Create an account.

        Raises
        ------
        KGEditorError
            The user name is malformed or taken, the role unknown, the password short.
        """
        if not _USER.match(username or ""):
            raise KGEditorError(
                f"The user name {username!r} is not allowed: use 2-64 letters, digits, "
                "'.', '_', '-' or '@'."
            )
        _check_role(role)
        _check_password(password)
        now = _now()
        with self.store._tx() as conn:
            taken = conn.execute(
                sa.select(accounts_t.c.username).where(accounts_t.c.username == username)
            ).first()
            if taken is not None:
                raise KGEditorError(
                    f"An account named {username!r} already exists; choose another name "
                    "or change its role with `kg-editor users set-role`."
                )
            values = {
                "username": username,
                "password_hash": hash_password(password),
                "role": role,
                "active": True,
                "created": now,
                "updated": now,
            }
            conn.execute(accounts_t.insert().values(**values))
        return self._account(values)

    def get(self, username: str) -> Account | None:
        """The account ``username`` (exact match), or ``None``."""
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(sa.select(accounts_t).where(accounts_t.c.username == username))
                .mappings()
                .first()
            )
        return None if row is None else self._account(row)

    def list(self) -> list[Account]:
        """Every account, by user name."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts_t).order_by(accounts_t.c.username)).mappings()
            return [self._account(r) for r in rows]

    def any(self) -> bool:
        """True when at least one active account exists (then sign-in is required)."""
        with self.store.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(accounts_t.c.username).where(accounts_t.c.active.is_(True)).limit(1)
                ).first()
                is not None
            )

    def _update(self, username: str, **values: Any) -> Account:
        with self.store._tx() as conn:
            done = conn.execute(
                accounts_t.update()
                .where(accounts_t.c.username == username)
                .values(updated=_now(), **values)
            )
            if done.rowcount != 1:
                raise KGEditorError(f"No account named {username!r}; see `kg-editor users list`.")
        acc = self.get(username)
        assert acc is not None
        return acc

    def set_role(self, username: str, role: str) -> Account:
        """Change an account's role."""
        return self._update(username, role=_check_role(role))

    def set_password(self, username: str, password: str) -> Account:
        """Change an account's password."""
        return self._update(username, password_hash=hash_password(_check_password(password)))

    def disable(self, username: str) -> Account:
        """Stop an account from signing in (its signed-in pages stop working too)."""
        return self._update(username, active=False)

    def enable(self, username: str) -> Account:
        """Let a disabled account sign in again."""
        return self._update(username, active=True)

    # -- events and rate limits ----------------------------------------------------------
    def record(self, kind: str, key: str) -> None:
        """Count one event (``login_failed``, ``session_created``, ...) for ``key``."""
        with self.store._tx() as conn:
            conn.execute(auth_events_t.insert().values(kind=kind, key=key[:200], created=_now()))

    def count(self, kind: str, key: str, window: timedelta) -> int:
        """Events of ``kind`` for ``key`` in the last ``window``."""
        since = _now() - window
        with self.store.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(auth_events_t)
                    .where(
                        auth_events_t.c.kind == kind,
                        auth_events_t.c.key == key[:200],
                        auth_events_t.c.created >= since,
                    )
                ).scalar_one()
            )

    def prune_events(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Forget events older than ``older_than``; returns how many."""
        with self.store._tx() as conn:
            return int(
                conn.execute(
                    auth_events_t.delete().where(auth_events_t.c.created < _now() - older_than)
                ).rowcount
                or 0
            )

    def authenticate(self, username: str, password: str, client: str = "") -> Account:
        """The account when the password is right.

        Raises
        ------
        AccessError
            Wrong name or password, a disabled account, or too many failed attempts for
            this user name or this client address in the last 15 minutes.
        """
        keys = [f"user:{username}"] + ([f"ip:{client}"] if client else [])
        for key in keys:
            if self.count("login_failed", key, LOGIN_WINDOW) >= LOGIN_FAILURES:
                raise AccessError(
                    f"Too many failed sign-ins ({LOGIN_FAILURES} in "
                    f"{int(LOGIN_WINDOW.total_seconds() // 60)} minutes) for this "
                    f"{'account' if key.startswith('user:') else 'computer'}; wait 15 minutes "
                    "or ask an administrator to reset the password."
                )
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(sa.select(accounts_t).where(accounts_t.c.username == username))
                .mappings()
                .first()
            )
        ok = verify_password(password, row["password_hash"] if row else _DUMMY)
        if row is None or not ok or not row["active"]:
            for key in keys:
                self.record("login_failed", key)
            if row is not None and ok and not row["active"]:
                raise AccessError(f"The account {username!r} is disabled; ask an administrator.")
            raise AccessError("Wrong user name or password.")
        return self._account(row)

    # -- the server secret ---------------------------------------------------------------
    def secret_key(self) -> str:
        """The key that signs session cookies, made once and shared by every worker."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(server_settings_t.c.value).where(server_settings_t.c.name == "secret_key")
            ).first()
        if row is not None:
            return str(row[0])
        try:
            with self.store._tx() as conn:
                conn.execute(
                    server_settings_t.insert().values(
                        name="secret_key", value=secrets.token_urlsafe(48)
                    )
                )
        except sa.exc.IntegrityError:  # another worker made it first
            pass
        return self.secret_key()
