-- silver.departments.
SELECT
  _source_seq, _ingest_seq,                      -- as staged: they order each key's versions
  department_id || '-' || datasource             AS department_key,
  department_id,
  datasource,
  name,
  '' AS _cast_errors
FROM {{ staged }}
