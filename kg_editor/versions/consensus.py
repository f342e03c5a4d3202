"""Clinician consensus on a graph: reviewers' votes on edges, how far they agree, and
proposals that wait for a reviewer before they reach a protected branch.

A reviewer votes ``keep``, ``remove`` or ``reverse`` on an edge of the graph under review
(a *round*: usually a version id), with a comment; a second vote by the same reviewer on
the same edge replaces the first. From the votes:

- per-edge **tallies** (how many reviewers chose each option);
- **Fleiss' kappa** across reviewers, over the edges every voting reviewer rated
  (:func:`fleiss_kappa`; tests check it against ``statsmodels``);
- the **disagreement register**: edges whose votes are not unanimous, least agreement
  first, with every comment.

Examples
--------
>>> round(fleiss_kappa([[3, 0, 0], [0, 3, 0], [1, 2, 0], [2, 1, 0]]), 4)
0.3333
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from kg_editor.errors import AccessError, KGEditorError, StoreError
from kg_editor.versions.store import (
    DEFAULT_BRANCH,
    Store,
    Version,
    new_id,
    proposals_t,
    server_settings_t,
    versions_t,
    votes_t,
)

__all__ = [
    "CHOICES",
    "Consensus",
    "Disagreement",
    "Proposal",
    "Vote",
    "fleiss_kappa",
]

#: What a reviewer may say about an edge.
CHOICES: tuple[str, ...] = ("keep", "remove", "reverse")
MAX_COMMENT = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def fleiss_kappa(counts: Sequence[Sequence[int]] | np.ndarray) -> float:
    """Fleiss' kappa of an items x categories table of rating counts (every row sums to
    the same number of raters, at least 2).

    Returns ``nan`` when it is undefined (no items, or every rating in one category).

    Examples
    --------
    >>> round(fleiss_kappa([[2, 0], [0, 2], [1, 1]]), 4)
    0.3333
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        return float("nan")
    n = table.sum(axis=1)
    if not np.allclose(n, n[0]) or n[0] < 2:
        raise KGEditorError(
            "Fleiss' kappa needs the same number of raters (at least 2) on every edge."
        )
    raters = n[0]
    p_i = (np.square(table).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar = p_i.mean()
    p_j = table.sum(axis=0) / table.sum()
    p_e = float(np.square(p_j).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")
    return float((p_bar - p_e) / (1 - p_e))


@dataclass(frozen=True)
class Vote:
    """One reviewer's vote on one edge of one round."""

    project_id: str
    round: str
    source: str
    target: str
    reviewer: str
    vote: str
    comment: str
    created: datetime

    @property
    def edge(self) -> tuple[str, str]:
        return (self.source, self.target)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created": self.created.isoformat()}


@dataclass(frozen=True)
class Disagreement:
    """An edge the reviewers did not agree on: its tally, agreement (the share of
    agreeing reviewer pairs, Fleiss' P_i) and every comment."""

    source: str
    target: str
    tally: dict[str, int]
    agreement: float
    comments: list[tuple[str, str, str]]  # (reviewer, vote, comment)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "comments": [list(c) for c in self.comments]}


@dataclass(frozen=True)
class Proposal:
    """An editor's version waiting for a reviewer before it merges into ``branch``."""

    id: str
    project_id: str
    branch: str
    version_id: str
    author: str
    status: str  # pending | approved | rejected
    reviewer: str | None
    comment: str
    merged_id: str | None
    created: datetime
    decided: datetime | None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["created"] = self.created.isoformat()
        d["decided"] = self.decided.isoformat() if self.decided else None
        return d


def _reviewer_name(reviewer: Any, need: str = "reviewer") -> str:
    """An :class:`~kg_editor.versions.accounts.Account` (its role is checked) or a plain
    name (single-user mode, no accounts)."""
    if hasattr(reviewer, "can"):
        if not reviewer.can(need):
            raise AccessError(
                f"{reviewer.username} is a {reviewer.role}; this needs the {need} role.",
                required=need,
            )
        return str(reviewer.username)
    name = str(reviewer or "").strip()
    if not name:
        raise KGEditorError("Give the reviewer's name: every vote is recorded with who cast it.")
    return name[:64]


class Consensus:
    """Votes, agreement and proposals of one project (and one review round).

    Parameters
    ----------
    store : Store
    project_id : str
    round : str
        What is being reviewed, e.g. the version id; votes of different rounds never mix.
    """

    def __init__(self, store: Store, project_id: str, round: str = ""):
        self.store = store
        self.project_id = project_id
        self.round = round

    # -- votes -------------------------------------------------------------------------
    def vote(self, reviewer: Any, source: str, target: str, vote: str, comment: str = "") -> Vote:
        """Record (or replace) ``reviewer``'s vote on the edge ``source -> target``."""
        name = _reviewer_name(reviewer)
        vote = str(vote).strip().lower()
        if vote not in CHOICES:
            raise KGEditorError(f"Vote {vote!r} is not one of {', '.join(CHOICES)}.")
        comment = str(comment or "").strip()
        if len(comment) > MAX_COMMENT:
            raise KGEditorError(
                f"The comment is {len(comment):,} characters; keep it under {MAX_COMMENT:,}."
            )
        now = _now()
        key = (
            (votes_t.c.project_id == self.project_id)
            & (votes_t.c.round == self.round)
            & (votes_t.c.source == source)
            & (votes_t.c.target == target)
            & (votes_t.c.reviewer == name)
        )
        with self.store._tx() as conn:
            done = conn.execute(
                votes_t.update().where(key).values(vote=vote, comment=comment, created=now)
            )
            if done.rowcount == 0:
                conn.execute(
                    votes_t.insert().values(
                        project_id=self.project_id,
                        round=self.round,
                        source=source,
                        target=target,
                        reviewer=name,
                        vote=vote,
                        comment=comment,
                        created=now,
                    )
                )
        return Vote(self.project_id, self.round, source, target, name, vote, comment, now)

    def votes(self) -> list[Vote]:
        """Every vote of this round, by edge then reviewer."""
        q = (
            sa.select(votes_t)
            .where(votes_t.c.project_id == self.project_id, votes_t.c.round == self.round)
            .order_by(votes_t.c.source, votes_t.c.target, votes_t.c.reviewer)
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            Vote(
                r["project_id"],
                r["round"],
                r["source"],
                r["target"],
                r["reviewer"],
                r["vote"],
                r["comment"],
                _aware(r["created"]),
            )
            for r in rows
        ]

    def reviewers(self) -> list[str]:
        return sorted({v.reviewer for v in self.votes()})

    def tallies(self) -> dict[tuple[str, str], dict[str, int]]:
        """``edge -> {"keep": n, "remove": n, "reverse": n}``."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for v in self.votes():
            out.setdefault(v.edge, dict.fromkeys(CHOICES, 0))[v.vote] += 1
        return out

    def kappa_table(self) -> tuple[list[tuple[str, str]], np.ndarray, list[str]]:
        """The edges every voting reviewer rated, their count table and the reviewers."""
        votes = self.votes()
        reviewers = sorted({v.reviewer for v in votes})
        by_edge: dict[tuple[str, str], dict[str, str]] = {}
        for v in votes:
            by_edge.setdefault(v.edge, {})[v.reviewer] = v.vote
        edges = sorted(e for e, r in by_edge.items() if len(r) == len(reviewers))
        table = np.array(
            [[sum(1 for x in by_edge[e].values() if x == c) for c in CHOICES] for e in edges],
            dtype=int,
        ).reshape(len(edges), len(CHOICES))
        return edges, table, reviewers

    def kappa(self) -> float:
        """Fleiss' kappa over the edges every voting reviewer rated (``nan`` with fewer
        than two reviewers or no such edge)."""
        edges, table, reviewers = self.kappa_table()
        if len(reviewers) < 2 or not edges:
            return float("nan")
        return fleiss_kappa(table)

    def disagreements(self) -> list[Disagreement]:
        """Edges whose votes differ, least agreement first."""
        votes = self.votes()
        out = []
        for edge, tally in self.tallies().items():
            if sum(1 for c in CHOICES if tally[c]) < 2:
                continue
            n = sum(tally.values())
            agreement = (sum(x * x for x in tally.values()) - n) / (n * (n - 1)) if n > 1 else 1.0
            comments = [(v.reviewer, v.vote, v.comment) for v in votes if v.edge == edge]
            out.append(Disagreement(edge[0], edge[1], tally, agreement, comments))
        return sorted(out, key=lambda d: (d.agreement, d.source, d.target))

    # -- protected branches and proposals ------------------------------------------------
    def _protected_key(self) -> str:
        return f"protected:{self.project_id}"

    def protected(self) -> list[str]:
        """Branches of this project that only take changes through approved proposals."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(server_settings_t.c.value).where(
                    server_settings_t.c.name == self._protected_key()
                )
            ).first()
        return list(json.loads(row[0])) if row else []

    def protect(self, branch: str = DEFAULT_BRANCH, *, admin: Any = None) -> None:
        """Protect ``branch`` (an admin's decision when accounts exist)."""
        if admin is not None:
            _reviewer_name(admin, "admin")
        branches = sorted({*self.protected(), branch})
        with self.store._tx() as conn:
            done = conn.execute(
                server_settings_t.update()
                .where(server_settings_t.c.name == self._protected_key())
                .values(value=json.dumps(branches))
            )
            if done.rowcount == 0:
                conn.execute(
                    server_settings_t.insert().values(
                        name=self._protected_key(), value=json.dumps(branches)
                    )
                )

    def check_save(self, account: Any, branch: str) -> None:
        """Raise :class:`AccessError` when ``account`` may not save straight onto
        ``branch`` (a protected branch takes an editor's work as a proposal)."""
        if branch in self.protected() and account is not None and not account.can("reviewer"):
            raise AccessError(
                f"Branch {branch!r} is protected: save your work on a branch of your own and "
                "propose it; a reviewer approves it into the protected branch.",
                required="reviewer",
            )

    @staticmethod
    def _proposal(row: Any) -> Proposal:
        return Proposal(
            id=row["id"],
            project_id=row["project_id"],
            branch=row["branch"],
            version_id=row["version_id"],
            author=row["author"],
            status=row["status"],
            reviewer=row["reviewer"],
            comment=row["comment"],
            merged_id=row["merged_id"],
            created=_aware(row["created"]),
            decided=_aware(row["decided"]) if row["decided"] is not None else None,
        )

    def propose(
        self, author: Any, version_id: str, branch: str = DEFAULT_BRANCH, comment: str = ""
    ) -> Proposal:
        """Ask for ``version_id`` (saved on another branch) to be merged into ``branch``."""
        name = _reviewer_name(author, "editor")
        v = self.store.get_version(version_id)
        if v.project_id != self.project_id:
            raise StoreError(f"Version {version_id} belongs to another project.")
        if v.branch == branch:
            raise KGEditorError(
                f"Version {version_id} is already on {branch!r}; propose a version saved on "
                "your own branch."
            )
        values = {
            "id": new_id(),
            "project_id": self.project_id,
            "branch": branch,
            "version_id": v.id,
            "author": name,
            "status": "pending",
            "reviewer": None,
            "comment": str(comment or "")[:MAX_COMMENT],
            "merged_id": None,
            "created": _now(),
            "decided": None,
        }
        with self.store._tx() as conn:
            conn.execute(proposals_t.insert().values(**values))
        return self._proposal(values)

    def proposals(self, status: str | None = None) -> list[Proposal]:
        q = sa.select(proposals_t).where(proposals_t.c.project_id == self.project_id)
        if status is not None:
            q = q.where(proposals_t.c.status == status)
        with self.store.engine.connect() as conn:
            rows = conn.execute(q.order_by(proposals_t.c.created)).mappings().all()
        return [self._proposal(r) for r in rows]

    def _get_proposal(self, proposal_id: str) -> Proposal:
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(sa.select(proposals_t).where(proposals_t.c.id == proposal_id))
                .mappings()
                .first()
            )
        if row is None or row["project_id"] != self.project_id:
            raise StoreError(f"No proposal {proposal_id!r} in this project.")
        p = self._proposal(row)
        if p.status != "pending":
            raise KGEditorError(f"Proposal {proposal_id} was already {p.status}.")
        return p

    def approve(
        self, reviewer: Any, proposal_id: str, comment: str = "", resolutions: Any = None
    ) -> Version:
        """Merge the proposal into its branch (three-way, as ``Store.merge``) and mark it
        approved; the merge's author is the reviewer. Conflicts raise
        :class:`~kg_editor.versions.diff.MergeConflictError` and leave it pending."""
        name = _reviewer_name(reviewer)
        p = self._get_proposal(proposal_id)
        if p.author == name:
            raise AccessError("A proposal needs another reviewer than its author.")
        head = self.store.head(self.project_id, p.branch)
        if head is None:
            raise StoreError(f"Branch {p.branch!r} has no version to merge into.")
        merged = self.store.merge(
            head.id,
            p.version_id,
            resolutions,
            author=name,
            message=f"Approved proposal {p.id} by {p.author}" + (f": {comment}" if comment else ""),
        )
        self._decide(p.id, "approved", name, comment, merged.id)
        return merged

    def reject(self, reviewer: Any, proposal_id: str, comment: str = "") -> Proposal:
        """Decline the proposal (with a comment saying why)."""
        name = _reviewer_name(reviewer)
        p = self._get_proposal(proposal_id)
        self._decide(p.id, "rejected", name, comment, None)
        return self._proposal({**p.__dict__, "status": "rejected", "reviewer": name})

    def _decide(self, pid: str, status: str, name: str, comment: str, merged: str | None) -> None:
        with self.store._tx() as conn:
            done = conn.execute(
                proposals_t.update()
                .where(proposals_t.c.id == pid, proposals_t.c.status == "pending")
                .values(
                    status=status,
                    reviewer=name,
                    comment=str(comment or "")[:MAX_COMMENT],
                    merged_id=merged,
                    decided=_now(),
                )
            )
            if done.rowcount != 1:
                raise KGEditorError(f"Proposal {pid} was decided by someone else meanwhile.")

    def head_round(self, branch: str = DEFAULT_BRANCH) -> str:
        """The id of ``branch``'s head (the usual review round), ``""`` when none."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(versions_t.c.id)
                .where(versions_t.c.project_id == self.project_id, versions_t.c.branch == branch)
                .order_by(versions_t.c.seq.desc())
                .limit(1)
            ).first()
        return str(row[0]) if row else ""
