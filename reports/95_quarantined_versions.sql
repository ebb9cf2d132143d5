-- title: Quarantined versions
-- Answers: which versions are quarantined (`is_quarantined`) and why (`quarantine_reason`: several
--   reasons joined with "; ", NULL when the server gave none), by registry, artifact and version,
--   with their modification time, downloads and size.
-- Parameters: none.
-- Reads: `artifact_versions`, the current versions (see pipelines/queries.py); skipped when the
--   dataset was loaded without versions (`run --versions`): the JSON output lists it under
--   `skipped`; a note on stderr says so only when it is asked for by name
--   (`--report quarantined_versions`).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    v.registry_ref,
    v.artifact_name,
    v.artifact_type,
    v.package_type,
    v.version,
    v.quarantine_reason,
    v.last_modified,
    v.downloads_count,
    v.size
FROM artifact_versions AS v
WHERE v.is_quarantined = TRUE
ORDER BY v.registry_ref, v.artifact_name, v.artifact_type, v.version
