#!/usr/bin/env bash
# scripts/test-image.sh: builds the container image from the committed tree (git HEAD) and
# checks it as it runs, twice: started by hand (`run`), and brought up from
# deploy/docker-compose.yml with a filled-in .env as Coolify does it (`compose`). Run it
# before every change to Dockerfile or deploy/ lands, and put its output in the note. Not
# part of .ci/run: a build takes minutes and gigabytes. Run as root; prints PASS/FAIL lines
# and ends with "N passed, N failed".
#
# Engine: docker when one answers (`docker compose` for compose), else podman with the base
# images that ../shared/container/build_image.sh makes from Debian's packages and the local
# Swift toolchain (it is run once to make them when they are missing) and Debian's
# podman-compose (installed with apt when missing).
#
# Checks: /healthz, /readyz, the HEALTHCHECK, `botserver doctor`, the users (bot 10001 runs
# tini and the bot, nothing runs as root; claude 10002 runs the CLI and can read neither
# /data nor the bot's environment), writable volumes, the pinned Claude Code, a webhook
# round trip against the project's fake Bot API (scripts/image-check/fake_telegram.py), a
# wrong secret refused, exit 0 on SIGTERM; a root-owned /data refused at start (run only).
#
# Knobs: WORK (scratch, default /var/tmp/botimage-test), IMAGE (tag), SKIP_BUILD=1 (check
# an existing IMAGE), SKIP_COMPOSE=1, KEEP=1 (leave containers), SHARED_BUILD (the shared
# script), ENGINE=docker|podman (instead of detecting).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
WORK=${WORK:-/var/tmp/botimage-test}
IMAGE=${IMAGE:-localhost/claude-telegram-bot:test}
SHARED_BUILD=${SHARED_BUILD:-$ROOT/../shared/container/build_image.sh}
FAKE_TG=$ROOT/scripts/image-check/fake_telegram.py
TOKEN=123456:TEST-token-abcdefghijklmnopqrstuvwxyz
SECRET=s3cret_x
NAME=botimage-test-$$
PROJECT=botimagetest$$
PASSED=0 FAILED=0 TG_PID=
mkdir -p "$WORK/logs"
LOGS=$WORK/logs

pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
info() { echo "INFO $*"; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; exit; }
die() { fail "$*"; finish; }

# ---------------------------------------------------------------- engine
if [ -z "${ENGINE:-}" ]; then
    if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
if [ "$ENGINE" = podman ]; then
    command -v podman >/dev/null || die "neither a docker engine nor podman (apt-get install podman)"
    SHARED_WORK=/var/tmp/botimage   # build_image.sh's default WORK: its containers.conf and bases
    if ! podman image exists docker.io/library/swift:6.3-bookworm || ! podman image exists docker.io/library/debian:bookworm-slim ||
        [ ! -f "$SHARED_WORK/containers.conf" ]; then
        [ -f "$SHARED_BUILD" ] || die "no base images and no $SHARED_BUILD to make them"
        info "making the base images with $SHARED_BUILD (about 10 minutes)"
        # SKIP_BUILD with an image that does not exist: it stops once the bases are made.
        WORK=$SHARED_WORK SKIP_BUILD=1 IMAGE=localhost/none:none bash "$SHARED_BUILD" "$ROOT" >"$LOGS/bases.log" 2>&1
        podman image exists docker.io/library/swift:6.3-bookworm || { tail -5 "$LOGS/bases.log"; die "base images"; }
    fi
    # runc and rlimits this machine allows (build_image.sh worked them out).
    export CONTAINERS_CONF=$SHARED_WORK/containers.conf
    # podman-compose: Debian's when it reads the compose file's `env_file: [{path, required}]`
    # (1.1 and later); bookworm's 1.0.3 does not (it crashes on it), so then the pinned one
    # from PyPI in a virtualenv under $WORK. Not in a pod: the service has a network_mode.
    COMPOSE=(podman-compose --in-pod false)
    if [ "${SKIP_COMPOSE:-0}" != 1 ]; then
        command -v podman-compose >/dev/null ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman-compose >"$LOGS/apt.log" 2>&1
        # "podman-compose version 1.6.0"; bookworm's 1.0.3 says "podman-composer version  1.0.3".
        v=$(podman-compose --version 2>/dev/null | awk '/^podman-compose.* version/ {print $NF; exit}')
        if ! python3 -c "import sys; v=tuple(map(int, '${v:-0}'.split('.')[:2])); sys.exit(0 if v >= (1, 1) else 1)" 2>/dev/null; then
            info "podman-compose ${v:-missing} cannot read env_file's required: false; podman-compose 1.6.0 from PyPI"
            [ -x "$WORK/venv/bin/podman-compose" ] || { python3 -m venv "$WORK/venv" &&
                "$WORK/venv/bin/pip" install -q "podman-compose==1.6.0"; } >"$LOGS/pip.log" 2>&1 ||
                die "podman-compose from PyPI (see $LOGS/pip.log)"
            COMPOSE=("$WORK/venv/bin/podman-compose" --in-pod false)
        fi
    fi
