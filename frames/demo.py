"""Demo data for `make run`: the FRAMES consortium. Eight universities led by Cal Poly Pomona,
the PROVES consortium project and a project of each university, two or three teams at each,
about 300 students across their terms (some teams about to lose their lead with no one
established to take over), faculty, interfaces within and across universities with factor
values (a few critical ones across universities), outcomes of past cohorts with the baseline
model validated against them, and onboarding modules with assignments, events and feedback.

Logins (password VERITAS_ADMIN_PASSWORD, or generated and printed once): ``faculty_cpp``
(faculty at Cal Poly Pomona, staff in the admin), ``researcher`` (the frames.research
permission) and ``student_cpp`` (a student taking modules, API only).

The research rows are written in bulk and recorded by one audit entry with their counts
("manage.py seed_demo"); the validation, the modules' publication, the assignments and the
module events go through the services (events through the LMS's bulk ingestion, so progress
follows from them as it does in use). A fixed
random seed makes the data the same each time. Idempotent: nothing is added when the lead
university exists.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import orjson
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from frames import lms, services
from frames.models import (
    FactorModel,
    FactorValue,
    Faculty,
    Interface,
    InterfaceFactorValue,
    Module,
    ModuleFeedback,
    ModuleSection,
    Outcome,
    Project,
    Student,
    Team,
    University,
)
from veritas import audit
from veritas.demo import DemoLogins

SEED = 2026
FACULTY_GROUP = "FRAMES faculty"
UNIVERSITIES = [
    ("cpp", "Cal Poly Pomona", True),
    ("columbia", "Columbia University", False),
    ("txst", "Texas State University", False),
    ("vt", "Virginia Tech", False),
    ("wsu", "Washington State University", False),
    ("uiuc", "University of Illinois", False),
    ("neu", "Northeastern University", False),
    ("mtsac", "Mt. San Antonio College", False),
]
DISCIPLINES = ["software", "electrical", "structures", "mission-ops", "comms"]
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Eli",
    "Fatima",
    "Gabe",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Maya",
    "Nico",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
LAST = [
    "Alvarez",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Huang",
    "Iqbal",
    "Johnson",
    "Kim",
    "Lopez",
    "Martin",
    "Nguyen",
    "Okafor",
    "Patel",
]
MODULES = [
    # key, title, university code (None: the consortium's), prerequisites, sections
    ("proves-orientation", "PROVES orientation", None, [], ["The PROVES kit", "Who does what", "Communication norms"]),
    ("lab-safety", "Lab safety", "cpp", [], ["ESD and handling", "Clean bench rules", "Safety quiz"]),
    ("flight-software-101", "Flight software 101", "cpp", ["lab-safety"],
     ["F Prime in an hour", "Build and test", "Code review checklist", "Quiz"]),
]  # fmt: skip


def seed(*, stdout) -> None:
    if University.objects.filter(code="cpp").exists():
        stdout.write("FRAMES: the consortium exists (logins faculty_cpp, researcher, student_cpp).")
        return
    with audit.command("seed_demo"):
        Demo(random.Random(SEED), stdout).run()  # noqa: S311 (demo data)


class Demo:
    def __init__(self, rng: random.Random, stdout):
        self.rng, self.stdout = rng, stdout
        self.now = timezone.now().replace(second=0, microsecond=0)
        self.logins = DemoLogins()
        self.finished: set[tuple[int, str]] = set()  # (student id, module key) completed

    def run(self) -> None:
        researcher = self.logins.user("researcher", is_staff=True)
        researcher.user_permissions.add(Permission.objects.get(codename="research", content_type__app_label="frames"))
        researcher = get_user_model().objects.get(pk=researcher.pk)  # permissions are cached per instance
        universities = [
            University.objects.create(code=code, name=name, is_lead=lead) for code, name, lead in UNIVERSITIES
        ]
        cpp = universities[0]
        faculty = self.logins.user("faculty_cpp", is_staff=True)
        faculty.groups.add(self.faculty_group())
        Faculty.objects.create(university=cpp, user=faculty, name="Dr. Michael Pham", role="Principal Investigator")
        Faculty.objects.bulk_create(
            Faculty(university=u, name=f"Dr. {self.rng.choice(LAST)}", role="Faculty advisor") for u in universities[1:]
        )
        proves = Project.objects.create(name="PROVES", type="consortium", is_collaborative=True, duration_months=36)
        projects = {
            u.pk: Project.objects.create(university=u, name=f"{u.code.upper()} CubeSat", type="internal")
            for u in universities
        }
        teams = self.teams(universities, projects, proves)
        students = self.students(teams)
        interfaces = self.interfaces(teams, students, proves)
        outcomes = self.outcomes(universities, projects)
        baseline = FactorModel.objects.get(name="baseline_v1")
        report = services.validate_model(actor=researcher, model=baseline)
        self.record(Team, teams=len(teams), students=len(students), interfaces=interfaces, outcomes=outcomes)
        events = self.onboarding(researcher, faculty, cpp, students)
        self.stdout.write(
            f"FRAMES: {len(universities)} universities, {len(teams)} teams, {len(students)} students, "
            f"{interfaces} interfaces, {outcomes} outcomes (baseline validated: n = {report.n}), "
            f"{len(MODULES)} onboarding modules with {events} events."
        )
        if self.logins.created:
            self.stdout.write(f"FRAMES logins {', '.join(self.logins.created)}: password {self.logins.password_note}.")

    def faculty_group(self) -> Group:
        """Faculty in the admin: view, add and change FRAMES rows (scoped to their university)."""
        group, _ = Group.objects.get_or_create(name=FACULTY_GROUP)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="frames")
            .exclude(codename="research")
            .exclude(codename__startswith="delete_")
        )
        return group

    def record(self, model, **counts) -> None:
        audit.record("import", model=model, changes={"counts": counts})

    def teams(self, universities, projects, proves) -> list[Team]:
        teams = []
        for u in universities:
            for discipline in self.rng.sample(DISCIPLINES, 2 if u.code == "mtsac" else 3):
                project = proves if discipline == "comms" else projects[u.pk]
                teams.append(Team(university=u, project=project, name=discipline.title(), discipline=discipline))
        return Team.objects.bulk_create(teams)

    def students(self, teams) -> list[Student]:
        """300 students over the teams, the first of each team its lead; every fourth team's
        lead and its other members are outgoing or incoming only (no one established)."""
        names = iter(self.rng.sample([f"{f} {last}" for f in FIRST for last in LAST], 300))
        rows = []
        for index, team in enumerate(teams):
            at_risk = index % 4 == 0
            for member in range(300 // len(teams) + (1 if index < 300 % len(teams) else 0)):
                if at_risk:
                    terms = 1 if member == 0 else self.rng.choice([1, 4, 5])
                else:
                    terms = self.rng.choice([1, 1, 2, 2, 3, 4, 4, 5]) if member else self.rng.choice([1, 2, 3])
                rows.append(
                    Student(
                        university_id=team.university_id,
                        team=team,
                        name=next(names),
                        expertise_area=team.discipline,
                        terms_remaining=terms,
                        is_lead=member == 0,
                        graduation_term=f"Spring {2026 + member % 3}",
                        user=self.logins.user("student_cpp") if index == 0 and member == 1 else None,
                    )
                )
        return Student.objects.bulk_create(rows)

    def interfaces(self, teams, students, proves) -> int:
        values = {
            factor: list(FactorValue.objects.filter(factor__name=factor).order_by("order", "id"))
            for factor in ("knowledge_type", "bond_strength", "temporal_alignment", "actor_autonomy")
        }
        links: dict[tuple, Interface] = {}

        def link(source, target, kind, risky: bool):
            interface = Interface.between(source, target, kind)
            links.setdefault(
                (interface.from_kind, interface.from_id, interface.to_kind, interface.to_id, kind), interface
            )
            interface.risky = risky

        by_university: dict[int, list[Team]] = {}
        for team in teams:
            by_university.setdefault(team.university_id, []).append(team)
        for members in by_university.values():
            for a, b in itertools.pairwise(members):
                link(a, b, "concurrent", risky=False)
        for team in teams:
            if team.project_id == proves.pk:
                link(team, proves, "external", risky=False)
        cpp_teams = by_university[teams[0].university_id]
        others = [t for t in teams if t.university_id != teams[0].university_id]
        for index, team in enumerate(others):
            link(cpp_teams[index % len(cpp_teams)], team, "external", risky=index % 3 == 0)
        outgoing = [s for s in students if s.terms_remaining <= 1]
        incoming = [s for s in students if s.terms_remaining >= 4]
        for leaving in outgoing[:60]:
            successor = self.rng.choice([s for s in incoming if s.team_id == leaving.team_id] or incoming)
            link(leaving, successor, "intergenerational", risky=self.rng.random() < 0.3)
        created = Interface.objects.bulk_create(links.values())
        assigned = []
        for interface, original in zip(created, links.values(), strict=True):
            # Risky interfaces have every factor, leaning to the costliest values (institutional,
            # weak, misaligned); the others some factors, leaning to the cheapest: all levels occur.
            factors = list(values.values())
            if not original.risky:
                factors = self.rng.sample(factors, self.rng.randint(1, len(factors)))
            for choices in factors:
                ranked = sorted(choices, key=lambda v: v.contribution)
                lean = ranked[-1] if original.risky else ranked[0]
                value = lean if self.rng.random() < 0.8 else self.rng.choice(ranked)
                assigned.append(
                    InterfaceFactorValue(
                        interface=interface, factor_id=value.factor_id, value=value, assigned_at=self.now
                    )
                )
        InterfaceFactorValue.objects.bulk_create(assigned)
        return len(created)

    def outcomes(self, universities, projects) -> int:
        risk = services.selectors.project_risk(FactorModel.objects.get(name="baseline_v1"))
        rows = []
        for u in universities:
            project = projects[u.pk]
            for year in range(2019, 2026):
                failure = 0.1 + 0.6 * float(risk.get(project.pk, 0))  # riskier projects fail more often
                rows.append(
                    Outcome(
                        university=u,
                        project=project,
                        outcome_type="mission_success",
                        success=self.rng.random() > failure,
                        cohort_year=year,
                    )
                )
        return len(Outcome.objects.bulk_create(rows))

    def onboarding(self, researcher, faculty, cpp, students) -> int:
        modules = {}
        for key, title, code, prerequisites, sections in MODULES:
            university = cpp if code == "cpp" else None
            module = Module.objects.create(
                key=key, title=title, university=university, prerequisites=prerequisites, author=researcher,
                category="onboarding", estimated_minutes=10 * len(sections),
            )  # fmt: skip
            ModuleSection.objects.bulk_create(
                ModuleSection(module=module, order=i, title=name, section_type="quiz" if "uiz" in name else "text")
                for i, name in enumerate(sections, start=1)
            )
            modules[key] = lms.publish(actor=researcher, module=module)
        learners = [s for s in students if s.university_id == cpp.pk]
        due = self.now - timedelta(days=7)
        for module in modules.values():
            lms.assign(actor=researcher, module=module, students=learners, due_at=due, required=True)
        rows = []
        for student in learners:
            start = self.now - timedelta(days=self.rng.randrange(10, 40), minutes=self.rng.randrange(600))
            for key in ("proves-orientation", "lab-safety", "flight-software-101"):
                module = modules[key]
                if key == "flight-software-101" and (student.pk, "lab-safety") not in self.finished:
                    break
                sections = list(module.sections.order_by("order"))
                stop = self.rng.choice([0, 1, 2, len(sections), len(sections), len(sections)])
                moment = start
                rows.append(self.event(student, module, None, "start", 0, moment))
                for section in sections[:stop]:
                    moment += timedelta(minutes=self.rng.randrange(3, 25))
                    seconds = self.rng.randrange(120, 900)
                    rows.append(self.event(student, module, section, "section_view", seconds, moment))
                if stop == len(sections):
                    moment += timedelta(minutes=1)
                    rows.append(self.event(student, module, None, "complete", 0, moment))
                    self.finished.add((student.pk, key))
                start = moment + timedelta(days=1)
        result = lms.ingest_events(lms.parse_events(orjson.dumps(rows)), actor=researcher)
        ModuleFeedback.objects.bulk_create(
            ModuleFeedback(
                student_id=student,
                module=modules[key],
                rating=self.rng.choice([3, 4, 4, 5, 5, 2]),
                comment=self.rng.choice(["", "", "Clear and useful.", "Too long.", "The quiz helped."]),
            )
            for student, key in sorted(self.finished)
        )
        return result.inserted

    @staticmethod
    def event(student, module, section, event_type: str, seconds: int, moment) -> dict:
        return {
            "student": student.pk, "module": module.pk, "section": section.pk if section else None,
            "event_type": event_type, "duration_seconds": seconds, "at": moment.isoformat(),
        }  # fmt: skip
