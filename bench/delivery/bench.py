#!/usr/bin/env python3
"""Delivery benchmark driver (issue 16): how fast and in how many messages the bot's answers
reach Telegram, how fast taps are acknowledged while a run streams, and what a forum group's
shared budget does to its topics. The real botserver (webhook mode) drives the real Claude Code
CLI against the fake Anthropic API (Tests/FakeServers/fake_anthropic_api.py, scripted) and talks
to the fake Bot API (Tests/FakeServers/fake_bot_api.py) with its DEFAULT flood limits. Python
standard library only; run.sh finds or builds the binaries and the CLI and calls it. See
bench/README.md.

Clocks: every latency is a difference of two CLOCK_REALTIME readings on this machine: the
driver's just before it writes a webhook request (the update's receipt), the fake Bot API's
(`time` in its call log: once the request is read and decoded) and the fake Anthropic API's
(`done` in its request log: once the last byte of an answer was written).

What counts as the answer: the first successful sendMessage or editMessageText (never a draft)
whose text contains the scripted answer sentence, which carries a marker unique to the prompt
(in the forum group both topics get the same sentence: their sessions are at the same turn of
one script; they are told apart by the topic the message is in).
"""

import argparse
import datetime
import http.client
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FAKE_BOT_API = os.path.join(REPO, "Tests", "FakeServers", "fake_bot_api.py")
FAKE_ANTHROPIC = os.path.join(REPO, "Tests", "FakeServers", "fake_anthropic_api.py")

# The process handling, webhook client and percentiles of the chat-latency benchmark.
_spec = importlib.util.spec_from_file_location("chat_latency_bench", os.path.join(HERE, "..", "chat-latency", "bench.py"))
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)
Child, WebhookClient, BenchError, Interrupted = common.Child, common.WebhookClient, common.BenchError, common.Interrupted
percentile, free_port, wait_ready, log = common.percentile, common.free_port, common.wait_ready, common.log
start_fake = common.start_fake

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # well-formed, fake
BOT_USERNAME = "fake_bot"  # what the fake's getMe says
SECRET_ALPHABET = string.ascii_letters + string.digits + "_-"
USER = 4242  # the only allowed user; private chat ids = this user
SIMPLE_CHAT = USER
GROUP_CHAT = -1003000000042
TOPICS = (11, 12)
NEW_MESSAGE_METHODS = ("sendMessage", "sendDocument", "sendPhoto")
ANSWER_METHODS = ("sendMessage", "editMessageText")
# The live progress message's first line while a run works ("⏳ Working · 3 s", "✋ Waiting for your
# approval · 1 s"). In a group it quotes the partial answer, which can be all of it: such an edit is
# not the answer. Keep in step with ProgressRenderer.progress.
PROGRESS_PREFIXES = ("⏳", "✋")

TARGETS = {"p50_ms": 150.0, "p90_ms": 300.0, "not_modified": 0, "tap_p99_ms": 100.0, "new_messages": 2,
           "group_s": 4.0}


# --- the fakes ------------------------------------------------------------------------

