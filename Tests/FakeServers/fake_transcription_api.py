#!/usr/bin/env python3
"""A fake OpenAI-compatible speech-to-text API for tests (Python 3.11, standard library only).

    python3 Tests/FakeServers/fake_transcription_api.py --port 0 [--text "..."] [--status 500] [--key K]

POST /v1/audio/transcriptions (multipart/form-data with `file` and `model`) answers
{"text": <--text>} (or an OpenAI-style error with --status). With --key, as OpenAI and Groq
do, a request without `Authorization: Bearer <K>` gets 401 and OpenAI's error body (a missing
key and a wrong one are told apart), before anything else is looked at. Every request is recorded:
GET /__fake/requests -> {"requests":[{"model","filename","content_type","size","sha256",
"authorization","response_format"}]}. Prints "READY port=<N>"; exits on SIGTERM or stdin EOF.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_server_runtime import LoopbackServer, serve  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("transcription: " + (fmt % args) + "\n")

    def _send(self, status: int, value: dict) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/__fake/requests":
            with self.server.lock:
                self._send(200, {"requests": list(self.server.requests)})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/v1/audio/transcriptions":
            self._send(404, {"error": {"message": "not found"}})
            return
        key = self.server.key
        authorization = self.headers.get("Authorization")
        if key is not None and authorization != f"Bearer {key}":
            with self.server.lock:
                self.server.requests.append({"authorization": authorization, "refused": True})
            if not authorization:
                message = ("You didn't provide an API key. You need to provide your API key in an Authorization header "
                           "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
                self._send(401, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})
            else:
                given = authorization.removeprefix("Bearer ")
                masked = given[:3] + "*" * max(0, len(given) - 7) + given[-4:] if len(given) > 7 else "***"
                message = (f"Incorrect API key provided: {masked}. "
                           "You can find your API key at https://platform.openai.com/account/api-keys.")
                self._send(401, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                           "code": "invalid_api_key"}})
            return
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body)
        fields, file = {}, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                data = part.get_payload(decode=True) or b""
                file = {"filename": part.get_filename(), "content_type": part.get_content_type(), "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()}
            else:
                fields[name] = part.get_content().strip()
        record = {"model": fields.get("model"), "response_format": fields.get("response_format"),
                  "authorization": self.headers.get("Authorization"), **(file or {})}
        with self.server.lock:
            self.server.requests.append(record)
        if file is None or not fields.get("model"):
            self._send(400, {"error": {"message": "file and model are required"}})
        elif self.server.status != 200:
            self._send(self.server.status, {"error": {"message": "transcription backend failed"}})
        else:
            self._send(200, {"text": self.server.text})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--text", default="Please list the files in this project.")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--key")
    args = parser.parse_args()
    server = LoopbackServer(args.port, Handler, app=None)
    server.text, server.status, server.key = args.text, args.status, args.key
    server.requests, server.lock = [], threading.Lock()
    sys.exit(serve(server, "transcription api"))


if __name__ == "__main__":
    main()
