-- silver.departments.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  department_id || '-' || datasource             AS department_key,
  department_id,
  datasource,
  name,
  '' AS _cast_errors
FROM {{ staged }}