else
    COMPOSE=(docker compose)
fi
E=$ENGINE
info "engine: $($E --version)"

cleanup() {
    if [ -n "$TG_PID" ]; then kill "$TG_PID" 2>/dev/null; wait "$TG_PID" 2>/dev/null; fi
    if [ "${KEEP:-0}" != 1 ]; then
        $E rm -f "$NAME" "$NAME-root" >/dev/null 2>&1
        [ -f "$WORK/compose/docker-compose.yml" ] && (cd "$WORK/compose" && "${COMPOSE[@]}" -p "$PROJECT" down -v >/dev/null 2>&1)
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- build
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    CTX=$WORK/context
    rm -rf "$CTX"; mkdir -p "$CTX"
    git -C "$ROOT" archive HEAD | tar -x -C "$CTX" || die "git archive HEAD"
    info "context: git HEAD $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo ' (uncommitted changes are NOT in it)')"
    ARGS=()
    if [ "$E" = podman ]; then
        # --format docker: OCI image configs have no HEALTHCHECK. The local Swift package
        # mirror (a git insteadOf rewrite of github.com, as on this kind of machine) and
        # pip's CA bundle (a proxy re-signing PyPI) are lent to the build read-only.
        ARGS+=(--format docker --network host)
        MIRROR=$(git config --get-regexp '^url\..*\.insteadof$' 2>/dev/null |
            awk '$2=="https://github.com/" { k=$1; sub(/^url\./,"",k); sub(/\.insteadof$/,"",k); print k; exit }')
        [ -n "$MIRROR" ] && [ -d "$MIRROR" ] && ARGS+=(-v "${MIRROR%/}:${MIRROR%/}:ro")
        CA=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null)}
        [ -n "$CA" ] && [ -f "$CA" ] && ARGS+=(-v "$CA:/run/pip-ca.crt:ro" --build-arg PIP_CA_FILE=/run/pip-ca.crt)
    fi
    t=$SECONDS
    if nice -n 10 $E build "${ARGS[@]}" -t "$IMAGE" -f "$CTX/Dockerfile" "$CTX" >"$LOGS/build.log" 2>&1; then
        pass "image built ($((SECONDS - t)) s)"
    else
        tail -20 "$LOGS/build.log"; die "image build (see $LOGS/build.log)"
    fi
fi
$E image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE"
SIZE=$($E image inspect -f '{{.Size}}' "$IMAGE")
if [ "$SIZE" -le 600000000 ]; then pass "image size $((SIZE / 1000000)) MB (at most 600)"; else fail "image size $((SIZE / 1000000)) MB (over 600)"; fi
$E history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | awk -F'\t' '$1 !~ /^0 ?B/ {x=$2; sub(/^\/bin\/sh -c (#\(nop\) )?/,"",x); printf "    layer| %10s  %s\n", $1, substr(x,1,90)}'
HC=$($E image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE")
case $HC in *healthcheck*) pass "HEALTHCHECK in the image: $HC";; *) fail "no HEALTHCHECK running botserver healthcheck: $HC";; esac
PINNED=$(bash "$ROOT/scripts/install-claude-cli.sh" 2>/dev/null | tail -n 1)
WANT=$("$PINNED" --version 2>/dev/null)
# --no-healthcheck: a one-off container needs none (podman would ask systemd to schedule it).
GOT=$($E run --rm --no-healthcheck --entrypoint /usr/local/bin/claude "$IMAGE" --version 2>&1)
[ -n "$WANT" ] && [ "$GOT" = "$WANT" ] && pass "Claude Code in the image is the tests' pinned one: $GOT" ||
    fail "Claude Code in the image: '$GOT', the tests': '$WANT'"
