-- title: Totals
-- Answers: how many artifacts are loaded in all, in how many registries and package types, how often
--   they were downloaded, how many are quarantined, carry labels or have no known modification time,
--   and when the newest modification happened.
-- Parameters: none.
-- Reads: `artifacts` (the current artifacts: in snapshot mode, the rows without `_dlt_valid_to`)
--   and `artifacts__labels` (their labels); pipelines/queries.py points both at the dataset.
-- One row. Portable SQL: runs on DuckDB and PostgreSQL alike.
SELECT
    COUNT(*) AS artifacts,
    COUNT(DISTINCT a.registry_ref) AS registries,
    COUNT(DISTINCT a.package_type) AS package_types,
    CAST(COALESCE(SUM(a.downloads_count), 0) AS BIGINT) AS downloads,
    COUNT(*) FILTER (WHERE a.is_quarantined = TRUE) AS quarantined,
    (
        SELECT COUNT(DISTINCT l._dlt_parent_id)
        FROM artifacts__labels AS l
        JOIN artifacts AS la ON la._dlt_id = l._dlt_parent_id
    ) AS labelled,
    (
        SELECT COUNT(DISTINCT l.value)
        FROM artifacts__labels AS l
        JOIN artifacts AS la ON la._dlt_id = l._dlt_parent_id
    ) AS distinct_labels,
    COUNT(*) - COUNT(a.last_modified) AS unknown_last_modified,
    MAX(a.last_modified) AS newest_change
FROM artifacts AS a
