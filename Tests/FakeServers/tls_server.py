#!/usr/bin/env python3
"""A minimal HTTPS server for the HTTP client's TLS tests.

    python3 tls_server.py --cert server.pem --key server.key

Binds 127.0.0.1 on a free port, prints `READY port=<N>` once listening, and answers every
request over HTTP/1.1 keep-alive: GET with `hello over tls <path>`, POST with the request
body echoed. It exits on SIGTERM or as soon as its stdin closes, so a test that dies
never leaves it behind.
"""

import argparse
import http.server
import ssl
import sys
import threading


class Server(http.server.ThreadingHTTPServer):
    # Parallel tests connect in bursts; the default backlog of 5 is too small for them.
    request_queue_size = 128
    daemon_threads = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body are two writes: without this, Nagle holds the body for the delayed ACK.
    disable_nagle_algorithm = True

    def setup(self):
        # The handshake runs here, in this connection's thread, not in accept(): one slow or
        # failing handshake must not hold up the other connections.
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as error:
            print(f"handshake failed: {error}", file=sys.stderr, flush=True)
            raise
        super().setup()

    def do_GET(self):
        self._answer(f"hello over tls {self.path}".encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self._answer(self.rfile.read(length))

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(format % args, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY port={server.server_address[1]}", flush=True)
    sys.stdin.read()  # returns when the test closes our stdin or exits
    server.shutdown()


if __name__ == "__main__":
    main()
