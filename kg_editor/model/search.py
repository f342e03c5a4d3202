"""Concept search: rank the variables whose label or code matches what the user typed.

A pure function over labels and codes, used by every "find a concept" box of the web
editor. Matches come in tiers, best first:

0. exact: the whole label, the id or a code equals the query;
1. prefix: the label, the id or a code starts with the query;
2. word prefix: every word of the query starts a word of the label
   (``"hypert"`` finds *Essential hypertension*, ``"ess hyp"`` too);
3. substring: every word of the query occurs inside the label, the id or a code.

Everything else is left out. Case, accents, punctuation and repeated spaces are ignored.
Within a tier, a larger ``weight`` (e.g. how many patients have the condition) comes
first, then the label in alphabetical order.

Examples
--------
>>> labels = {"59621000": "Essential hypertension", "34742003": "Portal hypertension",
...           "45007003": "Low blood pressure", "34095006": "Dehydration",
...           "38341003": "Hypertensive disorder"}
>>> [labels[i] for i in rank_concepts("hypertension", labels)]
['Essential hypertension', 'Portal hypertension']
>>> [labels[i] for i in rank_concepts("hypert", labels)]
['Hypertensive disorder', 'Essential hypertension', 'Portal hypertension']
>>> rank_concepts("3834", labels)  # codes match too
['38341003']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

__all__ = ["match_tier", "normalise", "rank_concepts"]

_SEPARATORS = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case without accents, punctuation as spaces, single spaces.

    Examples
    --------
    >>> normalise("  Ménière's  disease ")
    'meniere s disease'
    """
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_SEPARATORS.sub(" ", text.casefold()).split())


def match_tier(query: str, label: str, codes: Iterable[str] = ()) -> int | None:
    """The tier (0 best .. 3) of one concept for ``query``, or None when it does not match.

    ``query`` must already be :func:`normalise`-d (and not empty); ``codes`` are the
    concept's id and any other codes.

    Examples
    --------
    >>> match_tier("hypertension", "Essential hypertension", ["59621000"])
    2
    >>> match_tier("essential hypertension", "Essential hypertension"), match_tier("59621000", "x", ["59621000"])
    (0, 0)
    >>> match_tier("tension", "Essential hypertension"), match_tier("hypotension", "Essential hypertension")
    (3, None)
    """
    name = normalise(label)
    keys = [normalise(c) for c in codes]
    if name == query or query in keys:
        return 0
    if name.startswith(query) or any(k.startswith(query) for k in keys):
        return 1
    terms = query.split()
    words = name.split()
    if all(any(w.startswith(t) for w in words) for t in terms):
        return 2
    if all(t in name or any(t in k for k in keys) for t in terms):
        return 3
    return None


def rank_concepts(
    query: str,
    labels: Mapping[str, str],
    codes: Mapping[str, Iterable[str]] | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    limit: int | None = None,
) -> list[str]:
    """Ids of the concepts matching ``query``, best first (see the module for the tiers).

    Parameters
    ----------
    query : str
        What the user typed. An empty query matches nothing (show the full list then).
    labels : mapping id -> label
    codes : mapping id -> codes, optional
        Other codes of a concept (source codes, vocabulary codes); its id always counts.
    weights : mapping id -> number, optional
        Breaks ties within a tier, larger first (e.g. the number of patients).
    limit : int, optional
        At most this many ids.

    Returns
    -------
    list of str
    """
    q = normalise(query)
    if not q:
        return []
    codes = codes or {}
    weights = weights or {}
    scored = []
    for cid, label in labels.items():
        tier = match_tier(q, label, [str(cid), *map(str, codes.get(cid, ()))])
        if tier is not None:
            scored.append((tier, -float(weights.get(cid, 0.0)), normalise(label), str(cid)))
    scored.sort()
    ids = [row[3] for row in scored]
    return ids[:limit] if limit is not None else ids
