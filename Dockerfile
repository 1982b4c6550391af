# The bot in three stages: built with the official Swift image (release, Swift's standard
# library linked statically, stripped), Claude Code taken from PyPI, and run on slim Debian
# with only what the binaries need. deploy/COOLIFY.md walks through deploying it; run
# scripts/test-image.sh after every change to this file or to deploy/.

ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-dev libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift names the test targets too; their folders must exist for it to resolve.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# Stripped: the symbol tables are half of each binary's size and nothing reads them at run
# time (a crash's backtrace then shows addresses instead of names).
RUN swift build -c release --static-swift-stdlib --product botserver \
 && swift build -c release --static-swift-stdlib --product claude-reaper \
 && mkdir -p /out \
 && cp .build/release/botserver .build/release/claude-reaper /out/ \
 && strip /out/botserver /out/claude-reaper

# Claude Code: the same pinned CLI the tests run, the binary bundled in PyPI's
# claude-agent-sdk wheel, by the same script (scripts/install-claude-cli.sh holds the one
# pin; README "Upgrading Claude Code"). Only Debian's and PyPI's registries are needed.
FROM debian:bookworm-slim AS claude
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/install-claude-cli.sh ./scripts/
# CLAUDE_AGENT_SDK_VERSION: another wheel version than the script's pin (empty: the pin).
# PIP_CA_FILE: a CA bundle for pip, where a proxy re-signs PyPI's TLS (podman build -v).
ARG CLAUDE_AGENT_SDK_VERSION=
ARG PIP_CA_FILE=
RUN env ${CLAUDE_AGENT_SDK_VERSION:+CLAUDE_AGENT_SDK_VERSION=$CLAUDE_AGENT_SDK_VERSION} \
        ${PIP_CA_FILE:+PIP_CERT=$PIP_CA_FILE} bash scripts/install-claude-cli.sh >/tmp/claude-path \
 && install -D -m 0755 "$(tail -n 1 /tmp/claude-path)" /out/claude \
 && /out/claude --version

FROM debian:bookworm-slim
# Runtime packages: every shared library the binary links (Tests/BotServerTests/Deploy
# checks this list against `ldd`), plus git and ssh for /clone and /push, tini as PID 1
# (coreutils' `timeout`, for git, is in the base image). No curl: HEALTHCHECK runs
# `botserver healthcheck`. Perl's libraries leave again (47 MB; perl-base, the core
# interpreter, stays): git depends on them only for commands nobody runs here (send-email,
# svn, cvs, instaweb); clone, fetch, commit, push and `add -i` are C. Because of
# --force-depends, an image built FROM this one runs `apt-get --fix-broken install` (it
# puts them back) before apt installs anything. apt's caches go too: the official slim
# image drops them by its docker-clean hook, an image made without it keeps 40 MB of them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libsqlite3-0 libssl3 ca-certificates git openssh-client tini libcap2-bin \
 && dpkg --purge --force-depends perl libperl5.36 perl-modules-5.36 liberror-perl \
 && git --version \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
# Two users, fixed ids so volumes keep their owners across rebuilds. Not root: Claude Code
# refuses bypassPermissions as root. `bot` (10001) runs the bot and owns DATA_DIR: the
# database and the secrets. `claude` (10002) runs the Claude CLI and every tool it starts
# (claude-reaper switches to CLAUDE_USER before exec), so those tools cannot read /data.
# They share the projects through the group `claude`: bot is a member, /workspace is
# claude:claude 2775 (setgid: new files get the group) and both run with umask 0002.
# The CLI's HOME (its login and session transcripts) belongs to claude: /home/claude.
RUN groupadd --gid 10001 bot \
 && groupadd --gid 10002 claude \
 && useradd --uid 10001 --gid bot --groups claude --create-home --shell /usr/sbin/nologin bot \
 && useradd --uid 10002 --gid claude --home-dir /home/claude --no-create-home --shell /usr/sbin/nologin claude \
 && chmod 0711 /home/bot \
 && mkdir -p /data /workspace /home/claude /app \
 && chown bot:bot /data && chmod 0700 /data \
 && chown claude:claude /workspace /home/claude \
 && chmod 2775 /workspace && chmod 0700 /home/claude
# The CLI, root's and 0755: bot and claude run it, neither can replace it (and with
# DISABLE_AUTOUPDATER it does not try to update itself into claude's HOME).
COPY --from=claude --chown=root:root /out/claude /usr/local/bin/claude
COPY --from=build --chown=root:root /out/botserver /out/claude-reaper /app/
# claude-reaper switches users, so it gets CAP_SETUID and CAP_SETGID as file capabilities
# (it signals the CLI user's processes with that user's effective uid, so needs no
# CAP_KILL), and only bot's group may run it: root:bot 0750. setcap after chown (chown
# clears file capabilities); setcap (libcap2-bin, installed above) leaves in this same layer,
# by dpkg: apt refuses to act while perl is missing. The reaper drops every capability once
# it has switched users.
RUN chown root:bot /app/claude-reaper && chmod 0750 /app/claude-reaper \
 && setcap cap_setuid,cap_setgid+ep /app/claude-reaper \
 && getcap /app/claude-reaper | grep -q 'cap_setgid,cap_setuid=ep' \
 && dpkg --purge libcap2-bin
USER bot
# DISABLE_AUTOUPDATER: the CLI is the pinned one (the bot passes it on to the CLI).
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    DISABLE_AUTOUPDATER=1 \
    DATA_DIR=/data \
    WORKSPACE_ROOT=/workspace \
    CLAUDE_HOME=/home/claude \
    CLAUDE_USER=claude \
    PORT=8080 \
    LISTEN_HOST=0.0.0.0 \
    LOG_FORMAT=json
VOLUME ["/data", "/workspace", "/home/claude"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/app/botserver", "healthcheck"]
# Graceful shutdown on SIGTERM (SHUTDOWN_GRACE_SECONDS, default 10); compose gives it 30 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/app/botserver"]
CMD ["serve"]
