"""Drive a Dash app's callbacks through the real HTTP route, as the browser's renderer
does: read ``/_dash-dependencies``, build the ``/_dash-update-component`` body for the
callback a component triggers, post it (Flask test client or ``requests``)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DashHTTP"]


def _key(cid: Any) -> str:
    return json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else str(cid)


class DashHTTP:
    """One browser tab: an HTTP client plus the values it would send.

    ``client`` is a Flask test client (``base=""``) or a ``requests.Session`` with
    ``base="http://127.0.0.1:PORT"``.
    """

    def __init__(self, client: Any, base: str = "", headers: dict[str, str] | None = None):
        self.client = client
        self.base = base
        self.headers = dict(headers or {})
        self._deps: list[dict[str, Any]] | None = None

    # -- transport ---------------------------------------------------------------------
    def _is_requests(self) -> bool:
        return hasattr(self.client, "mount")

    def get(self, path: str, **kw: Any) -> Any:
        h = {**self.headers, **kw.pop("headers", {})}
        return self.client.get(self.base + path, headers=h, **kw)

    def post_json(self, path: str, body: Any, **kw: Any) -> Any:
        h = {"Content-Type": "application/json", **self.headers, **kw.pop("headers", {})}
        csrf = self.cookie("_csrf_token")
        if csrf and "X-CSRFToken" not in h:
            h["X-CSRFToken"] = csrf
        return self.client.post(self.base + path, data=json.dumps(body), headers=h, **kw)

    def cookie(self, name: str) -> str | None:
        if self._is_requests():
            return self.client.cookies.get(name)
        c = self.client.get_cookie(name)
        return c.value if c is not None else None

    @staticmethod
    def json(resp: Any) -> Any:
        return resp.json() if hasattr(resp, "ok") else resp.get_json()

    @staticmethod
    def status(resp: Any) -> int:
        return int(resp.status_code)

    # -- dash ----------------------------------------------------------------------------
    def deps(self) -> list[dict[str, Any]]:
        if self._deps is None:
            self._deps = self.json(self.get("/_dash-dependencies"))
        return self._deps

    def callback_for(self, component: str, prop: str) -> dict[str, Any]:
        for d in self.deps():
            for i in d["inputs"]:
                cid = i["id"]
                try:
                    parsed = json.loads(cid) if cid.startswith("{") else cid
                except ValueError:
                    parsed = cid
                name = parsed.get("type") if isinstance(parsed, dict) else parsed
                if name == component and i["property"] == prop and not d.get("clientside_function"):
                    return d
        raise KeyError(f"no server callback fires on {component}.{prop}")

    def body(
        self,
        component: str | dict[str, Any],
        prop: str,
        value: Any,
        values: dict[tuple[str, str], Any] | None = None,
    ) -> dict[str, Any]:
        """The request body of the callback ``component.prop`` fires, with ``value`` for
        the trigger and ``values[(id, prop)]`` for other inputs and states."""
        name = component.get("type") if isinstance(component, dict) else component
        dep = self.callback_for(str(name), prop)
        values = dict(values or {})
        values[(_key(component), prop)] = value

        def entry(spec: dict[str, Any]) -> Any:
            cid = spec["id"]
            if cid.startswith("{"):  # pattern: ALL -> the matching components given
                pat = json.loads(cid)
                hits = [
                    {"id": json.loads(k), "property": p, "value": v}
                    for (k, p), v in values.items()
                    if k.startswith("{")
                    and p == spec["property"]
                    and json.loads(k).get("type") == pat.get("type")
                ]
                return hits
            return {
                "id": cid,
                "property": spec["property"],
                "value": values.get((cid, spec["property"])),
            }

        outputs = []
        for out in dep["output"].removeprefix("..").removesuffix("..").split("..."):
            cid, p = out.rsplit(".", 1)
            outputs.append({"id": cid.split("@")[0], "property": p.split("@")[0]})
        trigger = f"{_key(component)}.{prop}"
        return {
            "output": dep["output"],
            "outputs": outputs
            if len(outputs) > 1 or dep["output"].startswith("..")
            else outputs[0],
            "inputs": [entry(i) for i in dep["inputs"]],
            "state": [entry(s) for s in dep.get("state", [])],
            "changedPropIds": [trigger],
        }

    def open_page(self, path: str = "/", search: str = "", **kw: Any) -> Any:
        """Load a page as the browser does: the shell, then the router callback that
        renders the page for ``path`` and ``search`` (and opens a session when ``search``
        names none the store holds); returns the router's response."""
        self.get(path or "/", **{k: v for k, v in kw.items() if k != "environ_base"})
        body = {
            "output": "kg-page.children",
            "outputs": {"id": "kg-page", "property": "children"},
            "inputs": [{"id": "kg-page-url", "property": "pathname", "value": path}],
            "state": [{"id": "kg-page-url", "property": "search", "value": search}],
            "changedPropIds": ["kg-page-url.pathname"],
        }
        return self.post_json("/_dash-update-component", body, **kw)

    @staticmethod
    def session_data(resp: Any) -> dict[str, Any]:
        """The ``{"session_id": ..., "revision": ...}`` a rendered page holds."""
        text = resp.text if hasattr(resp, "ok") else resp.get_data(as_text=True)
        start = text.index('{"session_id"')
        return dict(json.loads(text[start : text.index("}", start) + 1]))

    def fire(
        self,
        component: str | dict[str, Any],
        prop: str,
        value: Any,
        values: dict[tuple[str, str], Any] | None = None,
        **kw: Any,
    ) -> Any:
        return self.post_json(
            "/_dash-update-component", self.body(component, prop, value, values), **kw
        )
