#!/usr/bin/env python3
"""ClaudeRunner benchmark driver: ms from send(prompt) to the first text delta and to the
result, a warm session (one Claude Code process for every message) against a new process
per message (a new ClaudeSession with resume: true, stopped after its result), with the real
CLI and the fake Messages API, in the same run. Python standard library only; run.sh builds
runner-bench and claude-reaper and calls it.

The fake (Tests/FakeServers/fake_anthropic_api.py) is started once on 127.0.0.1 with a free
port. Every run gets a fresh HOME and a fresh git repository, a fresh session id, a reset
fake and the same script; warm and cold runs alternate, the first mode changing from round
to round, so that drift on a shared machine favours neither. See bench/README.md.
"""

import argparse
import datetime
import http.client
import json
import math
import os
import platform
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODES = ("warm", "cold")
SCRIPT_TURNS = 40


def log(message):
    print(message, file=sys.stderr, flush=True)


def cpu_ms(pid):
    """utime + stime of pid (all its threads) in milliseconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def children_usage():
    """CPU ms and peak RSS (KiB) of the descendants waited for so far: runner-bench, and
    through it claude-reaper and every CLI (each waits for its own child)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000.0, usage.ru_maxrss


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def percentile(sorted_values, p):
    """Nearest rank; runner-bench computes it the same way."""
    if not sorted_values:
        return None
    rank = min(max(math.ceil(p / 100 * len(sorted_values)), 1), len(sorted_values))
    return sorted_values[rank - 1]


def turn_text(turn):
    """What the fake answers on turn n: distinct per turn, so a result proves which turn it was."""
    return (f"Answer {turn} from the fake model: a short reply of a few sentences, streamed in "
            f"pieces as the real API streams them, so that the runner sees several text deltas "
            f"before the result of turn {turn}.")