out=$($E run --rm --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c 'ldd /app/botserver /app/claude-reaper /usr/local/bin/claude | grep "not found"; command -v curl perl; echo DISABLE_AUTOUPDATER=$DISABLE_AUTOUPDATER' 2>&1)
[ "$out" = DISABLE_AUTOUPDATER=1 ] && pass "no missing libraries, no curl or perl, DISABLE_AUTOUPDATER=1" || fail "image contents: $out"

# ---------------------------------------------------------------- fake Telegram
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TGPORT=$(freeport)
: >"$WORK/tg-calls.jsonl"
python3 "$FAKE_TG" serve --host 127.0.0.1 --port "$TGPORT" --token "$TOKEN" --log "$WORK/tg-calls.jsonl" \
    >"$LOGS/fake-telegram.log" 2>&1 &
TG_PID=$!
for _ in $(seq 50); do python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$TGPORT/_control/health', timeout=1)" 2>/dev/null && break; sleep 0.2; done
# The container reaches the host's loopback: podman's slirp4netns maps 10.0.2.2 to it; with
# docker the container shares the host's network (bound to 127.0.0.1 only).
if [ "$E" = podman ]; then
    NETMODE=slirp4netns:allow_host_loopback=true; TGURL=http://10.0.2.2:$TGPORT
else
    NETMODE=host; TGURL=http://127.0.0.1:$TGPORT
fi

