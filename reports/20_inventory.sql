-- title: Inventory by registry and package type
-- Answers: what each registry holds: artifacts per registry and package type, with their downloads,
--   how many are quarantined, and the newest modification among them (NULL when none is known).
-- Parameters: none.
-- Reads: `artifacts`, the current artifacts (see pipelines/queries.py).
-- Registries with no artifact loaded do not appear. Portable SQL: DuckDB and PostgreSQL.
SELECT
    a.registry_ref,
    a.package_type,
    COUNT(*) AS artifacts,
    CAST(COALESCE(SUM(a.downloads_count), 0) AS BIGINT) AS downloads,
    COUNT(*) FILTER (WHERE a.is_quarantined = TRUE) AS quarantined,
    MAX(a.last_modified) AS last_modified
FROM artifacts AS a
GROUP BY a.registry_ref, a.package_type
ORDER BY a.registry_ref, a.package_type
