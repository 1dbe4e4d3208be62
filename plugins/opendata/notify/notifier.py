"""The Airflow side: a notifier for callbacks, HITL operators and task code.

    # From task code, with the dataset and governance files the task read and what only it knows:
    notify(NotificationEvent.STAGE1_READY_FOR_REVIEW, inputs.spec, inputs.governance, context,
           portal_url=url, portal_id=fourfour, report_url=link)

    # As an Airflow notifier, about a dataset already read:
    OpenDataNotifier(event=NotificationEvent.REFRESH_FAILED, spec=spec, governance=governance)

Nothing here reads a file: the dataset and governance files are read by the task (once, at run
time, never at DAG parse time, so recipients follow the current governance file) and handed in.
A callback that knows only a dataset id (a DAG's failure callback, a HITL operator's notifier)
is :class:`opendata.operators.notifier.DatasetNotifier`, which reads them when it is invoked.

``details`` given to the constructor are Jinja-rendered against the Airflow context when the
notifier is invoked as a callback or HITL notifier (like ``SmtpNotifier``'s fields), e.g.
``details={"portal_url": "{{ ti.xcom_pull(task_ids='push') }}"}``. Values passed to
:func:`notify` or to :meth:`OpenDataNotifier.notify` are never rendered, so text from people
(reviewer notes) cannot inject template code.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from opendata import settings
from opendata.notify.events import NotificationEvent

if TYPE_CHECKING:
    from airflow.sdk import Context

    from opendata.notify.compose import Attachment
    from opendata.spec.dataset import DatasetSpec
    from opendata.spec.governance import Governance

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


def scrub(text: str) -> str:
    """Mask what Airflow knows to be secret (connection passwords it has handed out) and any
    ``user:password@`` in URLs, so an error message cannot leak a credential into an e-mail."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    try:
        from airflow.sdk._shared.secrets_masker import redact

        masked = redact(text)
        return masked if isinstance(masked, str) else text
    except Exception:  # the masker is an internal module; without it, the URL scrub stays
        return text


def _task_url(base: str, ti: Any) -> str:
    """The task instance's page (its log) in the Airflow UI, as ``RuntimeTaskInstance.log_url``."""
    url = f"{base}/dags/{ti.dag_id}/runs/{quote(ti.run_id)}/tasks/{ti.task_id}"
    map_index = getattr(ti, "map_index", None)
    if isinstance(map_index, int) and map_index >= 0:
        url += f"/mapped/{map_index}"
    try_number = getattr(ti, "try_number", None)
    if isinstance(try_number, int) and try_number > 0:
        url += f"?try_number={try_number}"
    return url


#: Requests answered in a human-in-the-loop task: their link is the task's Required Actions page.
_HITL_EVENTS = frozenset({NotificationEvent.DEPARTMENT_APPROVAL_REQUESTED, NotificationEvent.SHRINK_APPROVAL_REQUESTED})


def _airflow_url(event: NotificationEvent, context: Mapping[str, Any], ti: Any, run_id: str | None) -> str | None:
    base = settings.airflow_base_url()
    if not base:
        return None
    if event in _HITL_EVENTS and ti is not None:
        # A HITL task: link to its "required actions" page, where Approve / Reject are.
        try:
            from airflow.providers.standard.operators.hitl import HITLOperator

            if isinstance(context.get("task"), HITLOperator):
                return HITLOperator.generate_link_to_ui_from_context(context=context, base_url=base)  # type: ignore[arg-type]
        except Exception:
            pass
    if ti is not None and getattr(ti, "task_id", None) and getattr(ti, "run_id", None):
        return _task_url(base, ti)
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(context.get("dag_run"), "dag_id", None)
    if dag_id and run_id:
        return f"{base}/dags/{dag_id}/runs/{quote(run_id)}"
    return None


