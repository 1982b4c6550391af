#!/usr/bin/env python3
"""A scripted fake of the Anthropic Messages API, for running the REAL Claude Code CLI in tests
(Python 3.11, standard library only).

The CLI is pointed at it with
    ANTHROPIC_BASE_URL=http://127.0.0.1:<port> ANTHROPIC_API_KEY=sk-test
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1  HOME=<a fresh temporary directory>
and every model turn it asks for is answered from a script the test posts beforehand. Facts about
what the CLI (2.1.331) sends and how it reacts are in shared/claude-code-protocol.md (beside the
repository), sections 2a, 2c, 2f, 2g, 2h and 2l.

Start
-----
    python3 Tests/FakeServers/fake_anthropic_api.py --port 0 [--no-stdin-watch]

* Binds 127.0.0.1 only; --port 0 picks a free port.
* Prints exactly one line "READY port=<N>" to stdout (flushed) once listening; logging goes to stderr.
* Exits with status 0 on SIGTERM/SIGINT and when its stdin reaches EOF (so a dead test process
  does not leak it); --no-stdin-watch turns the stdin rule off for running it by hand.
* HTTP/1.1 keep-alive, one thread per connection. Plain answers carry Content-Length, streams use
  chunked transfer encoding (as the real API does). Request bodies: Content-Length or chunked,
  optionally gzip/deflate Content-Encoding.

Messages API
------------
POST /v1/messages[?beta=true]
    "stream": true  -> text/event-stream: message_start, ping, then per content block
                       content_block_start / content_block_delta... / content_block_stop, then
                       message_delta {stop_reason, usage.output_tokens}, message_stop.
                       Blocks: thinking (thinking_delta pieces + one signature_delta), text
                       (text_delta pieces), tool_use (input_json_delta: "" then the JSON in pieces).
    otherwise       -> one JSON message {"id":"msg_fake_...","type":"message","role":"assistant",
                       "model":<echoed>,"content":[...],"stop_reason","stop_sequence":null,"usage"}.
                       The CLI falls back to a non-streaming request after a mid-stream error.
POST /v1/messages/count_tokens[?beta=true] -> {"input_tokens": N}  (N estimated from the body size)
Anything else -> 404 {"type":"error","error":{"type":"not_found_error","message":"Not Found"}}.
Errors use the API's shape: HTTP status + {"type":"error","error":{"type","message"},"request_id"}.
Ids look real: messages "msg_fake_<24 hex>", tool uses "toolu_<24 hex>", header request-id
"req_fake_<24 hex>". The model is echoed from the request. Usage: input_tokens ~ request bytes / 4,
output_tokens ~ answer characters / 4 (both >= 1), cache fields 0 (a turn's "usage" overrides).

Which requests consume script turns
-----------------------------------
Every request is classified ("kind"); only "main" requests are answered from the script:
  count_tokens  POST /v1/messages/count_tokens
  subagent      the first system block carries the billing header with "cc_is_subagent=true"
  compact       the last user message asks for the conversation summary ("CRITICAL: Respond with
                TEXT ONLY..." / "...create a detailed summary of the conversation so far...");
                answered "<summary>Fake summary of the conversation.</summary>" (the CLI retries
                a compaction answer without <summary>)
  suggestion    the last user message starts "[SUGGESTION MODE:" (--prompt-suggestions)
  side          max_tokens <= 1 (the "Hi" probe of get_context_usage), or a request without tools
                that has only one message and a system prompt which is not the main one (title /
                classifier style side queries)
  main          everything else sent to /v1/messages
  other         any other path (answered 404)
Non-main kinds get a short text answer (see "side" in the script to change it).

The turn of a main request = the number of "assistant" messages in its "messages" array. So
retries of a turn (no assistant message was added) see the same turn, and a CLI resumed with
--resume (whose history holds the earlier turns) lines up with the script of the whole session.
Consequences seen with CLI 2.1.331: a turn that failed with an API error or was interrupted before
any text streamed adds no assistant message (the next user message is merged into the same user
turn), so the next request has the SAME turn; an interrupted turn that had streamed text keeps it
(aborted partial assistant message), so the next request is the next turn. After a compaction the
CLI's history restarts from a summary; the fake remembers, per X-Claude-Code-Session-Id, how many
turns the compaction covered and goes on counting from there (until /__fake/reset).

Script: POST /__fake/script {"turns":[TURN, ...], "side":{"<kind>":"text", ...}?}
------------------------------------------------------------------------------
Replaces the script (and its counters; the request log stays). TURN is an object of:
  {"text":"..."}                                         a text answer (stop_reason end_turn)
  {"text":"...","tool_use":{"name":"Write","input":{...},"id":"toolu_..."?}}
  {"text":"...","tool_uses":[{"name":..,"input":..}, ...]}  text optional; stop_reason tool_use
  {"thinking":"...","text":"..."}                        a thinking block (with a fake signature) first
  {"error":{"status":401|400|429|500|529|...,"type":"authentication_error"?,"message":"..."?,
            "headers":{...}?,"retry_after":S?}}          an HTTP error (type/message default by status)
  {"hang":true}                                          read the request, never answer (until the
                                                         client closes, POST /__fake/release or exit);
                                                         {"hang":S} closes without an answer after S s
  {"sse_error_after_first_delta":true|N,"text":"...","sse_error":{"type","message"}?}
         the first (or first N) STREAMING requests of this turn get message_start, the first text
         delta, then an SSE "error" event (overloaded_error by default) and the end of the stream;
         later requests (the CLI's non-streaming retry) get the full answer
Options on content turns:
  "delay_ms":250,"chunks":40   the text is split into `chunks` text_delta pieces sent delay_ms apart
                               (the delay also applies between thinking and tool-input deltas)
  "delay_before_ms":N          wait N ms before the response headers
  "stop_reason":"max_tokens"   override (default tool_use when there are tool uses, else end_turn)
  "usage":{...}                merged over the computed usage
Option on any turn:
  "times":N    this behaviour answers N requests of its turn and then gives way to the NEXT script
               entry FOR THE SAME TURN (an entry with "times" does not take a turn slot of its own).
               E.g. [{"error":{"status":529},"times":2},{"text":"recovered"}] answers turn 0 with two
               529s and then "recovered"; without "times" an error answers its turn forever.
When the script runs out, main requests get the text "(script exhausted)".
Unknown keys or wrong types answer 400 {"error":"..."} so a typo in a test fails loudly.
"side" overrides the short answers for the non-main kinds (subagent, compact, suggestion, side).

Other control endpoints (JSON in, JSON out; errors are {"error":"..."})
-----------------------------------------------------------------------
GET  /__fake/script      {"turns":[...],"served":[requests answered per entry],"side":{...}}
GET  /__fake/requests[?kind=main][&since=SEQ][&body=0]
     {"requests":[{"seq":1,"method":"POST","path":"/v1/messages?beta=true","kind":"main","turn":0,
       "assistant_messages":0,"entry":0,"stream":true,"status":200,"outcome":"complete","headers":{x-api-key,
       anthropic-version, anthropic-beta, x-claude-code-session-id, user-agent, x-app,
       x-stainless-retry-count, x-stainless-timeout, authorization, content-type (those present)},
       "model":"...","last_user_text":"...","body":{...parsed JSON...},"time":1700000000.5,
       "done":1700000000.7}]}
     In arrival order. "time" = when the request was read, "done" = when its answer was written to
     the end (the last byte of a stream; null while in flight, for a hang, and when the client went
     away). "turn" = the turn as defined above (assistant messages in the body, plus the turns before a
     compaction; null without messages), "entry" = script index that answered (null:
     not from the script). "last_user_text" = the last text block of the last user message that is
     not a <system-reminder> (the prompt as typed; "" for a tool_result message). status/outcome
     are null while in flight; outcome: complete | error | sse_error | hung | client_closed |
     exhausted | side. body=0 leaves the (large, ~60 KB with the CLI's tools) bodies out.
POST /__fake/reset       clears the script, its counters and the request log; releases hung requests.
POST /__fake/release     closes every hung request (without an answer) and lets later hangs wait anew.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import secrets
import select
import socket
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Any

from fake_server_runtime import LoopbackServer, serve

NAME = "fake_anthropic_api"
log = logging.getLogger("fake_anthropic_api")

MAX_BODY_BYTES = 64 * 1024 * 1024
EXHAUSTED_TEXT = "(script exhausted)"
DEFAULT_SIDE_TEXT = {
    "side": "OK.",
    "subagent": "(fake subagent reply)",
    "compact": "<summary>Fake summary of the conversation.</summary>",
    "suggestion": "(fake suggestion)",
}
COMPACT_MARKERS = ("CRITICAL: Respond with TEXT ONLY",
                   "create a detailed summary of the conversation so far")
SUGGESTION_MARKER = "[SUGGESTION MODE:"
COMPACTED_MARKER = "This session is being continued from a previous conversation"
RECORDED_HEADERS = ("x-api-key", "authorization", "anthropic-version", "anthropic-beta",
                    "x-claude-code-session-id", "user-agent", "x-app", "x-stainless-retry-count",
                    "x-stainless-timeout", "content-type")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}
ERROR_MESSAGES = {"invalid_request_error": "Invalid request", "authentication_error": "invalid x-api-key",
                  "permission_error": "Your API key does not have permission to use the specified resource.",
                  "not_found_error": "Not Found", "request_too_large": "Request exceeds the maximum allowed size.",
                  "rate_limit_error": "Rate limited", "api_error": "Internal server error",
                  "overloaded_error": "Overloaded"}


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def estimate_tokens(text_or_size: str | int) -> int:
    size = text_or_size if isinstance(text_or_size, int) else len(text_or_size)
    return max(1, size // 4)


# --------------------------------------------------------------------------------------
# Script
# --------------------------------------------------------------------------------------

class ScriptError(ValueError):
    pass


CONTENT_KEYS = {"text", "thinking", "tool_use", "tool_uses", "delay_ms", "chunks", "delay_before_ms",
                "stop_reason", "usage", "sse_error_after_first_delta", "sse_error"}
TURN_KEYS = CONTENT_KEYS | {"error", "hang", "times"}
ERROR_KEYS = {"status", "type", "message", "headers", "retry_after"}
TOOL_USE_KEYS = {"name", "input", "id"}


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScriptError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_turn(turn: Any, where: str) -> dict:
    _expect(isinstance(turn, dict), f"{where}: a turn must be an object")
    unknown = sorted(set(turn) - TURN_KEYS)
    _expect(not unknown, f"{where}: unknown key(s) {unknown}")
    if "times" in turn:
        _expect(_is_int(turn["times"]) and turn["times"] >= 1, f"{where}: times must be an integer >= 1")
    modes = [key for key in ("error", "hang") if key in turn]
    content = sorted(set(turn) & (CONTENT_KEYS - {"delay_before_ms"}))
    _expect(len(modes) <= 1, f"{where}: error and hang exclude each other")
    if modes:
        _expect(not content, f"{where}: {modes[0]} excludes {content}")
    if "error" in turn:
        error = turn["error"]
        _expect(isinstance(error, dict), f"{where}: error must be an object")
        unknown = sorted(set(error) - ERROR_KEYS)
        _expect(not unknown, f"{where}: unknown error key(s) {unknown}")
        _expect(_is_int(error.get("status")) and 400 <= error["status"] <= 599,
                f"{where}: error.status must be an HTTP error status (400-599)")
        for key in ("type", "message"):
            _expect(isinstance(error.get(key, ""), str), f"{where}: error.{key} must be a string")
        _expect(isinstance(error.get("headers", {}), dict)
                and all(isinstance(v, str) for v in error.get("headers", {}).values()),
                f"{where}: error.headers must be an object of strings")
        _expect("retry_after" not in error or _is_number(error["retry_after"]),
                f"{where}: error.retry_after must be a number")
        return turn
    if "hang" in turn:
        hang = turn["hang"]
        _expect(hang is True or (_is_number(hang) and hang >= 0), f"{where}: hang must be true or seconds")
        return turn
    _expect(any(key in turn for key in ("text", "thinking", "tool_use", "tool_uses")),
            f"{where}: a turn needs text, thinking, tool_use(s), error or hang")
    for key in ("text", "thinking"):
        _expect(isinstance(turn.get(key, ""), str), f"{where}: {key} must be a string")
    _expect(not ("tool_use" in turn and "tool_uses" in turn), f"{where}: give tool_use or tool_uses, not both")
    uses = turn.get("tool_uses", [turn["tool_use"]] if "tool_use" in turn else [])
    _expect(isinstance(uses, list), f"{where}: tool_uses must be a list")
    for number, use in enumerate(uses):
        _expect(isinstance(use, dict), f"{where}: tool use {number} must be an object")
        unknown = sorted(set(use) - TOOL_USE_KEYS)
        _expect(not unknown, f"{where}: tool use {number}: unknown key(s) {unknown}")
        _expect(isinstance(use.get("name"), str) and use["name"], f"{where}: tool use {number} needs a name")
        _expect(isinstance(use.get("input", {}), dict), f"{where}: tool use {number}: input must be an object")
        _expect(isinstance(use.get("id", "toolu_"), str), f"{where}: tool use {number}: id must be a string")
    for key in ("delay_ms", "delay_before_ms"):
        _expect(key not in turn or (_is_number(turn[key]) and turn[key] >= 0), f"{where}: {key} must be >= 0")
    _expect("chunks" not in turn or (_is_int(turn["chunks"]) and turn["chunks"] >= 1),
            f"{where}: chunks must be an integer >= 1")
    _expect(isinstance(turn.get("stop_reason", ""), str), f"{where}: stop_reason must be a string")
    _expect(isinstance(turn.get("usage", {}), dict), f"{where}: usage must be an object")
    sse = turn.get("sse_error_after_first_delta", False)
    _expect(isinstance(sse, bool) or (_is_int(sse) and sse >= 0),
            f"{where}: sse_error_after_first_delta must be true/false or a count")
    if "sse_error" in turn:
        _expect(isinstance(turn["sse_error"], dict) and set(turn["sse_error"]) <= {"type", "message"},
                f"{where}: sse_error must be {{type, message}}")
        _expect(sse, f"{where}: sse_error needs sse_error_after_first_delta")
    if sse:
        _expect(turn.get("text"), f"{where}: sse_error_after_first_delta needs a non-empty text")
    return turn


class Script:
    """The scripted turns and how many requests each entry has answered."""

    def __init__(self, turns: list[dict] | None = None, side: dict[str, str] | None = None):
        self.turns = turns or []
        self.side = {**DEFAULT_SIDE_TEXT, **(side or {})}
        self.served = [0] * len(self.turns)
        self.sse_errors_sent = [0] * len(self.turns)

    @classmethod
    def parse(cls, payload: Any) -> "Script":
        _expect(isinstance(payload, dict), "the script must be an object {\"turns\": [...]}")
        unknown = sorted(set(payload) - {"turns", "side"})
        _expect(not unknown, f"unknown key(s) {unknown}")
        turns = payload.get("turns")
        _expect(isinstance(turns, list), "turns must be a list")
        side = payload.get("side", {})
        _expect(isinstance(side, dict) and set(side) <= set(DEFAULT_SIDE_TEXT)
                and all(isinstance(v, str) for v in side.values()),
                f"side must map some of {sorted(DEFAULT_SIDE_TEXT)} to strings")
        return cls([validate_turn(turn, f"turns[{index}]") for index, turn in enumerate(turns)], side)

    def pick(self, turn: int) -> tuple[int | None, dict | None]:
        """The entry answering a request of `turn` (and counts it), or (None, None) when exhausted."""
        slot = 0
        for index, entry in enumerate(self.turns):
            if "times" in entry:  # a transient behaviour in front of the slot's next entry
                if slot == turn and self.served[index] < entry["times"]:
                    self.served[index] += 1
                    return index, entry
                continue
            if slot == turn:
                self.served[index] += 1
                return index, entry
            slot += 1
        return None, None

    def take_sse_error(self, index: int, entry: dict) -> bool:
        wanted = entry.get("sse_error_after_first_delta", False)
        allowed = (1 if wanted else 0) if isinstance(wanted, bool) else wanted
        if self.sse_errors_sent[index] < allowed:
            self.sse_errors_sent[index] += 1
            return True
        return False

    def describe(self) -> dict:
        return {"turns": self.turns, "served": self.served, "side": self.side}


# --------------------------------------------------------------------------------------
# Request inspection
# --------------------------------------------------------------------------------------

def text_of(content: Any) -> str:
    """The text of a message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(block.get("text", "") for block in content
                         if isinstance(block, dict) and block.get("type") == "text"
                         and isinstance(block.get("text"), str))
    return ""


