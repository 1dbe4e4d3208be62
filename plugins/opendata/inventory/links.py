"""Every link the view shows, built from validated ids only (pure).

* Airflow's pages are paths under the Airflow UI's root (``[api] base_url``'s path, ``/`` by
  default): the view is served by the same API server, so a path is enough, and a link never
  carries a host taken from data. A dataset id must be a dataset-file id (a slug) and a task id
  one of the task-id characters; a run id (Airflow's, any text) is percent-encoded whole.
* The portal's pages are built by :class:`opendata.catalog.dcat.PortalUrls`: the configured
  domain and a Socrata 4x4, nothing else.

An id that does not pass gives no link (None), never a link built from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from opendata.catalog.dcat import PortalUrls

_DATASET_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
_TASK_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_ROOT = re.compile(r"/(?:[A-Za-z0-9._~-]+/)*")


def valid_dataset_id(value: object) -> bool:
    return isinstance(value, str) and _DATASET_ID.fullmatch(value) is not None


def airflow_root(base_url: str | None) -> str:
    """The path the Airflow UI is served under, from ``[api] base_url`` (``/`` when unset or odd)."""
    path = urlsplit(base_url or "").path or "/"
    path = path if path.endswith("/") else path + "/"
    return path if _ROOT.fullmatch(path) else "/"


@dataclass(frozen=True)
class Links:
    """``root``: the Airflow UI's path (ends with ``/``); ``portal``: the portal's URLs, when a
    portal connection is configured."""

    root: str = "/"
    portal: PortalUrls | None = None

    def __post_init__(self) -> None:
        if not _ROOT.fullmatch(self.root):
            raise ValueError(f"not a URL path ending with '/': {self.root!r}")

    def dag(self, dag_id: str) -> str | None:
        """The DAG's page (its runs and tasks)."""
        return f"{self.root}dags/{dag_id}" if valid_dataset_id(dag_id) else None

    def dag_run(self, dag_id: str, run_id: str) -> str | None:
        base = self.dag(dag_id)
        return f"{base}/runs/{quote(run_id, safe='')}" if base and run_id else None

    def task(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """A task instance's page (it opens on the log)."""
        run = self.dag_run(dag_id, run_id)
        return f"{run}/tasks/{task_id}" if run and _TASK_ID.fullmatch(task_id) else None

    def required_actions(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str | None:
        """A human-in-the-loop task's Required Actions page, where Approve and Reject are (the
        path ``HITLOperator.generate_link_to_ui`` builds)."""
        task = self.task(dag_id, run_id, task_id)
        return f"{task}/required_actions?map_index={int(map_index)}" if task else None

    def portal_dataset(self, portal_id: str | None) -> str | None:
        """The dataset's page on the portal (``/d/{4x4}``)."""
        if self.portal is None or not portal_id:
            return None
        try:
            return self.portal.landing_page(portal_id)
        except ValueError:
            return None
