"""The governance file: people and roles that are not per dataset.

The playbook's stakeholders (the Chief Data Officer, the Mayor's policy and communications
teams, each department's leadership and open-data coordinators) are named once here and
referenced by key from dataset files, so that a change of coordinator is a one-line edit.
"""

from __future__ import annotations

from pydantic import Field

from opendata.spec.base import Contact, NonEmptyStr, Slug, StrictModel


class Person(Contact):
    title: str | None = None
    # Their user id in Airflow, for human-in-the-loop tasks assigned to them (default: the key).
    airflow_user: str | None = None


class Department(StrictModel):
    name: NonEmptyStr
    # Department leadership (GM, AGM or designee) gives Step 1 approval.
    leadership: list[Slug] = Field(min_length=1)
    # Open Data Coordinators (1-5 per department) run the department's open-data work.
    coordinators: list[Slug] = Field(min_length=1, max_length=5)


class Governance(StrictModel):
    people: dict[Slug, Person] = Field(min_length=1)
    chief_data_officer: Slug
    policy_team: list[Slug] = Field(min_length=1)
    communications: list[Slug] = Field(min_length=1)
    departments: dict[Slug, Department] = Field(min_length=1)

    def person_references(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every (field path, person key) the file refers to.

        The loader checks them against ``people`` so that each dangling reference is reported
        at its own field with a "did you mean" hint.
        """
        refs: list[tuple[tuple[str | int, ...], str]] = [(("chief_data_officer",), self.chief_data_officer)]
        refs += [(("policy_team", i), key) for i, key in enumerate(self.policy_team)]
        refs += [(("communications", i), key) for i, key in enumerate(self.communications)]
        for dept_key, dept in self.departments.items():
            refs += [(("departments", dept_key, "leadership", i), k) for i, k in enumerate(dept.leadership)]
            refs += [(("departments", dept_key, "coordinators", i), k) for i, k in enumerate(dept.coordinators)]
        return refs

    def people_for(self, keys: list[str]) -> list[Person]:
        return [self.people[key] for key in keys]

    def hitl_users(self, keys: list[str]) -> list[dict[str, str]]:
        """Airflow HITL assignees (``{"id", "name"}``) for these people."""
        return [{"id": self.people[key].airflow_user or key, "name": self.people[key].name} for key in keys]

    @property
    def cdo(self) -> Person:
        return self.people[self.chief_data_officer]