def system_text(body: dict) -> str:
    system = body.get("system")
    return text_of(system) if isinstance(system, list) else system if isinstance(system, str) else ""


def last_user_message_text(messages: list) -> str:
    """All the text of the last user message (for classification)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def last_user_text(messages: list) -> str:
    """The last text block of the last user message that is not a <system-reminder> (the CLI puts
    reminders and "[Request interrupted by user]" blocks in front of the prompt); "" when that
    message holds only tool results."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            texts = [block.get("text") for block in content if isinstance(block, dict)
                     and block.get("type") == "text" and isinstance(block.get("text"), str)] \
                if isinstance(content, list) else []
            prompts = [text for text in texts if not text.lstrip().startswith("<system-reminder>")]
            return (prompts or texts or [""])[-1]
    return ""


def is_compacted(messages: list) -> bool:
    """Whether the history starts with the summary the CLI puts there after a compaction."""
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            return COMPACTED_MARKER in text_of(message.get("content"))
    return False


def assistant_count(body: Any) -> int | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return None
    return sum(1 for message in messages if isinstance(message, dict) and message.get("role") == "assistant")


def classify(path: str, body: Any) -> str:
    route = urllib.parse.urlsplit(path).path.rstrip("/")
    if route == "/v1/messages/count_tokens":
        return "count_tokens"
    if route != "/v1/messages":
        return "other"
    if not isinstance(body, dict):
        return "main"  # answered 400 anyway
    system = system_text(body)
    if "cc_is_subagent=true" in system:
        return "subagent"
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    last_text = last_user_message_text(messages)
    if any(marker in last_text for marker in COMPACT_MARKERS):
        return "compact"
    if last_text.lstrip().startswith(SUGGESTION_MARKER):
        return "suggestion"
    max_tokens = body.get("max_tokens")
    if _is_number(max_tokens) and max_tokens <= 1:
        return "side"
    if not body.get("tools") and len(messages) <= 1 and "x-anthropic-billing-header" not in system:
        return "side"
    return "main"


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------

