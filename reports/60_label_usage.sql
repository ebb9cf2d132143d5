-- title: Label usage
-- Answers: which labels are in use, on how many artifacts and in how many registries, most used
--   first. Labels are matched exactly (from `artifacts__labels`, not the flat `labels_text`).
-- Parameters: none.
-- Reads: `artifacts__labels`, the labels of the current artifacts (column `value`, joined to its
--   artifact by `_dlt_parent_id` = `_dlt_id`), and `artifacts`, the current artifacts
--   (see pipelines/queries.py).
-- Portable SQL: DuckDB and PostgreSQL.
SELECT
    l.value AS label,
    COUNT(DISTINCT a._dlt_id) AS artifacts,
    COUNT(DISTINCT a.registry_ref) AS registries
FROM artifacts__labels AS l
JOIN artifacts AS a ON a._dlt_id = l._dlt_parent_id
GROUP BY l.value
ORDER BY artifacts DESC, label