def control(port, method, path, payload=None, timeout=30):
    """A control route of either fake: JSON in, JSON out."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = None if payload is None else json.dumps(payload).encode()
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise BenchError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)
    finally:
        conn.close()


class CallLog(threading.Thread):
    """Follows the fake Bot API's call log (GET /__fake/calls?since=…, every `interval` s) and
    lets the driver wait for a call. Completed calls only (status known): a call still in
    flight is picked up again on a later poll."""

    def __init__(self, port, interval=0.02):
        super().__init__(name="calls", daemon=True)
        self.port, self.interval = port, interval
        self.calls = []
        self.seen = set()
        self.since = 0
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            while not self.stopping.is_set():
                conn.request("GET", f"/__fake/calls?since={self.since}")
                calls = json.loads(conn.getresponse().read())["calls"]
                with self.cond:
                    for call in calls:
                        if call.get("status") is None:
                            break  # in flight (a long poll or a delayed answer): ask again from here
                        self.since = call["seq"]
                        if call["seq"] not in self.seen:
                            self.seen.add(call["seq"])
                            self.calls.append(call)
                    self.cond.notify_all()
                self.stopping.wait(self.interval)
        except Exception as error:
            self.error = f"call log poller: {error!r}"
            with self.cond:
                self.cond.notify_all()
        finally:
            conn.close()

    def last_seq(self):
        with self.cond:
            return self.calls[-1]["seq"] if self.calls else 0

    def wait_for(self, predicate, timeout, what):
        """The first call (in arrival order) that satisfies predicate; BenchError after timeout."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self.cond:
            while True:
                for call in self.calls[checked:]:
                    if predicate(call):
                        return call
                checked = len(self.calls)
                if self.error:
                    raise BenchError(self.error)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BenchError(f"no {what} within {timeout:.0f} s")
                self.cond.wait(remaining)

    def wait_quiet(self, chat, quiet, limit):
        """Until no call concerning `chat` arrived for `quiet` s (at most `limit` s): the bot has
        sent what this prompt made it send, so the next prompt starts from a quiet outbox.
        Returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            with self.cond:
                last = max((c["time"] for c in self.calls if chat_of(c) == chat), default=0.0)
            if time.time() - last >= quiet:
                break
            time.sleep(0.05)
        return time.monotonic() - started


def chat_of(call):
    try:
        return int((call.get("params") or {}).get("chat_id"))
    except (TypeError, ValueError):
        return None


def text_of(call):
    return str((call.get("params") or {}).get("text", ""))


def carries(call, chat, marker):
    """A message or edit (not a draft) that Telegram took, in `chat`, with the marker in its text."""
    return (call["method"] in ANSWER_METHODS and call.get("ok") and chat_of(call) == chat
            and marker in text_of(call))


def is_answer(call, chat, marker):
    return carries(call, chat, marker) and not text_of(call).lstrip().startswith(PROGRESS_PREFIXES)


def buttons(call):
    markup = (call.get("params") or {}).get("reply_markup")
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            return []
    rows = (markup or {}).get("inline_keyboard") or [] if isinstance(markup, dict) else []
    return [b for row in rows for b in row if isinstance(b, dict)]


def allow_button(call):
    """callback_data of the Allow button of an approval question, or None."""
    for b in buttons(call):
        if "allow" in str(b.get("text", "")).lower() and "always" not in str(b.get("text", "")).lower():
            return b.get("callback_data")
    return None


# --- updates --------------------------------------------------------------------------

class Updates:
    """Builds updates with increasing ids and posts them on one keep-alive webhook connection
    per caller thread."""

    def __init__(self, port, secret):
        self.port, self.secret = port, secret
        self.lock = threading.Lock()
        self.update_id = 50_000
        self.message_id = 700
        self.local = threading.local()

    def _next(self):
        with self.lock:
            self.update_id += 1
            self.message_id += 1
            return self.update_id, self.message_id

    def _post(self, update):
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = WebhookClient(self.port, self.secret)
        sent, _, status = client.post(json.dumps(update, separators=(",", ":")).encode())
        if status != 200:
            raise BenchError(f"webhook answered {status}")
        return sent / 1e9

    def prompt(self, chat, text, user=USER, thread=None):
        """Returns (receipt time s, message id)."""
        update_id, message_id = self._next()
        message = {"message_id": message_id, "date": int(time.time()), "text": text,
                   "from": {"id": user, "is_bot": False, "first_name": "Bench", "language_code": "en"}}
        if chat > 0:
            message["chat"] = {"id": chat, "type": "private", "first_name": "Bench"}
        else:
            message["chat"] = {"id": chat, "type": "supergroup", "title": "Bench forum", "is_forum": True}
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
            mention = "@" + BOT_USERNAME
            message["text"] = f"{mention} {text}"
            message["entities"] = [{"type": "mention", "offset": 0, "length": len(mention)}]
        return self._post({"update_id": update_id, "message": message}), message_id

    def tap(self, fake_port, chat, message_id, data, user=USER):
        """A callback_query on `message_id`'s button: registered with the fake first, so that it
        can be answered. Returns (receipt time s, callback query id)."""
        update_id, _ = self._next()
        query_id = f"bench-{update_id}"
        control(fake_port, "POST", "/__fake/callback_queries", {"id": query_id, "chat_id": chat})
        update = {"update_id": update_id, "callback_query": {
            "id": query_id, "chat_instance": "4242", "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "Bench"},
            "message": {"message_id": message_id, "date": int(time.time()), "text": "…",
                        "chat": {"id": chat, "type": "private", "first_name": "Bench"}}}}
        return self._post(update), query_id


def message_id_with_button(fake_port, chat, data, timeout=10.0):
    """The id of the bot's message in `chat` that has a button with callback_data `data`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in control(fake_port, "GET", f"/__fake/chats/{chat}/messages")["messages"]:
            markup = message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard") or []:
                if any(b.get("callback_data") == data for b in row):
                    return message["message_id"]
        time.sleep(0.05)
    raise BenchError(f"no message in chat {chat} carries the button {data!r}")


# --- statistics -----------------------------------------------------------------------

