-- title: Storage by registry and package type
-- Answers: how much storage each registry holds, per package type: its artifacts with versions
--   loaded, their versions (Docker and Helm: tags), the bytes those take (`size_bytes`, the server's
--   size string in 1024-based units) and the same as a readable size ("1.50MB": two decimals, the
--   largest 1024-based unit below it, as the server writes sizes). Largest first.
--   Docker and Helm rows are tags: two tags of one image count its size twice (the versions list
--   does not say which image a tag points at). A version whose size is unknown adds no bytes.
-- Parameters: none.
-- Reads: `artifact_versions`, the current versions (see pipelines/queries.py); skipped when the
--   dataset was loaded without versions (`run --versions`): the JSON output lists it under
--   `skipped`; a note on stderr says so only when it is asked for by name (`--report storage`).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    s.registry_ref,
    s.package_type,
    s.artifacts,
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
        v.registry_ref,
        v.package_type,
        COUNT(DISTINCT v.artifact_name || '/' || v.artifact_type) AS artifacts,
        COUNT(*) AS versions,
        CAST(COALESCE(SUM(v.size_bytes), 0) AS BIGINT) AS size_bytes
    FROM artifact_versions AS v
    GROUP BY v.registry_ref, v.package_type
) AS s
ORDER BY s.size_bytes DESC, s.registry_ref, s.package_type
