"""The notifications the publication workflow sends, and who receives each one.

The playbook (Part 2, "Communications"): entering Stage 1 notifies the Chief Data Officer;
once approved and made public in Stage 2 the department and the policy team are notified;
the communications team coordinates the go-live with the CDO (Step 3, strategic
publication); public comments notify the coordinator and the CDO. :data:`RECIPIENTS` is that
sentence as one table; :data:`DIGEST_RECIPIENTS` covers the messages about many datasets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NotificationEvent(StrEnum):
    #: Step 1: department leadership's approval is waiting in Airflow (link to the task).
    DEPARTMENT_APPROVAL_REQUESTED = "department_approval_requested"
    #: Step 1 refused by department leadership (who, reason); runs stop until resubmitted.
    DEPARTMENT_REJECTED = "department_rejected"
    #: Stage 1: pushed privately to the portal; the CDO reviews it (portal link, checklist report).
    STAGE1_READY_FOR_REVIEW = "stage1_ready_for_review"
    #: The Stage 1 review is still pending after N days.
    REVIEW_REMINDER = "review_reminder"
    #: Stage 2: approved and public (reviewer, notes, portal link).
    APPROVED_PUBLIC = "approved_public"
    #: Approved; goes public at the dataset's not-before time (Step 3).
    SCHEDULED_GO_LIVE = "scheduled_go_live"
    #: Went public at the planned time.
    WENT_LIVE = "went_live"
    #: The reviewer sent it back to the department (with notes).
    REJECTED = "rejected"
    #: A refresh would delete more published rows than the file allows: approval waits in Airflow.
    SHRINK_APPROVAL_REQUESTED = "shrink_approval_requested"
    #: A scheduled refresh failed (run, task, error, log link).
    REFRESH_FAILED = "refresh_failed"
    #: The freshness monitor: the public data is due (or overdue) for its promised update.
    FRESHNESS_DUE = "freshness_due"
    #: The comment watch: the public posted comments on the dataset's portal page.
    COMMENT_RECEIVED = "comment_received"
    #: The comment watch: nobody marked the comments answered within 48 business hours.
    COMMENT_REMINDER = "comment_reminder"
    #: Retired with the Mayor's Office's approval: no more refreshes; the data stays published.
    RETIRED = "retired"


class DigestEvent(StrEnum):
    """Notifications about many datasets at once (composed by :mod:`opendata.notify.digest`)."""

    #: The freshness monitor: every overdue public dataset, in one e-mail to the CDO.
    OVERDUE_DIGEST = "overdue_digest"


class Role(StrEnum):
    """Who a notification goes to, resolved from the governance and dataset files."""

    #: governance ``chief_data_officer``
    CDO = "cdo"
    #: governance ``policy_team``
    POLICY_TEAM = "policy_team"
    #: governance ``communications``
    COMMUNICATIONS = "communications"
    #: the department's ``leadership`` (GM, AGM or designee)
    LEADERSHIP = "leadership"
    #: the dataset's ``coordinator`` first, then the department's other ``coordinators``
    COORDINATORS = "coordinators"
    #: the dataset's ``steward`` (a contact in the dataset file, not a governance person)
    STEWARD = "steward"


@dataclass(frozen=True)
class Recipients:
    to: tuple[Role, ...]
    cc: tuple[Role, ...] = ()


_R = Role

#: event -> (to-roles, cc-roles). A person reached through two roles gets one copy, in To
#: if any of their roles is a To role.
RECIPIENTS: dict[NotificationEvent, Recipients] = {
    NotificationEvent.DEPARTMENT_APPROVAL_REQUESTED: Recipients(to=(_R.LEADERSHIP,), cc=(_R.COORDINATORS,)),
    NotificationEvent.DEPARTMENT_REJECTED: Recipients(to=(_R.COORDINATORS, _R.STEWARD), cc=(_R.LEADERSHIP,)),
    NotificationEvent.STAGE1_READY_FOR_REVIEW: Recipients(to=(_R.CDO,), cc=(_R.COORDINATORS,)),
    NotificationEvent.REVIEW_REMINDER: Recipients(to=(_R.CDO,)),
    NotificationEvent.APPROVED_PUBLIC: Recipients(
        to=(_R.COORDINATORS, _R.STEWARD, _R.LEADERSHIP, _R.POLICY_TEAM)),
    NotificationEvent.SCHEDULED_GO_LIVE: Recipients(to=(_R.COMMUNICATIONS, _R.CDO)),
    NotificationEvent.WENT_LIVE: Recipients(to=(_R.COMMUNICATIONS, _R.CDO, _R.COORDINATORS)),
    NotificationEvent.REJECTED: Recipients(to=(_R.COORDINATORS, _R.STEWARD), cc=(_R.CDO,)),
    NotificationEvent.REFRESH_FAILED: Recipients(to=(_R.COORDINATORS, _R.STEWARD)),
    # Leadership or a coordinator approves (the task's assignees); the steward knows the source.
    NotificationEvent.SHRINK_APPROVAL_REQUESTED: Recipients(to=(_R.LEADERSHIP, _R.COORDINATORS),
                                                            cc=(_R.STEWARD,)),
    # Coordinators "enforce data refresh expectations"; the steward does the refresh.
    NotificationEvent.FRESHNESS_DUE: Recipients(to=(_R.STEWARD, _R.COORDINATORS)),
    # "Whenever a comment is posted, the relevant Open Data Coordinator and CDO will be notified."
    NotificationEvent.COMMENT_RECEIVED: Recipients(to=(_R.COORDINATORS, _R.CDO)),
    NotificationEvent.COMMENT_REMINDER: Recipients(to=(_R.COORDINATORS, _R.CDO)),
    # The playbook: deleting a dataset needs the Mayor's Office; retiring one is told to the CDO.
    NotificationEvent.RETIRED: Recipients(to=(_R.CDO,), cc=(_R.COORDINATORS, _R.STEWARD)),
}

#: Digest -> recipients; only roles that do not depend on a dataset (CDO, policy, communications).
DIGEST_RECIPIENTS: dict[DigestEvent, Recipients] = {
    DigestEvent.OVERDUE_DIGEST: Recipients(to=(_R.CDO,)),
}