cat >"$WORK/update-start.json" <<JSON
{"update_id": 900001, "message": {"message_id": 1, "date": $(date +%s), "text": "/start",
 "from": {"id": 1, "is_bot": false, "first_name": "Test"},
 "chat": {"id": 1, "type": "private", "first_name": "Test"},
 "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
JSON

# checks LABEL CONTAINER HOSTPORT: everything about one running container.
checks() {
    local L=$1 C=$2 P=$3 c out rc
    http() { python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status, r.read()[:100].decode())
except urllib.error.HTTPError as e: print(e.code, e.read()[:100].decode())
except Exception as e: print(0, e)
PY
    }
    for _ in $(seq 60); do [ "$(http "http://127.0.0.1:$P/healthz" | cut -d' ' -f1)" = 200 ] && break; sleep 0.5; done
    for path in /healthz /readyz; do
        for _ in $(seq 20); do c=$(http "http://127.0.0.1:$P$path"); [ "${c%% *}" = 200 ] && break; sleep 0.5; done
        [ "${c%% *}" = 200 ] && pass "$L: GET $path 200" || fail "$L: GET $path -> $c"
    done
    if [ "$E" = podman ]; then
        out=$(podman healthcheck run "$C" 2>&1); rc=$?
    else
        for _ in $(seq 40); do out=$(docker inspect -f '{{.State.Health.Status}}' "$C"); [ "$out" = healthy ] && break; sleep 1; done
        [ "$out" = healthy ]; rc=$?
    fi
    [ $rc = 0 ] && pass "$L: HEALTHCHECK healthy" || fail "$L: HEALTHCHECK rc=$rc $out"
    $E exec "$C" /app/botserver doctor >"$LOGS/doctor-$L.log" 2>&1; rc=$?
    # Expected ✘: `claude login` (no credentials here) and `webhook` (no PUBLIC_URL registered one).
    local bad; bad=$(grep '^✘' "$LOGS/doctor-$L.log" | grep -vE '^✘ (claude login|webhook):')
    if grep -q '^✔ configuration' "$LOGS/doctor-$L.log" && grep -q '^✔ tool isolation' "$LOGS/doctor-$L.log" && [ -z "$bad" ]; then
        pass "$L: botserver doctor (exit $rc; ✘ only for claude login / webhook)"
    else
        fail "$L: botserver doctor exit $rc: $bad"
    fi
    sed 's/^/    doctor| /' "$LOGS/doctor-$L.log"
    out=$($E exec "$C" sh -c 'for p in /proc/[0-9]*; do c=$(tr "\0" " " <$p/cmdline 2>/dev/null); [ -n "$c" ] && echo "$(awk "/^Uid:/{print \$2}" $p/status) ${p#/proc/} $c"; done' 2>&1 | grep -av ' sh -c ')
    # grep -a: the bot overwrites its environment in place, which /proc shows as NUL bytes.
    if echo "$out" | grep -aq '^10001 1 /usr/bin/tini' && echo "$out" | grep -aqE '^10001 [0-9]+ /app/botserver serve' && ! echo "$out" | grep -aq '^0 '; then
        pass "$L: tini and botserver run as bot (10001), nothing as root"
    else
        fail "$L: process users: $(echo "$out" | tr '\n' ';')"
    fi
    out=$($E exec "$C" sh -c 'for d in /data /workspace; do touch $d/.w && rm $d/.w || exit 1; done' 2>&1) &&
        out=$($E exec --user claude "$C" sh -c 'touch /home/claude/.w && rm /home/claude/.w && touch /workspace/.c && rm /workspace/.c' 2>&1) &&
        pass "$L: /data and /workspace writable by bot, /home/claude and /workspace by claude" || fail "$L: volumes: $out"
    # claude runs the CLI and cannot read the bot's database, secrets or environment.
    # env -i: an exec'd process gets the container's environment, the secrets included.
    out=$($E exec --user claude "$C" env -i PATH=/usr/local/bin:/usr/bin:/bin sh -c \
        'id -u; claude --version; ls /data 2>/dev/null && echo READ-DATA; cat /proc/[0-9]*/environ 2>/dev/null | grep -aq TELEGRAM_ && echo READ-ENV; true' 2>&1)
    case $out in
        *READ-*) fail "$L: the claude user can read the bot's data or environment: $out";;
        10002*"Claude Code"*) pass "$L: the CLI runs as claude (10002), which cannot read /data nor the bot's environment";;
        *) fail "$L: claude user: $out";;
    esac
    : >"$WORK/tg-calls.jsonl"
    python3 "$FAKE_TG" drive --url "http://127.0.0.1:$P/telegram/webhook" --secret "$SECRET" --api "http://127.0.0.1:$TGPORT" \
        --token "$TOKEN" --max-attempts 2 "$WORK/update-start.json" >"$LOGS/drive-$L.log" 2>&1; rc=$?
    for _ in $(seq 20); do grep -q '"sendMessage"' "$WORK/tg-calls.jsonl" && break; sleep 0.5; done
    [ $rc = 0 ] && grep -q '"sendMessage", "status": 200' "$WORK/tg-calls.jsonl" &&
        pass "$L: webhook /start with the secret -> the bot answered (sendMessage 200 at the fake Bot API)" ||
        fail "$L: webhook round trip (drive rc=$rc): $(tr '\n' ' ' <"$WORK/tg-calls.jsonl" | head -c 300)"
    c=$(python3 - "http://127.0.0.1:$P/telegram/webhook" "$WORK/update-start.json" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], data=open(sys.argv[2], "rb").read(), method="POST",
    headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "wrong"})
try: print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as e: print(e.code)
PY
)
    case $c in 401|403) pass "$L: webhook with a wrong secret -> $c";; *) fail "$L: webhook with a wrong secret -> $c";; esac
}

# stop_check LABEL CONTAINER: SIGTERM -> exit 0 within the grace period.
stop_check() {
    local t0 el ec
    t0=$(date +%s.%N)
    $E stop -t 30 "$2" >/dev/null 2>&1
    el=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
    ec=$($E inspect -f '{{.State.ExitCode}}' "$2")
    $E logs "$2" >"$LOGS/container-$1.log" 2>&1
    if [ "$ec" = 0 ] && python3 -c "import sys; sys.exit(0 if $el < 10 else 1)"; then
        pass "$1: SIGTERM -> exit 0 after $el s"
    else
        fail "$1: SIGTERM -> exit $ec after $el s"
    fi
}

ENVS=(-e "TELEGRAM_BOT_TOKEN=$TOKEN" -e "TELEGRAM_WEBHOOK_SECRET=$SECRET" -e ALLOWED_USER_IDS=1 -e UPDATE_MODE=webhook
      -e "TELEGRAM_API_BASE_URL=$TGURL" -e ANTHROPIC_API_KEY=sk-ant-dummy-not-used)
if [ "$NETMODE" = host ]; then HPORT=$(freeport); PUB=(-e LISTEN_HOST=127.0.0.1 -e "PORT=$HPORT")
else HPORT=$(freeport); PUB=(-p "127.0.0.1:$HPORT:8080"); fi

