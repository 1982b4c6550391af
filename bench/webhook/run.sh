#!/usr/bin/env bash
# Webhook benchmark: botserver against a minimal Hummingbird 2 reference, same machine,
# same run. See bench/README.md.
#
#   bench/webhook/run.sh                  # both servers, 8 s per run
#   DURATION=20 bench/webhook/run.sh      # longer runs
#   ONLY=reference bench/webhook/run.sh   # or ONLY=ours: measure one server
#   SKIP_BUILD=1 bench/webhook/run.sh     # use the binaries already built
#
# Prints a table and writes it as JSON to bench/results/webhook-<timestamp>.json.
# Exits 0 when targets are missed (it reports, it does not gate); non-zero when
# something could not be built, started or measured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
reference_dir="$here/reference-hummingbird"

DURATION="${DURATION:-8}"
ONLY="${ONLY:-both}"
SKIP_BUILD="${SKIP_BUILD:-0}"
case "$ONLY" in
    both | ours | reference) ;;
    *) echo "ONLY must be ours, reference or unset (both), not '$ONLY'" >&2; exit 2 ;;
esac
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "DURATION must be whole seconds, not '$DURATION'" >&2; exit 2; }

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
apt_install() {
    # Try without refreshing first; on a fresh machine the package lists are empty.
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" ||
        { "${sudo_cmd[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@"; }
}
command -v wrk >/dev/null || { echo "installing wrk" >&2; apt_install wrk; }
command -v python3 >/dev/null || { echo "installing python3" >&2; apt_install python3; }

build() { # directory, product: timed release build; output goes to stderr
    local started=$SECONDS
    echo "building $2 (release) in ${1#"$repo"/} ..." >&2
    (cd "$1" && swift build -c release --product "$2" >&2)
    echo "built $2 in $((SECONDS - started)) s" >&2
}
bin_path() { echo "$(cd "$1" && swift build -c release --show-bin-path)/$2"; }

args=(--duration "$DURATION" --only "$ONLY" --results-dir "$repo/bench/results")
if [[ "$ONLY" != reference ]]; then
    if [[ "$SKIP_BUILD" != 1 ]]; then
        # The product's own build prerequisites (libsqlite3-dev, libssl-dev, ...).
        if [[ -x "$repo/scripts/install-dependencies.sh" ]]; then "$repo/scripts/install-dependencies.sh"; fi
        build "$repo" botserver
    fi
    args+=(--ours "$(bin_path "$repo" botserver)")
fi
if [[ "$ONLY" != ours ]]; then
    [[ "$SKIP_BUILD" == 1 ]] || build "$reference_dir" reference-server
    args+=(--reference "$(bin_path "$reference_dir" reference-server)")
fi

exec python3 "$here/bench.py" "${args[@]}"
