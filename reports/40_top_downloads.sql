-- title: Top {top} downloads
-- Answers: the most downloaded artifacts. Ranked by `downloads_count` with ties sharing a rank
--   (1, 2, 2, 4, ...), so every artifact tied with the last place is listed too and the result does
--   not depend on how a database breaks ties. Never-downloaded artifacts (0 or NULL) are left out.
-- Parameters: :top (integer) = the last rank listed.
-- Reads: `artifacts`, the current artifacts (see pipelines/queries.py).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    ranked.download_rank,
    ranked.registry_ref,
    ranked.name,
    ranked.artifact_type,
    ranked.package_type,
    ranked.downloads_count
FROM (
    SELECT
        RANK() OVER (ORDER BY a.downloads_count DESC) AS download_rank,
        a.registry_ref,
        a.name,
        a.artifact_type,
        a.package_type,
        a.downloads_count
    FROM artifacts AS a
    WHERE a.downloads_count > 0
) AS ranked
WHERE ranked.download_rank <= :top
ORDER BY ranked.download_rank, ranked.registry_ref, ranked.name, ranked.artifact_type
