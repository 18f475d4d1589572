"""manage.py import_oulad: the quirks, idempotency, all-or-nothing per file, line-numbered errors."""

import io

import pytest
from django.core.management import CommandError, call_command

from dashboard.models import Student
from dropout import synthetic as oulad
from dropout.models import (
    Assessment,
    AssessmentSubmission,
    AttemptHistory,
    Enrollment,
    LearningActivity,
    LearningEvent,
    Presentation,
)
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db


def run(directory) -> str:
    out = io.StringIO()
    call_command("import_oulad", str(directory), stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    return {
        "presentations": sorted(Presentation.objects.values_list("course__code", "code", "start_date", "length_days")),
        "assessments": sorted(Assessment.objects.values_list("external_id", "deadline_day", "weight")),
        "enrollments": sorted(
            Enrollment.objects.values_list(
                "student__external_id",
                "presentation_id",
                "registered_day",
                "unregistered_day",
                "final_result",
                "imd_band",
                "age_band",
            )
        ),
        "submissions": sorted(AssessmentSubmission.objects.values_list("enrollment_id", "assessment_id", "score")),
        "events": LearningEvent.objects.count(),
        "attempts": sorted(AttemptHistory.objects.values_list("student_id", "presentation_id", "result")),
    }


def test_imports_every_file_with_the_quirks(tmp_path):
    written = oulad.write(tmp_path, clicks=True)
    output = run(tmp_path)

    assert Presentation.objects.count() == len(oulad.PRESENTATIONS)
    aaa = Presentation.objects.get(course__code="AAA", code="2013J")
    assert (aaa.start_date.month, aaa.start_date.day, aaa.length_days) == (10, 1, 260)  # J: October
    assert Presentation.objects.get(course__code="AAA", code="2013B").start_date.month == 2
    assert Enrollment.objects.count() == len(written.enrollments)
    assert Student.objects.filter(enrollments__isnull=False).distinct().count() == written.students
    assert AssessmentSubmission.objects.count() == written.submissions
    assert LearningEvent.objects.count() == written.events
    assert LearningActivity.objects.count() == 4 * len(oulad.PRESENTATIONS)
    # Quirks: exams without a date, "?" scores, "10-20" and "55<=", empty imd_band and registration.
    assert Assessment.objects.filter(assessment_type="Exam", deadline_day__isnull=True).count() == len(
        oulad.PRESENTATIONS
    )
    assert AssessmentSubmission.objects.filter(score__isnull=True).exists()
    assert Enrollment.objects.filter(imd_band="10-20%").exists()
    assert Enrollment.objects.filter(age_band="55+").exists()
    assert Enrollment.objects.filter(imd_band="").exists()
    assert Enrollment.objects.filter(registered_day__isnull=True).exists()
    assert set(Enrollment.objects.values_list("final_result", flat=True)) == {
        "pass",
        "fail",
        "withdrawn",
        "distinction",
    }
    # Earlier attempts: a student who withdrew and came back has the first attempt on record.
    returning = Enrollment.objects.filter(previous_attempts=1).first()
    assert AttemptHistory.objects.filter(student=returning.student, result="withdrawn").exists()
    assert output.splitlines()[-1].startswith("imported 7 files: ")
    assert "studentInfo.csv: 600 rows, 600 created, 0 updated, 0 unchanged" in output
    # One audit entry per file, by the command.
    entries = ActionLog.objects.filter(verb="import")
    assert entries.count() == 7
    assert {entry.changes["file"] for entry in entries} == {spec for spec, *_ in oulad_files()}


def oulad_files():
    from dropout.ingest import FILES

    return [(spec.name,) for spec in FILES]


def test_running_twice_changes_nothing(tmp_path):
    oulad.write(tmp_path, clicks=True)
    run(tmp_path)
    before = snapshot()
    output = run(tmp_path)
    assert snapshot() == before
    assert output.splitlines()[-1].endswith(
        "0 created, 0 updated, " + output.split("rows, ")[-1].split(" unchanged")[0].split(", ")[-1] + " unchanged"
    )
    for line in output.splitlines()[:-1]:
        assert ", 0 created, 0 updated, " in line
    assert "already imported, left alone: AAA 2013B" in output


def test_a_corrected_file_updates_what_changed(tmp_path):
    oulad.write(tmp_path)
    run(tmp_path)
    path = tmp_path / "courses.csv"
    path.write_text(path.read_text().replace('"AAA","2013J","260"', '"AAA","2013J","266"'))
    output = run(tmp_path)
    assert "courses.csv: 5 rows, 0 created, 1 updated, 4 unchanged" in output
    assert Presentation.objects.get(course__code="AAA", code="2013J").length_days == 266


def test_a_file_with_bad_rows_imports_nothing_of_itself_and_names_the_lines(tmp_path):
    oulad.write(tmp_path)
    path = tmp_path / "studentAssessment.csv"
    lines = path.read_text().splitlines()
    student, assessment = lines[3].split(",")[:2]
    lines[3] = f"{student},{assessment},12,0,140"  # line 4: score out of range
    lines[5] = "999999,1001,12,0,50"  # line 6: no such student on that presentation
    lines[7] = lines[7].split(",")[0] + ",777,12,0,50"  # line 8: no such assessment
    path.write_text("\n".join(lines) + "\n")
    errors = io.StringIO()
    with pytest.raises(CommandError, match=r"studentAssessment.csv: 1 problem\(s\): nothing of this file was imported"):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=errors)
    assert "studentAssessment.csv: line 4: score: Input should be less than or equal to 100" in errors.getvalue()
    assert AssessmentSubmission.objects.count() == 0
    assert Enrollment.objects.count() == 600  # the files before it went in
    # Once the field is right, the references are checked: every bad line is named.
    lines[3] = f"{student},{assessment},12,0,40"
    path.write_text("\n".join(lines) + "\n")
    errors = io.StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=errors)
    assert "line 8: id_assessment: No assessment 777" in errors.getvalue()
    assert AssessmentSubmission.objects.count() == 0


