#!/usr/bin/env bash
# Builds the bot in release mode and runs it. Reads .env (or deploy/.env) if present;
# variables already set in the environment win.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh
for file in .env deploy/.env; do
    if [[ -f "$file" ]]; then
        while IFS= read -r line || [[ -n "$line" ]]; do
            [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
            name="${line%%=*}"
            [[ -z "${!name:-}" ]] && export "$name=${line#*=}"
        done <"$file"
        break
    fi
done
# Claude Code itself: CLAUDE_BIN, else `claude` on PATH, else the pinned CLI from PyPI.
if [[ -z "${CLAUDE_BIN:-}" ]] && ! command -v claude >/dev/null 2>&1; then
    CLAUDE_BIN="$(scripts/install-claude-cli.sh | tail -n 1)"
    export CLAUDE_BIN
fi
swift build -c release --product botserver
# The Claude runner starts the CLI through it; it must sit beside botserver.
swift build -c release --product claude-reaper
exec .build/release/botserver "${@:-serve}"
