from monitoring.ingest import LogEntry
from monitoring.serializers import LogEntryInSerializer


def test_the_documented_row_matches_the_validated_row():
    documented = LogEntryInSerializer().fields
    validated = LogEntry.model_fields

    assert set(documented) == set(validated)
    for name, field in documented.items():
        assert field.required == validated[name].is_required(), name
