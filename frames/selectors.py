"""Reads of FRAMES that need more than a queryset: energy-loss roll-ups, project risk, team
continuity. docs/frames.md."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from frames.models import EntityKind, FactorModel, Interface, Student, Team


def project_risk(model: FactorModel, interfaces=None) -> dict[int, Decimal]:
    """{project id: predicted risk}: the mean energy loss under ``model`` of the interfaces with
    an end at the project or at one of its teams (an interface touching two of its teams counts
    once). Two queries."""
    interfaces = Interface.objects.all() if interfaces is None else interfaces
    project_of_team = dict(Team.objects.filter(project__isnull=False).values_list("pk", "project_id"))
    losses: dict[int, list[Decimal]] = defaultdict(list)
    rows = interfaces.with_loss(model).values_list("from_kind", "from_id", "to_kind", "to_id", "loss")
    for from_kind, from_id, to_kind, to_id, loss in rows:
        projects = set()
        for kind, pk in ((from_kind, from_id), (to_kind, to_id)):
            if kind == EntityKind.PROJECT:
                projects.add(pk)
            elif kind == EntityKind.TEAM and pk in project_of_team:
                projects.add(project_of_team[pk])
        for project in projects:
            losses[project].append(loss)
    return {project: sum(values) / len(values) for project, values in losses.items()}


@dataclass(frozen=True)
class Continuity:
    team: Team
    members: int  # active
    outgoing: int  # leave at the end of this term (the outgoing status)
    lead: Student | None
    successors: list[Student]  # established members who could take over

    @property
    def outgoing_share(self) -> float:
        return self.outgoing / self.members if self.members else 0.0

    @property
    def lead_at_risk(self) -> bool:
        """The lead is outgoing and no established member can take over."""
        return self.lead is not None and self.lead.status == Student.Status.OUTGOING and not self.successors


def team_continuity(team: Team) -> Continuity:
    members = list(team.members.filter(active=True).order_by("name"))
    lead = next((m for m in members if m.is_lead), None)
    return Continuity(
        team=team,
        members=len(members),
        outgoing=sum(m.status == Student.Status.OUTGOING for m in members),
        lead=lead,
        successors=[m for m in members if m.status == Student.Status.ESTABLISHED and m is not lead],
    )
