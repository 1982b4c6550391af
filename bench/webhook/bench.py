#!/usr/bin/env python3
"""Webhook benchmark driver: process management, readiness polling, /proc sampling,
wrk runs and the report. Python standard library only; run.sh builds and calls it.

Both servers are started (one at a time) and kept running; each scenario then loads one
of them at a time, alternating which goes first, so that slow drift on a shared
machine does not favour either side. See bench/README.md.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # well-formed, fake
SECRET_ALPHABET = string.ascii_letters + string.digits + "_-"
MIB = 1024  # KiB per MiB
# update_id bases: wrk run n of a server uses ids from n * RUN_STRIDE on (webhook.lua
# adds thread * 10^9). Sanity-check requests use ids below RUN_STRIDE.
RUN_STRIDE = 10**10


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_proc_status(pid):
    """VmRSS and VmHWM of pid in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def cpu_ms(pid):
    """utime + stime of pid (all its threads) in milliseconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # comm may contain spaces and ')'
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) * 1000.0 / CLK_TCK


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class ServerError(Exception):
    pass


class Server:
    """One server under test: a binary, its environment and its readiness URL."""

    def __init__(self, key, label, binary, args, ready_path, secret, data_dir):
        self.key, self.label, self.binary, self.args = key, label, binary, args
        self.ready_path, self.secret, self.uses_data_dir = ready_path, secret, data_dir
        self.proc = self.port = self.data_dir = None
        self.log_file = None
        self.runs = 0  # wrk runs against the current process (update_id bases)

    def start(self, timeout=30.0):
        """Spawns the server and polls its readiness URL; returns seconds to ready."""
        self.port = free_port()
        env = dict(os.environ)
        env.update(PORT=str(self.port), LISTEN_HOST="127.0.0.1", LOG_LEVEL="warning",
                   TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=self.secret,
                   # Required by ours. Not the sender of update.json: the chat layer refuses
                   # it (an audit row; a refusal at most hourly), so no Claude runs and the
                   # load stays on the intake this benchmark is about.
                   ALLOWED_USER_IDS="1",
                   # Nothing listens there: the refusal and start-up calls fail at once
                   # instead of waiting on DNS for api.telegram.org.
                   TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{free_port()}")
        if self.uses_data_dir:
            self.data_dir = tempfile.mkdtemp(prefix=f"bench-{self.key}-data-")
            env["DATA_DIR"] = self.data_dir
        self.log_file = tempfile.TemporaryFile(mode="w+b")
        self.runs = 0
        started = time.perf_counter()
        self.proc = subprocess.Popen([self.binary] + self.args, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        ready = self._poll_ready(started + timeout)
        return ready - started

    def _poll_ready(self, deadline):
        request = (f"GET {self.ready_path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                   "Connection: close\r\n\r\n").encode()
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.label} exited with {self.proc.returncode} before ready"
                                  f"\n{self.log_tail()}")
            if time.perf_counter() > deadline:
                raise ServerError(f"{self.label} not ready after {deadline:.0f} s\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(request)
                    head = b""
                    while b"\r\n" not in head:
                        chunk = s.recv(256)
                        if not chunk:
                            break
                        head += chunk
                if head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")):
                    return time.perf_counter()
            except OSError:
                pass
            os.sched_yield()  # as fast as possible, but let the server's threads run

    def stop(self, timeout=20.0):
        """SIGTERM, wait; SIGKILL only if it does not exit in time. Returns a note or None."""
        note = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                note = f"{self.label} did not exit {timeout:.0f} s after SIGTERM; killed"
        if self.proc is not None and self.proc.returncode not in (0, None) and note is None:
            note = f"{self.label} exited with status {self.proc.returncode}"
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        self.proc = None
        return note

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=20):
        if not self.log_file:
            return ""
        self.log_file.flush()
        self.log_file.seek(0)
        text = self.log_file.read().decode(errors="replace").splitlines()[-lines:]
        return "\n".join("    | " + line for line in text)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


def http_request(server, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def sanity_check(server, sample_body):
    """The behaviour the benchmark relies on; returns a list of problems."""
    def update(update_id):
        return sample_body.replace(b'"update_id":1,', b'"update_id":%d,' % update_id)
    json_headers = {"Content-Type": "application/json"}
    good = dict(json_headers, **{"X-Telegram-Bot-Api-Secret-Token": server.secret})
    wrong = dict(json_headers, **{"X-Telegram-Bot-Api-Secret-Token": "x" * len(server.secret)})
    checks = [
        ("GET /healthz", ("GET", "/healthz", None, None), 200),
        ("POST update, right secret", ("POST", "/telegram/webhook", good, update(1)), 200),
        ("POST update, wrong secret", ("POST", "/telegram/webhook", wrong, update(2)), 401),
        ("POST update, no secret", ("POST", "/telegram/webhook", json_headers, update(3)), 401),
        ("POST not JSON", ("POST", "/telegram/webhook", good, b"{not json"), 400),
    ]
    problems = []
    for name, (method, path, headers, body), expected in checks:
        try:
            status, _ = http_request(server, method, path, headers, body)
        except OSError as error:
            status = f"error: {error}"
        if status != expected:
            problems.append(f"{name}: expected {expected}, got {status}")
    return problems


# --- wrk ------------------------------------------------------------------------------

TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def parse_wrk(output):
    """Parses wrk's text report and the BENCH_JSON line of report.lua.

    Numbers come from the JSON line (exact); the text report is the fallback and a
    cross-check. Errors are taken as the larger of both sources, never hidden."""
    text = {}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.M)
    if m:
        text["requests"] = int(m.group(1))
        text["duration_s"] = float(m.group(2)) * TIME_UNITS_MS[m.group(3)] / 1000.0
    m = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if m:
        text["rps"] = float(m.group(1))
    percentiles = {}
    dist = output.split("Latency Distribution", 1)
    if len(dist) == 2:
        for p, value, unit in re.findall(r"^\s+([\d.]+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", dist[1], re.M):
            percentiles[p] = float(value) * TIME_UNITS_MS[unit]
    text["percentiles_ms"] = percentiles
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    text["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    text["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                     map(int, m.groups()))) if m else {}

    m = re.search(r"^BENCH_JSON (\{.*\})\s*$", output, re.M)
    exact = json.loads(m.group(1)) if m else None

    result = {"notes": []}
    if exact:
        duration_s = exact["duration_us"] / 1e6
        lat = exact["latency_us"]["percentiles"]
        result.update(
            requests=exact["requests"], duration_s=duration_s,
            rps=exact["requests"] / duration_s if duration_s else 0.0,
            p50_ms=lat["50"] / 1000.0, p75_ms=lat["75"] / 1000.0, p90_ms=lat["90"] / 1000.0,
            p99_ms=lat["99"] / 1000.0, p999_ms=lat["99.9"] / 1000.0,
            mean_ms=exact["latency_us"]["mean"] / 1000.0, max_ms=exact["latency_us"]["max"] / 1000.0,
            non_2xx=exact["errors"]["status"],
            socket_errors={k: exact["errors"][k] for k in ("connect", "read", "write", "timeout")},
            source="lua")
        if "update_ids_issued" in exact:
            result["update_ids_issued"] = exact["update_ids_issued"]
        if "rps" in text and result["rps"] and abs(text["rps"] - result["rps"]) > 0.01 * result["rps"] + 1:
            result["notes"].append(f"wrk text says {text['rps']:.0f} req/s, Lua summary {result['rps']:.0f}")
    elif "rps" in text and "50" in text["percentiles_ms"] and "99" in text["percentiles_ms"]:
        pm = text["percentiles_ms"]
        result.update(
            requests=text.get("requests", 0), duration_s=text.get("duration_s", 0.0), rps=text["rps"],
            p50_ms=pm["50"], p75_ms=pm.get("75"), p90_ms=pm.get("90"), p99_ms=pm["99"],
            non_2xx=text["non_2xx"], socket_errors=text["socket_errors"], source="text")
        result["notes"].append("no BENCH_JSON line; parsed wrk's text report")
    else:
        raise ValueError("could not parse wrk output")
    # Never let one source hide errors the other reports.
    result["non_2xx"] = max(result["non_2xx"], text["non_2xx"])
    for key, value in text["socket_errors"].items():
        result["socket_errors"][key] = max(result["socket_errors"].get(key, 0), value)
    result["errors"] = result["non_2xx"] + sum(result["socket_errors"].values())
    return result


def run_wrk(server, scenario, duration, wrk_timeout):
    connections = scenario["connections"]
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={wrk_timeout}",
           "--latency", "-s", os.path.join(HERE, scenario["script"]), server.url(scenario["path"])]
    if scenario["kind"] == "webhook":
        server.runs += 1
        cmd += ["--", server.secret, str(server.runs * RUN_STRIDE)]
    cpu_before = cpu_ms(server.proc.pid)
    started = time.perf_counter()
    completed = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    time.sleep(0.25)  # let requests in flight when wrk stopped finish on the server
    if not server.alive():
        raise ServerError(f"{server.label} died during {scenario['name']}\n{server.log_tail()}")
    cpu_after = cpu_ms(server.proc.pid)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}"
                           f"\n{completed.stdout}")
    result = parse_wrk(completed.stdout)
    result["threads"], result["connections"] = threads, connections
    result["wall_s"] = elapsed
    result["cpu_ms"] = cpu_after - cpu_before
    result["cpu_ms_per_1k"] = (result["cpu_ms"] / result["requests"] * 1000.0
                               if result["requests"] else None)
    if scenario["kind"] == "webhook" and result.get("update_ids_issued", 0) < result["requests"]:
        result["notes"].append("fewer update_ids issued than requests completed")
    result["wrk_output"] = completed.stdout
    return result


# --- report ---------------------------------------------------------------------------

def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(value, spec, unit=""):
    return "—" if value is None else format(value, spec) + unit


def mib(kib):
    return None if kib is None else kib / MIB


def describe_errors(r):
    parts = []
    if r["non_2xx"]:
        parts.append(f"{r['non_2xx']} non-2xx responses")
    socket_errors = {k: v for k, v in r["socket_errors"].items() if v}
    if socket_errors:
        parts.append("socket errors " + ", ".join(f"{k} {v}" for k, v in socket_errors.items()))
    return "; ".join(parts)


def evaluate_targets(report):
    scenarios = {s["name"]: s for s in report["scenarios"]}
    ours = report["servers"].get("ours", {})
    targets = []

    def target(name, check):
        try:
            verdict, detail = check()
        except (KeyError, TypeError):
            verdict, detail = "n/a", "not measured"
        targets.append({"target": name, "result": verdict, "detail": detail})

    def clean(s):
        bad = [k for k in ("ours", "reference") if s[k]["errors"]]
        return "" if not bad else f" — run with errors ({', '.join(bad)}), not a valid comparison"

    def healthz():
        s = scenarios["healthz c=40"]
        r, p_ours, p_ref = s["rps_ratio"], s["ours"]["p99_ms"], s["reference"]["p99_ms"]
        ok = r is not None and r >= 1.2 and p_ours <= p_ref and not clean(s)
        return ("PASS" if ok else "MISS",
                f"ratio {r:.2f}, p99 {p_ours:.2f} ms vs {p_ref:.2f} ms{clean(s)}")

    def webhook():
        s = scenarios["webhook c=40"]
        r = s["rps_ratio"]
        return ("PASS" if r is not None and r >= 0.5 and not clean(s) else "MISS",
                f"ratio {r:.2f}{clean(s)}")

    def limit(value, bound, unit, spec=".1f"):
        return ("PASS" if value <= bound else "MISS", f"{value:{spec}} {unit}")

    target("healthz@40: req/s ratio ≥ 1.2 and p99 ≤ reference", healthz)
    target("webhook@40: req/s ratio ≥ 0.5", webhook)
    target("our idle RSS ≤ 10 MiB", lambda: limit(mib(ours["rss_idle_kib"]), 10, "MiB"))
    target("our RSS after load ≤ 20 MiB", lambda: limit(mib(ours["rss_after_kib"]), 20, "MiB"))
    target("our start to ready ≤ 20 ms", lambda: limit(ours["start_to_ready_ms"]["median"], 20, "ms"))
    return targets


def render(report):
    out = []
    meta = report["meta"]
    out.append(f"Webhook benchmark — {meta['timestamp']} — {meta['cpus']} CPUs — "
               f"{meta['duration_s']} s per run — load average {meta['loadavg_before'][0]:.2f} "
               f"before, {meta['loadavg_after'][0]:.2f} after")
    out.append("ours = botserver (HTTPCore), ref = Hummingbird 2 reference; "
               "ratio = ours / ref (req/s: higher is better for ours; p99: lower is)")
    out.append("")
    header = (f"{'scenario':<14} {'req/s ours':>11} {'ref':>9} {'ratio':>6}  {'p50 ours':>9} {'ref':>7}  "
              f"{'p99 ours':>9} {'ref':>7} {'ratio':>6}  {'CPU ms/1k ours':>14} {'ref':>6}")
    out.append(header)
    out.append("-" * len(header))
    error_lines = []
    for s in report["scenarios"]:
        o, r = s.get("ours"), s.get("reference")
        g = lambda d, k: None if d is None else d.get(k)
        flag = ""
        for side, d in (("ours", o), ("ref", r)):
            if d and d["errors"]:
                flag = " !"
                error_lines.append(f"  ! {s['name']} {side}: {describe_errors(d)}")
            for note in (d or {}).get("notes", []):
                error_lines.append(f"  note: {s['name']} {side}: {note}")
        out.append(
            f"{s['name']:<14} {fmt(g(o, 'rps'), ',.0f'):>11} {fmt(g(r, 'rps'), ',.0f'):>9} "
            f"{fmt(s['rps_ratio'], '.2f'):>6}  {fmt(g(o, 'p50_ms'), '.2f', 'ms'):>9} "
            f"{fmt(g(r, 'p50_ms'), '.2f', 'ms'):>7}  {fmt(g(o, 'p99_ms'), '.2f', 'ms'):>9} "
            f"{fmt(g(r, 'p99_ms'), '.2f', 'ms'):>7} {fmt(s['p99_ratio'], '.2f'):>6}  "
            f"{fmt(g(o, 'cpu_ms_per_1k'), '.1f'):>14} {fmt(g(r, 'cpu_ms_per_1k'), '.1f'):>6}{flag}")
    if error_lines:
        out.append("")
        out.append("ERRORS / NOTES (non-2xx responses and socket errors count as requests in wrk's req/s):")
        out.extend(error_lines)
    out.append("")
    servers = report["servers"]
    o, r = servers.get("ours"), servers.get("reference")
    out.append(f"{'process':<34} {'ours':>10} {'reference':>10}")

    def row(name, key, spec, unit, convert=lambda v: v):
        vals = [None if d is None or d.get(key) is None else convert(d[key]) for d in (o, r)]
        out.append(f"{name:<34} {fmt(vals[0], spec, unit):>10} {fmt(vals[1], spec, unit):>10}")

    n = (o or r or {}).get("start_to_ready_ms", {}).get("samples", [])
    row(f"start to ready, median of {len(n)}", "start_to_ready_ms", ".1f", " ms", lambda v: v["median"])
    row("start to ready, min", "start_to_ready_ms", ".1f", " ms", lambda v: v["min"])
    row("RSS idle (ready + 1 s)", "rss_idle_kib", ".1f", " MiB", mib)
    row("RSS after all load", "rss_after_kib", ".1f", " MiB", mib)
    row("RSS peak (VmHWM)", "rss_peak_kib", ".1f", " MiB", mib)
    for key, d in (("ours", o), ("reference", r)):
        for problem in (d or {}).get("problems", []):
            out.append(f"  ! {key}: {problem}")
    out.append("")
    out.append("targets (reported, not enforced)")
    for t in report["targets"]:
        out.append(f"  {t['result']:<4}  {t['target']:<52} {t['detail']}")
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ours", help="path to botserver")
    parser.add_argument("--reference", help="path to the reference server")
    parser.add_argument("--only", choices=("both", "ours", "reference"), default="both")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load per server")
    parser.add_argument("--connections", default="1,10,40,100", help="webhook connection counts")
    parser.add_argument("--starts", type=int, default=5, help="starts for start-to-ready")
    parser.add_argument("--wrk-timeout", default="2s")
    parser.add_argument("--results-dir", default=os.path.join(HERE, "..", "results"))
    args = parser.parse_args()

    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(32))
    servers = []
    if args.only in ("both", "ours"):
        servers.append(Server("ours", "botserver", args.ours, ["serve"], "/readyz", secret, True))
    if args.only in ("both", "reference"):
        servers.append(Server("reference", "reference (Hummingbird)", args.reference, [],
                              "/healthz", secret, False))
    for s in servers:
        if not s.binary or not os.access(s.binary, os.X_OK):
            sys.exit(f"bench.py: {s.key} binary missing or not executable: {s.binary}")

    scenarios = [{"name": f"webhook c={c}", "kind": "webhook", "connections": c,
                  "path": "/telegram/webhook", "script": "webhook.lua"}
                 for c in (int(x) for x in args.connections.split(","))]
    scenarios.append({"name": "healthz c=40", "kind": "healthz", "connections": 40,
                      "path": "/healthz", "script": "healthz.lua"})

    timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = {"meta": {
        "timestamp": timestamp, "duration_s": args.duration, "warmup_s": args.warmup,
        "cpus": os.cpu_count(), "loadavg_before": loadavg(), "kernel": platform.release(),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0:1],
        "git_commit": subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() or None,
        "only": args.only,
    }, "servers": {}, "scenarios": []}

    # Sample update for the sanity check, produced the same way wrk does (webhook.lua).
    sample = sample_update()
    report["meta"]["update_bytes"] = len(sample)

    def cleanup(*_):
        for s in servers:
            s.stop(timeout=5)
        sys.exit(130)
    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)

    try:
        # 1. Start to ready: fresh process (and fresh DATA_DIR) each time, one at a time.
        for s in servers:
            samples = []
            for i in range(args.starts):
                samples.append(s.start() * 1000.0)
                note = s.stop()
                if note:
                    report["servers"].setdefault(s.key, {}).setdefault("problems", []).append(note)
            log(f"{s.key}: start to ready {', '.join(f'{x:.1f}' for x in samples)} ms")
            info = report["servers"].setdefault(s.key, {})
            info.update(binary=s.binary, start_to_ready_ms={
                "samples": samples, "median": statistics.median(samples), "min": min(samples)})

        # 2. The processes that take the load: idle RSS, sanity check, warm-up.
        for s in servers:
            s.start()
            time.sleep(1.0)
            info = report["servers"][s.key]
            info["rss_idle_kib"] = read_proc_status(s.proc.pid)["VmRSS"]
            info.setdefault("problems", []).extend(sanity_check(s, sample))
            for problem in info["problems"]:
                log(f"{s.key}: SANITY PROBLEM: {problem}")
            for sc in (scenarios[-1], scenarios[0] if len(scenarios) > 1 else scenarios[-1]):
                if args.warmup > 0:
                    run_wrk(s, dict(sc, connections=10), args.warmup, args.wrk_timeout)

        # 3. The scenarios, one server under load at a time, alternating who goes first.
        for index, sc in enumerate(scenarios):
            entry = {"name": sc["name"], "kind": sc["kind"], "connections": sc["connections"],
                     "ours": None, "reference": None}
            order = servers if index % 2 == 0 else list(reversed(servers))
            for s in order:
                time.sleep(1.0)
                log(f"{sc['name']}: {s.key} ...")
                load = loadavg()
                result = run_wrk(s, sc, args.duration, args.wrk_timeout)
                result["loadavg_before"] = load
                entry[s.key] = result
                log(f"    {result['rps']:,.0f} req/s, p99 {result['p99_ms']:.2f} ms"
                    + (f", ERRORS: {describe_errors(result)}" if result["errors"] else ""))
            o, r = entry["ours"], entry["reference"]
            entry["rps_ratio"] = ratio(o and o["rps"], r and r["rps"])
            entry["p99_ratio"] = ratio(o and o["p99_ms"], r and r["p99_ms"])
            report["scenarios"].append(entry)

        for s in servers:
            status = read_proc_status(s.proc.pid)
            info = report["servers"][s.key]
            info["rss_after_kib"], info["rss_peak_kib"] = status["VmRSS"], status["VmHWM"]
            note = s.stop()
            if note:
                info["problems"].append(note)
    finally:
        for s in servers:
            s.stop(timeout=5)

    report["meta"]["loadavg_after"] = loadavg()
    report["targets"] = evaluate_targets(report)
    text = render(report)
    print(text)

    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(os.path.abspath(args.results_dir), f"webhook-{timestamp}.json")
    report["table"] = text
    with open(path, "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"\nwritten: {os.path.relpath(path)}")


def sample_update():
    """The update webhook.lua sends (update.json), with update_id 1 and message_id 1000."""
    with open(os.path.join(HERE, "update.json"), "rb") as f:
        template = f.read().strip()
    body = template.replace(b'"update_id":0,', b'"update_id":1,', 1)
    return body.replace(b'"message_id":0,', b'"message_id":1000,', 1)


if __name__ == "__main__":
    try:
        main()
    except (ServerError, RuntimeError, ValueError) as error:
        sys.exit(f"bench.py: FAILED: {error}")
