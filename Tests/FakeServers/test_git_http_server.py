"""Self-test of git_http_server.py (unittest, standard library only): real git against it.

Run from the repository root:
    python3 -m unittest discover -s Tests/FakeServers -p 'test_git_http*' -v
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import unittest
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKEN = "t0ken-for-tests"


def git(*args: str, cwd: str | None = None, header: str | None = None, check: bool = True,
        ca: str | None = None) -> subprocess.CompletedProcess:
    prefix = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com"]
    if header:
        prefix += ["-c", f"http.extraHeader={header}"]
    if ca:
        prefix += ["-c", f"http.sslCAInfo={ca}"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_TERMINAL_PROMPT": "0", "HOME": cwd or tempfile.gettempdir(),
           "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(prefix + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=check)


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class GitHTTPServerTests(unittest.TestCase):
    tls = False

    def setUp(self) -> None:
        self.directory = tempfile.TemporaryDirectory()
        self.root = Path(self.directory.name) / "remotes"
        self.root.mkdir()
        git("init", "-q", "--bare", "--initial-branch=main", str(self.root / "r.git"))
        arguments = ["python3", str(HERE / "git_http_server.py"), "--root", str(self.root), "--token", TOKEN]
        self.ca = None
        if self.tls:
            base = self.directory.name
            self.ca = f"{base}/ca.pem"
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", f"{base}/ca.key", "-out", self.ca, "-days", "2", "-subj", "/CN=Git Test CA")
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", f"{base}/server.key", "-out", f"{base}/server.csr", "-subj", "/CN=127.0.0.1")
            Path(base, "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
            openssl("x509", "-req", "-in", f"{base}/server.csr", "-CA", self.ca, "-CAkey", f"{base}/ca.key",
                    "-CAcreateserial", "-out", f"{base}/server.pem", "-days", "2", "-extfile", f"{base}/server.ext")
            arguments += ["--cert", f"{base}/server.pem", "--key", f"{base}/server.key"]
        self.server = subprocess.Popen(arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.server.stdout.readline().strip()
        self.assertTrue(line.startswith("READY port="), line)
        self.port = line.split('=')[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/r.git"
        self.header = "Authorization: Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()

    def tearDown(self) -> None:
        self.server.stdin.close()
        try:
            self.server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server.stdout.close()
        self.directory.cleanup()

    def test_clone_push_and_clone_again_with_the_token(self) -> None:
        work = str(Path(self.directory.name) / "work")
        git("clone", "-q", self.url, work, header=self.header, ca=self.ca)
        Path(work, "a.txt").write_text("a\n")
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", "first", cwd=work)
        git("push", "-q", "origin", "main", cwd=work, header=self.header, ca=self.ca)
        log = git("--git-dir", str(self.root / "r.git"), "log", "--format=%s", "main").stdout
        self.assertEqual(log.strip(), "first")
        again = str(Path(self.directory.name) / "again")
        git("clone", "-q", self.url, again, header=self.header, ca=self.ca)
        self.assertEqual(Path(again, "a.txt").read_text(), "a\n")

    def test_without_the_token_git_is_refused_and_nothing_is_recorded_of_it(self) -> None:
        result = git("ls-remote", self.url, check=False, ca=self.ca)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("terminal prompts disabled", result.stderr)
        wrong = "Authorization: Basic " + base64.b64encode(b"x:wrong").decode()
        self.assertNotEqual(git("ls-remote", self.url, header=wrong, check=False, ca=self.ca).returncode, 0)
        context = ssl.create_default_context(cafile=self.ca) if self.tls else None
        scheme = "https" if self.tls else "http"
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/__fake/requests", timeout=10, context=context) as response:
            requests = json.load(response)["requests"]
        self.assertTrue(requests and not any(r["authorized"] for r in requests))
        self.assertNotIn(TOKEN, json.dumps(requests))


class GitHTTPSServerTests(GitHTTPServerTests):
    """The same over TLS (--cert/--key), and a client that does not trust the issuer is refused."""
    tls = True

    def test_a_client_that_does_not_trust_the_certificate_is_refused(self) -> None:
        result = git("ls-remote", self.url, header=self.header, check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("certificate", result.stderr.lower())


if __name__ == "__main__":
    unittest.main()
