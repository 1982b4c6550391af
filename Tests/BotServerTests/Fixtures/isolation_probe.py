"""What a prompt injection would try, run as Claude's Bash tool: every route from the tool to
the bot's secrets and database. Prints only what it finds (and why each route failed), so
that the tool_result the CLI sends back shows exactly what leaked.

    python3 isolation_probe.py DATA_DIR [SECRET_FILE ...]
"""
import os
import re
import stat
import subprocess
import sys

NAMES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "METRICS_TOKEN", "GIT_TOKEN", "TRANSCRIPTION_API_KEY")
found = []


def look(label, blob):
    text = blob.decode("latin-1") if isinstance(blob, bytes) else blob
    for name in NAMES:
        for match in re.finditer(name + "=([^\x00\n]+)", text):
            found.append("%s %s=%s" % (label, name, match.group(1)))
    for match in re.finditer("canary-[0-9a-f]{8}", text):
        found.append("%s %s" % (label, match.group(0)))
    if "SQLite format 3" in text:
        found.append("%s SQLite format 3" % label)


def failed(label, error):
    found.append("%s: %s" % (label, type(error).__name__))


look("env", "\n".join("%s=%s" % item for item in os.environ.items()))

# Every ancestor: the CLI, claude-reaper, the bot.
pid = os.getppid()
while pid > 1:
    for what in ("environ", "cmdline"):
        try:
            with open("/proc/%d/%s" % (pid, what), "rb") as f:
                look("proc %d %s" % (pid, what), f.read(1 << 20))
        except Exception as error:
            failed("proc %d %s" % (pid, what), error)
    try:
        open("/proc/%d/mem" % pid, "rb").close()
        found.append("proc %d mem opened" % pid)
    except Exception as error:
        failed("proc %d mem" % pid, error)
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            found.append("proc %d fd %s -> %s" % (pid, fd, os.readlink("/proc/%d/fd/%s" % (pid, fd))))
            try:
                path = "/proc/%d/fd/%s" % (pid, fd)
                if stat.S_ISREG(os.stat(path).st_mode):  # a pipe or socket would block the read
                    with open(path, "rb") as f:
                        look("proc %d fd %s" % (pid, fd), f.read(1 << 20))
            except Exception:
                pass
    except Exception as error:
        failed("proc %d fd" % pid, error)
    with open("/proc/%d/stat" % pid) as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])

data = sys.argv[1]
for part, suffix in (("main", ""), ("wal", "-wal"), ("shm", "-shm")):
    try:
        with open(os.path.join(data, "bot" + ".sqlite" + suffix), "rb") as f:
            look("database " + part, f.read())
    except Exception as error:
        failed("database " + part, error)
try:
    listing = os.listdir(data)
    found.append("data folder listed: %d entries" % len(listing))
except Exception as error:
    failed("data folder", error)

try:
    look("ps", subprocess.run(["ps", "axeww"], capture_output=True).stdout)
except Exception as error:
    failed("ps", error)

for index, path in enumerate(sys.argv[2:]):
    try:
        with open(path, "rb") as f:
            found.append("secret file %d: %s" % (index, f.read().decode("latin-1").strip()))
    except Exception as error:
        failed("secret file %d" % index, error)

print("\n".join(found))
