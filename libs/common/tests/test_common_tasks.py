"""One table of task names; one behaviour for a task this build does not know."""

from __future__ import annotations

import pytest

from tollgate.common.tasks import TASK_NAMES, UnknownTaskError, task_name
from tollgate.v1 import common_pb2


def test_every_task_type_has_its_name_and_unspecified_is_chat() -> None:
    assert task_name(common_pb2.TASK_TYPE_UNSPECIFIED) == "chat"
    assert task_name(common_pb2.TASK_TYPE_LEAD_ANALYSIS) == "lead_analysis"
    assert set(TASK_NAMES) == set(common_pb2.TaskType.values()) - {0}


@pytest.mark.parametrize("value", [999, -1, 2**31 - 1])
def test_an_unknown_task_is_refused_not_renamed(value: int) -> None:
    with pytest.raises(UnknownTaskError, match="unknown task type"):
        task_name(value)
