"""The freshness monitor: is each public dataset updated as promised, and are its public
comments answered?

    policy      the frequency -> thresholds table, FreshnessPolicy, policy_for(spec) (pure)
    calendar    counted time without no-update days; business hours (pure)
    status      status(last_update, now, policy) -> FreshnessStatus (pure)
    crosscheck  the portal against the registry and the data's own dates (pure)
    evaluate    MonitoredDataset, Observation, Evaluation (pure)
    alerts      who is told what this run, and what to remember (pure)
    comments    the public comment watch (pure)
    report      digest rows and reminder details (pure)
    sources     the reads: dataset files, registry, portal (bulk)
    monitor     check_freshness(), watch_comments(): read, decide, send, remember
    dag         build_monitor_dag() for dags/freshness_monitor.py
    cli         python -m opendata.freshness status | comments answered <id> | comments list

Names are imported lazily, so ``import opendata.freshness`` stays cheap at DAG-parse time.
"""

from __future__ import annotations

from opendata._lazy import lazy_exports

_EXPORTS = {
    "POLICY_TABLE": "opendata.spec.freshness",
    "FreshnessPolicy": "opendata.freshness.policy",
    "policy_for": "opendata.freshness.policy",
    "FreshnessState": "opendata.freshness.status",
    "FreshnessStatus": "opendata.freshness.status",
    "status": "opendata.freshness.status",
    "cross_check": "opendata.freshness.crosscheck",
    "plan_alerts": "opendata.freshness.alerts",
    "plan_comments": "opendata.freshness.comments",
    "MonitorSettings": "opendata.freshness.monitor",
    "check_freshness": "opendata.freshness.monitor",
    "watch_comments": "opendata.freshness.monitor",
    "build_monitor_dag": "opendata.freshness.dag",
    "MONITOR_DAG_ID": "opendata.freshness.dag",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
