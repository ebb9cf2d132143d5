-- title: Cleanup candidates: versions older than {cleanup_days}, never downloaded
-- Answers: which versions could be deleted, and the bytes each holds: versions that are not their
--   artifact's latest version, were last modified before :cleanup_before, and were never
--   downloaded (`downloads_count` = 0). Largest first, then by registry, artifact and version.
--   "Latest" is the artifact's `latest_version` in `artifacts` (what the server names its latest
--   version), not the newest `last_modified` among the versions: a re-pushed old version or one
--   with an unknown time must not move it. So only versions whose artifact is loaded, with a
--   `latest_version`, are judged; versions with an unknown modification time (NULL) or unknown
--   downloads are never candidates. Every candidate is listed (not cut at :top): the sum is the
--   storage a cleanup would free (tables show the first 100 rows; csv and json all).
--   Docker and Helm rows are tags: deleting a tag frees the image only when no other tag points
--   at it.
-- Parameters: :cleanup_before (TIMESTAMP WITH TIME ZONE) = report time - the cleanup age
--   (`report --cleanup-days`, default 90); a version modified exactly at :cleanup_before is kept.
-- Reads: `artifact_versions`, the current versions, and `artifacts`, the current artifacts (see
--   pipelines/queries.py); skipped when the dataset was loaded without versions:
--   the JSON output lists it under `skipped`; a note on stderr says so only when it is asked for
--   by name (`--report cleanup_candidates`).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    v.registry_ref,
    v.artifact_name,
    v.artifact_type,
    v.package_type,
    v.version,
    a.latest_version,
    v.last_modified,
    v.downloads_count,
    v.size,
    v.size_bytes
FROM artifact_versions AS v
JOIN artifacts AS a
    ON a.registry_ref = v.registry_ref
    AND a.name = v.artifact_name
    AND a.artifact_type = v.artifact_type
WHERE a.latest_version IS NOT NULL
    AND v.version <> a.latest_version
    AND v.last_modified < :cleanup_before
    AND v.downloads_count = 0
ORDER BY
    v.size_bytes DESC NULLS LAST,
    v.registry_ref,
    v.artifact_name,
    v.artifact_type,
    v.version