# ---------------------------------------------------------------- run by hand
$E rm -f "$NAME" >/dev/null 2>&1
if $E run -d --name "$NAME" --network "$NETMODE" "${PUB[@]}" "${ENVS[@]}" "$IMAGE" >"$LOGS/run.log" 2>&1; then
    checks run "$NAME" "$HPORT"
    stop_check run "$NAME"
else
    fail "run: $E run: $(tail -3 "$LOGS/run.log")"
fi

# /data or /workspace bind-mounted from a root-owned host folder: refused at start, saying
# what to do (uid 10001 cannot write there; without the check it failed late and unclearly).
for d in data workspace; do
    V=$(echo "$d" | tr a-z A-Z); [ "$d" = workspace ] && V=WORKSPACE_ROOT; [ "$d" = data ] && V=DATA_DIR
    mkdir -p "$WORK/root-owned-$d"; chown 0:0 "$WORK/root-owned-$d"; chmod 0755 "$WORK/root-owned-$d"
    $E rm -f "$NAME-root" >/dev/null 2>&1
    out=$(timeout 60 $E run --no-healthcheck --name "$NAME-root" --network none -v "$WORK/root-owned-$d:/$d" "${ENVS[@]}" "$IMAGE" 2>&1); rc=$?
    if [ $rc != 0 ] && echo "$out" | grep -q "$V /$d" && echo "$out" | grep -q 'chown'; then
        pass "run: root-owned /$d refused at start (exit $rc): $(echo "$out" | grep -m1 "$V /$d" | cut -c1-200)"
    else
        fail "run: root-owned /$d (exit $rc): $(echo "$out" | tail -3)"
    fi
done

# ---------------------------------------------------------------- compose, as Coolify does
if [ "${SKIP_COMPOSE:-0}" != 1 ]; then
    D=$WORK/compose
    rm -rf "$D"; mkdir -p "$D"
    cp "$ROOT/deploy/docker-compose.yml" "$D/docker-compose.yml"
    # .env: deploy/.env.example copied and filled in, as COOLIFY.md says (its commented-out
    # defaults stay commented).
    python3 - "$ROOT/deploy/.env.example" "$D/.env" "$TOKEN" "$SECRET" "$TGURL" <<'PY'
import sys
src, dst, token, secret, tg = sys.argv[1:]
fill = {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_WEBHOOK_SECRET": secret, "ALLOWED_USER_IDS": "1",
        "TELEGRAM_API_BASE_URL": tg, "ANTHROPIC_API_KEY": "sk-ant-dummy-not-used"}
out = []
for line in open(src):
    name = line.lstrip("# ").split("=", 1)[0]
    if name in fill and "=" in line and not line.startswith("# " + name + "_FILE"):
        line = f"{name}={fill.pop(name)}\n"
    out.append(line)
out += [f"{k}={v}\n" for k, v in fill.items()]
open(dst, "w").writelines(out)
PY
    # Only what this machine needs on top: the pre-built image, a loopback-published port and
    # the way to the fake Bot API on the host.
    TAG=claude-telegram-bot:latest
    $E tag "$IMAGE" "$TAG"
    if [ "$NETMODE" = host ]; then
        CPORT=$(freeport); NETLINES="    network_mode: host
    environment:
      PORT: \"$CPORT\"
      LISTEN_HOST: 127.0.0.1"
    else
        CPORT=$(freeport); NETLINES="    network_mode: \"$NETMODE\"
    ports:
      - \"127.0.0.1:$CPORT:8080\""
    fi
    printf 'services:\n  botserver:\n%s\n' "$NETLINES" >"$D/docker-compose.override.yml"
    (cd "$D" && "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml -f docker-compose.override.yml up -d --no-build) >"$LOGS/compose-up.log" 2>&1; rc=$?
    CC=$($E ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}' | head -1)
    if [ $rc = 0 ] && [ -n "$CC" ]; then
        pass "compose: up from deploy/docker-compose.yml with a filled-in .env (container $CC)"
        checks compose "$CC" "$CPORT"
        stop_check compose "$CC"
    else
        fail "compose up (rc=$rc): $(tail -5 "$LOGS/compose-up.log" | tr '\n' ' ')"
    fi
fi
finish
