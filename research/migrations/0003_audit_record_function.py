# The audit entry and the day's usage count (research/audit.py) as one PL/pgSQL function: it
# prepares both inserts once in each connection and keeps their plans, where the same two
# statements sent from Python were parsed and planned on every request; one short call is
# also less to send (docs/research.md, "Audit and usage").

from django.db import migrations

# Both writes or neither (one statement). With ``async_commit`` the transaction commits without
# waiting for the WAL flush: a crash of the database server may forget the last fraction of a
# second of entries, never half of one. A request before authentication (no institution) is
# audited but counted in no institution's usage.
RECORD = """
CREATE FUNCTION research_audit_record(
    entry_at timestamptz, entry_trace_id varchar, entry_request_id varchar, entry_institution_id bigint,
    entry_key_prefix varchar, entry_method varchar, entry_route varchar, entry_status integer,
    entry_duration_ms double precision, entry_body text, entry_body_bytes bigint, entry_body_truncated boolean,
    entry_client_address inet, entry_user_agent varchar, async_commit boolean
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF async_commit THEN  -- the caller's word that this call is its own transaction
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO research_auditlog (at, trace_id, request_id, institution_id, key_prefix, method, route, status,
                                   duration_ms, body, body_bytes, body_truncated, client_address, user_agent)
    VALUES (entry_at, entry_trace_id, entry_request_id, entry_institution_id, entry_key_prefix, entry_method,
            entry_route, entry_status, entry_duration_ms, entry_body, entry_body_bytes, entry_body_truncated,
            entry_client_address, entry_user_agent);
    IF entry_institution_id IS NOT NULL THEN
        INSERT INTO research_usagemetrics AS u (institution_id, route, day, requests, errors, total_ms, max_ms)
        VALUES (entry_institution_id, entry_route, (entry_at AT TIME ZONE 'UTC')::date, 1,
                (entry_status >= 400)::integer, entry_duration_ms, entry_duration_ms)
        ON CONFLICT (institution_id, day, route) DO UPDATE SET
            requests = u.requests + 1,
            errors = u.errors + EXCLUDED.errors,
            total_ms = u.total_ms + EXCLUDED.total_ms,
            max_ms = greatest(u.max_ms, EXCLUDED.max_ms);
    END IF;
END
$$;
"""

SIGNATURE = (
    "research_audit_record(timestamptz, varchar, varchar, bigint, varchar, varchar, varchar, integer, "
    "double precision, text, bigint, boolean, inet, varchar, boolean)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("research", "0002_vector_store_count_and_expiry"),
    ]

    operations = [
        migrations.RunSQL(RECORD, reverse_sql=f"DROP FUNCTION {SIGNATURE}"),
    ]
