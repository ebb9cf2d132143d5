-- title: Storage added per month
-- Answers: how fast storage grows: the versions last modified in each month (UTC, as YYYY-MM) and
--   the bytes they hold, oldest month first. Versions with an unknown modification time (NULL:
--   the server sent its zero time) are counted in one 'unknown' bucket, last. A month with no
--   version is not listed. A version pushed again counts in the month of its last modification.
-- Parameters: none.
-- Reads: `artifact_versions`, the current versions (see pipelines/queries.py); skipped when the
--   dataset was loaded without versions (`run --versions`): the JSON output lists it under
--   `skipped`; a note on stderr says so only when it is asked for by name
--   (`--report storage_by_month`).
-- Portable SQL: DuckDB and PostgreSQL (months taken in UTC whatever the session's time zone).
SELECT
    s.month,
    s.versions,
    s.size_bytes,
    CASE
        WHEN s.size_bytes >= 1099511627776
            THEN CAST(CAST(CAST(s.size_bytes AS DOUBLE PRECISION) / 1099511627776 AS DECIMAL(18, 2)) AS TEXT) || 'TB'
        WHEN s.size_bytes >= 1073741824
            THEN CAST(CAST(CAST(s.size_bytes AS DOUBLE PRECISION) / 1073741824 AS DECIMAL(18, 2)) AS TEXT) || 'GB'
        WHEN s.size_bytes >= 1048576
            THEN CAST(CAST(CAST(s.size_bytes AS DOUBLE PRECISION) / 1048576 AS DECIMAL(18, 2)) AS TEXT) || 'MB'
        WHEN s.size_bytes >= 1024
            THEN CAST(CAST(CAST(s.size_bytes AS DOUBLE PRECISION) / 1024 AS DECIMAL(18, 2)) AS TEXT) || 'KB'
        ELSE CAST(CAST(s.size_bytes AS DECIMAL(18, 2)) AS TEXT) || 'B'
    END AS size
FROM (
    SELECT
        m.month,
        COUNT(*) AS versions,
        CAST(COALESCE(SUM(m.size_bytes), 0) AS BIGINT) AS size_bytes
    FROM (
        SELECT
            CASE
                WHEN v.last_modified IS NULL THEN 'unknown'
                ELSE CAST(CAST(EXTRACT(YEAR FROM v.last_modified AT TIME ZONE 'UTC') AS BIGINT) AS TEXT)
                    || '-'
                    || LPAD(
                        CAST(CAST(EXTRACT(MONTH FROM v.last_modified AT TIME ZONE 'UTC') AS BIGINT) AS TEXT),
                        2,
                        '0'
                    )
            END AS month,
            v.size_bytes
        FROM artifact_versions AS v
    ) AS m
    GROUP BY m.month
) AS s
ORDER BY CASE WHEN s.month = 'unknown' THEN 1 ELSE 0 END, s.month
