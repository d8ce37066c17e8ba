"""An ASGI app served by uvicorn on a free 127.0.0.1 port, in a daemon thread.

Used where a real HTTP round trip is the point: the stub OpenAI server of the tests, the evals
and the `cs-load` bench. The socket is bound before uvicorn starts, so the port is known at once
and no other process can take it in between.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


class LocalServer:
    def __init__(self, app: Any, *, start_timeout_s: float, join_timeout_s: float, **options: Any) -> None:
        """`options` go to `uvicorn.Config` (on top of: no access log, no websockets)."""
        self.app = app
        self.options = options
        self.start_timeout_s = start_timeout_s
        self.join_timeout_s = join_timeout_s
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        defaults: dict[str, Any] = {"log_level": "warning", "access_log": False, "ws": "none"}
        config = uvicorn.Config(self.app, **(defaults | self.options))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local server on port {self.port} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Safe to call twice, and from a thread of the server's own (a lifetime timer)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.join_timeout_s)
