"""Reading why a service died from its log: the traceback's own exception, in a user's terms."""

from __future__ import annotations

import signal
from pathlib import Path

from tollgate.cli.suite_failure import SuiteError, exit_description, failure_cause, log_tail

CHAINED = """\
{"level": "info", "message": "starting"}
Traceback (most recent call last):
  File "a.py", line 1, in <module>
    open("x")
FileNotFoundError: [Errno 2] No such file or directory: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "b.py", line 9, in load
    raise ModelLoadError("embedding model not found: /m/model.onnx")
tollgate.semantic_cache.embedding.model.ModelLoadError: embedding model not found: /m/model.onnx
"""

SETTINGS = """\
Traceback (most recent call last):
  File "/x/pydantic/main.py", line 280, in __init__
    validated_self = self.__pydantic_validator__.validate_python(data, self_instance=self)
                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
shutdown_grace_seconds
  Input should be a valid number, unable to parse string as a number [type=float_parsing]
    For further information visit https://errors.pydantic.dev/2.14/v/float_parsing
"""


def test_the_cause_is_the_last_exception_without_its_module_path() -> None:
    assert failure_cause(CHAINED.splitlines()) == [
        "ModelLoadError: embedding model not found: /m/model.onnx"
    ]


def test_a_settings_error_names_the_environment_variable_to_fix() -> None:
    cause = failure_cause(SETTINGS.splitlines(), "TOLLGATE_CACHE_")
    assert cause[0] == "ValidationError: 1 validation error for Settings"
    assert cause[1] == (
        "shutdown_grace_seconds (environment variable TOLLGATE_CACHE_SHUTDOWN_GRACE_SECONDS)"
    )
    assert "Input should be a valid number" in cause[2]
    assert not any("errors.pydantic.dev" in line for line in cause)


def test_no_traceback_no_invented_cause() -> None:
    assert failure_cause(['{"level": "info", "message": "listening"}']) == []
    # A traceback cut off before its exception line says nothing either.
    assert failure_cause(["Traceback (most recent call last):", '  File "a.py", line 1']) == []


def test_log_tail_of_a_missing_or_hostile_log(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "absent.log") == []
    log = tmp_path / "binary.log"
    log.write_bytes(b"ok\n\xff\xfe\x00garbage\n" + b"line\n" * 50)
    tail = log_tail(log, 3)
    assert tail == ["line", "line", "line"]
    assert log_tail(log, 100)[1].startswith("\ufffd")


def test_exit_descriptions() -> None:
    assert exit_description(-signal.SIGKILL) == "killed by signal SIGKILL"
    assert exit_description(1) == "exit code 1"
    assert exit_description(None) == "still running"


def test_rendered_failure_shows_cause_then_log_tail(tmp_path: Path) -> None:
    error = SuiteError(
        "cache exited while starting (exit code 1).",
        cause=["ValidationError: 1 validation error for Settings", "port"],
        log_path=tmp_path / "cache.log",
        log_lines=("Traceback (most recent call last):", "ValueError: boom"),
        hint="Fix it.",
    )
    assert error.render().splitlines() == [
        "tollgate: cache exited while starting (exit code 1).",
        "cause: ValidationError: 1 validation error for Settings",
        "       port",
        "last lines of cache.log:",
        "  | Traceback (most recent call last):",
        "  | ValueError: boom",
        "Fix it.",
    ]
