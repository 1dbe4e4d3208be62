"""Which file holds a dataset id when two files claim it.

A dataset id is the file's name, so two departments can each write ``permits.yaml``. Dropping
both would remove the established dataset's DAG from Airflow because a newcomer reused its id;
keeping the newcomer would hand the established dataset's portal asset and registry history to
another department's file. So the file that already holds the id keeps it: the one recorded the
last time the id had a single file (the DAG processor records it in the publication registry,
see ``opendata.registry.stage_snapshot``), else the first by path. Every other file with that id is
reported and never built, whether or not the holder is valid: breaking the established file
must not hand its id to another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Holders:
    # The file holding each id (by file name), and the file each other claimant lost to.
    holder: dict[str, Path]
    newcomers: dict[Path, Path]
    # Ids whose holder came from the record rather than from the order of paths.
    recorded: frozenset[str]

    def relative(self, datasets_dir: Path) -> dict[str, str]:
        """The record to keep: id -> the holder's path under datasets/."""
        return {dataset_id: relative_name(path, datasets_dir) for dataset_id, path in self.holder.items()}


def relative_name(path: Path, datasets_dir: Path) -> str:
    try:
        return path.relative_to(datasets_dir).as_posix()
    except ValueError:
        return path.as_posix()


def choose_holders(files: list[Path], datasets_dir: Path, record: Mapping[str, str]) -> Holders:
    """``files`` sorted by path; ``record``: id -> path under datasets/ (the last known holder)."""
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(path.stem, []).append(path)
    holder: dict[str, Path] = {}
    newcomers: dict[Path, Path] = {}
    recorded: set[str] = set()
    for dataset_id, paths in groups.items():
        chosen = paths[0]
        if len(paths) > 1:
            known = [p for p in paths if relative_name(p, datasets_dir) == record.get(dataset_id)]
            if known:
                chosen = known[0]
                recorded.add(dataset_id)
        holder[dataset_id] = chosen
        newcomers.update({p: chosen for p in paths if p != chosen})
    return Holders(holder, newcomers, frozenset(recorded))


def newcomer_message(dataset_id: str, holder: Path, from_record: bool) -> str:
    why = ("it held the id first" if from_record else
           "the first by path: the registry has no record of which file came first")
    return (f"dataset id {dataset_id!r} is already used by {holder} ({why}), whose DAG keeps running; this file "
            f"is not built: give it another id and file name, or remove one of the two files")
