"""The publication registry: what happened on the portal, per dataset and per run.

The portal is the source of truth for audience and approval; the registry records what the
pipeline did there (portal id, stage changes, who approved what and when, one row per run)
and is written only after the portal confirmed the change.
"""

from opendata.registry.errors import RegistryUnavailable
from opendata.registry.stages import Stage
from opendata.registry.store import (
    AdoptionConflict,
    DatasetState,
    PublishedVersion,
    Registry,
    RunRecord,
    StageChange,
)

__all__ = ["AdoptionConflict", "DatasetState", "PublishedVersion", "Registry", "RegistryUnavailable", "RunRecord",
           "Stage", "StageChange"]