def processes_with(text):
    """Living pids whose command line contains text (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry))
    return found


class BenchError(Exception):
    pass


# --- the fake Messages API ------------------------------------------------------------

class FakeAPI:
    """fake_anthropic_api.py: started with a pipe as stdin (it exits when that closes),
    announces `READY port=N` on stdout; its stderr goes to a temporary file."""

    label = "fake Messages API"

    def __init__(self, argv):
        self.argv = argv
        self.proc = self.port = self.log_file = None

    def start(self, timeout=30.0):
        self.log_file = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log_file, start_new_session=True)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise BenchError(f"{self.label}: no READY line after {timeout:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    tail = self.log_tail()
                    self.stop()
                    raise BenchError(f"{self.label} exited before READY\n{tail}")
                line += chunk
        text = line.decode().strip()
        if not text.startswith("READY port="):
            self.stop()
            raise BenchError(f"{self.label}: expected 'READY port=N', got {text!r}")
        self.port = int(text.split("=", 1)[1])
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """Closes its stdin (it exits at EOF), then SIGTERM, then SIGKILL. Returns a note or None."""
        if self.proc is None:
            return None
        note = None
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                note = f"{self.label} ignored EOF on stdin; stopped by SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                note = f"{self.label} did not stop; killed"
        self.proc.stdout.close()
        if self.log_file:
            self.log_file.close()
        self.proc = self.log_file = None
        return note

    def log_tail(self, lines=15):
        if not self.log_file:
            return ""
        self.log_file.flush()
        self.log_file.seek(0)
        text = self.log_file.read().decode(errors="replace").splitlines()[-lines:]
        return "\n".join("    | " + line for line in text)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def control(self, method, path, payload=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = b"" if payload is None else json.dumps(payload).encode()
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if payload is not None else {})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise BenchError(f"{self.label} {method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    def prepare(self, chunks, delay_ms):
        """A clean request log and the same script for every run: turn n answers turn_text(n)."""
        self.control("POST", "/__fake/reset", {})
        turn = {"chunks": chunks}
        if delay_ms:
            turn["delay_ms"] = delay_ms
        self.control("POST", "/__fake/script",
                     {"turns": [dict(turn, text=turn_text(n)) for n in range(SCRIPT_TURNS)]})

    def requests(self):
        return self.control("GET", "/__fake/requests?body=0")["requests"]


# --- one run of runner-bench ----------------------------------------------------------

def make_sandbox(root, name):
    """A HOME of its own (sessions are stored there) and a git repository to work in."""
    base = os.path.join(root, name)
    home, work = os.path.join(base, "home"), os.path.join(base, "repo")
    os.makedirs(home)
    os.makedirs(work)
    subprocess.run(["git", "init", "-q", work], check=True, stdin=subprocess.DEVNULL)
    return home, work


def stop_leftovers(session_id):
    """Any process still carrying this run's session id on its command line (a CLI the
    runner did not stop) is killed; returns what was found."""
    found = processes_with(session_id)
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return found


def run_mode(mode, args, fake, tmp_root, label, messages):
    session_id = str(uuid.uuid4())
    home, work = make_sandbox(tmp_root, f"{label}-{mode}")
    fake.prepare(args.chunks, args.delay_ms)
    prefix = f"benchmark {label} {mode} message"
    argv = [args.runner_bench, "--mode", mode, "--claude", args.claude, "--reaper", args.reaper,
            "--base-url", fake.base_url, "--home", home, "--workdir", work,
            "--messages", str(messages), "--session-id", session_id, "--prompt-prefix", prefix,
            "--pause-ms", str(args.pause_ms), "--timeout-s", str(args.message_timeout)]
    time.sleep(args.pause)
    load = loadavg()
    cpu_before, _ = children_usage()
    fake_cpu_before = cpu_ms(fake.proc.pid)
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=args.run_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        leftovers = stop_leftovers(session_id)
        raise BenchError(f"runner-bench --mode {mode} did not finish in {args.run_timeout:.0f} s"
                         + (f"; killed leftover processes {leftovers}" if leftovers else ""))
    wall_s = time.monotonic() - started
    cpu_after, maxrss_kib = children_usage()
    leftovers = stop_leftovers(session_id)
    if not fake.alive():
        raise BenchError(f"{fake.label} died during a {mode} run\n{fake.log_tail()}")
    lines = stdout.strip().splitlines()
    if proc.returncode not in (0, 1) or not lines:
        raise BenchError(f"runner-bench --mode {mode} exited with {proc.returncode}: {stderr.strip()[-2000:]}")
    result = json.loads(lines[-1])
    result.update(label=label, wall_s=wall_s, loadavg_before=load, exit_status=proc.returncode,
                  cpu_ms=cpu_after - cpu_before, fake_cpu_ms=cpu_ms(fake.proc.pid) - fake_cpu_before,
                  children_maxrss_kib=maxrss_kib, leftover_pids=leftovers,
                  stderr_tail=stderr.strip()[-2000:] or None)
    annotate(result, fake.requests(), prefix)
    return result


def annotate(result, requests, prefix):
    """Lines each message up with the fake's request log: when its main request arrived
    (after the body was read) and which turn it was; checks each answer is its turn's;
    counts the requests of every kind the run made."""
    kinds = {}
    for r in requests:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    result["fake_requests"] = kinds
    notes = result.setdefault("notes", [])
    for sample in result["samples"]:
        index = sample["index"]
        mains = [r for r in requests if r["kind"] == "main" and r.get("last_user_text") == sample["prompt"]]
        sample["main_requests"] = len(mains)
        if mains:
            sample["to_request_ms"] = mains[0]["time"] * 1000.0 - sample["send_epoch_ms"]
            sample["turn"] = mains[0]["turn"]
        expected = turn_text(index - 1)
        if sample.get("error"):
            notes.append(f"message {index}: {sample['error']}")
            continue
        problems = []
        if sample.get("result_text") != expected:
            problems.append(f"result {sample.get('result_text', '')[:60]!r} is not turn {index - 1}'s answer")
        if sample.get("delta_text") != expected:
            problems.append("the text deltas do not add up to the result")
        if len(mains) != 1:
            problems.append(f"{len(mains)} main requests for its prompt, not 1")
        elif mains[0]["turn"] != index - 1:
            problems.append(f"its request was turn {mains[0]['turn']}, not {index - 1} (history lost?)")
        if problems:
            sample["error"] = "; ".join(problems)
            notes.append(f"message {index}: {sample['error']}")
        if not sample.get("new_process") and result["mode"] == "cold":
            notes.append(f"message {index}: cold but the same process as the message before")
    if result["mode"] == "warm":
        started = sum(1 for s in result["samples"] if s.get("new_process"))
        if started != 1:
            notes.append(f"warm run started {started} processes, not 1")
    if result.get("leftover_pids"):
        notes.append(f"processes still running after runner-bench exited (killed): {result['leftover_pids']}")


# --- report ---------------------------------------------------------------------------

def fmt(value, spec=".0f"):
    return "—" if value is None else format(value, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def distribution(values):
    values = sorted(v for v in values if v is not None)
    return {"n": len(values), "median": statistics.median(values) if values else None,
            "p90": percentile(values, 90), "min": values[0] if values else None,
            "max": values[-1] if values else None}


def summarize(runs, first_message):
    """Every message of every run of one mode: the first ones (a process starts in both
    modes) or the later ones (only cold starts one), errors left out."""
    samples = [s for r in runs for s in r["samples"]
               if (s["index"] == 1) == first_message and not s.get("error")]
    errors = sum(1 for r in runs for s in r["samples"] if (s["index"] == 1) == first_message and s.get("error"))
    return {
        "messages": len(samples), "errors": errors,
        "first_delta_ms": distribution([s.get("first_delta_ms") for s in samples]),
        "result_ms": distribution([s.get("result_ms") for s in samples]),
        "to_request_ms": distribution([s.get("to_request_ms") for s in samples]),
        "init_ms": distribution([s.get("init_ms") for s in samples]),
        "delta_to_result_ms": distribution([s["result_ms"] - s["first_delta_ms"] for s in samples]),
        "cli_duration_ms": distribution([s.get("cli_duration_ms") for s in samples]),
        "stop_ms": distribution([s.get("stop_ms") for s in samples]),
        "new_processes": sum(1 for s in samples if s.get("new_process")),
    }


def per_run(runs):
    return {
        "wall_s": distribution([r["wall_s"] for r in runs]),
        "cpu_ms_per_message": distribution([r["cpu_ms"] / r["messages"] for r in runs]),
        "fake_cpu_ms_per_message": distribution([r["fake_cpu_ms"] / r["messages"] for r in runs]),
        "final_stop_ms": distribution([r.get("final_stop_ms") for r in runs]),
        "fake_requests": {kind: sum(r["fake_requests"].get(kind, 0) for r in runs)
                          for kind in sorted({k for r in runs for k in r["fake_requests"]})},
    }


def render(report):
    meta = report["meta"]
    s = report["summary"]
    out = [f"ClaudeRunner benchmark — {meta['timestamp']} — {meta['cpus']} CPUs — load average "
           f"{meta['loadavg_before'][0]:.2f} before, {meta['loadavg_after'][0]:.2f} after — "
           f"{meta['rounds']} rounds × {meta['messages']} messages per mode",
           f"Claude Code {meta['claude_version']} against the fake Messages API (Python); each answer "
           f"{meta['chunks']} text deltas, {meta['delay_ms']} ms apart; {meta['pause_ms']} ms pause before "
           "each later message",
           "warm = one ClaudeSession (one CLI process) for every message; cold = a new ClaudeSession per "
           "message (--resume from the 2nd), stop() after its result (not timed in)",
           "first delta / result: ms from calling send to the first .textDelta / to .finished with a "
           "successful result; to request: until the fake API had the main request (wall clocks)",
           ""]
    header = (f"{'messages':<9} {'mode':<13} {'n':>3}  {'first delta':>11} {'p90':>6}  {'result':>7} {'p90':>6}  "
              f"{'to request':>10}  {'new procs':>9} {'errors':>6}")
    out += [header, "-" * len(header)]
    for key, title in (("later", "2nd.." + str(meta["messages"])), ("first", "1st")):
        for mode in MODES:
            r = s[mode][key]
            out.append(f"{title:<9} {mode:<13} {r['messages']:>3}  {fmt(r['first_delta_ms']['median']):>11} "
                       f"{fmt(r['first_delta_ms']['p90']):>6}  {fmt(r['result_ms']['median']):>7} "
                       f"{fmt(r['result_ms']['p90']):>6}  {fmt(r['to_request_ms']['median']):>10}  "
                       f"{r['new_processes']:>9} {r['errors']:>6}")
            title = ""
        warm, cold = s["warm"][key], s["cold"][key]
        out.append(f"{'':<9} {'ratio cold/warm':<13} {'':>3}  "
                   f"{fmt(ratio(cold['first_delta_ms']['median'], warm['first_delta_ms']['median']), '.2f'):>11} "
                   f"{fmt(ratio(cold['first_delta_ms']['p90'], warm['first_delta_ms']['p90']), '.2f'):>6}  "
                   f"{fmt(ratio(cold['result_ms']['median'], warm['result_ms']['median']), '.2f'):>7} "
                   f"{fmt(ratio(cold['result_ms']['p90'], warm['result_ms']['p90']), '.2f'):>6}  "
                   f"{fmt(ratio(cold['to_request_ms']['median'], warm['to_request_ms']['median']), '.2f'):>10}")
        out.append("")
    out.append("first delta, result, to request: median and p90 (nearest rank) in ms over every message of "
               "every round; n = messages measured")
    out.append("")
    header = (f"{'per run':<13} {'wall s':>7} {'CPU ms/msg':>10} {'fake CPU':>8} {'stop ms':>8}  "
              f"{'init ms':>7} {'delta→result':>12} {'CLI duration':>12}  fake requests")
    out += [header, "-" * len(header)]
    for mode in MODES:
        runs, later = s[mode]["runs"], s[mode]["later"]
        stop = later["stop_ms"]["median"] if mode == "cold" else runs["final_stop_ms"]["median"]
        requests = ", ".join(f"{k} {v}" for k, v in runs["fake_requests"].items())
        out.append(f"{mode:<13} {fmt(runs['wall_s']['median'], '.1f'):>7} "
                   f"{fmt(runs['cpu_ms_per_message']['median']):>10} "
                   f"{fmt(runs['fake_cpu_ms_per_message']['median'], '.1f'):>8} {fmt(stop):>8}  "
                   f"{fmt(later['init_ms']['median']):>7} {fmt(later['delta_to_result_ms']['median']):>12} "
                   f"{fmt(later['cli_duration_ms']['median']):>12}  {requests}")
    out.append("wall s: one run of runner-bench (medians over the rounds); CPU ms/msg: runner-bench + "
               "claude-reaper + CLI, per message (getrusage of waited-for children);")
    out.append("fake CPU: the fake API's, per message; stop ms: cold, each stop() after a result, warm, "
               "the one at the end; init ms: send to .initialized (2nd.. messages);")
    out.append("delta→result: first delta to result; CLI duration: the result's own duration_ms (both 2nd.. "
               "messages, medians); fake requests: by kind, all runs of the mode")
    out.append("order: " + "; ".join(f"round {i + 1}: {' then '.join(o)}" for i, o in enumerate(meta["orders"])))
    notes = [f"  ! {r['mode']} {r['label']}: {n}" for mode in MODES for r in report["runs"][mode]
             for n in r.get("notes", [])] + [f"  ! {n}" for n in report.get("notes", [])]
    if notes:
        out += ["", "ERRORS / NOTES"] + notes
    out += ["", "targets: none set for this benchmark; the ratios are reported, never enforced"]
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runner-bench", required=True, help="path to the runner-bench binary")
    parser.add_argument("--claude", required=True, help="the Claude Code CLI (scripts/install-claude-cli.sh)")
    parser.add_argument("--reaper", required=True, help="the main package's claude-reaper")
    parser.add_argument("--fake", default=os.path.join(REPO, "Tests", "FakeServers", "fake_anthropic_api.py"))
    parser.add_argument("--rounds", type=int, default=6, help="warm and cold runs each (order alternating)")
    parser.add_argument("--messages", type=int, default=8, help="messages per run")
    parser.add_argument("--pause-ms", type=int, default=250, help="pause before each later message")
    parser.add_argument("--chunks", type=int, default=8, help="text deltas per answer")
    parser.add_argument("--delay-ms", type=int, default=0, help="fake: ms between text deltas")
    parser.add_argument("--warmup", type=int, default=2, help="messages of the unmeasured warm-up runs (0: none)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of quiet before each run")
    parser.add_argument("--message-timeout", type=int, default=60, help="runner's run/silence timeout, s")
    parser.add_argument("--run-timeout", type=float, default=300.0, help="seconds one runner-bench run may take")
    parser.add_argument("--results-dir", default=os.path.join(HERE, "..", "results"))
    args = parser.parse_args()
    # The CLI and the reaper are started in the run's repository: relative paths would not resolve.
    args.runner_bench, args.claude, args.reaper = map(os.path.abspath, (args.runner_bench, args.claude, args.reaper))

    if args.rounds < 1 or not 1 <= args.messages < SCRIPT_TURNS:
        sys.exit(f"bench.py: --rounds ≥ 1 and 1 ≤ --messages < {SCRIPT_TURNS}")
    for path in (args.runner_bench, args.claude, args.reaper):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench.py: not an executable: {path}")
    if not shutil.which("git"):
        sys.exit("bench.py: git not found")

    started_at = time.monotonic()
    timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    version = subprocess.run([args.claude, "--version"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=60).stdout.strip()
    report = {"meta": {
        "timestamp": timestamp, "cpus": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(), "claude_version": version.split(" ")[0] if version else None,
        "claude_version_full": version, "claude": args.claude, "reaper": args.reaper,
        "loadavg_before": loadavg(),
        "git_commit": subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() or None,
        "rounds": args.rounds, "messages": args.messages, "pause_ms": args.pause_ms,
        "chunks": args.chunks, "delay_ms": args.delay_ms, "warmup_messages": args.warmup,
        "orders": [],
    }, "runs": {mode: [] for mode in MODES}, "warmup": []}

    fake = FakeAPI([sys.executable, args.fake, "--port", "0"])
    tmp_root = tempfile.mkdtemp(prefix="bench-claude-runner-")

    def cleanup(*_):
        fake.stop(timeout=2)
        shutil.rmtree(tmp_root, ignore_errors=True)
        sys.exit(130)
    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)

    try:
        fake.start()
        log(f"fake Messages API on port {fake.port}; {version}")
        if args.warmup:
            # The CLI is ~400 MB: its first start reads it from disk. Not measured.
            for mode in MODES:
                r = run_mode(mode, args, fake, tmp_root, "warmup", args.warmup)
                report["warmup"].append(r)
                if r["errors"] or r.get("notes"):
                    raise BenchError(f"warm-up {mode}: {(r.get('notes') or ['errors'])[:3]}")
                log(f"warm-up {mode}: {r['wall_s']:.1f} s")
        for round_ in range(args.rounds):
            order = list(MODES) if round_ % 2 == 0 else list(reversed(MODES))
            report["meta"]["orders"].append(order)
            for mode in order:
                r = run_mode(mode, args, fake, tmp_root, f"round{round_ + 1}", args.messages)
                report["runs"][mode].append(r)
                later = [s for s in r["samples"] if s["index"] > 1 and not s.get("error")]
                log(f"round {round_ + 1}/{args.rounds} {mode}: {r['wall_s']:.1f} s, later messages: first delta "
                    f"median {fmt(statistics.median([s['first_delta_ms'] for s in later]) if later else None)} ms, "
                    f"result median {fmt(statistics.median([s['result_ms'] for s in later]) if later else None)} ms"
                    + (f", {r['errors']} ERRORS" if r["errors"] else ""))
        note = fake.stop()
        if note:
            report.setdefault("notes", []).append(note)
    finally:
        fake.stop(timeout=2)
        shutil.rmtree(tmp_root, ignore_errors=True)

    report["summary"] = {mode: {"later": summarize(report["runs"][mode], False),
                                "first": summarize(report["runs"][mode], True),
                                "runs": per_run(report["runs"][mode])} for mode in MODES}
    s = report["summary"]
    report["ratios_cold_over_warm"] = {
        key: {metric: {stat: ratio(s["cold"][key][metric][stat], s["warm"][key][metric][stat])
                       for stat in ("median", "p90")}
              for metric in ("first_delta_ms", "result_ms", "to_request_ms")}
        for key in ("later", "first")}
    report["meta"]["loadavg_after"] = loadavg()
    report["meta"]["elapsed_s"] = time.monotonic() - started_at
    text = render(report)
    print(text)
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(os.path.abspath(args.results_dir), f"claude-runner-{timestamp}.json")
    report["table"] = text
    with open(path, "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"\nwritten: {os.path.relpath(path)} ({report['meta']['elapsed_s']:.0f} s in all)")
    if not any(s[mode]["later"]["messages"] for mode in MODES):
        sys.exit("bench.py: FAILED: no message was measured")


if __name__ == "__main__":
    try:
        main()
    except (BenchError, OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
        sys.exit(f"bench.py: FAILED: {error}")
