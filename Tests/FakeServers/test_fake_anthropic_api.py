"""Self-test of fake_anthropic_api.py (unittest, standard library only).

Run from the repository root:
    python3 -m unittest discover -s Tests/FakeServers -p 'test_fake_anthropic*' -v

Two layers:
* Protocol tests speak HTTP (http.client) to a real fake_anthropic_api.py subprocess started
  exactly as the Swift tests start it: SSE framing and event order, turn selection by the number of
  assistant messages, error "times", the non-streaming answer, side-request classification and the
  request log.
* End-to-end tests run the REAL Claude Code CLI against the fake: the one CLAUDE_TEST_BIN names
  (scripts/test.sh sets it), else .build/claude-cli/0.2.188/claude. Without it they are skipped,
  saying so, except in CI (CI=true), where a missing CLI fails them: run
  scripts/install-claude-cli.sh; the tests never install it. Each CLI gets a temporary HOME and a temporary git repository as cwd and is always
  stopped (stdin closed, then SIGTERM, then SIGKILL) when its test ends.
Every server and CLI started here is stopped and every network call has a timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SCRIPT = "Tests/FakeServers/fake_anthropic_api.py"
CLI_PATH = Path(os.environ.get("CLAUDE_TEST_BIN") or REPO_ROOT / ".build" / "claude-cli" / "0.2.188" / "claude")
IN_CI = os.environ.get("CI") == "true"

sys.path.insert(0, str(HERE))
from fake_process import FakeProcess  # noqa: E402
import fake_anthropic_api as fake  # noqa: E402  (for the in-process unit tests)


# --------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------

class FakeServerProcess(FakeProcess):
    """One fake_anthropic_api.py subprocess; stop() always leaves no process behind."""

    def __init__(self):
        super().__init__([SCRIPT, "--port", "0"])

    def request(self, method: str, path: str, body: dict | bytes | None = None, headers: dict | None = None,
                timeout: float = 10) -> tuple[int, http.client.HTTPResponse, bytes]:
        connection = self.connection(timeout)
        try:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            connection.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                                 **(headers or {})})
            response = connection.getresponse()
            return response.status, response, response.read()
        finally:
            connection.close()

    def control(self, method: str, name: str, body: dict | None = None) -> tuple[int, dict]:
        status, _, raw = self.request(method, f"/__fake/{name}", body)
        return status, json.loads(raw)

    def script(self, *turns: dict, **extra) -> None:
        status, answer = self.control("POST", "script", {"turns": list(turns), **extra})
        assert status == 200, answer

    def requests(self, query: str = "") -> list[dict]:
        return self.control("GET", "requests" + query)[1]["requests"]

    def messages(self, body: dict, stream: bool = False, timeout: float = 10) -> tuple[int, http.client.HTTPResponse, bytes]:
        return self.request("POST", "/v1/messages?beta=true", {"stream": stream, **body},
                            {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}, timeout)


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    """(event name, data) pairs; asserts the framing: "event:" line, "data:" line, blank line."""
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        lines = frame.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        data = json.loads(lines[1][len("data: "):])
        assert data["type"] == lines[0][len("event: "):], frame
        events.append((data["type"], data))
    assert raw.endswith(b"\n\n"), raw[-40:]
    return events


def history(*assistant_texts: str, prompt: str = "next") -> list[dict]:
    """A messages array with one assistant message per text (each after a user message)."""
    messages = []
    for text in assistant_texts:
        messages += [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "text", "text": text}]}]
    return messages + [{"role": "user", "content": [{"type": "text", "text": prompt}]}]


MAIN = {"model": "claude-test-1", "max_tokens": 1024, "tools": [{"name": "Write", "input_schema": {"type": "object"}}],
        "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.331; cc_entrypoint=sdk-cli;"},
                   {"type": "text", "text": "You are a test."}]}


def main_request(*assistant_texts: str, prompt: str = "next", **overrides) -> dict:
    return {**MAIN, "messages": history(*assistant_texts, prompt=prompt), **overrides}


def answer_text(events: list[tuple[str, dict]]) -> str:
    return "".join(d["delta"].get("text", "") for name, d in events if name == "content_block_delta")


class ServerTestCase(unittest.TestCase):
    """Shares one server per test class; every test starts from POST /__fake/reset."""

    server: FakeServerProcess

    @classmethod
    def setUpClass(cls):
        cls.server = FakeServerProcess().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertEqual(self.server.control("POST", "reset", {})[0], 200)

    def stream(self, body: dict) -> list[tuple[str, dict]]:
        status, response, raw = self.server.messages(body, stream=True)
        self.assertEqual(status, 200, raw)
        self.assertEqual(response.getheader("Content-Type"), "text/event-stream; charset=utf-8")
        return parse_sse(raw)


# --------------------------------------------------------------------------------------
# Protocol tests
# --------------------------------------------------------------------------------------

class LifecycleTest(unittest.TestCase):
    def test_exits_on_stdin_eof(self):
        server = FakeServerProcess().start()
        try:
            self.assertEqual(server.control("GET", "requests")[0], 200)
        finally:
            started = time.monotonic()
            self.assertEqual(server.stop(), 0)
        self.assertLess(time.monotonic() - started, 3)

    def test_exits_on_sigterm_even_with_a_hung_request(self):
        server = FakeServerProcess().start()
        try:
            server.script({"hang": True})
            connection = server.connection(timeout=10)
            connection.request("POST", "/v1/messages", json.dumps(main_request()).encode())
            deadline = time.monotonic() + 5
            while not server.requests() and time.monotonic() < deadline:
                time.sleep(0.02)
            server.process.send_signal(signal.SIGTERM)
            self.assertEqual(server.process.wait(5), 0)
            connection.close()
        finally:
            server.stop()


class StreamingTest(ServerTestCase):
    def test_text_turn_event_order_and_framing(self):
        self.server.script({"text": "Hello from the fake."})
        status, response, raw = self.server.messages(main_request(), stream=True)
        self.assertEqual(status, 200)
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        self.assertTrue(response.getheader("request-id").startswith("req_fake_"))
        events = parse_sse(raw)
        names = [name for name, _ in events]
        deltas = names.count("content_block_delta")
        self.assertGreaterEqual(deltas, 2)
        self.assertEqual(names, ["message_start", "ping", "content_block_start"] + ["content_block_delta"] * deltas
                         + ["content_block_stop", "message_delta", "message_stop"])
        start = events[0][1]["message"]
        self.assertRegex(start["id"], r"^msg_fake_[0-9a-f]{24}$")
        self.assertEqual((start["model"], start["role"], start["content"], start["stop_reason"]),
                         ("claude-test-1", "assistant", [], None))
        self.assertGreater(start["usage"]["input_tokens"], 10)
        self.assertEqual(events[2][1], {"type": "content_block_start", "index": 0,
                                        "content_block": {"type": "text", "text": ""}})
        self.assertEqual(answer_text(events), "Hello from the fake.")
        self.assertTrue(all(d["delta"]["type"] == "text_delta" and d["index"] == 0
                            for name, d in events if name == "content_block_delta"))
        delta = events[-2][1]
        self.assertEqual(delta["delta"], {"stop_reason": "end_turn", "stop_sequence": None})
        self.assertGreaterEqual(delta["usage"]["output_tokens"], 1)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        self.server.script({"text": "one"}, {"text": "two"})
        connection = self.server.connection()
        try:
            texts = []
            for body in (main_request(stream=True), main_request("one", stream=True), main_request("one", "two")):
                connection.request("POST", "/v1/messages?beta=true", json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
                response = connection.getresponse()
                raw = response.read()
                texts.append(answer_text(parse_sse(raw)) if body.get("stream") else json.loads(raw)["content"][0]["text"])
        finally:
            connection.close()
        self.assertEqual(texts, ["one", "two", fake.EXHAUSTED_TEXT])
        self.assertEqual(len({r["seq"] for r in self.server.requests()}), 3)

    def test_thinking_text_and_several_tool_uses(self):
        uses = [{"name": "Write", "input": {"file_path": "/tmp/x.txt", "content": "hello \"world\"\n" * 5}},
                {"name": "AskUserQuestion", "input": {"questions": [{"question": "Which?", "header": "Pick",
                 "options": [{"label": "A", "description": "first"}, {"label": "B", "description": "second"}],
                 "multiSelect": False}]}, "id": "toolu_fixed"}]
        self.server.script({"thinking": "Let me think about this.", "text": "Doing it.", "tool_uses": uses})
        events = self.stream(main_request())
        starts = [d["content_block"] for name, d in events if name == "content_block_start"]
        self.assertEqual([b["type"] for b in starts], ["thinking", "text", "tool_use", "tool_use"])
        self.assertEqual(starts[0], {"type": "thinking", "thinking": "", "signature": ""})
        self.assertRegex(starts[2]["id"], r"^toolu_[0-9a-f]{24}$")
        self.assertEqual((starts[2]["name"], starts[2]["input"]), ("Write", {}))
        self.assertEqual((starts[3]["id"], starts[3]["name"]), ("toolu_fixed", "AskUserQuestion"))
        by_index: dict[int, list[dict]] = {}
        for name, data in events:
            if name == "content_block_delta":
                by_index.setdefault(data["index"], []).append(data["delta"])
        thinking = by_index[0]
        self.assertEqual("".join(d.get("thinking", "") for d in thinking), "Let me think about this.")
        self.assertEqual(thinking[-1]["type"], "signature_delta")
        self.assertTrue(thinking[-1]["signature"])
        for index, use in ((2, uses[0]), (3, uses[1])):
            pieces = by_index[index]
            self.assertEqual(pieces[0], {"type": "input_json_delta", "partial_json": ""})
            self.assertGreater(len(pieces), 2, "the input JSON comes in several pieces")
            self.assertEqual(json.loads("".join(p["partial_json"] for p in pieces)), use["input"])
        stops = [d["index"] for name, d in events if name == "content_block_stop"]
        self.assertEqual(stops, [0, 1, 2, 3])
        self.assertEqual(events[-2][1]["delta"]["stop_reason"], "tool_use")

    def test_slow_stream_sends_chunks_apart(self):
        self.server.script({"text": "abcdefghij", "delay_ms": 60, "chunks": 5})
        connection = self.server.connection()
        try:
            connection.request("POST", "/v1/messages", json.dumps(main_request(stream=True)).encode())
            response = connection.getresponse()
            arrivals, started = [], time.monotonic()
            while True:
                line = response.readline()
                if not line:
                    break
                if line.startswith(b"data: ") and b'"text_delta"' in line:
                    arrivals.append((time.monotonic() - started, json.loads(line[6:])["delta"]["text"]))
        finally:
            connection.close()
        self.assertEqual([text for _, text in arrivals], ["ab", "cd", "ef", "gh", "ij"])
        self.assertGreater(arrivals[-1][0] - arrivals[0][0], 0.2)

    def test_non_streaming_answer(self):
        self.server.script({"thinking": "hm", "text": "plain", "tool_use": {"name": "ExitPlanMode",
                                                                          "input": {"plan": "1. do it"}}})
        status, response, raw = self.server.messages(main_request())
        self.assertEqual(status, 200)
        self.assertEqual(response.getheader("Content-Type"), "application/json")
        message = json.loads(raw)
        self.assertRegex(message["id"], r"^msg_fake_")
        self.assertEqual((message["type"], message["role"], message["model"], message["stop_reason"]),
                         ("message", "assistant", "claude-test-1", "tool_use"))
        self.assertEqual([b["type"] for b in message["content"]], ["thinking", "text", "tool_use"])
        self.assertTrue(message["content"][0]["signature"])
        self.assertEqual(message["content"][2]["input"], {"plan": "1. do it"})
        self.assertGreaterEqual(message["usage"]["output_tokens"], 1)

    def test_stop_reason_and_usage_overrides(self):
        self.server.script({"text": "cut", "stop_reason": "max_tokens", "usage": {"input_tokens": 7}})
        events = self.stream(main_request())
        self.assertEqual(events[0][1]["message"]["usage"]["input_tokens"], 7)
        self.assertEqual(events[-2][1]["delta"]["stop_reason"], "max_tokens")


class ScriptTest(ServerTestCase):
    def test_turn_is_the_number_of_assistant_messages(self):
        self.server.script({"text": "zero"}, {"text": "one"}, {"text": "two"})
        # Out of order on purpose: a retry or a --resume lands on the turn its history says.
        for previous, expected in [((), "zero"), (("a", "b"), "two"), (("a",), "one"), ((), "zero"),
                                   (("a", "b", "c"), fake.EXHAUSTED_TEXT)]:
            self.assertEqual(answer_text(self.stream(main_request(*previous))), expected, previous)
        self.assertEqual([r["turn"] for r in self.server.requests()], [0, 2, 1, 0, 3])
        self.assertEqual([r["entry"] for r in self.server.requests()], [0, 2, 1, 0, None])
        self.assertEqual(self.server.control("GET", "script")[1]["served"], [2, 1, 1])

    def test_error_times_then_the_next_behaviour_of_the_same_turn(self):
        self.server.script({"text": "first"}, {"error": {"status": 529}, "times": 2}, {"text": "recovered"},
                           {"text": "last"})
        self.assertEqual(answer_text(self.stream(main_request())), "first")
        answers = [self.server.messages(main_request("first"), stream=True)[::2] for _ in range(3)]
        self.assertEqual([status for status, _ in answers], [529, 529, 200])
        body = json.loads(answers[0][1])
        self.assertEqual((body["type"], body["error"]), ("error", {"type": "overloaded_error", "message": "Overloaded"}))
        self.assertTrue(body["request_id"].startswith("req_fake_"))
        self.assertEqual(answer_text(parse_sse(answers[2][1])), "recovered")
        self.assertEqual(answer_text(self.stream(main_request("first", "recovered"))), "last")

    def test_error_without_times_answers_always(self):
        self.server.script({"error": {"status": 401, "type": "authentication_error", "message": "invalid x-api-key",
                                      "headers": {"x-should-retry": "false"}}})
        for _ in range(3):
            status, response, raw = self.server.messages(main_request(), stream=True)
            self.assertEqual(status, 401)
            self.assertEqual(response.getheader("x-should-retry"), "false")
            self.assertEqual(json.loads(raw)["error"], {"type": "authentication_error", "message": "invalid x-api-key"})
        status, _, raw = self.server.messages(main_request())  # non-streaming too
        self.assertEqual(status, 401)

    def test_error_defaults_by_status(self):
        self.server.script({"error": {"status": 500}, "times": 1}, {"error": {"status": 400, "message": "prompt is too long"},
                                                                    "times": 1},
                           {"error": {"status": 429, "retry_after": 2}})
        status, _, raw = self.server.messages(main_request())
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (500, "api_error"))
        status, _, raw = self.server.messages(main_request())
        self.assertEqual((status, json.loads(raw)["error"]), (400, {"type": "invalid_request_error",
                                                                    "message": "prompt is too long"}))
        status, response, raw = self.server.messages(main_request())
        self.assertEqual((status, json.loads(raw)["error"]["type"], response.getheader("retry-after")),
                         (429, "rate_limit_error", "2"))

    def test_sse_error_after_first_delta_then_full_answer(self):
        self.server.script({"sse_error_after_first_delta": True, "text": "the full text arrives later"})
        events = self.stream(main_request())
        self.assertEqual([name for name, _ in events],
                         ["message_start", "ping", "content_block_start", "content_block_delta", "error"])
        self.assertEqual(events[-1][1]["error"]["type"], "overloaded_error")
        status, _, raw = self.server.messages(main_request(max_tokens=64000))  # the CLI's non-streaming retry
        self.assertEqual((status, json.loads(raw)["content"][0]["text"]), (200, "the full text arrives later"))
        self.assertEqual(answer_text(self.stream(main_request())), "the full text arrives later")  # once only
        self.assertEqual([r["outcome"] for r in self.server.requests()], ["sse_error", "complete", "complete"])

    def test_hang_until_the_client_gives_up_then_release(self):
        self.server.script({"hang": True})
        started = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.server.messages(main_request(), stream=True, timeout=0.5)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        deadline = time.monotonic() + 3
        while self.server.requests()[0]["outcome"] != "client_closed" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.server.requests()[0]["outcome"], "client_closed")
        failures = []
        thread = threading.Thread(target=lambda: failures.append(self._expect_disconnect()))
        thread.start()
        deadline = time.monotonic() + 3
        while len(self.server.requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.server.requests()[1]["outcome"], "hung")
        self.assertEqual(self.server.control("POST", "release", {})[0], 200)
        thread.join(5)
        self.assertEqual(failures, [True])

    def _expect_disconnect(self) -> bool:
        try:
            self.server.messages(main_request(), stream=True, timeout=5)
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return True
        return False

    def test_hang_for_seconds_then_close(self):
        self.server.script({"hang": 0.3, "times": 1}, {"text": "after"})
        started = time.monotonic()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.server.messages(main_request(), stream=True)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.assertEqual(answer_text(self.stream(main_request())), "after")

    def test_exhausted_script(self):
        self.assertEqual(answer_text(self.stream(main_request())), fake.EXHAUSTED_TEXT)
        self.assertEqual(self.server.requests()[0]["outcome"], "exhausted")

    def test_invalid_scripts_are_refused(self):
        for bad in [{"turns": [{"txt": "typo"}]}, {"turns": [{"text": 1}]}, {"turns": [{"error": {"status": 200}}]},
                    {"turns": [{"error": {"status": 500}, "text": "both"}]}, {"turns": [{"text": "a", "times": 0}]},
                    {"turns": [{"tool_use": {"input": {}}}]}, {"turns": [{"hang": "forever"}]}, {"turns": "x"},
                    {"turns": [], "extra": 1}, {"turns": [{"text": "a", "chunks": 0}]}, {"turns": [{}]},
                    {"turns": [{"sse_error_after_first_delta": True}]}, {"turns": [], "side": {"main": "x"}}]:
            status, answer = self.server.control("POST", "script", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", answer)
        status, _, raw = self.server.request("POST", "/__fake/script", b"{not json")
        self.assertEqual(status, 400)


class ClassificationTest(ServerTestCase):
    def test_side_requests_do_not_consume_turns(self):
        self.server.script({"text": "main zero"}, {"text": "main one"})
        status, _, raw = self.server.request("POST", "/v1/messages/count_tokens?beta=true", main_request())
        self.assertEqual(status, 200)
        self.assertGreater(json.loads(raw)["input_tokens"], 10)
        self.assertEqual(answer_text(self.stream({**MAIN, "max_tokens": 1, "tools": [],
                                                  "messages": [{"role": "user", "content": "Hi"}]})), "OK.")
        subagent_system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.331; "
                                                    "cc_entrypoint=sdk-cli; cc_is_subagent=true;"}]
        self.assertEqual(answer_text(self.stream(main_request(system=subagent_system))), "(fake subagent reply)")
        compact = main_request("main zero", prompt="CRITICAL: Respond with TEXT ONLY. Do NOT call any tools.\n"
                                                  "Your task is to create a detailed summary of the conversation so far")
        self.assertIn("<summary>", answer_text(self.stream(compact)))
        suggestion = main_request("main zero", prompt="[SUGGESTION MODE: Suggest what the user might naturally type next]")
        self.assertEqual(answer_text(self.stream(suggestion)), "(fake suggestion)")
        title = {"model": "claude-haiku", "max_tokens": 512, "system": [{"type": "text", "text": "Generate a title"}],
                 "messages": [{"role": "user", "content": "the conversation"}]}
        self.assertEqual(answer_text(self.stream(title)), "OK.")
        self.assertEqual(answer_text(self.stream(main_request())), "main zero")
        self.assertEqual(answer_text(self.stream(main_request("main zero"))), "main one")
        self.assertEqual([r["kind"] for r in self.server.requests()],
                         ["count_tokens", "side", "subagent", "compact", "suggestion", "side", "main", "main"])
        self.assertEqual(self.server.control("GET", "script")[1]["served"], [1, 1])

    def test_side_answers_can_be_scripted(self):
        self.server.script({"text": "main"}, side={"subagent": "I looked around."})
        system = [{"type": "text", "text": "x-anthropic-billing-header: cc_is_subagent=true;"}]
        self.assertEqual(answer_text(self.stream(main_request(system=system))), "I looked around.")

    def test_turns_go_on_after_a_compaction(self):
        self.server.script({"text": "zero"}, {"text": "one"}, {"text": "two"})
        session = {"x-claude-code-session-id": "s-1"}
        compact = main_request("zero", prompt="CRITICAL: Respond with TEXT ONLY. Do NOT call any tools.")
        self.server.request("POST", "/v1/messages", compact, session)
        continued = {**MAIN, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "This session is being continued from a previous conversation that ran out..."},
            {"type": "text", "text": "after compact"}]}]}
        status, _, raw = self.server.request("POST", "/v1/messages", continued, session)
        self.assertEqual(json.loads(raw)["content"][0]["text"], "one")
        other_session = self.server.request("POST", "/v1/messages", continued, {"x-claude-code-session-id": "s-2"})
        self.assertEqual(json.loads(other_session[2])["content"][0]["text"], "zero")
        self.assertEqual([r["turn"] for r in self.server.requests()], [1, 1, 0])

    def test_unknown_paths_answer_404_in_the_api_shape(self):
        status, _, raw = self.server.request("GET", "/v1/models")
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (404, "not_found_error"))
        status, _, raw = self.server.request("POST", "/v1/messages", b"not json")
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (400, "invalid_request_error"))
        self.assertEqual([r["kind"] for r in self.server.requests()], ["other", "main"])
        status, answer = self.server.control("GET", "nope")
        self.assertEqual(status, 404)


class RequestLogTest(ServerTestCase):
    def test_records_requests_with_selected_headers_and_body(self):
        self.server.script({"text": "a"}, {"text": "b"})
        self.server.request("POST", "/v1/messages?beta=true", main_request(stream=True, prompt="first prompt"),
                            {"x-api-key": "sk-test", "anthropic-version": "2023-06-01", "User-Agent": "claude-cli/test",
                             "X-Claude-Code-Session-Id": "sess-1", "X-Secret-Other": "not recorded"})
        self.server.request("POST", "/v1/messages/count_tokens", main_request())
        self.server.request("POST", "/v1/messages", main_request("a"))
        requests = self.server.requests()
        self.assertEqual([r["seq"] for r in requests], [1, 2, 3])
        first = requests[0]
        self.assertEqual({k: first[k] for k in ("path", "kind", "turn", "entry", "stream", "status", "outcome",
                                                "model", "last_user_text")},
                         {"path": "/v1/messages?beta=true", "kind": "main", "turn": 0, "entry": 0, "stream": True,
                          "status": 200, "outcome": "complete", "model": "claude-test-1",
                          "last_user_text": "first prompt"})
        self.assertEqual(first["headers"], {"x-api-key": "sk-test", "anthropic-version": "2023-06-01",
                                            "user-agent": "claude-cli/test", "x-claude-code-session-id": "sess-1",
                                            "content-type": "application/json"})
        self.assertEqual(first["body"]["messages"][-1]["content"][0]["text"], "first prompt")
        self.assertIsInstance(first["time"], float)
        self.assertGreaterEqual(first["done"], first["time"])
        self.assertEqual([r["seq"] for r in self.server.requests("?kind=main")], [1, 3])
        self.assertEqual([r["seq"] for r in self.server.requests("?since=1")], [2, 3])
        self.assertNotIn("body", self.server.requests("?body=0")[0])
        self.assertEqual(self.server.control("POST", "reset", {})[0], 200)
        self.assertEqual(self.server.requests(), [])
        self.assertEqual(self.server.control("GET", "script")[1]["turns"], [])

    def test_last_user_text_skips_system_reminders(self):
        messages = [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>\nctx\n</system-reminder>"},
                                                 {"type": "text", "text": "the prompt"},
                                                 {"type": "text", "text": "<system-reminder>late</system-reminder>"}]}]
        self.assertEqual(fake.last_user_text(messages), "the prompt")
        self.assertEqual(fake.last_user_text([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]), "")

    def test_gzip_and_chunked_request_bodies(self):
        import gzip
        self.server.script({"text": "z"})
        connection = self.server.connection()
        try:
            data = gzip.compress(json.dumps(main_request()).encode())
            connection.putrequest("POST", "/v1/messages")
            connection.putheader("Content-Encoding", "gzip")
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(data), 100):
                piece = data[start:start + 100]
                connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
            self.assertEqual(json.loads(response.read())["content"][0]["text"], "z")
        finally:
            connection.close()


# --------------------------------------------------------------------------------------
# End to end with the real CLI
# --------------------------------------------------------------------------------------

class CliProcess:
    """The real `claude` in stream-json mode, with its own HOME and a git repository as cwd."""

    ARGS = ["--output-format", "stream-json", "--verbose", "--input-format", "stream-json",
            "--permission-prompt-tool", "stdio"]

    def __init__(self, port: int, workdir: Path, extra_env: dict | None = None, extra_args: tuple = ()):
        self.home = workdir / "home"
        self.repo = workdir / "repo"
        self.home.mkdir()
        self.repo.mkdir()
        if shutil.which("git"):
            subprocess.run(["git", "init", "-q", str(self.repo)], check=True, timeout=10)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LANG": "C.UTF-8",
               "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": "sk-test",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", **(extra_env or {})}
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([str(CLI_PATH), *self.ARGS, *extra_args], cwd=self.repo, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # no line-length cap: lines can be megabytes
            if line.startswith(b"{"):
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def send_user(self, text: str) -> None:
        self.send({"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": None,
                   "session_id": ""})

    def next_matching(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = self.lines.get(timeout=max(0.0, remaining))
            except queue.Empty:
                message = None
                reason = f"timeout after {timeout} s"
            else:
                reason = "CLI stdout closed"
            if message is None:
                raise AssertionError(f"{reason}; seen: {[m.get('type') + '/' + str(m.get('subtype')) for m in self.seen]};"
                                     f" stderr: {self.stderr_text()[-2000:]}")
            self.seen.append(message)
            if predicate(message):
                return message

    def result(self, timeout: float = 30) -> dict:
        return self.next_matching(lambda m: m.get("type") == "result", timeout)

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        """stdin EOF (finish and exit), then SIGTERM, then SIGKILL; always reaps the process."""
        try:
            if not self.process.stdin.closed:
                self.process.stdin.close()
        except OSError:
            pass
        for action in (None, signal.SIGTERM, signal.SIGKILL):
            if action is not None and self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, action)  # its own session: also reaches tool processes
                except ProcessLookupError:
                    pass
            try:
                self.process.wait(3)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process.stdout.close()
        self.stderr.close()


@unittest.skipUnless(CLI_PATH.exists() or IN_CI, f"the real CLI is not installed at {CLI_PATH} "
                                                 "(set CLAUDE_TEST_BIN, or run scripts/install-claude-cli.sh)")
class EndToEndTest(ServerTestCase):
    def setUp(self):
        # In CI a missing CLI is a failure, not a skip: these tests are what keeps the fake honest.
        self.assertTrue(os.access(CLI_PATH, os.X_OK),
                        f"the real CLI is not at {CLI_PATH}: CI must install it (scripts/install-claude-cli.sh) "
                        "and name it in CLAUDE_TEST_BIN")
        super().setUp()

    def spawn(self, **kwargs) -> CliProcess:
        workdir = Path(tempfile.mkdtemp(prefix="fake-anthropic-e2e-"))
        self.addCleanup(shutil.rmtree, workdir, ignore_errors=True)
        cli = CliProcess(self.server.port, workdir, **kwargs)
        self.addCleanup(cli.stop)
        return cli

    def test_text_turn(self):
        self.server.script({"text": "Hello from the scripted fake."})
        cli = self.spawn()
        cli.send_user("say hi")
        result = cli.result()
        self.assertEqual((result["subtype"], result["is_error"], result["result"]),
                         ("success", False, "Hello from the scripted fake."), result)
        init = next(m for m in cli.seen if m.get("type") == "system" and m.get("subtype") == "init")
        self.assertEqual(init["claude_code_version"], "2.1.331")
        main = self.server.requests("?kind=main")
        self.assertEqual(len(main), 1)
        self.assertEqual((main[0]["path"], main[0]["stream"], main[0]["last_user_text"]),
                         ("/v1/messages?beta=true", True, "say hi"))
        self.assertEqual(main[0]["headers"]["x-api-key"], "sk-test")
        self.assertEqual(main[0]["headers"]["x-claude-code-session-id"], result["session_id"])
        self.assertTrue(main[0]["headers"]["user-agent"].startswith("claude-cli/2.1.331"))
        assistant = next(m for m in cli.seen if m.get("type") == "assistant")
        self.assertEqual(assistant["message"]["model"], main[0]["model"])
        self.assertTrue(assistant["message"]["id"].startswith("msg_fake_"))

    def test_write_tool_use_asks_and_writes_the_file_when_allowed(self):
        cli = self.spawn()
        target = cli.repo / "hello.txt"
        self.server.script({"text": "I'll write the file.",
                            "tool_use": {"name": "Write", "input": {"file_path": str(target), "content": "hello world\n"}}},
                           {"text": "Wrote hello.txt."})
        cli.send_user("write hello.txt")
        request = cli.next_matching(lambda m: m.get("type") == "control_request", 30)
        self.assertEqual(request["request"]["subtype"], "can_use_tool")
        self.assertEqual((request["request"]["tool_name"], request["request"]["input"]),
                         ("Write", {"file_path": str(target), "content": "hello world\n"}))
        self.assertTrue(request["request"]["tool_use_id"].startswith("toolu_"))
        self.assertFalse(target.exists(), "nothing is written before the host allows it")
        cli.send({"type": "control_response", "response": {"subtype": "success", "request_id": request["request_id"],
                  "response": {"behavior": "allow", "updatedInput": request["request"]["input"]}}})
        result = cli.result()
        self.assertEqual((result["is_error"], result["result"]), (False, "Wrote hello.txt."), result)
        self.assertEqual(target.read_text(), "hello world\n")
        main = self.server.requests("?kind=main")
        self.assertEqual([r["turn"] for r in main], [0, 1])
        tool_result = main[1]["body"]["messages"][-1]["content"][0]
        self.assertEqual((tool_result["type"], tool_result["tool_use_id"]),
                         ("tool_result", request["request"]["tool_use_id"]))

    def test_authentication_error_ends_the_turn_with_api_error_status(self):
        self.server.script({"error": {"status": 401, "type": "authentication_error", "message": "invalid x-api-key"}})
        cli = self.spawn(extra_env={"CLAUDE_CODE_MAX_RETRIES": "1"})
        started = time.monotonic()
        cli.send_user("hello")
        result = cli.result(timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual((result["is_error"], result["api_error_status"]), (True, 401), result)
        self.assertLess(elapsed, 10, "CLAUDE_CODE_MAX_RETRIES=1 gives up after one retry (~1 s)")
        retries = [m for m in cli.seen if m.get("type") == "system" and m.get("subtype") == "api_retry"]
        self.assertEqual([(m["attempt"], m["error_status"]) for m in retries], [(1, 401)])
        self.assertEqual(len(self.server.requests("?kind=main")), 2)

    def test_mid_stream_error_falls_back_to_a_non_streaming_request(self):
        self.server.script({"sse_error_after_first_delta": True, "text": "complete answer after the fallback"})
        cli = self.spawn()
        cli.send_user("hello")
        result = cli.result()
        self.assertEqual((result["is_error"], result["result"]), (False, "complete answer after the fallback"), result)
        main = self.server.requests("?kind=main&body=0")
        self.assertEqual([(r["stream"], r["outcome"], r["turn"]) for r in main],
                         [(True, "sse_error", 0), (False, "complete", 0)])


if __name__ == "__main__":
    unittest.main()
