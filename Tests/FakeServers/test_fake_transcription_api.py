"""Self-test of fake_transcription_api.py (unittest, standard library only).

Run from the repository root:
    python3 -m unittest discover -s Tests/FakeServers -p 'test_fake_transcription*' -v
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


class FakeTranscriptionTests(unittest.TestCase):
    def start(self, *args: str) -> int:
        server = subprocess.Popen(["python3", str(HERE / "fake_transcription_api.py"), "--port", "0", *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(self.stop, server)
        line = server.stdout.readline().strip()
        self.assertTrue(line.startswith("READY port="), line)
        return int(line.split("=")[1])

    @staticmethod
    def stop(server: subprocess.Popen) -> None:
        server.stdin.close()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()

    @staticmethod
    def post(port: int, fields: dict, audio: bytes | None, authorization: str | None = "Bearer k") -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = b""
        for name, value in fields.items():
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        if audio is not None:
            body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="voice.ogg"\r\n'
                     f"Content-Type: audio/ogg\r\n\r\n").encode() + audio + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if authorization is not None:
            headers["Authorization"] = authorization
        connection.request("POST", "/v1/audio/transcriptions", body, headers)
        response = connection.getresponse()
        result = response.status, json.loads(response.read())
        connection.close()
        return result

    @staticmethod
    def requests(port: int) -> list[dict]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/__fake/requests")
        value = json.loads(connection.getresponse().read())["requests"]
        connection.close()
        return value

    def test_answers_text_and_records_the_request(self) -> None:
        port = self.start("--text", "hello there")
        audio = b"OggS" + bytes(range(200))
        status, answer = self.post(port, {"model": "whisper-1", "response_format": "json"}, audio)
        self.assertEqual((status, answer), (200, {"text": "hello there"}))
        [record] = self.requests(port)
        self.assertEqual(record["model"], "whisper-1")
        self.assertEqual(record["filename"], "voice.ogg")
        self.assertEqual(record["content_type"], "audio/ogg")
        self.assertEqual(record["size"], len(audio))
        self.assertEqual(record["sha256"], hashlib.sha256(audio).hexdigest())
        self.assertEqual(record["authorization"], "Bearer k")

    def test_missing_fields_and_scripted_failures(self) -> None:
        port = self.start("--status", "503")
        self.assertEqual(self.post(port, {"model": "m"}, None)[0], 400)
        self.assertEqual(self.post(port, {}, b"x")[0], 400)
        status, answer = self.post(port, {"model": "m"}, b"x")
        self.assertEqual(status, 503)
        self.assertIn("message", answer["error"])

    def test_with_a_key_a_missing_or_wrong_one_gets_401_and_the_right_one_the_text(self) -> None:
        port = self.start("--key", "sk-right-key-0123", "--text", "spoken")
        fields = {"model": "whisper-1"}
        status, answer = self.post(port, fields, b"OggS", authorization=None)
        self.assertEqual(status, 401)
        self.assertIn("didn't provide an API key", answer["error"]["message"])
        status, answer = self.post(port, fields, b"OggS", authorization="Bearer sk-wrong-key-4567")
        self.assertEqual(status, 401)
        self.assertEqual(answer["error"]["code"], "invalid_api_key")
        self.assertNotIn("sk-wrong-key-4567", answer["error"]["message"])
        self.assertEqual(self.post(port, fields, b"OggS", authorization="sk-right-key-0123")[0], 401, "Bearer is required")
        self.assertEqual(self.post(port, fields, b"OggS", authorization="Bearer sk-right-key-0123"), (200, {"text": "spoken"}))
        self.assertEqual([r.get("refused", False) for r in self.requests(port)], [True, True, True, False])


if __name__ == "__main__":
    unittest.main()