def split_text(text: str, pieces: int) -> list[str]:
    """`text` in `pieces` nearly equal parts (fewer when the text is shorter); [""] for ""."""
    if not text:
        return [""]
    pieces = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), pieces)
    parts, start = [], 0
    for number in range(pieces):
        end = start + size + (1 if number < extra else 0)
        parts.append(text[start:end])
        start = end
    return parts


class Answer:
    """The assistant message of one content turn, as blocks + stream events."""

    def __init__(self, entry: dict, model: str, input_tokens: int):
        self.entry = entry
        self.model = model
        self.id = new_id("msg_fake_")
        self.blocks: list[dict] = []
        if entry.get("thinking"):
            self.blocks.append({"type": "thinking", "thinking": entry["thinking"],
                                "signature": "fake-sig-" + secrets.token_urlsafe(32)})
        if "text" in entry:
            self.blocks.append({"type": "text", "text": entry["text"]})
        uses = entry.get("tool_uses", [entry["tool_use"]] if "tool_use" in entry else [])
        for use in uses:
            self.blocks.append({"type": "tool_use", "id": use.get("id") or new_id("toolu_"),
                                "name": use["name"], "input": use.get("input", {})})
        self.stop_reason = entry.get("stop_reason") or ("tool_use" if uses else "end_turn")
        produced = sum(len(b.get("text", "")) + len(b.get("thinking", "")) +
                       (len(json.dumps(b["input"])) if b["type"] == "tool_use" else 0) for b in self.blocks)
        self.usage = {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": estimate_tokens(produced),
                      "service_tier": "standard", **entry.get("usage", {})}

    def message(self) -> dict:
        return {"id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": self.blocks, "stop_reason": self.stop_reason, "stop_sequence": None,
                "usage": self.usage}

    def start_event(self) -> dict:
        usage = {**self.usage, "output_tokens": 1}
        return {"type": "message_start", "message": {**self.message(), "content": [], "stop_reason": None,
                                                     "usage": usage}}

    def block_events(self, index: int, block: dict) -> tuple[dict, list[dict], dict]:
        """(content_block_start, deltas, content_block_stop) of one block."""
        if block["type"] == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": part}
                      for part in split_text(block["thinking"], self.entry.get("chunks", 3))]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": part}
                      for part in split_text(block["text"], self.entry.get("chunks", 3))]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [{"type": "input_json_delta", "partial_json": part}
                       for part in split_text(json.dumps(block["input"]), 3) if part]
        return ({"type": "content_block_start", "index": index, "content_block": start},
                [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas],
                {"type": "content_block_stop", "index": index})

    def end_events(self) -> list[dict]:
        return [{"type": "message_delta", "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                 "usage": {"output_tokens": self.usage["output_tokens"]}},
                {"type": "message_stop"}]


def error_body(error_type: str, message: str) -> dict:
    return {"type": "error", "error": {"type": error_type, "message": message},
            "request_id": new_id("req_fake_")}


# --------------------------------------------------------------------------------------
# Application state
# --------------------------------------------------------------------------------------

class ClientClosed(Exception):
    pass


class FakeAnthropicApp:
    def __init__(self):
        self.lock = threading.Lock()
        self.script = Script()
        self.requests: list[dict] = []
        self.compaction_base: dict[str, int] = {}  # session id -> turns before its last compaction
        self.stopping = threading.Event()
        self.release = threading.Event()

    def record(self, method: str, path: str, headers, body: Any, kind: str) -> dict:
        messages = body.get("messages") if isinstance(body, dict) else None
        assistants = assistant_count(body)
        entry = {
            "method": method, "path": path, "kind": kind,
            "turn": assistants, "assistant_messages": assistants, "entry": None,
            "stream": bool(body.get("stream")) if isinstance(body, dict) else False,
            "status": None, "outcome": None,
            "headers": {name: headers[name] for name in RECORDED_HEADERS if headers.get(name) is not None},
            "model": body.get("model") if isinstance(body, dict) else None,
            "last_user_text": last_user_text(messages) if isinstance(messages, list) else None,
            "body": body, "time": time.time(), "done": None,
        }
        with self.lock:
            entry["seq"] = len(self.requests) + 1
            self.requests.append(entry)
            if assistants is not None and kind in ("main", "compact"):
                # A compaction restarts the history: its turns go on from the turns it summarised.
                session = headers.get("x-claude-code-session-id") or ""
                if is_compacted(messages):
                    entry["turn"] = self.compaction_base.get(session, 0) + assistants
                if kind == "compact":
                    self.compaction_base[session] = entry["turn"]
        return entry

    def reset(self) -> None:
        with self.lock:
            self.script = Script()
            self.requests = []
            self.compaction_base = {}
        self.release_hangs()

    def release_hangs(self) -> None:
        with self.lock:
            released, self.release = self.release, threading.Event()
        released.set()

    def listing(self, query: dict) -> dict:
        kind = query.get("kind", [None])[0]
        since = int(query.get("since", ["0"])[0] or 0)
        with_body = query.get("body", ["1"])[0] not in ("0", "false", "no")
        with self.lock:
            chosen = [dict(r) for r in self.requests if r["seq"] > since and (kind is None or r["kind"] == kind)]
        if not with_body:
            for request in chosen:
                request.pop("body", None)
        return {"requests": chosen}


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

class BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(rfile, headers) -> bytes:
    transfer_encoding = (headers.get("Transfer-Encoding") or "").strip().lower()
    if transfer_encoding:
        if transfer_encoding != "chunked":
            raise BodyError(501, "unsupported Transfer-Encoding")
        chunks, total = [], 0
        while True:
            line = rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
                raise BodyError(400, "invalid chunk size line")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise BodyError(413, "request body too large")
            chunk = rfile.read(size)
            if len(chunk) != size or rfile.read(2) != b"\r\n":
                raise BodyError(400, "truncated chunk")
            chunks.append(chunk)
        while True:
            line = rfile.readline(8192)
            if not line.endswith(b"\n"):
                raise BodyError(400, "truncated chunked trailer")
            if line in (b"\r\n", b"\n"):
                break
        data = b"".join(chunks)
    else:
        length_text = (headers.get("Content-Length") or "0").strip()
        if not length_text.isdigit():
            raise BodyError(400, "invalid Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise BodyError(413, "request body too large")
        data = rfile.read(length)
        if len(data) != length:
            raise BodyError(400, "request body shorter than Content-Length")
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    try:
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "deflate":
            data = zlib.decompress(data)
        elif encoding not in ("identity", ""):
            raise BodyError(415, f"unsupported Content-Encoding {encoding}")
    except (OSError, zlib.error, EOFError) as error:
        raise BodyError(400, f"cannot decode {encoding} body: {error}") from error
    return data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAnthropicAPI/1.0"
    # Head and body go out as separate writes: without this, Nagle holds back the second one
    # for the client's delayed ACK (~40 ms per keep-alive request).
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this

    server: LoopbackServer

    @property
    def app(self) -> FakeAnthropicApp:
        return self.server.app

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            raw = read_body(self.rfile, self.headers)
        except BodyError as error:
            self.close_connection = True
            self._json(error.status, error_body("invalid_request_error", error.message))
            return
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/__fake/"):
                self._control(path[len("/__fake/"):], raw)
                return
            record = self._api(raw)
        except ClientClosed:
            self.close_connection = True
            return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as error:  # a bug in the fake: say so loudly
            log.exception("internal error")
            self.close_connection = True
            try:
                self._json(500, error_body("api_error", f"fake bug: {error!r}"))
            except OSError:
                pass
            return
        log.info("#%d %s %s kind=%s turn=%s entry=%s -> %s %s (%.1f ms)", record["seq"], self.command, self.path,
                 record["kind"], record["turn"], record["entry"], record["status"], record["outcome"],
                 (time.monotonic() - started) * 1000)

    # --- control API ---

    def _control(self, name: str, raw: bytes) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if self.command == "GET" and name == "requests":
            self._json(200, self.app.listing(query))
        elif self.command == "GET" and name == "script":
            with self.app.lock:
                self._json(200, json.loads(json.dumps(self.app.script.describe())))
        elif self.command == "POST" and name == "script":
            try:
                script = Script.parse(json.loads(raw or b"null"))
            except (ValueError, ScriptError) as error:  # JSONDecodeError is a ValueError
                self._json(400, {"error": str(error)})
                return
            with self.app.lock:
                self.app.script = script
            self._json(200, {"ok": True, "turns": len(script.turns)})
        elif self.command == "POST" and name == "reset":
            self.app.reset()
            self._json(200, {"ok": True})
        elif self.command == "POST" and name == "release":
            self.app.release_hangs()
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": f"unknown control endpoint {self.command} /__fake/{name}"})

    # --- Messages API ---

    def _api(self, raw: bytes) -> dict:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        kind = classify(self.path, body)
        record = self.app.record(self.command, self.path, self.headers, body, kind)
        try:
            self._answer(record, body, kind, len(raw))
        except (BrokenPipeError, ConnectionResetError, ClientClosed):
            record["outcome"] = "client_closed"
            raise
        if record["outcome"] != "hung":
            record["done"] = time.time()
        return record

    def _answer(self, record: dict, body: Any, kind: str, size: int) -> None:
        if kind == "other" or self.command != "POST":
            self._api_error(record, 404, "not_found_error", "Not Found")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._api_error(record, 400, "invalid_request_error", "fake: the body must be a JSON object with messages")
            return
        if kind == "count_tokens":
            record["outcome"] = "complete"
            self._json(200, {"input_tokens": estimate_tokens(size)}, record)
            return
        model = body.get("model") if isinstance(body.get("model"), str) else "claude-fake"
        stream = bool(body.get("stream"))
        if kind != "main":
            with self.app.lock:
                text = self.app.script.side[kind] if kind in self.app.script.side else "OK."
            record["outcome"] = "side"
            self._content(record, Answer({"text": text}, model, estimate_tokens(size)), stream, False, {})
            return
        with self.app.lock:
            index, entry = self.app.script.pick(record["turn"])
            sse_error = bool(entry) and stream and "text" in entry and self.app.script.take_sse_error(index, entry)
            release = self.app.release
        record["entry"] = index
        if entry is None:
            record["outcome"] = "exhausted"
            self._content(record, Answer({"text": EXHAUSTED_TEXT}, model, estimate_tokens(size)), stream, False, {})
            return
        if entry.get("delay_before_ms"):
            self._sleep(entry["delay_before_ms"] / 1000)
        if "error" in entry:
            error = entry["error"]
            status = error["status"]
            error_type = error.get("type") or ERROR_TYPES.get(status, "api_error" if status >= 500 else
                                                               "invalid_request_error")
            headers = dict(error.get("headers", {}))
            if "retry_after" in error:
                headers["retry-after"] = str(error["retry_after"])
            record["outcome"] = "error"
            self._api_error(record, status, error_type, error.get("message") or ERROR_MESSAGES.get(error_type,
                                                                                                  "Error"), headers)
        elif "hang" in entry:
            record["outcome"] = "hung"
            self._hang(None if entry["hang"] is True else float(entry["hang"]), release)
            self.close_connection = True
        else:
            record["outcome"] = "sse_error" if sse_error else "complete"
            self._content(record, Answer(entry, model, estimate_tokens(size)), stream, sse_error, entry)

    def _content(self, record: dict, answer: Answer, stream: bool, sse_error: bool, entry: dict) -> None:
        if not stream:
            self._json(200, answer.message(), record)
            return
        delay = entry.get("delay_ms", 0) / 1000
        record["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", new_id("req_fake_"))
        self.end_headers()
        self._event(answer.start_event())
        self._event({"type": "ping"})
        deltas_sent = 0
        for index, block in enumerate(answer.blocks):
            start, deltas, stop = answer.block_events(index, block)
            self._event(start)
            for number, delta in enumerate(deltas):
                if deltas_sent and delay:
                    self._sleep(delay)
                self._event(delta)
                deltas_sent += 1
                if sse_error and number == 0 and block["type"] == "text":
                    error = entry.get("sse_error", {})
                    error_type = error.get("type", "overloaded_error")
                    self._event({"type": "error", "error": {
                        "type": error_type, "message": error.get("message", ERROR_MESSAGES.get(error_type, "Error"))}})
                    self._end_chunks()
                    return
            self._event(stop)
        for event in answer.end_events():
            self._event(event)
        self._end_chunks()

    def _event(self, event: dict) -> None:
        data = f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _sleep(self, seconds: float) -> None:
        """Sleeps, but notices a client that went away (raises ClientClosed) and server shutdown."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.app.stopping.is_set() or self._client_closed(min(remaining, 0.1)):
                raise ClientClosed()

    def _hang(self, seconds: float | None, release: threading.Event) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        while not (self.app.stopping.is_set() or release.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                return
            if self._client_closed(0.1):
                raise ClientClosed()

    def _client_closed(self, wait: float) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], wait)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _api_error(self, record: dict, status: int, error_type: str, message: str,
                   headers: dict | None = None) -> None:
        if record.get("outcome") is None:
            record["outcome"] = "error"
        self._json(status, error_body(error_type, message), record, headers)

    def _json(self, status: int, payload: Any, record: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        if record is not None:
            record["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if record is not None:
            self.send_header("request-id", new_id("req_fake_"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def log_message(self, format: str, *args) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Scripted fake Anthropic Messages API for tests (binds 127.0.0.1).")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="do not exit when stdin reaches EOF (for running by hand)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="fake_anthropic_api %(asctime)s %(levelname)s %(message)s")
    app = FakeAnthropicApp()
    server = LoopbackServer(args.port, Handler, app)
    return serve(server, NAME, watch_input=not args.no_stdin_watch, on_stop=app.stopping.set)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
