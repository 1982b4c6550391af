#!/usr/bin/env bash
# Installs the real Claude Code CLI (`claude`) for the tests, from PyPI: the binary that the
# Python Agent SDK wheel bundles (claude_agent_sdk/_bundled/claude). Pinned, cached, idempotent.
#
#   scripts/install-claude-cli.sh        -> prints the binary's absolute path as its last line
#
# Installs into <repo>/.build/claude-cli/<sdk version>/claude. If that binary is already there and
# `claude --version` works, nothing is downloaded. Needs python3 with pip and access to PyPI.
set -euo pipefail

# The one pin of Claude Code, for the tests and the image (Dockerfile); CLAUDE_AGENT_SDK_VERSION
# overrides it (the image's build argument of that name).
SDK_VERSION="${CLAUDE_AGENT_SDK_VERSION:-0.2.188}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
INSTALL_DIR="$REPO_ROOT/.build/claude-cli/$SDK_VERSION"
BINARY="$INSTALL_DIR/claude"

fail() {
    echo "install-claude-cli: error: $*" >&2
    exit 1
}

works() {
    [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1
}

if works "$BINARY"; then
    echo "install-claude-cli: cached: $("$BINARY" --version 2>/dev/null | head -n 1)" >&2
    echo "$BINARY"
    exit 0
fi

command -v python3 >/dev/null 2>&1 || fail "python3 not found"
python3 -m pip --version >/dev/null 2>&1 || fail "pip is not available (python3 -m pip)"

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/install-claude-cli.XXXXXX")"
trap 'rm -rf "$WORK_DIR"' EXIT

echo "install-claude-cli: downloading claude-agent-sdk==$SDK_VERSION from PyPI" >&2
if ! python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
        --no-cache-dir --quiet --dest "$WORK_DIR" "claude-agent-sdk==$SDK_VERSION" >&2; then
    fail "pip download of claude-agent-sdk==$SDK_VERSION failed (no network or no wheel for this platform?)"
fi

shopt -s nullglob
WHEELS=("$WORK_DIR"/claude_agent_sdk-"$SDK_VERSION"-*.whl)
shopt -u nullglob
[[ ${#WHEELS[@]} -eq 1 ]] || fail "expected one claude_agent_sdk-$SDK_VERSION wheel in $WORK_DIR, found ${#WHEELS[@]}"

mkdir -p "$INSTALL_DIR" || fail "cannot create $INSTALL_DIR"
# Extract next to the target and rename at the end, so an interrupted run never leaves a broken binary.
PARTIAL="$INSTALL_DIR/.claude.partial.$$"
if ! python3 - "${WHEELS[0]}" "$PARTIAL" <<'PY'
import shutil, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
member = "claude_agent_sdk/_bundled/claude"
try:
    with zipfile.ZipFile(wheel) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            sys.exit(f"{member} is not in {wheel} (a platform without a bundled CLI?)")
        with archive.open(info) as source, open(target, "wb") as destination:
            shutil.copyfileobj(source, destination, 1 << 20)
except zipfile.BadZipFile as error:
    sys.exit(f"{wheel} is not a valid wheel: {error}")
PY
then
    rm -f "$PARTIAL"
    fail "could not extract the CLI from ${WHEELS[0]}"
fi
chmod 755 "$PARTIAL"
if ! VERSION="$("$PARTIAL" --version 2>&1)"; then
    rm -f "$PARTIAL"
    fail "the extracted binary does not run: $VERSION"
fi
mv -f "$PARTIAL" "$BINARY"
echo "install-claude-cli: installed $VERSION" >&2
echo "$BINARY"
