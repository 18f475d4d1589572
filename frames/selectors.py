"""Reads of FRAMES that need more than a queryset: energy-loss roll-ups, project risk, team
continuity. docs/frames.md."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from frames.models import LEVEL_FLOORS, EntityKind, FactorModel, Interface, Project, Student, Team, University

EIGHT_PLACES = Decimal("1E-8")  # losses are stored and compared to eight decimal places


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
    def lead_outgoing(self) -> bool:
        return self.lead is not None and self.lead.status == Student.Status.OUTGOING

    @property
    def lead_at_risk(self) -> bool:
        """The lead is outgoing and no established member can take over."""
        return self.lead_outgoing and not self.successors


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


# --- energy-loss roll-ups and comparisons ---------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    id: int | None
    name: str
    interfaces: int
    mean_loss: Decimal
    max_loss: Decimal
    critical: int


ROLLUPS = ("team", "project", "university")


def rollup(interfaces, model: FactorModel, by: str, *, user=None) -> list[Rollup]:
    """Energy loss under ``model`` per team, project or university (``by``): each group counts
    the interfaces with an end there (an end at one of a project's teams counts for the
    project; an interface with both ends in one group counts once), worst mean first. With
    ``user``, only the groups they may see (a cross-university interface's other end is not
    theirs to read about). Three queries: the losses (one aggregate), the teams' projects, the
    groups' names."""
    if by not in ROLLUPS:
        raise ValueError(f"by must be one of {ROLLUPS}")
    project_of_team = dict(Team.objects.filter(project__isnull=False).values_list("pk", "project_id"))
    groups: dict[int, list[Decimal]] = defaultdict(list)
    rows = interfaces.with_loss(model).values_list(
        "from_kind", "from_id", "to_kind", "to_id", "from_university_id", "to_university_id", "loss"
    )
    for from_kind, from_id, to_kind, to_id, from_university, to_university, loss in rows:
        if by == "university":
            keys = {from_university, to_university} - {None}
        else:
            keys = set()
            for kind, pk in ((from_kind, from_id), (to_kind, to_id)):
                if kind == EntityKind.TEAM:
                    keys.add(pk if by == "team" else project_of_team.get(pk))
                elif kind == EntityKind.PROJECT and by == "project":
                    keys.add(pk)
            keys.discard(None)
        for key in keys:
            groups[key].append(loss)
    named = {"team": Team, "project": Project, "university": University}[by]
    visible = named.objects.all() if user is None else named.objects.visible_to(user)
    names = dict(visible.filter(pk__in=groups).values_list("pk", "name"))
    critical = LEVEL_FLOORS[0][1]
    result = [
        Rollup(
            id=key,
            name=names.get(key, ""),
            interfaces=len(losses),
            mean_loss=(sum(losses) / len(losses)).quantize(EIGHT_PLACES),
            max_loss=max(losses),
            critical=sum(loss >= critical for loss in losses),
        )
        for key, losses in groups.items()
        if key in names
    ]
    return sorted(result, key=lambda row: (-row.mean_loss, row.name))


@dataclass(frozen=True)
class Comparison:
    interface: int
    loss_a: Decimal
    level_a: str
    loss_b: Decimal
    level_b: str

    @property
    def difference(self) -> Decimal:
        return self.loss_b - self.loss_a


def compare(interfaces, a: FactorModel, b: FactorModel) -> list[Comparison]:
    """Every interface of ``interfaces`` under two models, the largest change first (then by
    id). Two aggregate queries."""
    under_a = dict((pk, (loss, lvl)) for pk, loss, lvl in interfaces.with_loss(a).values_list("pk", "loss", "level"))
    rows = [
        Comparison(pk, *under_a[pk], loss, lvl)
        for pk, loss, lvl in interfaces.with_loss(b).values_list("pk", "loss", "level")
        if pk in under_a
    ]
    return sorted(rows, key=lambda row: (-abs(row.difference), row.interface))
