"""Why a local service failed, in words a person can act on.

A service that cannot start writes a Python traceback to its log and exits; the suite must name
the service, say what went wrong and show the end of its log, without a traceback of its own.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path

LOG_TAIL_LINES = 12
# A traceback is read from this much of the end of a log: deep stacks run to a hundred lines.
CAUSE_SEARCH_LINES = 400
_TRACEBACK_HEADER = "Traceback (most recent call last):"
# `pkg.module.SomeError: text` -> `SomeError: text`: the module path tells a user nothing.
_QUALIFIED_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*(?:Error|Exception)\b)")
_PYDANTIC_SETTINGS_ERROR = re.compile(r"validation errors? for Settings$")
_PYDANTIC_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
_PYDANTIC_LINK = "For further information visit"


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` lines of a log, or nothing when the log is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").splitlines()[-lines:]


def exit_description(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def failure_cause(log_lines: list[str], env_prefix: str = "") -> list[str]:
    """The exception that ended the process, from the last traceback in its log.

    A traceback ends with the exception's own lines after the indented frames; that is the
    cause. A settings error names fields; `env_prefix` turns them into the environment variables
    a user actually sets.
    """
    starts = [i for i, line in enumerate(log_lines) if line.startswith(_TRACEBACK_HEADER)]
    if not starts:
        return []
    body = log_lines[starts[-1] + 1 :]
    first = next((i for i, line in enumerate(body) if line and not line.startswith(" ")), None)
    if first is None:
        return []
    cause = [_QUALIFIED_EXCEPTION.sub(r"\1", body[first])]
    settings_error = bool(_PYDANTIC_SETTINGS_ERROR.search(cause[0]))
    for line in body[first + 1 :]:
        if _PYDANTIC_LINK in line:
            continue
        if settings_error and env_prefix and _PYDANTIC_FIELD.match(line):
            line = f"{line} (environment variable {env_prefix}{line.upper()})"
        cause.append(line)
    return cause


@dataclass
class SuiteError(Exception):
    """A local suite could not start, or lost a process while it ran."""

    summary: str
    cause: list[str]
    log_path: Path | None = None
    log_lines: tuple[str, ...] = ()
    hint: str = ""

    def __str__(self) -> str:
        return self.summary

    def render(self) -> str:
        lines = [f"tollgate: {self.summary}"]
        if self.cause:
            lines.append(f"cause: {self.cause[0]}")
            lines += [f"       {line}" for line in self.cause[1:]]
        if self.log_lines and self.log_path is not None:
            lines.append(f"last lines of {self.log_path.name}:")
            lines += [f"  | {line}" for line in self.log_lines]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)
