#!/usr/bin/env bash
# Delivery benchmark (issue 16): update → final answer at Telegram, no-op edits, tap →
# answerCallbackQuery while a run streams, new messages per prompt, a forum group's two topics,
# 429s. The real botserver and the real Claude Code CLI, against the fake Bot API (default flood
# limits) and the fake Anthropic API. See bench/README.md.
#
#   bench/delivery/run.sh                        # .build/release of this repository (built if missing), ~3 min
#   bench/delivery/run.sh .build/debug           # or any folder with botserver and claude-reaper
#   SKIP_BUILD=1 bench/delivery/run.sh           # never build: fail if a binary is missing
#   PROMPTS=20 TAPS=10 bench/delivery/run.sh     # one-line prompts and Allow taps (defaults 12 and 6)
#   NOSTREAM_TAPS=3 bench/delivery/run.sh        # also Allow taps with no streamed text before (default 0)
#   STREAM_MS=3000 bench/delivery/run.sh         # how long the streamed texts take (default 2000)
#   PAUSE_MS=0 bench/delivery/run.sh             # pause after a prompt's calls went quiet (default 1000)
#   KEEP=1 bench/delivery/run.sh                 # keep the temporary folder (logs, database)
#   CLAUDE_BIN=/path/to/claude bench/delivery/run.sh   # else scripts/install-claude-cli.sh (pinned, cached)
#
# Prints a table and writes it as JSON to bench/results/delivery-<timestamp>.json.
# Exits 0 when targets are missed (it reports, it does not gate); non-zero when
# something could not be built, started or measured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

PROMPTS="${PROMPTS:-12}"
TAPS="${TAPS:-6}"
NOSTREAM_TAPS="${NOSTREAM_TAPS:-0}"
STREAM_MS="${STREAM_MS:-2000}"
PAUSE_MS="${PAUSE_MS:-1000}"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP="${KEEP:-0}"
for name in PROMPTS TAPS; do
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || { echo "$name must be a positive whole number, not '${!name}'" >&2; exit 2; }
done
[[ "$NOSTREAM_TAPS" =~ ^[0-9]+$ ]] || { echo "NOSTREAM_TAPS must be a whole number, not '$NOSTREAM_TAPS'" >&2; exit 2; }
[[ "$STREAM_MS" =~ ^[0-9]+$ ]] || { echo "STREAM_MS must be milliseconds, not '$STREAM_MS'" >&2; exit 2; }
[[ "$PAUSE_MS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "PAUSE_MS must be milliseconds, not '$PAUSE_MS'" >&2; exit 2; }
(($# <= 1)) || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
command -v python3 >/dev/null || {
    echo "installing python3" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3 ||
        { "${sudo_cmd[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3; }
}

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
build_dir="$(cd "$build_dir" && pwd)"
for binary in botserver claude-reaper; do
    [[ -x "$build_dir/$binary" ]] || { echo "no executable $binary in $build_dir" >&2; exit 1; }
done

# The real Claude Code CLI: CLAUDE_BIN, else the tests' pinned one (downloaded once from PyPI).
claude="${CLAUDE_BIN:-}"
if [[ -z "$claude" ]]; then
    claude="$("$repo/scripts/install-claude-cli.sh" | tail -n 1)"
fi
[[ -x "$claude" ]] || { echo "no Claude Code CLI at '$claude'" >&2; exit 1; }

args=(--build-dir "$build_dir" --claude "$claude" --prompts "$PROMPTS" --taps "$TAPS"
    --nostream-taps "$NOSTREAM_TAPS" --stream-ms "$STREAM_MS" --pause-ms "$PAUSE_MS"
    --results-dir "$repo/bench/results")
[[ "$KEEP" != 1 ]] || args+=(--keep)
exec python3 "$here/bench.py" "${args[@]}"