def test_unknown_references_and_repeated_keys_are_line_errors(tmp_path):
    oulad.write(tmp_path, files=("courses.csv", "studentInfo.csv"))
    path = tmp_path / "studentInfo.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace('"AAA","2013B"', '"ZZZ","2013B"', 1)
    lines.append(lines[5])
    path.write_text("\n".join(lines) + "\n")
    errors = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=errors)
    assert f"line {len(lines)}: row: The same student, module and presentation as line 6." in errors.getvalue()
    assert Enrollment.objects.count() == 0


def test_missing_columns_and_bad_encoding_are_refused(tmp_path):
    (tmp_path / "courses.csv").write_text("code_module,code_presentation\nAAA,2013J\n")
    with pytest.raises(CommandError):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=(errors := io.StringIO()))
    assert "header: Missing column(s): module_presentation_length." in errors.getvalue()
    (tmp_path / "courses.csv").write_bytes(
        b"code_module,code_presentation,module_presentation_length\nAA\xe9,2013J,200\n"
    )
    with pytest.raises(CommandError):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=(errors := io.StringIO()))
    assert "encoding: Not UTF-8" in errors.getvalue()
    assert Presentation.objects.count() == 0


def test_a_directory_without_oulad_files(tmp_path):
    with pytest.raises(CommandError, match=r"holds none of: courses\.csv"):
        call_command("import_oulad", str(tmp_path))
    with pytest.raises(CommandError, match="No such directory"):
        call_command("import_oulad", str(tmp_path / "nope"))


def test_a_different_click_stream_for_an_imported_presentation_is_refused(tmp_path):
    oulad.write(tmp_path, clicks=True)
    run(tmp_path)
    events = LearningEvent.objects.count()
    path = tmp_path / "studentVle.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # one row fewer: BBB 2014B differs
    with pytest.raises(CommandError, match=r"studentVle\.csv"):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=(errors := io.StringIO()))
    assert "BBB 2014B already has" in errors.getvalue()
    assert LearningEvent.objects.count() == events


def test_click_rows_naming_unknown_sites_or_students_are_line_errors(tmp_path):
    oulad.write(tmp_path, clicks=True)
    path = tmp_path / "studentVle.csv"
    lines = path.read_text().splitlines()
    lines[1] = '"AAA","2013B","424242","500001","3","2"'
    lines[2] = lines[2].rsplit(",", 3)[0] + ',"999","3","2"'
    lines[3] = lines[3].rsplit(",", 1)[0] + ',"0"'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="3 problem"):
        call_command("import_oulad", str(tmp_path), stdout=io.StringIO(), stderr=(errors := io.StringIO()))
    text = errors.getvalue()
    assert "line 2: id_student: No enrolment of student 424242 on AAA 2013B." in text
    assert "line 3: id_site: No site 999 on AAA 2013B." in text
    assert "line 4: sum_click: Input should be greater than or equal to 1" in text
    assert LearningEvent.objects.count() == 0
