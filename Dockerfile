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
# Not root: Claude Code refuses bypassPermissions as root, and tools run as this user.
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin bot \
 && mkdir -p /data /workspace /app \
 && chown bot:bot /data /workspace
USER bot
# Claude Code by its supported installer (the native build, into ~/.local/bin).
RUN curl -fsSL https://claude.ai/install.sh | bash
COPY --from=build --chown=root:root /out/botserver /out/claude-reaper /app/
ENV PATH=/home/bot/.local/bin:/usr/local/bin:/usr/bin:/bin \
    DATA_DIR=/data \
    WORKSPACE_ROOT=/workspace \
    CLAUDE_HOME=/data/home \
    PORT=8080 \
    LISTEN_HOST=0.0.0.0 \
    LOG_FORMAT=json
VOLUME ["/data", "/workspace"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" >/dev/null || exit 1
# Graceful shutdown on SIGTERM (SHUTDOWN_GRACE_SECONDS, default 10); compose gives it 30 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/app/botserver"]
CMD ["serve"]
