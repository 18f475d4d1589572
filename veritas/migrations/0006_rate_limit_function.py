# The rate-limit decision (veritas/ratelimit.py) as a PL/pgSQL function, so that it can be part
# of another statement (research counts a request in the query that reads its key: one round
# trip for both), and because PL/pgSQL prepares the upsert in each connection and keeps its plan,
# where the same statement sent from Python was parsed and planned on every request
# (docs/research.md). An unqualified name that is both a column and an OUT parameter (counts,
# admitted) means the column.

from django.db import migrations

# One row per key holds a count per window. A window whose start moved on counts from zero;
# the request is admitted only when every window has room, and then every count goes up by
# one (a refused request spends nothing). The row lock of the upsert serialises concurrent
# requests of one key, so exactly ``limit`` are admitted however many race. With
# ``async_commit`` the transaction commits without waiting for the WAL flush (SET LOCAL
# synchronous_commit = off): a crash of the server may forget the last fraction of a second's
# counts, never corrupt them.
HIT = """
CREATE FUNCTION veritas_rate_limit_hit(
    hit_key text, hit_starts timestamptz[], hit_limits integer[], async_commit boolean,
    OUT counts integer[], OUT admitted boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF async_commit THEN  -- the caller's word that this call is its own transaction
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO veritas_ratelimitcounter AS c (key, window_starts, counts, admitted)
    VALUES (hit_key, hit_starts, array_fill(1, ARRAY[cardinality(hit_starts)]), true)
    ON CONFLICT (key) DO UPDATE SET (window_starts, counts, admitted) = (
        SELECT EXCLUDED.window_starts, array_agg(current + ok::int ORDER BY i), bool_and(ok)
        FROM (
            SELECT i, current, bool_and(current < lim) OVER () AS ok
            FROM (
                SELECT l.i, l.lim,
                       CASE WHEN c.window_starts[l.i] = EXCLUDED.window_starts[l.i] THEN c.counts[l.i] ELSE 0 END
                       AS current
                FROM unnest(hit_limits) WITH ORDINALITY AS l(lim, i)
            ) windows
        ) decided
    )
    RETURNING c.counts, c.admitted INTO counts, admitted;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("veritas", "0005_rate_limit_windows"),
    ]

    operations = [
        migrations.RunSQL(
            HIT, reverse_sql="DROP FUNCTION veritas_rate_limit_hit(text, timestamptz[], integer[], boolean)"
        ),
    ]
