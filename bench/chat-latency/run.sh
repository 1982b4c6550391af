#!/usr/bin/env bash
# Chat latency benchmark: webhook update → first Telegram call (typing) and → prompt on
# Claude's stdin, through the real botserver against the fake Bot API and a fake Claude CLI.
# See bench/README.md.
#
#   bench/chat-latency/run.sh                       # .build/release of this repository (built if missing)
#   bench/chat-latency/run.sh /tmp/b/.build/release # or any folder with botserver and claude-reaper
#   SKIP_BUILD=1 bench/chat-latency/run.sh          # never build: fail if a binary is missing
#   CHATS=10 PROMPTS=5 bench/chat-latency/run.sh    # a smaller run (default 50 chats × 20 prompts)
#   STAGGER_MS=0 bench/chat-latency/run.sh          # every chat's first prompt at once (default 20 ms apart)
#   KEEP=1 bench/chat-latency/run.sh                # keep the temporary folder (logs, database)
#   FAKE_NICE=10 bench/chat-latency/run.sh          # the fake Bot API deprioritized (default 0; it
#                                                   # stands in for Telegram, not on the bot's machine)
#
# Prints a table and writes it as JSON to bench/results/chat-latency-<timestamp>.json.
# Exits 0 when targets are missed (it reports, it does not gate); non-zero when
# something could not be built, started or measured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

CHATS="${CHATS:-50}"
PROMPTS="${PROMPTS:-20}"
STAGGER_MS="${STAGGER_MS:-20}"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP="${KEEP:-0}"
FAKE_NICE="${FAKE_NICE:-0}"
[[ "$CHATS" =~ ^[1-9][0-9]*$ ]] || { echo "CHATS must be a whole number, not '$CHATS'" >&2; exit 2; }
[[ "$PROMPTS" =~ ^[1-9][0-9]*$ ]] || { echo "PROMPTS must be a whole number, not '$PROMPTS'" >&2; exit 2; }
[[ "$FAKE_NICE" =~ ^([0-9]|1[0-9])$ ]] || { echo "FAKE_NICE must be 0 to 19, not '$FAKE_NICE'" >&2; exit 2; }
[[ "$STAGGER_MS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "STAGGER_MS must be milliseconds, not '$STAGGER_MS'" >&2; exit 2; }
(($# <= 1)) || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
apt_install() {
    # Try without refreshing first; on a fresh machine the package lists are empty.
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" ||
        { "${sudo_cmd[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@"; }
}
# The fake CLI's shebang is /usr/bin/python3 (Debian's, started with -S: no site-packages
# to import, so a chat's first prompt is not charged for a Python environment's start-up).
[[ -x /usr/bin/python3 ]] || { echo "installing python3" >&2; apt_install python3; }
command -v python3 >/dev/null || { echo "installing python3" >&2; apt_install python3; }

build_dir="${1:-}"
if [[ -z "$build_dir" ]]; then
    build_dir="$repo/.build/release"
    if [[ ! -x "$build_dir/botserver" || ! -x "$build_dir/claude-reaper" ]]; then
        [[ "$SKIP_BUILD" != 1 ]] || { echo "SKIP_BUILD=1 but $build_dir has no botserver or claude-reaper" >&2; exit 1; }
        # The product's own build prerequisites (libsqlite3-dev, libssl-dev, ...).
        if [[ -x "$repo/scripts/install-dependencies.sh" ]]; then "$repo/scripts/install-dependencies.sh"; fi
        started=$SECONDS
        echo "building botserver and claude-reaper (release) in .build ..." >&2
        (cd "$repo" && swift build -c release --product botserver >&2 && swift build -c release --product claude-reaper >&2)
        echo "built in $((SECONDS - started)) s" >&2
        build_dir="$(cd "$repo" && swift build -c release --show-bin-path)"
    fi
fi
for binary in botserver claude-reaper; do
    [[ -x "$build_dir/$binary" ]] || { echo "no executable $binary in $build_dir" >&2; exit 1; }
done

args=(--build-dir "$build_dir" --chats "$CHATS" --prompts "$PROMPTS" --stagger-ms "$STAGGER_MS" --fake-nice "$FAKE_NICE"
    --results-dir "$repo/bench/results")
[[ "$KEEP" != 1 ]] || args+=(--keep)
exec python3 "$here/bench.py" "${args[@]}"
