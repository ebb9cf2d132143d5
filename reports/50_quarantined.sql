-- title: Quarantined artifacts
-- Answers: which artifacts are quarantined (`is_quarantined`), by registry and name, with their
--   latest version, modification time and downloads.
-- Parameters: none.
-- Reads: `artifacts`, the current artifacts (see pipelines/queries.py).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    a.registry_ref,
    a.name,
    a.artifact_type,
    a.package_type,
    a.latest_version,
    a.last_modified,
    a.downloads_count
FROM artifacts AS a
WHERE a.is_quarantined = TRUE
ORDER BY a.registry_ref, a.name, a.artifact_type
