#!/usr/bin/env python3
"""Telegram client benchmark driver: our HTTPCore client sending Bot API sendMessage calls
over keep-alive, against Python's http.client and curl --parallel, in the same run.
Python standard library only; run.sh builds the Swift binaries and calls it.

Both servers (the Python fake Bot API and a stub on our HTTPServer) are started once on
127.0.0.1 with a free port. For each server and concurrency the three clients run one at
a time, in an order that rotates from cell to cell so that drift on a shared machine
favours none of them. See bench/README.md.
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # well-formed, fake
OK_PREFIX = b'{"ok":true'
CLIENTS = ("ours", "http.client", "curl")
REFERENCES = ("http.client", "curl")
CURL_MARK = "@@W "


def log(message):
    print(message, file=sys.stderr, flush=True)


def cpu_ms(pid):
    """utime + stime of pid (all its threads) in milliseconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def children_cpu_ms():
    """CPU time of the children waited for so far (the clients; servers are still running)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000.0


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def percentile(sorted_ns, p):
    """Nearest rank, in milliseconds; client-bench and reference_http_client.py do the same."""
    if not sorted_ns:
        return None
    rank = min(max(math.ceil(p / 100 * len(sorted_ns)), 1), len(sorted_ns))
    return sorted_ns[rank - 1] / 1e6


def request_body(n, chats):
    """Request n, as every client builds it: chats spread so flood control never bites."""
    return '{"chat_id":%d,"text":"benchmark message %d"}' % (1 + n % chats, n)


class BenchError(Exception):
    pass


# --- servers --------------------------------------------------------------------------

class Server:
    """A server under test: started with a pipe as stdin (it exits when that closes),
    announces `READY port=N` on stdout; its stderr goes to a temporary file."""

    def __init__(self, key, label, argv):
        self.key, self.label, self.argv = key, label, argv
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

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body if body is not None else b"", headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    # What each server can tell about a run.
    def reset(self):
        path = "/__fake/reset" if self.key == "fake" else "/__stub/reset"
        status, body = self.request("POST", path, b"{}", {"Content-Type": "application/json"})
        if status != 200:
            raise BenchError(f"{self.label}: reset answered {status}: {body[:200]!r}")

    def seen(self):
        """(sendMessage requests answered 200, connections) since the last reset; None if unknown."""
        if self.key == "fake":
            status, body = self.request("GET", "/__fake/calls?method=sendMessage")
            calls = json.loads(body)["calls"]
            return sum(1 for c in calls if c.get("status") == 200), None
        status, body = self.request("GET", "/__stub/stats")
        stats = json.loads(body)
        return stats["requests"], stats["connections"]


def sanity_check(server):
    """One sendMessage by hand: 200, ok:true, and (the fake) the message echoed back."""
    body = request_body(0, 1000)
    status, answer = server.request("POST", f"/bot{BOT_TOKEN}/sendMessage", body.encode(),
                                    {"Content-Type": "application/json"})
    problems = []
    if status != 200 or not answer.startswith(OK_PREFIX):
        problems.append(f"sendMessage answered {status}: {answer[:200]!r}")
    elif server.key == "fake":
        result = json.loads(answer)["result"]
        if result.get("text") != "benchmark message 0" or result.get("chat", {}).get("id") != 1:
            problems.append(f"sendMessage result does not echo the request: {result}")
    return problems


def run_json_client(argv, timeout):
    """client-bench or reference_http_client.py: the last stdout line is a JSON summary."""
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                   stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(argv[:2])} ... did not finish in {timeout:.0f} s")
    if completed.returncode != 0:
        raise BenchError(f"{argv[0]} exited with {completed.returncode}: {completed.stderr.strip()}")
    lines = completed.stdout.strip().splitlines()
    if not lines:
        raise BenchError(f"{argv[0]} printed nothing; stderr: {completed.stderr.strip()}")
    return json.loads(lines[-1])


class Curl:
    def __init__(self, tmpdir, baseline_runs=3):
        self.tmpdir, self.baseline_runs = tmpdir, baseline_runs

    def config(self, server, first, requests, chats):
        """One curl operation per request (each has its own body), separated by `next`."""
        path = os.path.join(self.tmpdir, f"curl-{server.key}-{first}.cfg")
        url = f"{server.base_url}/bot{BOT_TOKEN}/sendMessage"
        write_out = r"\n" + CURL_MARK + r"%{http_code} %{time_total} %{num_connects}\n"
        with open(path, "w") as f:
            for index in range(requests):
                if index:
                    f.write("next\n")
                body = request_body(first + index, chats).replace("\\", "\\\\").replace('"', '\\"')
                f.write(f'url = "{url}"\nheader = "Content-Type: application/json"\n'
                        f'data-binary = "{body}"\nwrite-out = "{write_out}"\n')
        return path

    @staticmethod
    def argv(config, concurrency):
        return ["curl", "--silent", "--show-error", "--parallel", "--parallel-immediate",
                "--parallel-max", str(concurrency), "--config", config]

    def startup_ms(self, config, concurrency):
        """Process start plus parsing this config, without a transfer: `--next --version`
        stops curl right after the config has been read. Median of a few runs."""
        samples = []
        for _ in range(self.baseline_runs):
            started = time.perf_counter_ns()
            subprocess.run(self.argv(config, concurrency) + ["--next", "--version"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            samples.append((time.perf_counter_ns() - started) / 1e6)
        return statistics.median(samples), samples

    def run(self, server, first, requests, concurrency, chats, timeout):
        config = self.config(server, first, requests, chats)
        startup, startup_samples = self.startup_ms(config, concurrency)
        cpu_before = children_cpu_ms()
        started = time.perf_counter_ns()
        try:
            completed = subprocess.run(self.argv(config, concurrency), capture_output=True,
                                       timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BenchError(f"curl did not finish in {timeout:.0f} s")
        process_wall_s = (time.perf_counter_ns() - started) / 1e9
        cpu = children_cpu_ms() - cpu_before
        os.unlink(config)
        result = self.parse(completed.stdout.decode(errors="replace"), requests)
        if completed.returncode != 0 and not result["errors"]:
            raise BenchError(f"curl exited with {completed.returncode}: {completed.stderr.decode().strip()}")
        wall_s = process_wall_s - startup / 1000.0
        result.update(client="curl", concurrency=concurrency, wall_s=wall_s,
                      process_wall_s=process_wall_s, startup_ms=startup,
                      startup_samples_ms=startup_samples,
                      rps=result["requests"] / wall_s if wall_s > 0 else None,
                      cpu_ms=cpu, exit_status=completed.returncode)
        if completed.returncode != 0:
            result["stderr"] = completed.stderr.decode(errors="replace")[-2000:]
        return result

    @staticmethod
    def parse(stdout, requests):
        """Write-out lines give status, time and new connections per transfer; the bodies
        (written as they arrive, so not next to their own line) are checked as a sequence."""
        marks, body_parts = [], []
        for line in stdout.split("\n"):
            if line.startswith(CURL_MARK):
                marks.append(line[len(CURL_MARK):].split())
            elif line:
                body_parts.append(line)
        statuses = [m[0] for m in marks]
        latencies = sorted(int(round(float(m[1]) * 1e9)) for m in marks)
        ok_bodies, decoder, text, at = 0, json.JSONDecoder(), "".join(body_parts), 0
        undecodable = False
        while at < len(text):
            try:
                value, at = decoder.raw_decode(text, at)
            except ValueError:
                undecodable = True
                break
            ok_bodies += isinstance(value, dict) and value.get("ok") is True
        ok_statuses = statuses.count("200")
        errors = requests - min(ok_statuses, ok_bodies)
        result = {"requests": len(marks), "p50_ms": percentile(latencies, 50),
                  "p99_ms": percentile(latencies, 99),
                  "mean_ms": sum(latencies) / len(latencies) / 1e6 if latencies else None,
                  "max_ms": latencies[-1] / 1e6 if latencies else None, "errors": errors,
                  "connections_opened": sum(int(m[2]) for m in marks)}
        if errors:
            others = sorted(set(s for s in statuses if s != "200"))
            result["error_sample"] = (f"{requests - len(marks)} transfers without a result line, "
                                      f"statuses other than 200: {others or 'none'}, "
                                      f"{ok_bodies} ok bodies" + (", undecodable output" if undecodable else ""))
        return result


def run_client(name, server, args, curl, first, requests, concurrency):
    common = ["--url", server.base_url, "--token", BOT_TOKEN, "--requests", str(requests),
              "--concurrency", str(concurrency), "--first", str(first), "--chats", str(args.chats)]
    if name == "curl":
        return curl.run(server, first, requests, concurrency, args.chats, args.run_timeout)
    argv = ([args.client_bench] if name == "ours"
            else [sys.executable, os.path.join(HERE, "reference_http_client.py")]) + common
    cpu_before = children_cpu_ms()
    result = run_json_client(argv, args.run_timeout)
    result["cpu_ms"] = children_cpu_ms() - cpu_before
    return result


def measure(name, server, args, curl, first, requests, concurrency):
    """One client run against one server, with what the server saw and spent."""
    server.reset()
    time.sleep(args.pause)
    server_cpu_before = cpu_ms(server.proc.pid)
    load = loadavg()
    result = run_client(name, server, args, curl, first, requests, concurrency)
    if not server.alive():
        raise BenchError(f"{server.label} died during {name} c={concurrency}\n{server.log_tail()}")
    result["server_cpu_ms"] = cpu_ms(server.proc.pid) - server_cpu_before
    result["server_seen_ok"], result["server_connections"] = server.seen()
    result["loadavg_before"] = load
    result["requested"] = requests
    for key in ("cpu_ms", "server_cpu_ms"):
        result[key + "_per_1k"] = result[key] / requests * 1000.0
    notes = result.setdefault("notes", [])
    if result["server_seen_ok"] != requests - result["errors"]:
        notes.append(f"server answered {result['server_seen_ok']} sendMessage with 200, "
                     f"client counted {requests - result['errors']} successes")
    if result["server_connections"] is not None and result["server_connections"] > concurrency:
        notes.append(f"{result['server_connections']} connections for {concurrency} concurrent callers: "
                     "not all kept alive")
    if result.get("connections_opened") is not None and result["connections_opened"] > concurrency:
        notes.append(f"curl opened {result['connections_opened']} connections for --parallel-max {concurrency}")
    return result


# --- report ---------------------------------------------------------------------------

def fmt(value, spec):
    return "—" if value is None else format(value, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def median_of(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    """The repeats of one client in one cell: medians, errors summed, the spread of req/s."""
    rps = [r["rps"] for r in runs if r.get("rps") is not None]
    conns = [r["server_connections"] if r.get("server_connections") is not None
             else r.get("connections_opened") for r in runs]
    conns = [c for c in conns if c is not None]
    summary = {key: median_of(runs, key) for key in
               ("rps", "p50_ms", "p99_ms", "cpu_ms_per_1k", "server_cpu_ms_per_1k")}
    summary.update(
        runs=len(runs), requests=sum(r["requests"] for r in runs), errors=sum(r["errors"] for r in runs),
        rps_min=min(rps) if rps else None, rps_max=max(rps) if rps else None,
        rps_spread=(max(rps) - min(rps)) / statistics.median(rps) if len(rps) > 1 else None,
        connections_max=max(conns) if conns else None,
        error_samples=[r["error_sample"] for r in runs if r.get("error_sample")],
        notes=[note for r in runs for note in r.get("notes", [])])
    return summary


def render(report):
    meta = report["meta"]
    out = [f"Telegram client benchmark — {meta['timestamp']} — {meta['cpus']} CPUs — load average "
           f"{meta['loadavg_before'][0]:.2f} before, {meta['loadavg_after'][0]:.2f} after — "
           f"median of {meta['repeat']} runs per cell",
           "POST /bot<token>/sendMessage, JSON body, keep-alive; every answer must be 200 with ok:true.",
           "ours = HTTPCore HTTPClient (client-bench, pool of c connections); http.client = Python "
           f"{meta['python']} http.client, one connection per thread; curl = {meta['curl']} --parallel "
           "--parallel-max c",
           "fake = Tests/FakeServers/fake_bot_api.py (Python); "
           "stub = HTTPCore HTTPServer, fixed answer",
           "req/s: first request to last answer (curl: process wall minus its start and config parse); "
           "spread: (max - min) / median of req/s over the runs;",
           "p50/p99: per request; CPU: ms per 1,000 requests, of the client and of the server; "
           "ratio = ours / reference: req/s above 1 and latency below 1 favour ours",
           ""]
    header = (f"{'server':<6} {'c':>3}  {'client':<11} {'requests':>8} {'req/s':>8} {'spread':>6} {'p50 ms':>7} "
              f"{'p99 ms':>7}  {'CPU client':>10} {'server':>6} {'conns':>5} {'errors':>6}  "
              f"{'ratio req/s':>11} {'p50':>5} {'p99':>5}")
    out += [header, "-" * len(header)]
    notes = []
    for cell in report["cells"]:
        ours = cell["summary"].get("ours")
        for i, name in enumerate(n for n in CLIENTS if n in cell["summary"]):
            r = cell["summary"][name]
            ratios = ""
            if name != "ours" and ours:
                ratios = (f"{fmt(ratio(ours['rps'], r['rps']), '.2f'):>11} "
                          f"{fmt(ratio(ours['p50_ms'], r['p50_ms']), '.2f'):>5} "
                          f"{fmt(ratio(ours['p99_ms'], r['p99_ms']), '.2f'):>5}")
            flag = " !" if r["errors"] or r["notes"] else ""
            spread = None if r["rps_spread"] is None else r["rps_spread"] * 100
            out.append(
                f"{cell['server'] if i == 0 else '':<6} {cell['concurrency'] if i == 0 else '':>3}  {name:<11} "
                f"{r['requests']:>8,} {fmt(r['rps'], ',.0f'):>8} {fmt(spread, '.0f') + '%':>6} "
                f"{fmt(r['p50_ms'], '.2f'):>7} {fmt(r['p99_ms'], '.2f'):>7}  "
                f"{fmt(r['cpu_ms_per_1k'], '.0f'):>10} {fmt(r['server_cpu_ms_per_1k'], '.0f'):>6} "
                f"{fmt(r['connections_max'], 'd'):>5} {r['errors']:>6,}  {ratios}{flag}".rstrip())
            if r["errors"]:
                notes.append(f"  ! {cell['server']} c={cell['concurrency']} {name}: {r['errors']} errors, "
                             f"e.g. {r['error_samples'][:1]}")
            for note in r["notes"]:
                notes.append(f"  ! {cell['server']} c={cell['concurrency']} {name}: {note}")
        out.append("")
    out.append("conns: most connections in one run, as the stub saw them (distinct client ports); for the "
               "fake, as curl reports opening them (—: not known)")
    out.append("order: the clients' order rotates from run to run, so each goes first equally often")
    if notes:
        out += ["", "ERRORS / NOTES"] + notes
    out += ["", "targets: none set for this benchmark; the ratios are reported, never enforced"]
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client-bench", required=True, help="path to the client-bench binary")
    parser.add_argument("--stub-server", required=True, help="path to the stub-server binary")
    parser.add_argument("--fake", default=os.path.join(REPO, "Tests", "FakeServers", "fake_bot_api.py"))
    parser.add_argument("--servers", default="fake,stub")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests-fake", type=int, default=2000, help="requests per run on the fake")
    parser.add_argument("--requests-stub", type=int, default=5000, help="requests per run on the stub")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each client per cell (median)")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests per client and server")
    parser.add_argument("--chats", type=int, default=1000, help="chat ids the requests are spread over")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds of quiet before each run")
    parser.add_argument("--run-timeout", type=float, default=120.0, help="seconds one client run may take")
    parser.add_argument("--results-dir", default=os.path.join(HERE, "..", "results"))
    args = parser.parse_args()

    servers_wanted = [s for s in args.servers.split(",") if s]
    clients = [c for c in args.clients.split(",") if c]
    concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    if not set(servers_wanted) <= {"fake", "stub"} or not servers_wanted:
        sys.exit("bench.py: --servers takes fake and/or stub")
    if not set(clients) <= set(CLIENTS) or "ours" not in clients:
        sys.exit(f"bench.py: --clients takes ours plus any of {', '.join(REFERENCES)}")
    for path in (args.client_bench, args.stub_server):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench.py: not an executable: {path}")
    if "curl" in clients and not shutil.which("curl"):
        sys.exit("bench.py: curl not found")

    started_at = time.monotonic()
    timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    curl_version = (subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[:2]
                    if shutil.which("curl") else [])
    report = {"meta": {
        "timestamp": timestamp, "cpus": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(), "curl": " ".join(curl_version),
        "loadavg_before": loadavg(),
        "git_commit": subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() or None,
        "requests_per_run": {"fake": args.requests_fake, "stub": args.requests_stub},
        "repeat": args.repeat,
        "warmup_requests": args.warmup, "chats": args.chats, "clients": clients,
        "concurrency": concurrencies,
    }, "cells": []}

    servers = {}
    tmpdir = tempfile.mkdtemp(prefix="bench-telegram-client-")
    curl = Curl(tmpdir)

    def cleanup(*_):
        for s in servers.values():
            s.stop(timeout=2)
        shutil.rmtree(tmpdir, ignore_errors=True)
        sys.exit(130)
    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)

    try:
        if "fake" in servers_wanted:
            servers["fake"] = Server("fake", "fake Bot API", [
                sys.executable, args.fake, "--port", "0",
                "--token", BOT_TOKEN, "--flood-chat-limit", "1000000"])
        if "stub" in servers_wanted:
            servers["stub"] = Server("stub", "stub (HTTPServer)",
                                     [args.stub_server, "--token", BOT_TOKEN, "--port", "0"])
        first = 1_000_000  # request numbers: unique over the whole run (sanity checks use 0)
        for s in servers.values():
            s.start()
            problems = sanity_check(s)
            if problems:
                raise BenchError(f"{s.label}: " + "; ".join(problems))
            for name in clients:
                r = measure(name, s, args, curl, first, args.warmup, min(8, max(concurrencies)))
                first += args.warmup
                if r["errors"]:
                    raise BenchError(f"warm-up of {name} on {s.key}: {r['errors']} errors, "
                                     f"e.g. {r.get('error_sample')}")
            log(f"{s.key}: ready on port {s.port}, warmed up")

        index = 0
        for key, s in servers.items():
            requests = args.requests_fake if key == "fake" else args.requests_stub
            for c in concurrencies:
                cell = {"server": key, "concurrency": c, "requests_per_run": requests, "orders": [],
                        "runs": {name: [] for name in clients}}
                for round_ in range(args.repeat):
                    shift = (index + round_) % len(clients)
                    order = clients[shift:] + clients[:shift]
                    cell["orders"].append(order)
                    for name in order:
                        r = measure(name, s, args, curl, first, requests, c)
                        first += requests
                        cell["runs"][name].append(r)
                        log(f"{key} c={c} run {round_ + 1}/{args.repeat} {name}: {fmt(r['rps'], ',.0f')} req/s, "
                            f"p50 {fmt(r['p50_ms'], '.2f')} ms, p99 {fmt(r['p99_ms'], '.2f')} ms"
                            + (f", {r['errors']} ERRORS" if r["errors"] else ""))
                cell["summary"] = {name: summarize(runs) for name, runs in cell["runs"].items()}
                ours = cell["summary"]["ours"]
                cell["ratios"] = {ref: {"rps": ratio(ours["rps"], cell["summary"][ref]["rps"]),
                                        "p50": ratio(ours["p50_ms"], cell["summary"][ref]["p50_ms"]),
                                        "p99": ratio(ours["p99_ms"], cell["summary"][ref]["p99_ms"])}
                                  for ref in REFERENCES if ref in cell["summary"]}
                report["cells"].append(cell)
                index += 1
        for key, s in servers.items():
            note = s.stop()
            if note:
                report.setdefault("notes", []).append(note)
    finally:
        for s in servers.values():
            s.stop(timeout=2)
        shutil.rmtree(tmpdir, ignore_errors=True)

    report["meta"]["loadavg_after"] = loadavg()
    report["meta"]["elapsed_s"] = time.monotonic() - started_at
    text = render(report)
    print(text)
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(os.path.abspath(args.results_dir), f"telegram-client-{timestamp}.json")
    report["table"] = text
    with open(path, "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"\nwritten: {os.path.relpath(path)} ({report['meta']['elapsed_s']:.0f} s in all)")


if __name__ == "__main__":
    try:
        main()
    except (BenchError, OSError, ValueError, KeyError) as error:
        sys.exit(f"bench.py: FAILED: {error}")
