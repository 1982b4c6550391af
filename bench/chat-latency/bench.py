#!/usr/bin/env python3
"""Chat latency benchmark driver: from a webhook update to the bot's first Telegram call for
that prompt (sendChatAction typing) and to the prompt on Claude's stdin, through the real
botserver against the fake Bot API (Tests/FakeServers/fake_bot_api.py) and a fake Claude CLI
(fake_claude.py here). Python standard library only; run.sh finds or builds the binaries and
calls it. See bench/README.md.

Every figure is a difference of two CLOCK_REALTIME readings on this machine: the driver's
just before it writes the webhook request, and the fake Bot API's (`time` in its call log,
time.time() once the request is read and decoded) or the fake CLI's (time.time_ns() once it
has read the user line).
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FAKE_BOT_API = os.path.join(REPO, "Tests", "FakeServers", "fake_bot_api.py")
FAKE_CLAUDE = os.path.join(HERE, "fake_claude.py")
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # well-formed, fake
SECRET_ALPHABET = string.ascii_letters + string.digits + "_-"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FIRST_CHAT = 1001  # chat id = user id (private chats): 1001, 1002, ...
WARMUP_CHAT = 999001
TARGET_P99_MS = 5.0
ANSWER_RE = re.compile(r"answer-(\d+)-(\d+)")


def log(message):
    print(message, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def uptime_line():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return " ".join(map(str, loadavg()))


def cpu_ms(pid):
    """utime + stime of pid (all its threads) in milliseconds, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def machine_busy_ms():
    """CPU time all cores spent busy since boot (user, nice, system, irq, softirq, steal), ms."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) * 1000.0 / CLK_TCK


def cli_cpu_ms(marker_value, bot_pid):
    """CPU of the fake CLIs of this run (and their reapers') still alive, ms."""
    total = 0.0
    for pid in marked_processes(marker_value, exclude=(bot_pid,)):
        total += cpu_ms(pid) or 0.0
    return total


def percentile(sorted_values, p):
    """Nearest rank, as the other benchmarks here compute it."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


# short name: (series name, the labels a sample must carry); a histogram with labels is summed
# over the label sets that match (none asked: all of them).
BOT_HISTOGRAMS = {
    "typing": ("botserver_update_to_typing_seconds", {}),
    "stdin": ("botserver_update_to_prompt_written_seconds", {}),
    "stdin_running": ("botserver_update_to_prompt_written_seconds", {"process": "running"}),
    "stdin_started": ("botserver_update_to_prompt_written_seconds", {"process": "started"}),
}
SAMPLE_LINE = re.compile(r'^(\w+?)(_bucket|_count|_sum)(?:\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="([^"]*)"')


def scrape_metrics(port):
    """GET /metrics of the bot (a loopback peer needs no token): the exposition text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise BenchError(f"GET /metrics answered {response.status}")
        return body
    finally:
        conn.close()


def scrape_histograms(port, body=None):
    """The bot's own latency histograms:
    {short name: {"buckets": [(upper bound s, cumulative count)], "count": n, "sum": s}}."""
    body = scrape_metrics(port) if body is None else body
    buckets = {short: {} for short in BOT_HISTOGRAMS}
    found = {short: {"buckets": [], "count": 0.0, "sum": 0.0} for short in BOT_HISTOGRAMS}
    for line in body.splitlines():
        match = SAMPLE_LINE.match(line)
        if not match:
            continue
        name, part, label_text, value = match.groups()
        labels = dict(LABEL.findall(label_text or ""))
        bound = labels.pop("le", None)
        for short, (series, wanted) in BOT_HISTOGRAMS.items():
            if name != series or any(labels.get(k) != v for k, v in wanted.items()):
                continue
            if part == "_bucket" and bound is not None:
                key = float("inf") if bound == "+Inf" else float(bound)
                buckets[short][key] = buckets[short].get(key, 0.0) + float(value)
            elif part == "_count":
                found[short]["count"] += float(value)
            elif part == "_sum":
                found[short]["sum"] += float(value)
    for short, h in found.items():
        h["buckets"] = sorted(buckets[short].items())
    return found


def histogram_delta(after, before):
    """What was recorded between two scrapes of the same histogram."""
    earlier = dict(before["buckets"])
    return {"buckets": [(bound, count - earlier.get(bound, 0.0)) for bound, count in after["buckets"]],
            "count": after["count"] - before["count"], "sum": after["sum"] - before["sum"]}


def histogram_quantile(h, q):
    """Prometheus' histogram_quantile: linear within the bucket the rank falls in (ms)."""
    total = h["count"]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in h["buckets"]:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound * 1000.0  # beyond the last finite bucket: its bound is all we know
            width = count - lower_count
            fraction = 0.0 if width <= 0 else (rank - lower_count) / width
            return (lower_bound + (bound - lower_bound) * fraction) * 1000.0
        lower_bound, lower_count = bound, count
    return None


def histogram_summary(h, target_s):
    at_target = next((count for bound, count in h["buckets"] if abs(bound - target_s) < 1e-12), None)
    return {
        "n": int(h["count"]),
        "mean": None if h["count"] <= 0 else h["sum"] / h["count"] * 1000.0,
        "p50": histogram_quantile(h, 0.50), "p90": histogram_quantile(h, 0.90), "p99": histogram_quantile(h, 0.99),
        # Exact, because the target is a bucket bound: the share of prompts within it.
        "share_within_target": None if at_target is None or h["count"] <= 0 else at_target / h["count"],
    }


def summary(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None, "min": None}
    return {"n": len(values), "min": values[0], "p50": percentile(values, 50),
            "p90": percentile(values, 90), "p99": percentile(values, 99), "max": values[-1]}


# --- processes ------------------------------------------------------------------------

class Child:
    """A process we started, in a session of its own, with its output in a temporary file."""

    def __init__(self, label, argv, env, log_path, stdin=subprocess.DEVNULL, stdout=None):
        self.label = label
        self.log_path = log_path
        self.log_file = open(log_path, "w+b")
        self.proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout or self.log_file,
                                     stderr=self.log_file, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM, wait; SIGKILL if it does not exit in time. Returns a note or None."""
        note = None
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                note = f"{self.label} did not exit {timeout:.0f} s after SIGTERM; killed"
        if note is None and self.proc.returncode not in (0, None, -signal.SIGTERM):
            note = f"{self.label} exited with status {self.proc.returncode}"
        self.log_file.close()
        return note

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join("    | " + line for line in text)


def write_results(report, text, results_dir, name):
    """The report, with its printed table, as JSON under `results_dir` (bench/delivery uses it too)."""
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(os.path.abspath(results_dir), name)
    report["table"] = text
    with open(path, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


def start_fake(label, argv, work, log_name, timeout=20.0):
    """Starts one of the project's fakes and reads its port from its first line, READY port=N
    (bench/delivery uses it too)."""
    child = Child(label, argv, dict(os.environ), os.path.join(work, log_name), stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not child.alive():
            raise BenchError(f"the {label} did not print READY\n{child.log_tail()}")
        ready, _, _ = select.select([child.proc.stdout], [], [], remaining)
        if ready:
            chunk = os.read(child.proc.stdout.fileno(), 256)
            if not chunk:
                raise BenchError(f"the {label} closed stdout before READY\n{child.log_tail()}")
            line += chunk
    match = re.match(rb"READY port=(\d+)", line)
    if not match:
        raise BenchError(f"unexpected first line from the {label}: {line!r}")
    return child, int(match.group(1))


def start_fake_bot_api(work, timeout=20.0):
    argv = [sys.executable, FAKE_BOT_API, "--port", "0", "--token", BOT_TOKEN,
            "--flood-chat-limit", "100000", "--flood-group-limit", "100000"]
    return start_fake("fake Bot API", argv, work, "fake_bot_api.log", timeout)


def deprioritize(pid, niceness):
    """The fake Bot API stands in for Telegram's servers, which in production do not share the
    bot's CPUs: it gets the niceness both ways the kernel ranks it, its own (nice) and its
    session's (the autogroup: on a kernel that groups by session, nice alone only ranks the
    processes of one session, and the fake is alone in its own). Returns what the kernel says."""
    if niceness <= 0:
        return "not deprioritized"
    os.setpriority(os.PRIO_PROCESS, pid, niceness)
    path = f"/proc/{pid}/autogroup"
    if not os.path.exists(path):
        return f"nice {niceness} (no autogroups on this kernel)"
    for _ in range(50):  # the kernel takes one autogroup change per 100 ms, machine-wide
        try:
            with open(path, "w") as f:
                f.write(str(niceness))
            break
        except BlockingIOError:
            time.sleep(0.1)
    with open(path) as f:
        return f"nice {niceness}, {f.read().strip()}"


def wait_ready(port, child, timeout=30.0):
    deadline = time.monotonic() + timeout
    request = (f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").encode()
    while True:
        if not child.alive():
            raise BenchError(f"botserver exited with {child.proc.returncode} before ready\n{child.log_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"botserver not ready after {timeout:.0f} s\n{child.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(request)
                head = s.recv(64)
            if head.startswith(b"HTTP/1.1 200 "):
                return
        except OSError:
            pass
        time.sleep(0.02)


def marked_processes(marker_value, exclude=()):
    """pids of processes whose environment has BENCH_CLAUDE_LOG_DIR=marker_value: the fake
    CLIs of this run and their reapers (and nothing else on the machine), less `exclude`
    (the botserver has the variable too: it passes it on)."""
    needle = f"BENCH_CLAUDE_LOG_DIR={marker_value}".encode()
    found = []
    skip = {os.getpid(), *exclude}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            pass
    return found


def probe_cli_startup(reaper, samples=10):
    """ms from spawning `claude-reaper fake_claude.py --probe` to its line: what starting the
    fake CLI costs by itself (the first prompt of every chat pays it)."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        out = subprocess.run([reaper, FAKE_CLAUDE, "--probe"], capture_output=True, timeout=20)
        if out.returncode != 0 or out.stdout.strip() != b"probe":
            raise BenchError(f"fake CLI probe failed ({out.returncode}): {out.stderr.decode(errors='replace')}")
        times.append((time.perf_counter() - started) * 1000.0)
    return summary(times)


