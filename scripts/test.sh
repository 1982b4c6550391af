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
# The chats again with Claude as a user of its own (CLAUDE_USER, the bot dropping from root
# to BOT_USER), as in the image: git, media, /get, /clone, approvals, restarts and resumes.
# Switching users needs root, which CI has; a filtered run skips it.
if [[ $(id -u) -eq 0 && $# -eq 0 ]]; then
    BOTSERVER_TEST_ISOLATION=separate-user swift test --skip-build \
        --filter 'Chat(Git|Media|Approval|Session|RunControl|Command|Failure|EndToEnd)Tests'
else
    echo "skipped: the chat suites again with CLAUDE_USER (they need root and an unfiltered run; CI runs them)"
fi
