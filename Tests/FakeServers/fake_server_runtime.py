"""What every fake server here shares: a threaded HTTP server on 127.0.0.1, and the run loop
of the contract the Swift tests rely on — print `READY port=<N>` once listening, exit with 0
on SIGTERM/SIGINT or as soon as stdin reaches EOF (so a test process that dies cannot leak
the server). Standard library only."""

from __future__ import annotations

import logging
import os
import signal
import socketserver
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Callable

log = logging.getLogger("fake_server")


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    # Parallel tests connect in bursts; the default backlog of 5 is too small for them.
    request_queue_size = 64

    def __init__(self, port: int, handler: type, app: Any):
        self.app = app
        super().__init__(("127.0.0.1", port), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also resolves the host name (getfqdn), which can stall on
        # machines with slow DNS; a fake only ever needs the numeric address.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def watch_stdin(stop: threading.Event) -> None:
    """Sets `stop` at EOF on stdin (the parent test process is gone). Reads the raw
    descriptor: a daemon thread blocked in sys.stdin.buffer made Python abort at exit."""
    try:
        while os.read(sys.stdin.fileno(), 65536):
            pass
    except (AttributeError, OSError, ValueError):
        pass
    stop.set()


def serve(server: LoopbackServer, name: str, watch_input: bool = True,
          on_stop: Callable[[], None] | None = None) -> int:
    """Runs `server` until SIGTERM, SIGINT or stdin EOF; `on_stop` runs before it shuts down."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="serve")
    serving.start()
    if watch_input:
        threading.Thread(target=watch_stdin, args=(stop,), name="stdin", daemon=True).start()
    port = server.server_address[1]
    log.info("%s listening on 127.0.0.1:%d", name, port)
    print(f"READY port={port}", flush=True)
    stop.wait()
    log.info("%s stopping", name)
    if on_stop is not None:
        on_stop()
    server.shutdown()
    server.server_close()
    serving.join()
    return 0
