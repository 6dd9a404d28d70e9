"""Planning: what each matching playbook would do to which container, and playbook unit tests."""

from responder.planning._cases import (
    CaseFile,
    CaseResult,
    describe_result,
    find_case_files,
    load_cases,
    run_case,
)
from responder.planning._plan import (
    EventPlan,
    PlannedStep,
    PlaybookPlan,
    plan_event,
)

__all__ = [
    "CaseFile",
    "CaseResult",
    "EventPlan",
    "PlannedStep",
    "PlaybookPlan",
    "describe_result",
    "find_case_files",
    "load_cases",
    "plan_event",
    "run_case",
]
