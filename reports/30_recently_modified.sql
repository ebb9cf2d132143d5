-- title: Artifacts modified in the last {days}
-- Answers: which artifacts changed (a new latest version pushed) in the last N days, newest first,
--   judged by `last_modified`. Rows dated after the report time (clock skew) are included; rows
--   with an unknown modification time (NULL) are not.
-- Parameters: :since (TIMESTAMP WITH TIME ZONE) = report time - N days; a row at :since is in.
-- Reads: `artifacts`, the current artifacts (see pipelines/queries.py).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    a.last_modified,
    a.registry_ref,
    a.name,
    a.artifact_type,
    a.package_type,
    a.latest_version
FROM artifacts AS a
WHERE a.last_modified >= :since
ORDER BY a.last_modified DESC, a.registry_ref, a.name, a.artifact_type
