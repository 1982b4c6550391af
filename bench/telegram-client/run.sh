#!/usr/bin/env bash
# Telegram client benchmark: our HTTPCore client sending Bot API sendMessage calls over
# keep-alive, against Python's http.client and curl --parallel, same machine, same run.
# See bench/README.md.
#
#   bench/telegram-client/run.sh                      # everything (2 to 3 minutes after the build)
#   SKIP_BUILD=1 bench/telegram-client/run.sh         # reuse the release binaries
#   SERVERS=stub bench/telegram-client/run.sh         # or SERVERS=fake: one server only
#   REPEAT=5 bench/telegram-client/run.sh             # runs per client and cell (default 3, median)
#   REQUESTS_FAKE=4000 REQUESTS_STUB=10000 bench/telegram-client/run.sh   # requests per run
#   SCRATCH_PATH=/tmp/tcb bench/telegram-client/run.sh  # build folder (default: .build here)
#
# Prints a table and writes it as JSON to bench/results/telegram-client-<timestamp>.json.
# Exits non-zero only when something could not be built, started or measured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

SKIP_BUILD="${SKIP_BUILD:-0}"
SERVERS="${SERVERS:-fake,stub}"
REQUESTS_FAKE="${REQUESTS_FAKE:-2000}"
REQUESTS_STUB="${REQUESTS_STUB:-5000}"
REPEAT="${REPEAT:-3}"
SCRATCH_PATH="${SCRATCH_PATH:-$here/.build}"
for n in "$REQUESTS_FAKE" "$REQUESTS_STUB" "$REPEAT"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "REQUESTS_FAKE, REQUESTS_STUB and REPEAT must be whole numbers, not '$n'" >&2; exit 2; }
done
[[ "$SERVERS" =~ ^(fake|stub)(,(fake|stub))?$ ]] || { echo "SERVERS must be fake, stub or fake,stub, not '$SERVERS'" >&2; exit 2; }

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
apt_install() {
    # Try without refreshing first; on a fresh machine the package lists are empty.
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" ||
        { "${sudo_cmd[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@"; }
}
command -v curl >/dev/null || { echo "installing curl" >&2; apt_install curl; }
command -v python3 >/dev/null || { echo "installing python3" >&2; apt_install python3; }

swift_build() { (cd "$here" && swift build -c release --scratch-path "$SCRATCH_PATH" "$@"); }
if [[ "$SKIP_BUILD" != 1 ]]; then
    # HTTPCore's build prerequisites (libssl-dev, ...), as for the product itself.
    if [[ -x "$repo/scripts/install-dependencies.sh" ]]; then "$repo/scripts/install-dependencies.sh"; fi
    started=$SECONDS
    echo "building client-bench and stub-server (release) in ${SCRATCH_PATH#"$repo"/} ..." >&2
    swift_build >&2  # the package's two executables, and HTTPCore for them
    echo "built in $((SECONDS - started)) s" >&2
fi
bin="$(swift_build --show-bin-path)"

exec python3 "$here/bench.py" --client-bench "$bin/client-bench" --stub-server "$bin/stub-server" \
    --servers "$SERVERS" --requests-fake "$REQUESTS_FAKE" --requests-stub "$REQUESTS_STUB" \
    --repeat "$REPEAT" --results-dir "$repo/bench/results"
