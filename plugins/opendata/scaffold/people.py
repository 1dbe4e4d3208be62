"""The department's people for a drafted dataset file, from the governance file.

A dataset file names its coordinator by key (one of the department's coordinators) and writes
its steward and portal contact out. The draft takes the department's first coordinator for all
three: the coordinator is who runs the department's open-data work, so the file is right as
written until someone else is named (the steward is often a person of the source system).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opendata import settings
from opendata.scaffold.errors import ScaffoldError
from opendata.spec.errors import did_you_mean
from opendata.spec.governance import Governance, Person
from opendata.spec.loader import load_governance


@dataclass(frozen=True)
class DepartmentPeople:
    department: str
    # The department's name as governance.yaml gives it (the attribution: "City of ..., <name>").
    department_name: str
    coordinator: str
    coordinator_person: Person
    leadership: tuple[str, ...]

    def steward(self) -> dict[str, str]:
        """The suggested steward (name, email): the coordinator until a data steward is named."""
        return {"name": self.coordinator_person.name, "email": self.coordinator_person.email}

    def contact(self) -> dict[str, str]:
        """The suggested portal contact: the coordinator's address, under the department's name."""
        return {"name": f"{self.department_name} Open Data", "email": self.coordinator_person.email}


def department_people(governance: Governance, department: str) -> DepartmentPeople:
    found = governance.departments.get(department)
    if found is None:
        raise ScaffoldError(f"unknown department {department!r}: governance.yaml lists "
                            f"{', '.join(sorted(governance.departments))}",
                            did_you_mean(department, set(governance.departments)))
    coordinator = found.coordinators[0]
    return DepartmentPeople(department, found.name, coordinator, governance.people[coordinator],
                            tuple(found.leadership))


def load_department_people(include_dir: Path, department: str) -> DepartmentPeople:
    """The department's people from ``include_dir``'s governance file (errors in it stop here)."""
    path = settings.governance_file(include_dir)
    governance, errors = load_governance(path, root=include_dir)
    if governance is None:
        first = errors[0] if errors else f"{path}: cannot be read"
        raise ScaffoldError(f"the governance file has errors; fix them first (opendata lint): {first}")
    return department_people(governance, department)
