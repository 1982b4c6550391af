# syntax=docker/dockerfile:1
# The bot in two stages: built with the official Swift image (release, Swift's standard
# library linked statically), run on slim Debian with only what the binary and Claude Code
# need. deploy/COOLIFY.md walks through deploying it.

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
RUN swift build -c release --static-swift-stdlib --product botserver \
 && swift build -c release --static-swift-stdlib --product claude-reaper \
 && mkdir -p /out \
 && cp .build/release/botserver .build/release/claude-reaper /out/

FROM debian:bookworm-slim
# Runtime packages: every shared library the binary links (Tests/BotServerTests/Deploy
# checks this list against `ldd`), plus git and ssh for /clone and /push, tini as PID 1,
# curl for the health check and Claude Code's installer, coreutils' `timeout` for git.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libsqlite3-0 libssl3 ca-certificates git openssh-client tini curl coreutils \
 && rm -rf /var/lib/apt/lists/*
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
USER bot
# Claude Code by its supported installer (the native build, into ~/.local/bin).
RUN curl -fsSL https://claude.ai/install.sh | bash
USER root
COPY --from=build --chown=root:root /out/botserver /out/claude-reaper /app/
# claude may run the CLI the installer put in bot's home: search (x) permission on the
# directories from / to the binary (wherever ~/.local/bin/claude links to) and read+execute
# on the binary; bot's home stays unlistable (0711). The binary's mode changes only if it
# lacks o+rx: any chmod would copy all ~400 MB of it into this layer.
# claude-reaper switches users, so it gets CAP_SETUID and CAP_SETGID as file capabilities
# (it signals the CLI user's processes with that user's effective uid, so needs no
# CAP_KILL), and only bot's group may run it: root:bot 0750. setcap after chown (chown
# clears file capabilities); libcap2-bin leaves again in this same layer. The reaper drops
# every capability once it has switched users.
RUN cli=$(readlink -f /home/bot/.local/bin/claude) \
 && dir=$(dirname "$cli") \
 && while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done \
 && chmod o+x /home/bot/.local/bin \
 && find "$cli" ! -perm -o=rx -exec chmod o+rx {} + \
 && chown root:bot /app/claude-reaper && chmod 0750 /app/claude-reaper \
 && apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_setuid,cap_setgid+ep /app/claude-reaper \
 && getcap /app/claude-reaper | grep -q 'cap_setgid,cap_setuid=ep' \
 && apt-get purge -y --auto-remove libcap2-bin \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
USER bot
ENV PATH=/home/bot/.local/bin:/usr/local/bin:/usr/bin:/bin \
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
  CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null || exit 1
# Graceful shutdown on SIGTERM (SHUTDOWN_GRACE_SECONDS, default 10); compose gives it 30 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/app/botserver"]
CMD ["serve"]
