#!/usr/bin/env bash
# ClaudeRunner benchmark: ms from send(prompt) to the first text delta and to the result,
# a warm session (one Claude Code process for every message) against a new process per
# message (--resume), with the real CLI and the fake Messages API, same machine, same run.
# See bench/README.md.
#
#   bench/claude-runner/run.sh                        # everything (about 3 minutes after the build)
#   SKIP_BUILD=1 bench/claude-runner/run.sh           # reuse the release binaries
#   ROUNDS=8 bench/claude-runner/run.sh               # warm/cold rounds (default 6)
#   MESSAGES=12 bench/claude-runner/run.sh            # messages per run (default 8)
#   PAUSE_MS=1000 bench/claude-runner/run.sh          # pause before each later message (default 250)
#   DELAY_MS=20 bench/claude-runner/run.sh            # fake: ms between text deltas (default 0)
#   SCRATCH_PATH=/tmp/crb bench/claude-runner/run.sh  # build folder (default: .build here)
#
# Prints a table and writes it as JSON to bench/results/claude-runner-<timestamp>.json.
# Exits non-zero only when something could not be built, started or measured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

SKIP_BUILD="${SKIP_BUILD:-0}"
ROUNDS="${ROUNDS:-6}"
MESSAGES="${MESSAGES:-8}"
PAUSE_MS="${PAUSE_MS:-250}"
DELAY_MS="${DELAY_MS:-0}"
SCRATCH_PATH="${SCRATCH_PATH:-$here/.build}"
for n in "$ROUNDS" "$MESSAGES"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS and MESSAGES must be whole numbers ≥ 1, not '$n'" >&2; exit 2; }
done
for n in "$PAUSE_MS" "$DELAY_MS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "PAUSE_MS and DELAY_MS must be whole numbers, not '$n'" >&2; exit 2; }
done
(( MESSAGES <= 39 )) || { echo "MESSAGES must be at most 39 (the fake's script has 40 turns)" >&2; exit 2; }

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
apt_install() {
    # Try without refreshing first; on a fresh machine the package lists are empty.
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" ||
        { "${sudo_cmd[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@"; }
}
command -v python3 >/dev/null || { echo "installing python3" >&2; apt_install python3; }
command -v git >/dev/null || { echo "installing git" >&2; apt_install git; }

# The real Claude Code CLI, as the tests use it (pinned, cached under .build/claude-cli).
claude="$("$repo/scripts/install-claude-cli.sh" | tail -n 1)"

swift_build() { (cd "$here" && swift build -c release --scratch-path "$SCRATCH_PATH" "$@"); }
if [[ "$SKIP_BUILD" != 1 ]]; then
    # ClaudeRunner's build prerequisites, as for the product itself.
    if [[ -x "$repo/scripts/install-dependencies.sh" ]]; then "$repo/scripts/install-dependencies.sh"; fi
    started=$SECONDS
    # claude-reaper: the CLI runs as its child, as in the product (ClaudeConfiguration.reaper).
    echo "building claude-reaper (release) in the repository's .build ..." >&2
    (cd "$repo" && swift build -c release --product claude-reaper) >&2
    echo "building runner-bench (release) in ${SCRATCH_PATH#"$repo"/} ..." >&2
    swift_build >&2  # the package's executable, and ClaudeRunner for it
    echo "built in $((SECONDS - started)) s" >&2
fi
reaper="$repo/.build/release/claude-reaper"
[[ -x "$reaper" ]] || { echo "no $reaper: run without SKIP_BUILD=1 once" >&2; exit 1; }
bin="$(swift_build --show-bin-path)"

exec python3 "$here/bench.py" --runner-bench "$bin/runner-bench" --claude "$claude" --reaper "$reaper" \
    --rounds "$ROUNDS" --messages "$MESSAGES" --pause-ms "$PAUSE_MS" --delay-ms "$DELAY_MS" \
    --results-dir "$repo/bench/results"
