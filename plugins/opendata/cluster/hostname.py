"""The task hostname of a worker: ``[core] hostname_callable = opendata.cluster.hostname.task_hostname``.

Airflow records, on every task instance, the hostname of the worker that ran it (and the API
server fetches a running task's log from that host). Two workers on one machine would both
record the machine's name; the distributed launcher gives each worker a name of its own in
``OPENDATA_WORKER_HOSTNAME`` and points ``hostname_callable`` here, so the task instances say
which worker ran them. On separate machines (docker-compose.yaml) the default, the machine's
name, is right and this is not used.

It lives in the package (not in test support code) because the launcher is also for people
(``opendata demo --celery``) and benches, and every worker imports the package anyway.
"""

from __future__ import annotations

import socket

from opendata import settings


def task_hostname() -> str:
    """``OPENDATA_WORKER_HOSTNAME`` when set, else the machine's fully qualified name."""
    return settings.worker_hostname() or socket.getfqdn()
