"""Demo data for `make run`: two cohorts with a teacher each and a head of year who sees
both, 60 students, concept modules with prerequisites in three subjects, a term of twelve
weeks up to now of assessments with realistic trends (most students steady, some improving,
some declining, a few inactive for the last three weeks, one withdrawn), and drafts in every
state.

Everything is written the way staff would: cohorts, modules and drafts through
dashboard/services.py, students and assessments through dashboard/ingest.py (the bulk path),
so the performance records are exact and the audit trail says "manage.py seed_demo". A fixed
random seed makes the data the same each time. Idempotent: nothing is added when the demo
cohorts exist.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from dashboard import ingest, services
from dashboard.apps import ADMINISTRATORS, ensure_administrators_group
from dashboard.models import Cohort, ConceptModule, Student
from veritas import audit
from veritas.demo import DemoLogins

TERM = "Demo term"
COHORTS = [("Year 10 A", "teacher_a"), ("Year 10 B", "teacher_b")]
HEAD = "head_of_year"
STUDENTS_PER_COHORT = 30
WEEKS = 12
INACTIVE_DAYS = 21  # the inactive students' last assessment is older than this
SEED = 2026

# subject → its modules in teaching order: (code, name, prerequisite codes).
CURRICULUM = {
    "Mathematics": [
        ("ALG1", "Linear equations", []),
        ("GEO1", "Angles and triangles", []),
        ("ALG2", "Quadratic equations", ["ALG1"]),
        ("TRIG1", "Right-angle trigonometry", ["ALG2", "GEO1"]),
    ],
    "English": [
        ("ENG-R1", "Close reading", []),
        ("ENG-W1", "Paragraph structure", []),
        ("ENG-W2", "Argumentative essays", ["ENG-R1", "ENG-W1"]),
    ],
    "Science": [
        ("SCI-F1", "Forces and motion", []),
        ("SCI-C1", "Atoms and the periodic table", []),
        ("SCI-E1", "Energy transfers", ["SCI-F1"]),
    ],
}
# Days into the week each subject's quiz falls on (the term's weeks end now).
QUIZ_DAY = {"Mathematics": 1, "English": 2, "Science": 3}

FIRST_NAMES = [
    "Amara", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ibrahim", "Jonas", "Kaia", "Liam",
    "Mei", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Ximena",
    "Yusuf", "Zoe", "Aino", "Bruno", "Carmen", "Diego",
]  # fmt: skip
LAST_NAMES = [
    "Achterberg", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka",
]  # fmt: skip

ESSAYS = [
    ("Why the bridge stands: forces in a truss", "Science"),
    ("Reading the opening of Great Expectations", "English"),
    ("Should our school ban phones? An argument", "English"),
    ("Solving quadratics three ways", "Mathematics"),
    ("Energy in a roller coaster", "Science"),
    ("Measuring the school tower with trigonometry", "Mathematics"),
]
SENTENCES = [
    "I started from what the question asks and wrote down what I already know.",
    "The first method is quicker, but the second one shows why the answer is right.",
    "My evidence comes from the text and from the experiment we did in class.",
    "One counter-argument is that it costs too much, but the numbers suggest otherwise.",
    "I checked the result by substituting it back, and both sides agree.",
    "In the next paragraph I compare the two approaches and say which I prefer.",
    "The diagram shows each force with its direction and size.",
    "To conclude, the claim holds in most cases, with one exception I explain below.",
]


@dataclass(frozen=True)
class Profile:
    """How a student's scores move over the term (percentage points)."""

    kind: str  # steady, improving, declining, inactive, withdrawn
    base: float  # the level at the start of the term
    slope: float  # points per week
    noise: float


def profiles(rng: random.Random) -> list[Profile]:
    """One cohort's students: 4 declining, 5 improving, 2 inactive, 1 withdrawn, the rest
    steady, in a shuffled order."""
    kinds = ["declining"] * 4 + ["improving"] * 5 + ["inactive"] * 2 + ["withdrawn"]
    kinds += ["steady"] * (STUDENTS_PER_COHORT - len(kinds))
    rng.shuffle(kinds)
    result = []
    for kind in kinds:
        if kind == "declining":
            result.append(Profile(kind, rng.uniform(74, 86), rng.uniform(-4.0, -2.5), 6))
        elif kind == "improving":
            result.append(Profile(kind, rng.uniform(48, 60), rng.uniform(2.0, 3.5), 6))
        else:
            result.append(Profile(kind, min(92, max(38, rng.gauss(68, 10))), rng.uniform(0.0, 0.8), 5))
    return result


