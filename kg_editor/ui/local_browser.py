"""Serving the editor on loopback and launching Debian's headless Chromium.

The one recipe the browser tests and the browser benchmarks share (see the project's
browser-testing notes): Playwright drives ``/usr/bin/chromium`` with the flags that keep
it off the network; the app is served by werkzeug on 127.0.0.1 on a free port.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "launch_chromium", "serve_in_thread"]

#: Debian's Chromium (packages ``chromium`` and ``chromium-driver``); never a downloaded build.
CHROMIUM = "/usr/bin/chromium"

#: Headless, no sandbox (root in CI), and no background traffic to outside hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def serve_in_thread(app: Any) -> tuple[str, Any]:
    """Serve a Dash app on 127.0.0.1 (free port) in a daemon thread.

    Returns the base URL and the werkzeug server (call ``shutdown()`` when done).
    """
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}", srv


def launch_chromium(playwright: Any) -> Any:
    """Launch Debian's Chromium headless through a started Playwright instance."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
