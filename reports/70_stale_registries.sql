-- title: Registries with no change in the last {days}
-- Answers: which registries saw no artifact modified in the last N days: their newest known
--   `last_modified` is before :since, or none of their artifacts has a known modification time.
--   Oldest first; `days_without_change` counts whole days from the newest change to the report time.
-- Parameters: :since (TIMESTAMP WITH TIME ZONE) = report time - N days;
--   :now (TIMESTAMP WITH TIME ZONE) = the report time.
-- Reads: `artifacts`, the current artifacts (see pipelines/queries.py).
-- Registries are those with artifacts loaded. Portable SQL: DuckDB and PostgreSQL.
SELECT
    a.registry_ref,
    COUNT(*) AS artifacts,
    MAX(a.last_modified) AS last_change,
    CAST(
        FLOOR(
            (
                CAST(EXTRACT(EPOCH FROM CAST(:now AS TIMESTAMP WITH TIME ZONE)) * 1000 AS BIGINT)
                - CAST(EXTRACT(EPOCH FROM MAX(a.last_modified)) * 1000 AS BIGINT)
            ) / 86400000.0
        ) AS BIGINT
    ) AS days_without_change
FROM artifacts AS a
GROUP BY a.registry_ref
HAVING MAX(a.last_modified) IS NULL OR MAX(a.last_modified) < :since
ORDER BY last_change NULLS FIRST, a.registry_ref