def seed(*, stdout) -> None:
    if Cohort.objects.filter(term=TERM, name__in=[name for name, _ in COHORTS]).exists():
        users = ", ".join([*(username for _, username in COHORTS), HEAD])
        stdout.write(
            f"Dashboard: the demo cohorts exist ({TERM}); its staff are {users} (to set a password: "
            ".venv/bin/python manage.py changepassword teacher_a)."
        )
        return
    with audit.command("seed_demo"):
        Demo(random.Random(SEED), stdout).run()  # noqa: S311 (demo data)


class Demo:
    def __init__(self, rng: random.Random, stdout):
        self.rng, self.stdout = rng, stdout
        self.now = timezone.now().replace(second=0, microsecond=0)
        self.start = self.now - timedelta(weeks=WEEKS)
        self.logins = DemoLogins()

    def run(self) -> None:
        head = self.staff_user(HEAD, "Head of year")
        ensure_administrators_group(sender=None)
        head.groups.add(Group.objects.get(name=ADMINISTRATORS))
        modules = self.curriculum(head)
        names = self.rng.sample(
            [(f, last) for f in FIRST_NAMES for last in LAST_NAMES], len(COHORTS) * STUDENTS_PER_COHORT
        )
        assessments = drafts = 0
        for index, (cohort_name, username) in enumerate(COHORTS):
            teacher = self.staff_user(username, f"Teacher of {cohort_name}")
            cohort = services.save_cohort(actor=head, data={"name": cohort_name, "term": TERM, "staff": [teacher]})
            people = names[index * STUDENTS_PER_COHORT : (index + 1) * STUDENTS_PER_COHORT]
            students = self.students(head, cohort, index, people)
            assessments += self.assessments(teacher, students, modules)
            drafts += self.drafts(head, teacher, students)
        self.stdout.write(
            f"Dashboard: {len(COHORTS)} cohorts of {STUDENTS_PER_COHORT} students, {assessments:,} assessments over "
            f"{WEEKS} weeks, {drafts} drafts in every state."
        )
        if self.logins.created:
            where = self.logins.password_note
            self.stdout.write(
                f"Dashboard staff {', '.join(self.logins.created)} (a teacher of each cohort; the head of year sees "
                f"both) log in to the admin with the password {where}."
            )

    def staff_user(self, username: str, role: str):
        first, _, last = role.partition(" ")
        return self.logins.user(username, is_staff=True, first_name=first, last_name=last)

    def curriculum(self, head) -> dict[str, list[ConceptModule]]:
        modules: dict[str, list[ConceptModule]] = {}
        by_code: dict[str, ConceptModule] = {}
        for subject, units in CURRICULUM.items():
            for order, (code, name, prerequisites) in enumerate(units, start=1):
                module = ConceptModule.objects.filter(code=code).first() or services.save_module(
                    actor=head,
                    data={
                        "subject": subject,
                        "code": code,
                        "name": name,
                        "order": order,
                        "description": f"{subject}, unit {order}: {name.lower()}.",
                        "prerequisites": [by_code[p] for p in prerequisites],
                    },
                )
                by_code[code] = module
                modules.setdefault(subject, []).append(module)
        return modules

    def students(self, head, cohort, index: int, people: list[tuple[str, str]]) -> list[tuple[Student, Profile]]:
        letter = "ab"[index]
        rows = []
        cohort_profiles = profiles(self.rng)
        for number, ((first, last), profile) in enumerate(zip(people, cohort_profiles, strict=True), start=1):
            external_id = f"demo-{letter}{number:02d}"
            local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
            row = ingest.StudentRow(
                external_id=external_id,
                name=f"{first} {last}",
                email=f"{local}.{letter}{number:02d}@demo.veritas.example",
                is_active=profile.kind != "withdrawn",
            )
            rows.append((f"line {number + 1}", row))
        ingest.import_students(rows, actor=head, cohort=cohort)
        by_id = Student.objects.in_bulk([row.external_id for _, row in rows], field_name="external_id")
        return [(by_id[row.external_id], profile) for (_, row), profile in zip(rows, cohort_profiles, strict=True)]

    def assessments(self, teacher, students, modules) -> int:
        """A quiz a week per subject, an assignment every other week, a mid-term and an end
        of term exam; practice now and then. Through the bulk import, as the teacher."""
        rows = []
        offsets = {subject: self.rng.uniform(-3, 3) for subject in CURRICULUM}
        for student, profile in students:
            last_day = self.now
            if profile.kind == "inactive":
                last_day = self.now - timedelta(days=INACTIVE_DAYS)
            elif profile.kind == "withdrawn":
                last_day = self.start + timedelta(weeks=6)
            for subject, units in modules.items():
                for week in range(WEEKS):
                    unit = units[min(week * len(units) // WEEKS, len(units) - 1)]
                    week_start = self.start + timedelta(weeks=week)
                    planned = [("quiz", 20, QUIZ_DAY[subject], [unit])]
                    if week % 2 == 1:
                        planned.append(("assignment", 50, 4, [unit]))
                    if week in (5, WEEKS - 1):
                        covered = units[: units.index(unit) + 1]
                        planned.append(("exam", 100, 0.5 + QUIZ_DAY[subject] / 2, covered))
                    if self.rng.random() < 0.3:
                        planned.append(("practice", 10, 5, [unit]))
                    for kind, max_score, day, tagged in planned:
                        taken_at = week_start + timedelta(days=day, hours=8 + self.rng.randrange(8))
                        if taken_at > last_day:
                            continue
                        level = profile.base + offsets[subject] + profile.slope * week
                        noise = profile.noise * (0.6 if kind == "exam" else 1)
                        percent = min(100.0, max(0.0, self.rng.gauss(level, noise)))
                        score = Decimal(round(percent / 100 * max_score * 2) / 2).quantize(Decimal("0.01"))
                        row = ingest.AssessmentRow(
                            student=student.external_id,
                            kind=kind,
                            subject=subject,
                            score=score,
                            max_score=Decimal(max_score),
                            taken_at=taken_at,
                            concept_modules=[module.code for module in tagged],
                        )
                        rows.append((str(len(rows)), row))
        ingest.import_assessments(rows, actor=teacher)
        return len(rows)

    def drafts(self, head, teacher, students) -> int:
        """Five students of the cohort have logins and drafts: one in each state, a returned
        one resubmitted, and the first declining student's waiting for review."""
        declining = [s for s, p in students if p.kind == "declining"]
        others = [s for s, p in students if p.kind in ("steady", "improving")]
        writers = [declining[0], *others[:4]]
        User = get_user_model()
        for student in writers:
            login = User.objects.create_user(
                username=student.external_id, email=student.email, password=None, first_name=student.name
            )
            services.update_student(actor=head, student=student, data={"user": login})
        essays = self.rng.sample(ESSAYS, len(ESSAYS))

        def write(student, number: int):
            title, _ = essays[number % len(essays)]
            body = "\n\n".join(" ".join(self.rng.sample(SENTENCES, 4)) for _ in range(3))
            return services.create_draft(actor=student.user, student=student, title=title, body=body)

        def submit(draft):
            return services.submit_draft(actor=draft.student.user, draft=draft)

        def review(draft):
            return services.start_review(actor=teacher, draft=draft)

        waiting, in_review, returned, accepted, resubmitted = writers
        submit(write(waiting, 0))  # submitted: the declining student's, for the teacher to review
        review(submit(write(in_review, 1)))  # in review
        services.return_draft(
            actor=teacher,
            draft=review(submit(write(returned, 2))),
            feedback="Your argument needs evidence: quote the text in your second paragraph.",
        )
        services.accept_draft(
            actor=teacher, draft=review(submit(write(accepted, 3))), feedback="Clear and well argued. Well done."
        )
        write(accepted, 4)  # a draft still being written
        again = services.return_draft(
            actor=teacher, draft=review(submit(write(resubmitted, 5))), feedback="Show your working for part (b)."
        )
        services.edit_draft(
            actor=resubmitted.user, draft=again, data={"body": again.body + "\n\nPart (b), worked: see above."}
        )
        submit(again)  # submitted a second time
        return 6
