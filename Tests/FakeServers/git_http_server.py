#!/usr/bin/env python3
"""A git smart-HTTP server for tests (Python 3.11, standard library only): the real
`git http-backend` behind a small threaded HTTP server, so /clone, /pull and /push run
against a real remote over HTTP.

    python3 Tests/FakeServers/git_http_server.py --root DIR [--port 0] [--token T] [--cert PEM --key PEM]

* Serves the bare repositories under DIR at http://127.0.0.1:<port>/<name>.git; pushing is
  enabled (http.receivepack) for every repository it serves.
* With --cert and --key, over TLS instead: https://127.0.0.1:<port>/<name>.git, as a private
  git host is reached (the client must trust the certificate's issuer).
* With --token, every request must carry `Authorization: Basic base64(<user>:<token>)`
  (any user name); otherwise 401 with a Basic challenge. The Authorization headers
  received are recorded.
* Prints "READY port=<N>" once listening; exits on SIGTERM/SIGINT or when stdin closes.
* GET /__fake/requests -> {"requests":[{"method","path","authorized"}...]} (no secrets).
"""
import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_server_runtime import LoopbackServer, serve  # noqa: E402


class GitHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeGit/1.0"

    def log_message(self, fmt, *args):
        sys.stderr.write("git-http: " + (fmt % args) + "\n")

    def setup(self):
        # The TLS handshake runs in this connection's thread, not in accept(): a client that
        # fails it must not hold up the others.
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as error:
                sys.stderr.write(f"git-http: handshake failed: {error}\n")
                raise
        super().setup()

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _authorized(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return False
        return decoded.split(":", 1)[-1] == token

    def _handle(self):
        path, _, query = self.path.partition("?")
        if path == "/__fake/requests":
            body = json.dumps({"requests": self.server.requests}).encode()
            self._send(200, body, "application/json")
            return
        authorized = self._authorized()
        with self.server.lock:
            self.server.requests.append({"method": self.command, "path": path, "authorized": authorized})
        if not authorized:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "tester",
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        result = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = result.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
    for name in os.listdir(args.root):
        if name.endswith(".git"):
            subprocess.run(["git", "-C", os.path.join(args.root, name), "config", "http.receivepack", "true"], check=True)
    server = LoopbackServer(args.port, GitHandler, app=None)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.root = os.path.abspath(args.root)
    server.token = args.token
    server.requests = []
    server.lock = threading.Lock()
    sys.exit(serve(server, "git http server"))


if __name__ == "__main__":
    main()
