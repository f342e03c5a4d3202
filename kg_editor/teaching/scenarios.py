"""Teaching scenarios: findings, interventions and questions saved, exported as JSON and replayed on a model."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from kg_editor.errors import FormatError, SchemaError
from kg_editor.teaching.adjustment import adjustment_sets
from kg_editor.teaching.beliefs import as_teaching_model
from kg_editor.teaching.paths import path_report
from kg_editor.teaching.queries import belief_update, seeing_vs_doing

__all__ = [
    "SCENARIO_FORMAT",
    "SCENARIO_FORMAT_VERSION",
    "Scenario",
    "dump_scenarios",
    "load_scenarios",
    "replay",
]

SCENARIO_FORMAT = "kg-editor-scenario"
SCENARIO_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------
def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Scenario:
    """A named teaching case: findings, a question, and optionally a cause and outcome.

    Saved with the graph version it was written for (``version_id``), replayable with
    :func:`replay`, exportable as JSON.

    Examples
    --------
    >>> sc = Scenario("Breathless smoker", {"smoke": "yes", "dysp": "yes"},
    ...               question="Is it bronchitis or lung cancer?", cause="smoke",
    ...               cause_state="yes", outcome="lung", created="2026-01-01T00:00:00+00:00")
    >>> Scenario.from_dict(sc.to_dict()) == sc
    True
    >>> sc.findings["smoke"]
    'yes'
    """

    name: str
    findings: Mapping[str, str] = field(default_factory=dict)
    question: str = ""
    cause: str | None = None
    cause_state: str | None = None
    outcome: str | None = None
    version_id: str | None = None
    author: str = ""
    created: str = field(default_factory=_now_iso)

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise SchemaError("A scenario needs a name.")
        if self.cause_state is not None and self.cause is None:
            raise SchemaError(f"Scenario {self.name!r} gives a cause state but no cause.")
        object.__setattr__(
            self,
            "findings",
            MappingProxyType({str(k): str(v) for k, v in dict(self.findings).items()}),
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                tuple(sorted(self.findings.items())),
                self.question,
                self.cause,
                self.cause_state,
                self.outcome,
                self.version_id,
                self.author,
                self.created,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``format``/``version`` tagged)."""
        return {
            "format": SCENARIO_FORMAT,
            "version": SCENARIO_FORMAT_VERSION,
            "name": self.name,
            "question": self.question,
            "findings": dict(self.findings),
            "cause": self.cause,
            "cause_state": self.cause_state,
            "outcome": self.outcome,
            "version_id": self.version_id,
            "author": self.author,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        if data.get("format", SCENARIO_FORMAT) != SCENARIO_FORMAT:
            raise FormatError(
                f"This is not a kg-editor scenario (format is {data.get('format')!r}, expected {SCENARIO_FORMAT!r})."
            )
        if int(data.get("version", 1)) > SCENARIO_FORMAT_VERSION:
            raise FormatError(
                f"This scenario has format version {data.get('version')}; this kg-editor reads up to "
                f"{SCENARIO_FORMAT_VERSION}. Upgrade kg-editor to open it."
            )
        if "name" not in data:
            raise FormatError("A scenario must have a 'name'.")
        findings = data.get("findings") or {}
        if not isinstance(findings, Mapping):
            raise FormatError("A scenario's 'findings' must map variables to states.")
        kw = {
            k: data[k]
            for k in (
                "question",
                "cause",
                "cause_state",
                "outcome",
                "version_id",
                "author",
                "created",
            )
            if data.get(k) is not None
        }
        return cls(name=str(data["name"]), findings=findings, **kw)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FormatError(f"The scenario is not valid JSON: {exc}") from exc


def dump_scenarios(scenarios: Iterable[Scenario], indent: int | None = 2) -> str:
    """Several scenarios as one JSON document (a list)."""
    return json.dumps([s.to_dict() for s in scenarios], indent=indent)


def load_scenarios(text: str) -> list[Scenario]:
    """Read what :func:`dump_scenarios` wrote (a single scenario object is accepted too)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"The scenarios file is not valid JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    return [Scenario.from_dict(d) for d in items]


def replay(scenario: Scenario, model: Any, *, max_trails: int = 50) -> dict[str, Any]:
    """Run a scenario on a model: beliefs, and with a cause and outcome the do-contrast and paths.

    Returns
    -------
    dict
        ``scenario`` (its JSON form), ``beliefs`` (:func:`belief_update`),
        ``seeing_vs_doing`` (a list, one :func:`seeing_vs_doing` result per cause state:
        the scenario's ``cause_state`` or every state; empty without cause and outcome;
        findings on the cause or the outcome are set aside for this contrast),
        ``paths`` (:func:`path_report` between cause and outcome given the findings, or
        ``None``), ``adjustment_sets`` (sorted lists of ids, or ``None``) and
        ``adjustment_set_labels`` (the same sets as labels, or ``None``).

    Examples
    --------
    >>> from kg_editor.teaching.beliefs import TeachingModel
    >>> sc = Scenario("Smoker", {"smoke": "yes"}, cause="either", cause_state="yes", outcome="dysp")
    >>> out = replay(sc, TeachingModel.from_bundled("asia"))
    >>> round(out["seeing_vs_doing"][0]["doing"]["yes"], 3), out["paths"]["d_separated"]
    (0.82, False)
    """
    tm = as_teaching_model(model)
    findings = dict(scenario.findings)
    out: dict[str, Any] = {
        "scenario": scenario.to_dict(),
        "beliefs": belief_update(tm, findings),
        "seeing_vs_doing": [],
        "paths": None,
        "adjustment_sets": None,
        "adjustment_set_labels": None,
    }
    if scenario.cause is not None and scenario.outcome is not None:
        x, y = tm.resolve(scenario.cause), tm.resolve(scenario.outcome)
        # the cause is set in turn to each state, and the outcome is the question: a
        # finding on either is set aside for the contrast (the beliefs above keep it)
        rest = {k: v for k, v in findings.items() if tm.resolve(k) not in (x, y)}
        states = [scenario.cause_state] if scenario.cause_state is not None else list(tm.states(x))
        out["seeing_vs_doing"] = [seeing_vs_doing(tm, x, s, y, rest) for s in states]
        out["paths"] = path_report(tm, x, y, findings, max_trails=max_trails)
        sets = [sorted(s) for s in adjustment_sets(tm, x, y)]
        out["adjustment_sets"] = sets
        out["adjustment_set_labels"] = [
            sorted((tm.label(n) for n in s), key=str.casefold) for s in sets
        ]
    return out
