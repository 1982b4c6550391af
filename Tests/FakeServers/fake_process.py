"""The self-tests' handle on a fake server run as a child process, exactly as the Swift
tests run it: started with `--port 0`, its port read from the READY line, stopped by closing
its stdin (killed if it lingers), its stderr kept for failure messages."""

from __future__ import annotations

import http.client
import re
import select
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class FakeProcess:
    def __init__(self, argv: list[str]):
        self.argv = argv
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.stderr = tempfile.TemporaryFile()
        self.stderr_log = ""

    def start(self) -> "FakeProcess":
        self.process = subprocess.Popen(["python3", *self.argv], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr)
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline().decode() if ready else ""
        match = re.fullmatch(r"READY port=(\d+)\n", line)
        if not match:
            self.stop()
            raise AssertionError(f"no READY line (got {line!r}); stderr:\n{self.stderr_log}")
        self.port = int(match.group(1))
        return self

    def stop(self) -> int | None:
        """Closes stdin (the server's exit signal), kills it if it lingers; keeps its stderr."""
        if self.process is None:
            return None
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process.stdout.close()
        if not self.stderr.closed:
            self.stderr.seek(0)
            self.stderr_log = self.stderr.read().decode(errors="replace")
            self.stderr.close()
        return self.process.returncode

    def connection(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