def summary(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return {"n": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    return {"n": len(values), "min": values[0], "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "max": values[-1], "mean": sum(values) / len(values)}


def fmt(value, spec=".0f"):
    return "–" if value is None else format(value, spec)


def ratio(a, b):
    return None if a is None or not b else a / b


# --- phases ---------------------------------------------------------------------------

class Phases:
    def __init__(self, args, calls, updates, bot_port, fake_port, anthropic_port, workspace, token):
        self.args, self.calls, self.updates = args, calls, updates
        self.bot_port, self.fake_port, self.anthropic_port = bot_port, fake_port, anthropic_port
        self.workspace, self.token = workspace, token
        self.problems = []

    def script(self, turns):
        control(self.anthropic_port, "POST", "/__fake/script", {"turns": turns})

    def main_requests(self, since=0):
        return control(self.anthropic_port, "GET", f"/__fake/requests?kind=main&body=0&since={since}")["requests"]

    def anthropic_seq(self):
        requests = control(self.anthropic_port, "GET", "/__fake/requests?body=0")["requests"]
        return requests[-1]["seq"] if requests else 0

    def quiet(self, chat):
        return self.calls.wait_quiet(chat, self.args.quiet_ms / 1000.0, 30.0)

    def answer_after(self, chat, marker, after_seq, timeout=None):
        return self.calls.wait_for(lambda c: c["seq"] > after_seq and is_answer(c, chat, marker),
                                   timeout or self.args.answer_timeout, f"answer {marker!r} in chat {chat}")

    def result_time(self, since, prompt_text):
        """`done` of the last main request of the run that `prompt_text` started: its final answer
        as the fake Anthropic API served it (the CLI's result follows at once)."""
        requests = [r for r in self.main_requests(since) if r.get("done")]
        start = next((i for i, r in enumerate(requests) if prompt_text in (r.get("last_user_text") or "")), None)
        if start is None:
            return None
        session = requests[start]["headers"].get("x-claude-code-session-id")
        same = [r for r in requests[start:] if r["headers"].get("x-claude-code-session-id") == session]
        # The run's requests go on (tool results carry no user text) until the session's next prompt.
        later_prompt = next((i for i, r in enumerate(same[1:], 1) if r.get("last_user_text")), None)
        run = same[:later_prompt] if later_prompt else same
        return run[-1]["done"]

    # 1, 2, 4: one-line answers in a private chat
    def simple(self):
        n = self.args.prompts
        markers = [f"Delivery check D{k} {self.token}." for k in range(n + 1)]
        self.script([{"text": f"Sure. {markers[k]}"} for k in range(n + 1)])
        rows = []
        log(f"simple prompts: 1 warm-up + {n} in chat {SIMPLE_CHAT} ...")
        for k in range(n + 1):
            before = self.calls.last_seq()
            anthropic_before = self.anthropic_seq()
            text = f"simple prompt {k} {self.token}"
            receipt, message_id = self.updates.prompt(SIMPLE_CHAT, text)
            answer = self.answer_after(SIMPLE_CHAT, markers[k], before)
            self.quiet(SIMPLE_CHAT)
            result = self.result_time(anthropic_before, text)
            rows.append({"k": k, "warmup": k == 0, "receipt": receipt, "first_seq": before + 1,
                         "answer_time": answer["time"], "answer_method": answer["method"], "answer_seq": answer["seq"],
                         "result_time": result,
                         "answer_ms": (answer["time"] - receipt) * 1000.0,
                         "result_ms": None if result is None else (result - receipt) * 1000.0,
                         "delivery_ms": None if result is None else (answer["time"] - result) * 1000.0})
            time.sleep(self.args.pause_ms / 1000.0)
        # New messages per prompt: from its first call to the next prompt's first call.
        for index, row in enumerate(rows):
            end = rows[index + 1]["first_seq"] if index + 1 < len(rows) else self.calls.last_seq() + 1
            window = [c for c in self.calls.calls if row["first_seq"] <= c["seq"] < end and chat_of(c) == SIMPLE_CHAT]
            row["new_messages"] = sum(1 for c in window if c["method"] in NEW_MESSAGE_METHODS and c.get("ok"))
            row["edits"] = sum(1 for c in window if c["method"].startswith("editMessage") and c.get("ok"))
            row["calls"] = {m: sum(1 for c in window if c["method"] == m) for m in sorted({c["method"] for c in window})}
        return rows

    # 3: Allow taps after a streamed text, and taps on an idle chat as the reference
    def taps(self, turns_before):
        """In the simple prompts' chat, whose session is warm and has had `turns_before` turns:
        the script goes on from there (the earlier turns are never asked for again)."""
        streamed, plain = self.args.taps, self.args.nostream_taps
        # Interleaved, so that drift on a shared machine favours neither.
        order = []
        s, p = ["stream"] * streamed, ["nostream"] * plain
        while s or p:
            for bucket in (s, s, p):
                if bucket:
                    order.append(bucket.pop())
        turns = [{"text": "(an earlier turn)"}] * turns_before
        plan = []
        streamed_text = ("Let me look at this carefully and write the file you asked for, step by step, "
                         "so the progress message has some text to show while it streams. ")
        for i, kind in enumerate(order, 1):
            path = os.path.join(self.workspace, f"tap-{i}.txt")
            tool = {"name": "Write", "input": {"file_path": path, "content": f"tap {i}\n"}}
            if kind == "stream":
                turns.append({"text": streamed_text, "delay_ms": self.args.stream_ms // 20, "chunks": 20, "tool_use": tool})
            else:
                turns.append({"tool_use": tool})
            marker = f"Tap check T{i} {self.token}."
            turns.append({"text": f"Written. {marker}"})
            plan.append((i, kind, marker))
        self.script(turns)
        chat = SIMPLE_CHAT
        log(f"taps: {streamed} Allow taps after {self.args.stream_ms} ms of streamed text"
            + (f", {plain} without" if plain else "") + f", each followed by a tap on the idle chat ...")
        rows = []
        for i, kind, marker in plan:
            before = self.calls.last_seq()
            receipt, _ = self.updates.prompt(chat, f"tap prompt {i} {self.token}")
            question = self.calls.wait_for(
                lambda c: c["seq"] > before and c["method"] == "sendMessage" and c.get("ok") and chat_of(c) == chat
                and allow_button(c) is not None, self.args.answer_timeout, f"approval question {i}")
            data = allow_button(question)
            message_id = message_id_with_button(self.fake_port, chat, data)
            tapped, query = self.updates.tap(self.fake_port, chat, message_id, data)
            ack = self.calls.wait_for(
                lambda c: c["method"] == "answerCallbackQuery" and (c.get("params") or {}).get("callback_query_id") == query,
                self.args.answer_timeout, f"answerCallbackQuery for tap {i}")
            answer = self.answer_after(chat, marker, before)
            self.quiet(chat)
            # The reference: a tap on the same message once the chat is idle, on a button the bot
            # no longer knows (as after a restart or a long time), which it only acknowledges;
            # a second tap on the decided Allow would also make it edit the message again.
            idle_tapped, idle_query = self.updates.tap(self.fake_port, chat, message_id, f"bench-expired-{i}")
            idle = self.calls.wait_for(
                lambda c: c["method"] == "answerCallbackQuery"
                and (c.get("params") or {}).get("callback_query_id") == idle_query,
                self.args.answer_timeout, f"answerCallbackQuery for the idle tap {i}")
            time.sleep(0.2)
            # What the chat's queue carried between the question and the ack.
            between = [c for c in self.calls.calls if question["seq"] < c["seq"] < ack["seq"] and chat_of(c) == chat]
            rows.append({"i": i, "kind": kind, "prompt_to_question_ms": (question["time"] - receipt) * 1000.0,
                         "tap_ms": (ack["time"] - tapped) * 1000.0, "ack_ok": bool(ack.get("ok")),
                         "ack_text": (ack.get("params") or {}).get("text"),
                         "idle_tap_ms": (idle["time"] - idle_tapped) * 1000.0,
                         "calls_before_ack": [c["method"] for c in between],
                         "answer_ms": (answer["time"] - receipt) * 1000.0})
        return rows

    # 5: two topics of a forum group at once
    def group(self):
        warm = f"Group warm-up {self.token}."
        marker = f"Group check G1 {self.token}."
        streamed = "Here is what I found after reading the topic's files, summarised in one short paragraph. "
        self.script([{"text": f"Ready. {warm}"},
                     {"text": streamed + marker, "delay_ms": self.args.stream_ms // 20, "chunks": 20}])
        log(f"forum group: a warm-up in each of topics {TOPICS[0]} and {TOPICS[1]} ...")
        before = self.calls.last_seq()
        for topic in TOPICS:
            self.updates.prompt(GROUP_CHAT, f"group warm-up {topic} {self.token}", thread=topic)
        for topic in TOPICS:
            self.calls.wait_for(lambda c: c["seq"] > before and self.in_topic(c, topic) and is_answer(c, GROUP_CHAT, warm),
                                self.args.group_timeout, f"warm-up answer in topic {topic}")
        waited = self.calls.wait_quiet(GROUP_CHAT, self.args.group_quiet_ms / 1000.0, 90.0)
        # The warm-up spent the group's budget (20 a minute, bursts of 5): the measured
        # prompts start as in a group that was not just busy.
        time.sleep(self.args.group_refill_ms / 1000.0)
        log(f"forum group: quiet after {waited:.1f} s and {self.args.group_refill_ms / 1000.0:.0f} s more; both topics at once ...")
        before = self.calls.last_seq()
        anthropic_before = self.anthropic_seq()
        receipts, texts = {}, {}
        for topic in TOPICS:
            texts[topic] = f"group prompt {topic} {self.token}"
            receipts[topic], _ = self.updates.prompt(GROUP_CHAT, texts[topic], thread=topic)
        rows = []
        for topic in TOPICS:
            answer = self.calls.wait_for(
                lambda c: c["seq"] > before and is_answer(c, GROUP_CHAT, marker) and self.in_topic(c, topic),
                self.args.group_timeout, f"answer in topic {topic}")
            rows.append({"topic": topic, "receipt": receipts[topic], "answer_time": answer["time"],
                         "answer_method": answer["method"], "answer_ms": (answer["time"] - receipts[topic]) * 1000.0})
        self.calls.wait_quiet(GROUP_CHAT, self.args.group_quiet_ms / 1000.0, 60.0)
        window = [c for c in self.calls.calls if c["seq"] > before and chat_of(c) == GROUP_CHAT]
        for row in rows:
            result = self.result_time(anthropic_before, texts[row["topic"]])
            row["result_ms"] = None if result is None else (result - row["receipt"]) * 1000.0
            row["result_to_answer_s"] = None if result is None else row["answer_time"] - result
            # The whole sentence may show earlier, quoted in a progress edit: when it first did.
            first = next((c for c in window if carries(c, GROUP_CHAT, marker) and self.in_topic(c, row["topic"])), None)
            row["first_visible_s"] = None if first is None or result is None else first["time"] - result
        for row in rows:
            until = [c for c in window if c["time"] <= row["answer_time"]]
            row["group_calls_before_answer"] = [c["method"] + ("" if c.get("ok") else f" ({c.get('status')})")
                                                for c in until]
        return rows

    def in_topic(self, call, topic):
        params = call.get("params") or {}
        if "message_thread_id" in params:
            return int(params["message_thread_id"]) == topic
        if "message_id" in params:
            return self.thread_of(int(params["message_id"])) == topic
        return False

    def thread_of(self, message_id):
        cache = getattr(self, "_threads", {})
        if message_id not in cache:
            for m in control(self.fake_port, "GET", f"/__fake/chats/{GROUP_CHAT}/messages")["messages"]:
                cache[m["message_id"]] = m.get("message_thread_id")
            self._threads = cache
        return cache.get(message_id)


# --- report ---------------------------------------------------------------------------

def analyse(report, calls):
    simple = [r for r in report["simple"] if not r["warmup"]]
    warm_up = [r for r in report["simple"] if r["warmup"]]
    streamed = [r for r in report["taps"] if r["kind"] == "stream"]
    nostream = [r for r in report["taps"] if r["kind"] == "nostream"]
    not_modified = [c for c in calls if c.get("status") == 400 and "message is not modified" in str(c.get("error"))]
    too_many = [c for c in calls if c.get("status") == 429]
    stats = {
        "answer_ms": summary(r["answer_ms"] for r in simple),
        "result_ms": summary(r["result_ms"] for r in simple),
        "delivery_ms": summary(r["delivery_ms"] for r in simple),
        "warmup_answer_ms": summary(r["answer_ms"] for r in warm_up),
        "new_messages": summary(r["new_messages"] for r in simple),
        "edits": summary(r["edits"] for r in simple),
        "tap_stream_ms": summary(r["tap_ms"] for r in streamed),
        "tap_nostream_ms": summary(r["tap_ms"] for r in nostream),
        "tap_idle_ms": summary(r["idle_tap_ms"] for r in report["taps"]),
        "group_result_to_answer_s": summary(r["result_to_answer_s"] for r in report["group"]),
        "not_modified": len(not_modified),
        "not_modified_by_method": {m: sum(1 for c in not_modified if c["method"] == m)
                                   for m in sorted({c["method"] for c in not_modified})},
        "too_many_requests": len(too_many),
        "too_many_by_chat": {str(k): sum(1 for c in too_many if chat_of(c) == k)
                             for k in sorted({chat_of(c) for c in too_many}, key=str)},
        "calls_by_method": {m: sum(1 for c in calls if c["method"] == m) for m in sorted({c["method"] for c in calls})},
        "answer_methods": {m: sum(1 for r in simple if r["answer_method"] == m)
                           for m in sorted({r["answer_method"] for r in simple})},
    }
    report["stats"] = stats
    a, t = stats["answer_ms"], stats["tap_stream_ms"]
    group_worst = stats["group_result_to_answer_s"]["max"]

    def line(name, measured, passed):
        return {"target": name, "measured": measured, "result": "PASS" if passed else "MISS"}
    report["targets"] = [
        line(f"update → answer p50 ≤ {TARGETS['p50_ms']:g} ms", f"{fmt(a['p50'])} ms",
             a["p50"] is not None and a["p50"] <= TARGETS["p50_ms"]),
        line(f"update → answer p90 ≤ {TARGETS['p90_ms']:g} ms", f"{fmt(a['p90'])} ms",
             a["p90"] is not None and a["p90"] <= TARGETS["p90_ms"]),
        line("\"message is not modified\" in the run = 0", str(stats["not_modified"]),
             stats["not_modified"] <= TARGETS["not_modified"]),
        line(f"tap → answerCallbackQuery p99 ≤ {TARGETS['tap_p99_ms']:g} ms (stream)",
             f"{fmt(t['p99'])} ms (n={t['n']})", t["p99"] is not None and t["p99"] <= TARGETS["tap_p99_ms"]),
        line(f"new messages per simple prompt ≤ {TARGETS['new_messages']}",
             f"max {fmt(stats['new_messages']['max'])}, mean {fmt(stats['new_messages']['mean'], '.2f')}",
             stats["new_messages"]["max"] is not None and stats["new_messages"]["max"] <= TARGETS["new_messages"]),
        line(f"group: result → answer ≤ {TARGETS['group_s']:g} s, each topic",
             ", ".join(f"topic {r['topic']} {fmt(r['result_to_answer_s'], '.1f')} s" for r in report["group"]),
             group_worst is not None and group_worst <= TARGETS["group_s"]
             and all(r["result_to_answer_s"] is not None for r in report["group"])),
        line("429s from the fake Bot API in the run = 0 (not in the issue)", str(stats["too_many_requests"]),
             stats["too_many_requests"] == 0),
    ]


def render(report):
    s, meta = report["stats"], report["meta"]
    out = []
    out.append(f"delivery benchmark · {meta['timestamp']} · {meta['cpus']} CPUs · build {meta['build_dir']}")
    out.append(f"claude {meta['claude_version']} · fake Bot API with its default flood limits · "
               f"{meta['prompts']} simple prompts, {meta['taps']} taps · "
               f"load {meta['loadavg_before']} → {meta['loadavg_after']}")
    out.append("")
    out.append("1. one-line answer in a private chat (warm session), ms from the update's receipt")
    header = f"{'':<44}{'n':>4} {'p50':>7} {'p90':>7} {'max':>7}"
    out.append(header)
    out.append("-" * len(header))
    for key, label in (("answer_ms", "update → answer at the fake Bot API"),
                       ("result_ms", "update → result served (reference)"),
                       ("delivery_ms", "result served → answer"),
                       ("warmup_answer_ms", "first prompt (CLI start; not judged)")):
        v = s[key]
        out.append(f"{label:<44}{v['n']:>4} {fmt(v['p50']):>7} {fmt(v['p90']):>7} {fmt(v['max']):>7}")
    out.append(f"ratio answer / result: p50 {fmt(ratio(s['answer_ms']['p50'], s['result_ms']['p50']), '.2f')}, "
               f"p90 {fmt(ratio(s['answer_ms']['p90'], s['result_ms']['p90']), '.2f')} "
               f"(1.00 = delivered the moment Claude's answer was complete)")
    out.append("answer carried by: " + ", ".join(f"{m} ×{n}" for m, n in s["answer_methods"].items()))
    out.append("per prompt (ms: update → answer; new messages / edits): " + "  ".join(
        f"{r['k']}:{fmt(r['answer_ms'])}/{r['new_messages']}/{r['edits']}" for r in report["simple"] if not r["warmup"]))
    out.append("")
    out.append("3. tap Allow → answerCallbackQuery, ms from the callback_query's receipt")
    header = f"{'':<44}{'n':>4} {'p50':>7} {'p90':>7} {'p99':>7} {'ratio':>7}"
    out.append(header)
    out.append("-" * len(header))
    ref = s["tap_idle_ms"]["p99"]
    for key, label in (("tap_stream_ms", f"Allow, after {meta['stream_ms'] / 1000:g} s of streamed text"),
                       ("tap_nostream_ms", "Allow, no streamed text before"),
                       ("tap_idle_ms", "idle chat, an expired button (reference)")):
        v = s[key]
        if v["n"] == 0:
            continue
        out.append(f"{label:<44}{v['n']:>4} {fmt(v['p50']):>7} {fmt(v['p90']):>7} {fmt(v['p99']):>7} "
                   f"{fmt(ratio(v['p99'], ref), '.2f'):>7}")
    out.append("(ratio = p99 / the reference's p99; p99 is the maximum below 100 taps)")
    queued = [r for r in report["taps"] if r["kind"] == "stream"]
    if queued:
        out.append("calls to the chat between the question and the ack, per streamed tap: " + "  ".join(
            str(len(r["calls_before_ack"])) for r in queued))
    out.append("")
    out.append(f"4. new messages per simple prompt: max {fmt(s['new_messages']['max'])}, mean "
               f"{fmt(s['new_messages']['mean'], '.2f')} (edits: mean {fmt(s['edits']['mean'], '.2f')})")
    out.append("")
    out.append(f"5. forum group, two topics at once (runs of ~{meta['stream_ms'] / 1000:g} s of streamed text)")
    for r in report["group"]:
        out.append(f"   topic {r['topic']}: update → result {fmt(r['result_ms'])} ms, → answer {fmt(r['answer_ms'])} ms "
                   f"({r['answer_method']}); result → answer {fmt(r['result_to_answer_s'], '.2f')} s "
                   f"(whole text first visible: {fmt(r['first_visible_s'], '.2f')} s); "
                   f"{len(r['group_calls_before_answer'])} group calls before it")
    worst = max((r for r in report["group"]), key=lambda r: len(r["group_calls_before_answer"]), default=None)
    if worst:
        out.append("   group calls up to the later answer: " + ", ".join(worst["group_calls_before_answer"]))
    out.append(f"   reference: result → answer in the private chat, p50 {fmt(s['delivery_ms']['p50'])} ms")
    out.append("")
    out.append(f"2./6. over the whole run: \"message is not modified\" {s['not_modified']} "
               f"({', '.join(f'{m} ×{n}' for m, n in s['not_modified_by_method'].items()) or 'none'}); "
               f"429 {s['too_many_requests']}"
               + (f" (by chat: {', '.join(f'{c} ×{n}' for c, n in s['too_many_by_chat'].items())})"
                  if s["too_many_requests"] else ""))
    out.append("calls: " + ", ".join(f"{m} {n}" for m, n in s["calls_by_method"].items()))
    if report["problems"]:
        out.append("")
        out.append("problems:")
        out.extend("  " + p for p in report["problems"])
    out.append("")
    out.append("targets of issue 16 (reported, not enforced)")
    width = max(len(t["target"]) for t in report["targets"]) + 2
    for t in report["targets"]:
        out.append(f"  {t['result']:<4}  {t['target']:<{width}}{t['measured']}")
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", required=True, help="folder with botserver and claude-reaper")
    parser.add_argument("--claude", required=True, help="the Claude Code CLI binary")
    parser.add_argument("--prompts", type=int, default=12, help="measured one-line prompts (after one warm-up)")
    parser.add_argument("--taps", type=int, default=6, help="Allow taps after a streamed text")
    parser.add_argument("--nostream-taps", type=int, default=0,
                        help="Allow taps with no streamed text before (the approval at the run's start)")
    parser.add_argument("--stream-ms", type=int, default=2000, help="how long a streamed text takes (20 deltas)")
    parser.add_argument("--pause-ms", type=float, default=1000.0, help="pause after a prompt's calls went quiet")
    parser.add_argument("--quiet-ms", type=float, default=1200.0,
                        help="a private chat is quiet after this long without a call")
    parser.add_argument("--group-refill-ms", type=float, default=20000.0,
                        help="pause after the group's warm-up, for its message budget to refill")
    parser.add_argument("--group-quiet-ms", type=float, default=4000.0,
                        help="the group is quiet after this long without a call (its pacing is ~3 s)")
    parser.add_argument("--answer-timeout", type=float, default=30.0)
    parser.add_argument("--group-timeout", type=float, default=90.0)
    parser.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args()
    if args.prompts < 1 or args.taps < 1 or args.nostream_taps < 0:
        sys.exit("bench.py: --prompts and --taps must be at least 1, --nostream-taps at least 0")

    build_dir = os.path.abspath(args.build_dir)
    botserver = os.path.join(build_dir, "botserver")
    for path in (botserver, os.path.join(build_dir, "claude-reaper"), args.claude):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench.py: missing or not executable: {path}")

    def on_signal(*_):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = tempfile.mkdtemp(prefix="bench-delivery-")
    for folder in ("data", "workspace", "home"):
        os.makedirs(os.path.join(work, folder))
    workspace = os.path.join(work, "workspace")
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(32))
    token = secrets.token_hex(3)
    claude_version = subprocess.run([args.claude, "--version"], capture_output=True, text=True,
                                    timeout=60).stdout.strip()
    report = {"meta": {
        "timestamp": timestamp, "cpus": os.cpu_count(), "kernel": platform.release(), "build_dir": build_dir,
        "claude": args.claude, "claude_version": claude_version, "prompts": args.prompts, "taps": args.taps,
        "nostream_taps": args.nostream_taps, "stream_ms": args.stream_ms, "pause_ms": args.pause_ms,
        "quiet_ms": args.quiet_ms, "loadavg_before": " ".join(f"{x:.2f}" for x in common.loadavg()),
        "git_commit": subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() or None,
        "build_git_commit": subprocess.run(["git", "-C", build_dir, "rev-parse", "HEAD"], capture_output=True,
                                           text=True).stdout.strip() or None,
    }, "problems": []}

    fake = anthropic = bot = calls = None
    ok = interrupted = False
    started = time.monotonic()
    try:
        fake, fake_port = start_fake("fake Bot API", [sys.executable, FAKE_BOT_API, "--port", "0", "--token", BOT_TOKEN],
                                     work, "fake_bot_api.log")
        anthropic, anthropic_port = start_fake("fake Anthropic API", [sys.executable, FAKE_ANTHROPIC, "--port", "0"],
                                               work, "fake_anthropic_api.log")
        bot_port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TELEGRAM_", "CLAUDE_", "ANTHROPIC_", "BENCH_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=secret, PORT=str(bot_port),
            LISTEN_HOST="127.0.0.1", DATA_DIR=os.path.join(work, "data"),
            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{fake_port}",
            ALLOWED_USER_IDS=str(USER), WORKSPACE_ROOT=workspace,
            CLAUDE_BIN=args.claude, CLAUDE_HOME=os.path.join(work, "home"), LOG_LEVEL="warning",
            CLAUDE_CODE_MAX_RETRIES="1", ANTHROPIC_BASE_URL=f"http://127.0.0.1:{anthropic_port}",
            ANTHROPIC_API_KEY="sk-test", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
        bot = Child("botserver", [botserver, "serve"], env, os.path.join(work, "botserver.log"))
        wait_ready(bot_port, bot)
        log(f"botserver ready; fake Bot API on port {fake_port}, fake Anthropic API on port {anthropic_port}")
        calls = CallLog(fake_port)
        calls.start()
        phases = Phases(args, calls, Updates(bot_port, secret), bot_port, fake_port, anthropic_port, workspace, token)
        for name in ("simple", "taps", "group"):
            if name == "taps":
                report[name] = phases.taps(turns_before=len(report["simple"]))
            else:
                report[name] = getattr(phases, name)()
            if not bot.alive():
                raise BenchError(f"botserver died during the {name} phase\n{bot.log_tail()}")
        report["problems"] += phases.problems
        calls.stopping.set()
        calls.join(5)
        all_calls = control(fake_port, "GET", "/__fake/calls")["calls"]
        report["meta"]["loadavg_after"] = " ".join(f"{x:.2f}" for x in common.loadavg())
        report["meta"]["wall_s"] = time.monotonic() - started
        analyse(report, all_calls)
        report["calls"] = [{k: c.get(k) for k in ("seq", "method", "status", "time", "ok", "error")}
                           | {"chat": chat_of(c), "text": text_of(c)[:120]} for c in all_calls]
        note = bot.stop()
        bot = None
        if note:
            report["problems"].append(note)
        ok = True
    except Interrupted:
        interrupted = True
        log("interrupted: stopping everything")
    except BenchError as error:
        log(f"bench.py: FAILED: {error}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if calls is not None:
            calls.stopping.set()
        if bot is not None:
            if not ok and not interrupted and bot.log_tail():
                log("botserver's log:\n" + bot.log_tail())
            bot.stop()
        for child in (anthropic, fake):
            if child is not None:
                child.stop()
        if args.keep or (not ok and not interrupted):
            log(f"temporary folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not ok:
        sys.exit(1)

    text = render(report)
    print(text)
    path = common.write_results(report, text, args.results_dir, f"delivery-{timestamp}.json")
    print(f"\nwritten: {os.path.relpath(path)} · {report['meta']['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
