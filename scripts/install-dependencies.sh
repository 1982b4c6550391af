#!/usr/bin/env bash
# Installs the system packages the bot builds against and the tools its tests use.
# Safe to run repeatedly: it only calls apt-get when something is missing.
set -euo pipefail

# coreutils: `timeout` bounds every git call; python3-yaml: the compose file's test;
# espeak-ng and opus-tools: a real spoken OGG/Opus voice note for the voice test; libcap2-bin:
# setcap, for the test of a claude-reaper with file capabilities; openssh-server: an sshd on
# 127.0.0.1 serving the remote of the GIT_SSH_KEY test.
packages=(libsqlite3-dev libssl-dev pkg-config sqlite3 openssl git coreutils python3 python3-pip python3-yaml espeak-ng opus-tools libcap2-bin openssh-server)
if [[ "${1:-}" == "--bench" ]]; then packages+=(wrk); fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
