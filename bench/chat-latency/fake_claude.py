#!/usr/bin/python3 -SE
"""A stand-in for the Claude Code CLI, for bench/chat-latency: just enough stream-json for
ClaudeSession (Sources/ClaudeRunner/Session/ClaudeSession.swift), answering every prompt at once.

The bot starts it as `claude-reaper <this> --output-format stream-json ... --session-id=<id>
--input-format stream-json` (CLIInvocation.swift) and keeps it for the chat's later prompts.
For every line on stdin:

- `control_request` (initialize, interrupt, set_permission_mode, set_model, ...): answered
  with a `control_response` of subtype success;
- `user`: its arrival time (CLOCK_REALTIME, ns, taken as soon as the line is read) and text
  are logged; then `system/init` (first user line of the process only) and a `result` for it
  (`user_message_uuid` = the line's uuid, so the session matches it to its run) are written.
  The result's text is "answer-<rest>" for a prompt "prompt-<rest>".

It logs to BENCH_CLAUDE_LOG_DIR/<pid>.jsonl (the bot passes that variable through because the
benchmark names it in CLAUDE_ENV_ALLOW), one JSON object per line: {"event":"start"} once, at
the first statement, then {"event":"user"} per prompt. It exits at EOF on stdin.

`--probe` prints one line and exits: the benchmark times it to know what starting this
script costs by itself. Python 3 standard library only; `-S` skips site-packages (tens of ms
of start-up on some machines), `-E` ignores PYTHON* variables.
"""
import time

STARTED_NS = time.time_ns()

import json  # noqa: E402  (after the clock: the start time is what the process costs to exec)
import os  # noqa: E402
import sys  # noqa: E402


def main(argv):
    if "--probe" in argv:
        os.write(1, b"probe\n")
        return 0
    session_id = ""
    for arg in argv:
        for flag in ("--session-id=", "--resume="):
            if arg.startswith(flag):
                session_id = arg[len(flag):]
    log_dir = os.environ.get("BENCH_CLAUDE_LOG_DIR")
    log_fd = None
    if log_dir:
        log_fd = os.open(os.path.join(log_dir, f"{os.getpid()}.jsonl"),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def log(record):
        if log_fd is not None:
            os.write(log_fd, (json.dumps(record) + "\n").encode())

    def emit(value):
        os.write(1, (json.dumps(value, separators=(",", ":")) + "\n").encode())

    log({"event": "start", "t_ns": STARTED_NS, "pid": os.getpid(), "session_id": session_id,
         "resume": any(a.startswith("--resume=") for a in argv)})
    initialized = False
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        received_ns = time.time_ns()
        if not line:
            return 0
        try:
            message = json.loads(line)
        except ValueError:
            return 1  # the real CLI dies on a line that is not JSON
        kind = message.get("type")
        if kind == "control_request":
            request = message.get("request") or {}
            subtype = request.get("subtype")
            response = {}
            if subtype == "initialize":
                response = {"commands": [], "models": [], "pid": os.getpid(),
                            "claude_code_version": "0.0.0-bench", "current_permission_mode": "default"}
            elif subtype == "interrupt":
                response = {"still_queued": []}
            elif subtype == "set_permission_mode":
                response = {"mode": request.get("mode")}
            elif subtype == "set_model":
                response = {"model": request.get("model")}
            emit({"type": "control_response", "response": {
                "subtype": "success", "request_id": message.get("request_id"), "response": response}})
        elif kind == "user":
            content = (message.get("message") or {}).get("content")
            if isinstance(content, list):
                text = "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
            else:
                text = content if isinstance(content, str) else ""
            uuid = message.get("uuid") or ""
            if not initialized:
                initialized = True
                emit({"type": "system", "subtype": "init", "session_id": session_id, "cwd": os.getcwd(),
                      "tools": [], "mcp_servers": [], "model": "fake-claude", "permissionMode": "default",
                      "claude_code_version": "0.0.0-bench", "uuid": uuid + "-init"})
            answer = "answer-" + (text[len("prompt-"):] if text.startswith("prompt-") else text)
            emit({"type": "result", "subtype": "success", "is_error": False, "result": answer,
                  "session_id": session_id, "total_cost_usd": 0, "usage": {}, "duration_ms": 1,
                  "duration_api_ms": 1, "num_turns": 1, "stop_reason": "end_turn",
                  "terminal_reason": "completed", "permission_denials": [], "user_message_uuid": uuid})
            log({"event": "user", "t_ns": received_ns, "text": text, "uuid": uuid})
        # Anything else (control_response to a request of ours: we make none) is ignored.


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
