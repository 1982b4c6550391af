#!/usr/bin/env python3
"""The project's fake Bot API (Tests/FakeServers/fake_bot_api.py) for checks of the container
image: scripts/test-image.sh and the shared build_image.sh (as its FAKE_TG) call it with the
`serve` and `drive` commands below. Python 3 standard library only.

serve --host H --port P --token T --log FILE --files-dir DIR
    starts fake_bot_api.py on a free loopback port (it binds 127.0.0.1 only) and proxies H:P
    to it, so a container reaches it where the checks say (slirp4netns' 10.0.2.2); answers
    GET /_control/health; appends {"method": M, "status": S} per Bot API call to FILE.
drive --url U --secret S --api A --token T --max-attempts N UPDATE.json
    POSTs the update to the webhook with the secret header; exit 0 on HTTP 200.
"""
import argparse, http.client, http.server, json, os, re, subprocess, sys, threading, time, urllib.request

# Beside this script's repository, wherever it is checked out.
FAKE = os.environ.get("FAKE_BOT_API") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "FakeServers", "fake_bot_api.py")


def serve(a):
    proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--token", a.token],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.match(r"READY port=(\d+)", line)
    if not m:
        sys.exit(f"fake_bot_api.py did not start: {line!r}")
    inner = int(m.group(1))
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            sys.stderr.write("proxy: " + (args[0] % args[1:]) + "\n")

        def handle_any(self):
            if self.path == "/_control/health":
                body = b'{"ok":true}'
                self.send_response(200); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            c = http.client.HTTPConnection("127.0.0.1", inner, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "content-length")}
            c.request(self.command, self.path, body=data, headers=headers)
            r = c.getresponse(); out = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() in ("content-type",):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
            m = re.match(r"/bot[^/]+/([A-Za-z]+)", self.path)
            if m:
                with lock, open(a.log, "a") as f:
                    f.write(json.dumps({"method": m.group(1), "status": r.status, "time": time.time()}) + "\n")

        do_GET = do_POST = handle_any

    srv = http.server.ThreadingHTTPServer((a.host, a.port), H)
    try:
        srv.serve_forever()
    finally:
        proc.terminate()


def drive(a):
    body = open(a.update, "rb").read()
    for attempt in range(a.max_attempts):
        try:
            req = urllib.request.Request(a.url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": a.secret})
            with urllib.request.urlopen(req, timeout=10) as r:
                print(f"webhook -> {r.status}")
                if r.status == 200:
                    return 0
        except Exception as e:
            print(f"attempt {attempt + 1}: {e}")
        time.sleep(1)
    return 1


p = argparse.ArgumentParser()
sub = p.add_subparsers(dest="cmd", required=True)
s = sub.add_parser("serve")
s.add_argument("--host", default="127.0.0.1"); s.add_argument("--port", type=int, required=True)
s.add_argument("--token", required=True); s.add_argument("--log", required=True); s.add_argument("--files-dir")
d = sub.add_parser("drive")
for n in ("--url", "--secret", "--api", "--token"):
    d.add_argument(n, required=True)
d.add_argument("--max-attempts", type=int, default=2); d.add_argument("update")
a = p.parse_args()
sys.exit(serve(a) if a.cmd == "serve" else drive(a))
