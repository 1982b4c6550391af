#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need first.
#   scripts/test.sh                     everything
#   scripts/test.sh --filter Intake     extra arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh
# The accounts the isolation tests switch to (root only; elsewhere those tests skip and say so).
scripts/create-test-users.sh
# The real Claude Code CLI, from PyPI (pinned, cached under .build/): the runner's tests drive it.
CLAUDE_TEST_BIN="$(scripts/install-claude-cli.sh | tail -n 1)"
export CLAUDE_TEST_BIN
# The fakes the Swift tests talk to are tested on their own first: a fake that drifted
# from the real API would make the Swift tests pass for the wrong reasons.
python3 -m unittest discover -s Tests/FakeServers
swift build --build-tests
swift test --skip-build "$@"
