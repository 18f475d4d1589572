"""Small synthetic OULAD-format files (the tests' fixtures and the demo data), with the real
files' quirks: quoted and unquoted files, ``?`` scores, empty ``imd_band``, ``date``,
``date_registration`` and ``date_unregistration``, the band ``10-20`` without ``%``, the age
band ``55<=``.

With ``signal`` the students who will withdraw miss assignments, score low and click little
(a model should find them); without it the final results are drawn independently of everything
else (a model should not).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

QUOTED = csv.QUOTE_ALL
PLAIN = csv.QUOTE_MINIMAL

REGIONS = ["Scotland", "Wales", "London Region", "East Anglian Region"]
EDUCATION = ["No Formal quals", "Lower Than A Level", "A Level or Equivalent", "HE Qualification"]
IMD = ["0-10%", "10-20", "20-30%", "30-40%", "40-50%", "50-60%", "60-70%", "70-80%", "80-90%", "90-100%", ""]
AGE = ["0-35", "0-35", "35-55", "55<="]

# (module, presentation, length in days)
PRESENTATIONS = [
    ("AAA", "2013B", 240),
    ("AAA", "2013J", 260),
    ("AAA", "2014B", 240),
    ("BBB", "2013J", 262),
    ("BBB", "2014B", 241),
]
# (type, deadline day or None, weight) of each presentation's calendar
CALENDAR = [("TMA", 20, 10), ("CMA", 30, 0), ("TMA", 50, 20), ("TMA", 90, 30), ("TMA", 130, 40), ("Exam", None, 100)]


@dataclass
class Oulad:
    """The rows written, for tests that need to know them."""

    directory: Path
    students: int = 0
    enrollments: list[tuple] = field(default_factory=list)
    submissions: int = 0
    events: int = 0


def write(
    directory: Path,
    *,
    students: int = 120,
    signal: bool = True,
    clicks: bool = False,
    seed: int = 7,
    presentations=PRESENTATIONS,
    files: tuple[str, ...] | None = None,
) -> Oulad:
    """Write the OULAD files for ``students`` students per presentation into ``directory``."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    directory.mkdir(parents=True, exist_ok=True)
    out = Oulad(directory)
    courses, assessments, vle, info, registration, submitted, events = [], [], [], [], [], [], []
    next_assessment, next_site, next_student = 1000, 500000, 10000
    returning: dict[str, list[str]] = {}  # module → students who withdrew before (they come back)
    for module, code, length in presentations:
        courses.append([module, code, length])
        calendar = []
        for kind, day, weight in CALENDAR:
            next_assessment += 1
            assessments.append([module, code, next_assessment, kind, "" if day is None else day, weight])
            calendar.append((next_assessment, kind, day, weight))
        sites = []
        for kind in ("resource", "oucontent", "forumng", "quiz"):
            next_site += 1
            vle.append([next_site, module, code, kind, "", ""])
            sites.append(next_site)
        earlier = list(returning.get(module, []))  # withdrew from an earlier presentation
        for _ in range(students):
            if earlier and rng.random() < 0.1:
                student = earlier.pop()
                returning[module].remove(student)
                prev_attempts = 1
            else:
                next_student += 1
                student = str(next_student)
                prev_attempts = 0
            risk = rng.random()
            if signal:
                result = (
                    "Withdrawn" if risk > 0.7 else "Fail" if risk > 0.5 else rng.choice(["Pass", "Pass", "Distinction"])
                )
            else:
                result = rng.choice(["Withdrawn", "Fail", "Pass", "Pass", "Distinction"])
            if result == "Withdrawn":
                returning.setdefault(module, []).append(student)
            info.append(
                [
                    module,
                    code,
                    student,
                    rng.choice("MF"),
                    rng.choice(REGIONS),
                    rng.choice(EDUCATION),
                    rng.choice(IMD),
                    rng.choice(AGE),
                    prev_attempts,
                    rng.choice([30, 60, 60, 120]),
                    rng.choice("NNNY"),
                    result,
                ]
            )
            registered = "" if rng.random() < 0.03 else -rng.randint(1, 150)
            unregistered = ""
            if result == "Withdrawn" and rng.random() < 0.8:
                unregistered = rng.randint(-5, length - 20)
            registration.append([module, code, student, registered, unregistered])
            out.enrollments.append((module, code, student, result))
            active_until = unregistered if unregistered != "" else length
            effort = (1 - risk) if signal else rng.random()
            for identifier, _kind, day, _weight in calendar:
                due = day if day is not None else length - 5
                if due > active_until or rng.random() > 0.35 + 0.65 * effort:
                    continue
                late = rng.random() < 0.15
                score = "?" if rng.random() < 0.02 else max(0, min(100, round(rng.gauss(40 + 55 * effort, 12))))
                submitted.append(
                    [student, identifier, due + (rng.randint(1, 6) if late else -rng.randint(0, 5)), 0, score]
                )
            if clicks:
                for day in range(-10, min(active_until, length), 3):
                    if rng.random() < 0.2 + 0.7 * effort:
                        events.append([module, code, student, rng.choice(sites), day, rng.randint(1, 8)])
                        if rng.random() < 0.1:  # OULAD repeats a student, site and day
                            events.append([module, code, student, sites[0], day, rng.randint(1, 3)])
    tables = {
        "courses.csv": (["code_module", "code_presentation", "module_presentation_length"], courses, QUOTED),
        "assessments.csv": (
            ["code_module", "code_presentation", "id_assessment", "assessment_type", "date", "weight"],
            assessments,
            QUOTED,
        ),
        "vle.csv": (
            ["id_site", "code_module", "code_presentation", "activity_type", "week_from", "week_to"],
            vle,
            QUOTED,
        ),
        "studentInfo.csv": (
            [
                "code_module",
                "code_presentation",
                "id_student",
                "gender",
                "region",
                "highest_education",
                "imd_band",
                "age_band",
                "num_of_prev_attempts",
                "studied_credits",
                "disability",
                "final_result",
            ],
            info,
            QUOTED,
        ),
        "studentRegistration.csv": (
            ["code_module", "code_presentation", "id_student", "date_registration", "date_unregistration"],
            registration,
            QUOTED,
        ),
        "studentAssessment.csv": (
            ["id_student", "id_assessment", "date_submitted", "is_banked", "score"],
            submitted,
            PLAIN,
        ),
    }
    if clicks:
        tables["studentVle.csv"] = (
            ["code_module", "code_presentation", "id_student", "id_site", "date", "sum_click"],
            events,
            QUOTED,
        )
    for name, (header, rows, quoting) in tables.items():
        if files is not None and name not in files:
            continue
        with (directory / name).open("w", newline="") as stream:
            writer = csv.writer(stream, quoting=quoting)
            writer.writerow(header)
            writer.writerows(rows)
    out.students = len({row[2] for row in info})
    out.submissions = len(submitted)
    out.events = len(events)
    return out
