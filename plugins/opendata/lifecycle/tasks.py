"""The names a dataset DAG's tasks share: their task ids and the answers they read.

Defined once here: the DAG factory names its tasks with these, the tasks pull each other's
XComs with them and the run plan says which of them act on which path.
"""

from __future__ import annotations

from typing import Final

PLAN_TASK_ID: Final = "plan"
EXTRACT_TASK_ID: Final = "extract"
VALIDATE_TASK_ID: Final = "validate"
#: Step 1: department leadership approves (human in the loop).
STEP1_TASK_ID: Final = "department_approval"
#: Stage 1: the private push and the submission for the CDO's review.
PUSH_PRIVATE_TASK_ID: Final = "push_private"
#: The deferred wait for the CDO's review on the portal.
AWAIT_APPROVAL_TASK_ID: Final = "await_public_approval"
#: Stage 2: made public.
GO_PUBLIC_TASK_ID: Final = "go_public"
#: The shrink guard's human in the loop.
SHRINK_APPROVAL_TASK_ID: Final = "shrink_approval"
REFRESH_TASK_ID: Final = "refresh"
FINISH_TASK_ID: Final = "finish"

#: The option of Airflow's ``ApprovalOperator`` that approves (``ApprovalOperator.APPROVE``;
#: a test checks that they agree). Its XCom's ``chosen_options`` is ``[APPROVE_OPTION]`` then.
APPROVE_OPTION: Final = "Approve"
#: The registry's ``review_state`` once the portal's reviewer approved (``Registry.record_review``)
#: and the approval sensor's answer (the trigger's ``APPROVED`` event).
REVIEW_APPROVED: Final = "approved"