def context_details(event: NotificationEvent, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a notification can learn from an Airflow context: run, task, error, link."""
    if not context:
        return {}
    ti = context.get("task_instance") or context.get("ti")
    run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", None) or getattr(ti, "run_id", None)
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", None)
    details: dict[str, Any] = {}
    if run_id:
        details["run_id"] = str(run_id)
    if task_id:
        details["task_id"] = str(task_id)
    exception = context.get("exception")
    if exception is not None:
        message = str(exception).strip()
        name = type(exception).__name__ if isinstance(exception, BaseException) else ""
        details["error"] = scrub(f"{name}: {message}" if name and message else (name or message))
    elif event is NotificationEvent.REFRESH_FAILED and context.get("reason"):
        details["error"] = f"The DAG run failed ({context['reason']})."
    url = _airflow_url(event, context, ti, details.get("run_id"))
    if url:
        details["airflow_url"] = url
    return details


class OpenDataNotifier(BaseNotifier):
    """Compose and send one :class:`NotificationEvent` about one dataset.

    :param event: what happened
    :param spec: the dataset, as the task read its file
    :param governance: the governance file, as the task read it (the recipients)
    :param details: message details (see :mod:`opendata.notify.compose`); templated
    :param smtp_conn_id: the Airflow SMTP connection
    :param slack_conn_id: an Airflow connection with a Slack webhook; skipped when it does
        not exist; None turns Slack off
    :param attachments: files e-mailed with the message (never templated)
    """

    template_fields: Sequence[str] = ("details", "smtp_conn_id", "slack_conn_id")

    def __init__(
        self,
        event: NotificationEvent | str,
        spec: DatasetSpec | None = None,
        governance: Governance | None = None,
        details: Mapping[str, Any] | None = None,
        smtp_conn_id: str = "smtp_default",
        slack_conn_id: str | None = "opendata_slack",
        attachments: Sequence[Attachment] = (),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.event = NotificationEvent(event)
        self.spec = spec
        self.governance = governance
        self.details = dict(details or {})
        self.smtp_conn_id = smtp_conn_id
        self.slack_conn_id = slack_conn_id
        self.attachments = tuple(attachments)

    def __repr__(self) -> str:
        dataset_id = self.spec.id if self.spec is not None else None
        return f"{type(self).__name__}(event={self.event.value!r}, dataset_id={dataset_id!r})"

    def about(self, context: Context | Mapping[str, Any]) -> tuple[DatasetSpec, Governance]:
        """The dataset and the governance file this notification is about (given, never read
        here; a subclass that knows only the dataset id reads them)."""
        if self.spec is None or self.governance is None:
            raise ValueError(f"{self!r} was given no dataset spec and governance to notify about")
        return self.spec, self.governance

    def __call__(self, *args: Any) -> None:
        # BaseNotifier renders template fields in place; render a copy instead, so one
        # instance (a DAG's callback) serves every run with its own context.
        clone = copy.copy(self)
        clone.details = copy.deepcopy(self.details)
        return BaseNotifier.__call__(clone, *args)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        dag = context.get("dag")
        if jinja_env is None and dag is not None and not hasattr(dag, "get_template_env"):
            # dag.test() hands DAG-level callbacks the scheduler's SerializedDAG, which has no
            # template environment; render with a plain sandboxed one instead of failing.
            jinja_env = self.get_template_env()
            self.render_template_as_native_obj = False
        super().render_template_fields(context, jinja_env)

    def notify(self, context: Context | Mapping[str, Any]) -> None:
        from opendata.notify.compose import compose
        from opendata.notify.send import send

        spec, governance = self.about(context)
        details = {**context_details(self.event, context), **self.details}
        message = compose(self.event, spec, governance, details)
        if self.attachments:
            message = dataclasses.replace(message, attachments=self.attachments)
        send(message, smtp_conn_id=self.smtp_conn_id, slack_conn_id=self.slack_conn_id)
        self.log.info("Sent the %s notification for %s", self.event.value, spec.id)

    async def async_notify(self, context: Context | Mapping[str, Any]) -> None:
        """For the triggerer (e.g. a Deadline Alert's ``AsyncCallback``): the same, in a thread."""
        await asyncio.to_thread(self.notify, context)


def notify(
    event: NotificationEvent | str,
    spec: DatasetSpec,
    governance: Governance,
    context: Context | Mapping[str, Any] | None = None,
    *,
    smtp_conn_id: str = "smtp_default",
    slack_conn_id: str | None = "opendata_slack",
    attachments: Sequence[Attachment] = (),
    **details: Any,
) -> None:
    """Send a notification about ``spec`` (recipients from ``governance``) from task code.
    Without ``context`` the running task's context is used when there is one (run id, task id,
    log link); ``details`` are not templated; ``attachments`` are e-mailed with it."""
    if context is None:
        try:
            from airflow.sdk import get_current_context

            context = get_current_context()
        except Exception:  # not inside a task
            context = {}
    OpenDataNotifier(event, spec, governance, details=details, smtp_conn_id=smtp_conn_id,
                     slack_conn_id=slack_conn_id, attachments=attachments).notify(context)
