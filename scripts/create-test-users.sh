#!/usr/bin/env bash
# The two unprivileged accounts the isolation tests switch to (they need root, as CI has):
# botserver-bot-test runs the bot, botserver-claude-test runs Claude; the bot is a member of
# Claude's group, as in the image. Safe to run repeatedly.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "create-test-users.sh: needs root; the isolation tests will say they skipped" >&2; exit 0; }
for name in botserver-claude-test botserver-bot-test; do
    id -u "$name" >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin "$name"
done
usermod -aG botserver-claude-test botserver-bot-test
