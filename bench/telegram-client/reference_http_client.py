#!/usr/bin/env python3
"""Reference client of bench/telegram-client: Python's http.client, one persistent
connection per worker thread. Same arguments, requests, checks and output as
client-bench (one JSON line); standard library only.

    reference_http_client.py --url http://127.0.0.1:8081 --token 123:ABC --requests 5000 \
        --concurrency 8 [--first N] [--chats K]
"""

import argparse
import http.client
import itertools
import json
import math
import threading
import time
import urllib.parse

OK_PREFIX = b'{"ok":true'


def percentile(sorted_ns, p):
    """Nearest rank, in milliseconds (client-bench computes it the same way)."""
    if not sorted_ns:
        return 0.0
    rank = min(max(math.ceil(p / 100 * len(sorted_ns)), 1), len(sorted_ns))
    return sorted_ns[rank - 1] / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--chats", type=int, default=1000)
    args = parser.parse_args()

    base = urllib.parse.urlsplit(args.url)
    if base.scheme != "http" or not base.hostname:
        parser.error("--url must be http://host:port")
    path = f"/bot{args.token}/sendMessage"
    headers = {"Content-Type": "application/json"}
    indices = itertools.count()  # next() on a count is atomic under the GIL
    start_line = threading.Barrier(args.concurrency + 1)
    results = []

    def worker():
        latencies, errors, first_error = [], 0, None
        conn = http.client.HTTPConnection(base.hostname, base.port or 80, timeout=10)
        start_line.wait()
        while True:
            index = next(indices)
            if index >= args.requests:
                break
            n = args.first + index
            body = ('{"chat_id":%d,"text":"benchmark message %d"}' % (1 + n % args.chats, n)).encode()
            started = time.perf_counter_ns()
            problem = None
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200 or not data.startswith(OK_PREFIX):
                    problem = f"HTTP {response.status}: {data[:200].decode(errors='replace')}"
            except (OSError, http.client.HTTPException) as error:
                problem = f"{type(error).__name__}: {error}"
                conn.close()  # http.client reconnects on the next request
            latencies.append(time.perf_counter_ns() - started)
            if problem:
                errors += 1
                first_error = first_error or problem
        conn.close()
        results.append((latencies, errors, first_error))  # list.append is atomic under the GIL

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter_ns()
    for thread in threads:
        thread.join()
    wall = (time.perf_counter_ns() - started) / 1e9

    latencies = sorted(itertools.chain.from_iterable(r[0] for r in results))
    errors = sum(r[1] for r in results)
    sample = next((r[2] for r in results if r[2]), None)
    out = {
        "client": "http.client", "requests": len(latencies), "concurrency": args.concurrency,
        "wall_s": wall, "rps": len(latencies) / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
        "mean_ms": sum(latencies) / len(latencies) / 1e6 if latencies else 0.0,
        "max_ms": latencies[-1] / 1e6 if latencies else 0.0, "errors": errors,
    }
    if sample:
        out["error_sample"] = sample
    print(json.dumps(out))


if __name__ == "__main__":
    main()