# --- the webhook side -----------------------------------------------------------------

class WebhookClient:
    """One keep-alive connection to the bot's webhook, as one of Telegram's would be.
    Requests are prepared in full, so the clock is read right before the write."""

    def __init__(self, port, secret):
        self.port, self.secret = port, secret
        self.sock = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def post(self, body):
        """Returns (send time ns, acknowledged time ns, status)."""
        request = (f"POST /telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                   f"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: {self.secret}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        if self.sock is None:
            self._connect()
        sent = time.time_ns()
        self.sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BenchError("the bot closed the webhook connection without answering")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        while len(rest) < length:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            rest += chunk
        acked = time.time_ns()
        if close:
            self.close()
        return sent, acked, status


def update_body(update_id, chat, message_id, text):
    return json.dumps({
        "update_id": update_id,
        "message": {
            "message_id": message_id, "date": int(time.time()), "text": text,
            "from": {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": "en"},
            "chat": {"id": chat, "type": "private", "first_name": "Bench"},
        },
    }, separators=(",", ":")).encode()


class AnswerWatcher(threading.Thread):
    """Polls the fake's call log for the bot's answers (sendMessage with "answer-<chat>-<k>")
    and wakes the chat waiting for it. One poller for all chats, so that waiting costs the
    fake (and the machine) about the same whatever the number of chats."""

    def __init__(self, port, interval):
        super().__init__(name="answers", daemon=True)
        self.port, self.interval = port, interval
        self.since = 0
        self.events = {}
        self.answered_ns = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error = None
        self.polls = 0

    def event(self, chat, k):
        with self.lock:
            return self.events.setdefault((chat, k), threading.Event())

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            while not self.stopping.is_set():
                conn.request("GET", f"/__fake/calls?method=sendMessage&since={self.since}")
                response = conn.getresponse()
                payload = json.loads(response.read())
                self.polls += 1
                for call in payload.get("calls", []):
                    self.since = max(self.since, call["seq"])
                    text = str((call.get("params") or {}).get("text", ""))
                    match = ANSWER_RE.search(text)
                    if match and call.get("ok"):
                        key = (int(match.group(1)), int(match.group(2)))
                        self.answered_ns[key] = int(call["time"] * 1e9)
                        self.event(*key).set()
                self.stopping.wait(self.interval)
        except Exception as error:  # the chats see it as a timeout; the report names it
            self.error = f"answer poller: {error!r}"
        finally:
            conn.close()


def run_chat(chat, prompts, port, secret, watcher, answer_timeout, start_at, ids, samples, failures):
    time.sleep(max(0.0, start_at - time.monotonic()))
    client = WebhookClient(port, secret)
    try:
        for k in range(1, prompts + 1):
            text = f"prompt-{chat}-{k}"
            update_id, message_id = ids(chat, k)
            sent, acked, status = client.post(update_body(update_id, chat, message_id, text))
            samples[(chat, k)] = {"chat": chat, "k": k, "message_id": message_id, "sent_ns": sent,
                                  "acked_ns": acked, "status": status}
            if status != 200:
                failures.append(f"chat {chat} prompt {k}: webhook answered {status}")
                return
            if not watcher.event(chat, k).wait(answer_timeout):
                failures.append(f"chat {chat} prompt {k}: no answer within {answer_timeout:.0f} s")
                return
    except (OSError, BenchError) as error:
        failures.append(f"chat {chat}: {error}")
    finally:
        client.close()


# --- analysis -------------------------------------------------------------------------

def read_cli_logs(directory):
    starts, users, problems = {}, {}, []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as f:
            for line in f:
                record = json.loads(line)
                if record["event"] == "start":
                    starts[name] = record
                elif record["event"] == "user":
                    if record["text"] in users:
                        problems.append(f"prompt {record['text']} reached the CLI twice")
                    users[record["text"]] = dict(record, file=name)
    return starts, users, problems


def analyse(samples, calls, cli_dir, chats, prompts):
    problems = []
    by_chat = {}
    for call in calls:
        params = call.get("params") or {}
        try:
            chat = int(params.get("chat_id"))
        except (TypeError, ValueError):
            continue
        by_chat.setdefault(chat, []).append(call)
    starts, users, cli_problems = read_cli_logs(cli_dir)
    problems += cli_problems
    not_modified = 0
    for call in calls:
        if call.get("status") == 400 and "message is not modified" in str(call.get("error")):
            not_modified += 1  # the bot counts these as success (TelegramOutbox); not a problem
        elif call.get("status") != 200:
            problems.append(f"fake Bot API: {call['method']} answered {call.get('status')}: {call.get('error')}")

    rows = []
    for chat in chats:
        chat_calls = sorted(by_chat.get(chat, []), key=lambda c: c["seq"])
        actions = [c for c in chat_calls if c["method"] == "sendChatAction"]
        reactions = {int(c["params"].get("message_id", 0)): c for c in chat_calls if c["method"] == "setMessageReaction"}
        sends = [c for c in chat_calls if c["method"] == "sendMessage"]
        progress = [c for c in sends if not ANSWER_RE.search(str(c["params"].get("text", "")))]
        answers = {}
        for c in sends:
            m = ANSWER_RE.search(str(c["params"].get("text", "")))
            if m:
                answers[int(m.group(2))] = c
        measured = [k for k in range(1, prompts + 1) if (chat, k) in samples]
        if len(actions) != len(measured):
            problems.append(f"chat {chat}: {len(actions)} sendChatAction calls for {len(measured)} prompts")
        if len(progress) != len(measured):
            problems.append(f"chat {chat}: {len(progress)} progress messages for {len(measured)} prompts")
        for index, k in enumerate(measured):
            s = samples[(chat, k)]
            sent = s["sent_ns"]

            def since_sent(t_ns):
                return None if t_ns is None else (t_ns - sent) / 1e6

            def call_ns(call):
                return None if call is None else int(call["time"] * 1e9)

            typing = call_ns(actions[index]) if index < len(actions) else None
            prog = call_ns(progress[index]) if index < len(progress) else None
            user = users.get(f"prompt-{chat}-{k}")
            stdin = user["t_ns"] if user else None
            cli_start = starts.get(user["file"], {}).get("t_ns") if user and k == measured[0] else None
            if user is None:
                problems.append(f"prompt-{chat}-{k} never reached the CLI")
            row = {
                "chat": chat, "k": k, "first": k == measured[0],
                "ack_ms": (s["acked_ns"] - sent) / 1e6,
                "typing_ms": since_sent(typing),
                "reaction_ms": since_sent(call_ns(reactions.get(s["message_id"]))),
                "progress_ms": since_sent(prog),
                "stdin_ms": since_sent(stdin),
                "answer_ms": since_sent(call_ns(answers.get(k))),
                "cli_start_ms": since_sent(cli_start),
                "typing_to_progress_ms": None if typing is None or prog is None else (prog - typing) / 1e6,
                "progress_to_stdin_ms": None if prog is None or stdin is None else (stdin - prog) / 1e6,
                "cli_start_to_stdin_ms": None if cli_start is None or stdin is None else (stdin - cli_start) / 1e6,
            }
            rows.append(row)
    return rows, problems, {"cli_processes": len(starts), "edits_not_modified": not_modified}


METRICS = [
    ("ack_ms", "webhook 200 (reference)"),
    ("typing_ms", "typing (sendChatAction)"),
    ("stdin_ms", "prompt on Claude's stdin"),
    ("reaction_ms", "reaction (setMessageReaction)"),
    ("progress_ms", "progress message (sendMessage)"),
    ("answer_ms", "answer message (sendMessage)"),
]
BREAKDOWN = [
    ("typing_ms", "update sent → typing"),
    ("typing_to_progress_ms", "typing → progress sendMessage"),
    ("progress_to_stdin_ms", "progress sendMessage → stdin"),
    ("cli_start_ms", "update sent → CLI process up"),
    ("cli_start_to_stdin_ms", "CLI process up → stdin read"),
]


def fmt(value, spec=".2f"):
    return "—" if value is None else format(value, spec)


def render(report):
    meta, groups = report["meta"], report["groups"]
    out = []
    out.append(f"Chat latency benchmark — {meta['timestamp']} — {meta['cpus']} CPUs — {meta['chats']} chats × "
               f"{meta['prompts']} prompts (start stagger {meta['stagger_ms']} ms)")
    out.append(f"binaries: {meta['build_dir']} (checkout at {(meta.get('build_git_commit') or 'unknown')[:12]})")
    out.append(f"load before: {meta['uptime_before']}")
    out.append(f"fake Bot API (Telegram's stand-in) runs deprioritized: {meta.get('fake_autogroup', 'not deprioritized')}")
    out.append(f"load after:  {meta['uptime_after']}")
    out.append("")
    out.append("end to end, through the fakes: ms from just before the webhook request was written (driver clock)")
    out.append("to the event seen by a fake (its clock: the Bot API's read of the call, the fake CLI's read of stdin);")
    out.append("ratio = p99 / p99 of the webhook 200 in the same run")
    header = f"{'':<34}{'':<8}{'n':>6} {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9} {'p99 ratio':>10}"
    out.append(header)
    out.append("-" * len(header))
    ack_p99 = groups["all"]["ack_ms"]["p99"]
    for key, label in METRICS:
        for group in ("all", "first", "later"):
            s = groups[group][key]
            ratio = s["p99"] / ack_p99 if s["p99"] is not None and ack_p99 else None
            out.append(f"{label if group == 'all' else '':<34}{group:<8}{s['n']:>6} {fmt(s['p50']):>9} "
                       f"{fmt(s.get('p90')):>9} {fmt(s['p99']):>9} {fmt(s['max']):>9} {fmt(ratio, '.1f'):>10}")
    out.append("")
    out.append("where the time goes (ms; first = first prompt of a chat, which starts its CLI process)")
    header = f"{'':<34}{'':<8}{'n':>6} {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9}"
    out.append(header)
    out.append("-" * len(header))
    for key, label in BREAKDOWN:
        for group in ("first", "later"):
            s = groups[group][key]
            if s["n"] == 0:
                continue
            out.append(f"{label:<34}{group:<8}{s['n']:>6} {fmt(s['p50']):>9} {fmt(s.get('p90')):>9} "
                       f"{fmt(s['p99']):>9} {fmt(s['max']):>9}")
    probe = report["cli_startup_alone_ms"]
    out.append(f"{'fake CLI start-up alone (probe)':<34}{'':<8}{probe['n']:>6} {fmt(probe['p50']):>9} "
               f"{fmt(probe.get('p90')):>9} {fmt(probe['p99']):>9} {fmt(probe['max']):>9}")
    out.append("")
    p = report["processes"]
    out.append(f"CLI processes started: {p['cli_processes']} (one per chat expected: {meta['chats'] + 1} with the warm-up chat); "
               f"wall time of the measured phase {p['wall_s']:.1f} s")
    out.append(f"CPU during the measured phase: botserver {fmt(p['botserver_cpu_ms'], '.0f')} ms, "
               f"fake Bot API {fmt(p['fake_cpu_ms'], '.0f')} ms, driver {fmt(p['driver_cpu_ms'], '.0f')} ms; "
               f"answer polls {p['answer_polls']}")
    ours = sum(p[k] or 0 for k in ("botserver_cpu_ms", "fake_cpu_ms", "driver_cpu_ms", "cli_cpu_ms"))
    out.append(f"machine CPU busy during the measured phase: {100 * p['machine_busy_ms'] / p['machine_capacity_ms']:.0f} % "
               f"of {meta['cpus']} CPUs, of which this benchmark's processes {100 * ours / p['machine_capacity_ms']:.0f} % "
               f"(fake CLIs {fmt(p['cli_cpu_ms'], '.0f')} ms); the rest is other load on the machine")
    out.append("Bot API calls: " + ", ".join(f"{m} {n}" for m, n in p["calls_by_method"].items())
               + f" ({p['edits_not_modified']} edits answered \"message is not modified\")")
    if report["problems"]:
        out.append("")
        out.append(f"PROBLEMS ({len(report['problems'])}):")
        out.extend(f"  ! {problem}" for problem in report["problems"][:30])
        if len(report["problems"]) > 30:
            out.append(f"  ! ... {len(report['problems']) - 30} more in the JSON")
    out.append("")
    out.append("the bot's own clock (GET /metrics histograms, this phase only): from the webhook request read")
    out.append(f"to the typing call issued / the prompt in the CLI's stdin pipe; quantiles interpolated in buckets,")
    out.append(f"the share within {TARGET_P99_MS:g} ms is exact (a bucket bound); ratio = p99 / the target")
    header = f"{'':<34}{'n':>6} {'mean':>9} {'p50':>9} {'p90':>9} {'p99':>9} {'≤ target':>9} {'ratio':>7}"
    out.append(header)
    out.append("-" * len(header))
    for key, label in (("typing", "update → typing issued"), ("stdin", "update → prompt in stdin pipe"),
                       ("stdin_running", "  to a running CLI"), ("stdin_started", "  to a CLI started for it")):
        s = report["bot_measured"][key]
        share = s["share_within_target"]
        ratio = None if s["p99"] is None else s["p99"] / TARGET_P99_MS
        out.append(f"{label:<34}{s['n']:>6} {fmt(s['mean']):>9} {fmt(s['p50']):>9} {fmt(s['p90']):>9} {fmt(s['p99']):>9} "
                   f"{fmt(None if share is None else 100 * share, '.1f') + ' %':>9} {fmt(ratio, '.2f'):>7}")
    out.append("")
    out.append("targets (reported, not enforced; judged on the bot's own clock)")
    for t in report["targets"]:
        out.append(f"  {t['result']:<4}  {t['target']:<52} {t['detail']}")
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True, help="folder with botserver and claude-reaper")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--prompts", type=int, default=20, help="prompts per chat")
    parser.add_argument("--stagger-ms", type=float, default=20.0,
                        help="chat n starts n × this after the first (0: all at once)")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="answer polling interval")
    parser.add_argument("--answer-timeout", type=float, default=60.0, help="seconds per answer at most")
    parser.add_argument("--results-dir", default=os.path.join(REPO, "bench", "results"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    parser.add_argument("--fake-nice", type=int, default=0, choices=range(0, 20), metavar="0-19",
                        help="autogroup niceness of the fake Bot API (it stands in for Telegram's servers)")
    args = parser.parse_args()
    if not 1 <= args.chats <= 63:
        sys.exit("bench.py: --chats must be 1 to 63 (MAX_CONCURRENT_RUNS is at most 64, one for the warm-up)")

    build_dir = os.path.abspath(args.build_dir)
    botserver = os.path.join(build_dir, "botserver")
    reaper = os.path.join(build_dir, "claude-reaper")
    for path in (botserver, reaper, FAKE_CLAUDE, FAKE_BOT_API):
        if not os.access(path, os.X_OK if path != FAKE_BOT_API else os.R_OK):
            sys.exit(f"bench.py: missing or not executable: {path}")

    def on_signal(*_):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = tempfile.mkdtemp(prefix="bench-chat-latency-")
    cli_dir = os.path.join(work, "claude-log")
    for folder in ("data", "workspace", "home", "claude-log"):
        os.makedirs(os.path.join(work, folder))
    chats = [FIRST_CHAT + i for i in range(args.chats)]
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(32))
    report = {"meta": {
        "timestamp": timestamp, "cpus": os.cpu_count(), "kernel": platform.release(),
        "chats": args.chats, "prompts": args.prompts, "stagger_ms": args.stagger_ms, "poll_ms": args.poll_ms,
        "fake_nice": args.fake_nice,
        "build_dir": build_dir, "uptime_before": uptime_line(), "loadavg_before": loadavg(),
        "git_commit": subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() or None,
        # The binaries' sources: the commit of the checkout the build folder is in, if any
        # (it may be another clone than this script's).
        "build_git_commit": subprocess.run(["git", "-C", build_dir, "rev-parse", "HEAD"], capture_output=True,
                                           text=True).stdout.strip() or None,
    }, "problems": []}

    fake = bot = None
    ok = interrupted = False
    try:
        log("timing the fake CLI's start-up alone ...")
        report["cli_startup_alone_ms"] = probe_cli_startup(reaper)

        fake, fake_port = start_fake_bot_api(work)
        report["meta"]["fake_autogroup"] = deprioritize(fake.proc.pid, args.fake_nice)
        bot_port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TELEGRAM_", "CLAUDE_", "ANTHROPIC_", "BENCH_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=secret, PORT=str(bot_port),
            LISTEN_HOST="127.0.0.1", DATA_DIR=os.path.join(work, "data"),
            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{fake_port}",
            ALLOWED_USER_IDS=",".join(str(c) for c in chats + [WARMUP_CHAT]),
            WORKSPACE_ROOT=os.path.join(work, "workspace"), MAX_CONCURRENT_RUNS=str(args.chats + 1),
            CLAUDE_BIN=FAKE_CLAUDE, CLAUDE_HOME=os.path.join(work, "home"), LOG_LEVEL="warning",
            CLAUDE_ENV_ALLOW="BENCH_CLAUDE_LOG_DIR", BENCH_CLAUDE_LOG_DIR=cli_dir)
        bot = Child("botserver", [botserver, "serve"], env, os.path.join(work, "botserver.log"))
        started = time.perf_counter()
        wait_ready(bot_port, bot)
        log(f"botserver ready in {(time.perf_counter() - started) * 1000:.0f} ms; fake Bot API on port {fake_port}")

        watcher = AnswerWatcher(fake_port, args.poll_ms / 1000.0)
        watcher.start()
        next_id = {"update": 10_000}
        id_lock = threading.Lock()

        def ids(chat, k):
            with id_lock:
                next_id["update"] += 1
                return next_id["update"], 100 + k

        # Warm-up, not measured: a chat of its own, so that the bot's connections to the
        # fake, the database pages and the binaries' code are in place.
        warm_samples, warm_failures = {}, []
        run_chat(WARMUP_CHAT, 2, bot_port, secret, watcher, args.answer_timeout, time.monotonic(), ids,
                 warm_samples, warm_failures)
        if warm_failures:
            raise BenchError("warm-up failed: " + "; ".join(warm_failures) + (
                f"; {watcher.error}" if watcher.error else "") + f"\n{bot.log_tail()}")
        time.sleep(1.0)
        with urlopen_json(fake_port, "/__fake/calls") as calls:
            warm_seq = max((c["seq"] for c in calls), default=0)
        histograms_before = scrape_histograms(bot_port)

        log(f"running {args.chats} chats × {args.prompts} prompts ...")
        samples, failures = {}, []
        cpu_before = {"bot": cpu_ms(bot.pid), "fake": cpu_ms(fake.pid), "driver": time.process_time() * 1000,
                      "cli": cli_cpu_ms(cli_dir, bot.pid), "machine": machine_busy_ms()}
        phase_started = time.monotonic()
        threads = []
        for index, chat in enumerate(chats):
            t = threading.Thread(target=run_chat, name=f"chat-{chat}", daemon=True, args=(
                chat, args.prompts, bot_port, secret, watcher, args.answer_timeout,
                phase_started + index * args.stagger_ms / 1000.0, ids, samples, failures))
            t.start()
            threads.append(t)
        deadline = phase_started + args.prompts * (args.answer_timeout + 5) + 60
        last_report = time.monotonic()
        for t in threads:
            while t.is_alive() and time.monotonic() < deadline:
                t.join(1.0)
                if time.monotonic() - last_report >= 15:
                    last_report = time.monotonic()
                    log(f"  {len(watcher.answered_ns) - len(warm_samples)} of {args.chats * args.prompts} answered, "
                        f"{time.monotonic() - phase_started:.0f} s")
                if not bot.alive():
                    raise BenchError(f"botserver died during the run\n{bot.log_tail()}")
        if any(t.is_alive() for t in threads):
            failures.append("the run did not finish in time")
        wall = time.monotonic() - phase_started
        time.sleep(0.5)  # let the last answers' stragglers (reactions) land in the call log
        cpu_after = {"bot": cpu_ms(bot.pid), "fake": cpu_ms(fake.pid), "driver": time.process_time() * 1000,
                     "cli": cli_cpu_ms(cli_dir, bot.pid), "machine": machine_busy_ms()}
        watcher.stopping.set()
        report["meta"]["uptime_after"] = uptime_line()
        report["meta"]["loadavg_after"] = loadavg()
        if watcher.error:
            failures.append(watcher.error)

        with urlopen_json(fake_port, "/__fake/calls") as calls:
            measured_calls = [c for c in calls if c["seq"] > warm_seq]
        rows, problems, counts = analyse(samples, measured_calls, cli_dir, chats, args.prompts)
        report["problems"] = failures + problems
        report["processes"] = dict(
            counts, wall_s=wall, answer_polls=watcher.polls,
            botserver_cpu_ms=None if None in (cpu_before["bot"], cpu_after["bot"]) else cpu_after["bot"] - cpu_before["bot"],
            fake_cpu_ms=None if None in (cpu_before["fake"], cpu_after["fake"]) else cpu_after["fake"] - cpu_before["fake"],
            driver_cpu_ms=cpu_after["driver"] - cpu_before["driver"],
            cli_cpu_ms=cpu_after["cli"] - cpu_before["cli"],
            machine_busy_ms=cpu_after["machine"] - cpu_before["machine"],
            machine_capacity_ms=wall * 1000.0 * (os.cpu_count() or 1),
            calls_by_method={m: sum(1 for c in measured_calls if c["method"] == m)
                             for m in sorted({c["method"] for c in measured_calls})})
        groups = {}
        for name, selected in (("all", rows), ("first", [r for r in rows if r["first"]]),
                               ("later", [r for r in rows if not r["first"]])):
            groups[name] = {key: summary(r[key] for r in selected)
                            for key in {k for k, _ in METRICS} | {k for k, _ in BREAKDOWN}}
        report["groups"] = groups
        report["samples"] = rows

        exposition = scrape_metrics(bot_port)
        report["bot_metrics_after"] = exposition  # everything the bot exported, for a closer look
        histograms_after = scrape_histograms(bot_port, exposition)
        report["bot_measured"] = {
            short: histogram_summary(histogram_delta(histograms_after[short], histograms_before[short]),
                                     TARGET_P99_MS / 1000.0)
            for short in BOT_HISTOGRAMS}

        # Judged on the bot's own clock, which is what the targets are about: from the webhook
        # request read to the typing call issued, and to the prompt in Claude's stdin pipe.
        def target(name, key):
            s = report["bot_measured"][key]
            complete = s["n"] == args.chats * args.prompts
            share = s["share_within_target"]
            verdict = "PASS" if complete and share is not None and share >= 0.99 else "MISS"
            detail = (f"{fmt(None if share is None else 100 * share, '.1f')} % within {TARGET_P99_MS:g} ms, "
                      f"p99 ≈ {fmt(s['p99'])} ms over {s['n']} prompts")
            if not complete:
                detail += f" (of {args.chats * args.prompts}: incomplete run)"
            return {"target": name, "result": verdict, "detail": detail}
        report["targets"] = [
            target(f"webhook → typing p99 ≤ {TARGET_P99_MS:g} ms", "typing"),
            target(f"webhook → prompt on stdin p99 ≤ {TARGET_P99_MS:g} ms", "stdin"),
        ]

        note = bot.stop()
        bot_log = open(bot.log_path, errors="replace").read().splitlines()
        report["botserver_log_lines"] = len(bot_log)
        report["botserver_log_sample"] = bot_log[:20]
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
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if bot is not None:
            if not ok and not interrupted and bot.log_tail():
                log("botserver's log:\n" + bot.log_tail())
            bot.stop()
        if fake is not None:
            fake.stop()
        leftovers = marked_processes(cli_dir, exclude=(bot.pid,) if bot is not None else ())
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if leftovers:
            message = f"{len(leftovers)} fake CLI processes outlived the bot; killed: {leftovers}"
            log(message)
            report["problems"].append(message)
        if args.keep or (not ok and not interrupted):
            log(f"temporary folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not ok:
        sys.exit(1)

    text = render(report)
    print(text)
    path = write_results(report, text, args.results_dir, f"chat-latency-{timestamp}.json")
    print(f"\nwritten: {os.path.relpath(path)}")
    # Incomplete data is a failure to measure, not a missed target.
    if any(s["n"] < args.chats * args.prompts for s in (report["groups"]["all"]["typing_ms"],
                                                       report["groups"]["all"]["stdin_ms"],
                                                       report["bot_measured"]["typing"],
                                                       report["bot_measured"]["stdin"])):
        sys.exit(1)


class urlopen_json:
    """GET a control route of the fake and yield its "calls"."""

    def __init__(self, port, path):
        self.port, self.path = port, path

    def __enter__(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", self.path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise BenchError(f"fake Bot API {self.path}: {response.status}")
            return json.loads(body)["calls"]
        finally:
            conn.close()

    def __exit__(self, *_):
        return False


if __name__ == "__main__":
    main()
