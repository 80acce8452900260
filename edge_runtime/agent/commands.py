"""Built-in commands answered by every agent (``cmd/<name>`` → ``cmd/<name>/reply``).

Each command is a function ``(agent, args) -> result dict``; raising ``ValueError``
turns into ``{"ok": false, "error": ...}`` for the caller. Components may add their
own with ``Agent.commands[name] = fn``.
"""
from __future__ import annotations

import time
from typing import Any, Callable

CommandFn = Callable[[Any, dict[str, Any]], dict[str, Any]]


def ping(agent, args: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True, "ts": time.time(), "uptime_s": round(time.time() - agent.started, 3)}


def get_config(agent, args: dict[str, Any]) -> dict[str, Any]:
    return {"version": agent.config_version, "config": agent.config.settable()}


def set_config(agent, args: dict[str, Any]) -> dict[str, Any]:
    """``{"config": {...changes}, "version": n?}``: apply now (same path as config/desired)."""
    changes = args.get("config", args)
    if not isinstance(changes, dict):
        raise ValueError("set_config takes {'config': {key: value}}")
    version = args.get("version", agent.config_version + 1)
    return agent.apply_config(dict(changes), int(version))


def run_task(agent, args: dict[str, Any]) -> dict[str, Any]:
    """``{"task": name, "request": {...}}`` → the task's reply; without ``request`` run one
    ``step()`` now and deliver its records through the outbox."""
    name = args.get("task")
    runner = agent.runners.get(name)
    if runner is None:
        raise ValueError(f"no task {name!r}; running tasks: {sorted(agent.runners)}")
    if "request" in args:
        return {"reply": runner.handle(args["request"])}
    return {"records": runner.step_now()}


def status(agent, args: dict[str, Any]) -> dict[str, Any]:
    return agent.health()


BUILTIN_COMMANDS: dict[str, CommandFn] = {
    "ping": ping, "get_config": get_config, "set_config": set_config,
    "run_task": run_task, "status": status,
}
