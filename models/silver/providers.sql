-- silver.providers. NPIs are strings: they are 10-digit identifiers, many exceed int32, and a
-- leading zero or a check digit must never be lost to arithmetic.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  provider_id || '-' || datasource               AS provider_key,
  provider_id,
  datasource,
  first_name,
  last_name,
  specialization,
  department_id,
  department_id || '-' || datasource             AS department_key,
  CAST(npi AS STRING)                            AS npi,
  '' AS _cast_errors
FROM {{ staged }}
