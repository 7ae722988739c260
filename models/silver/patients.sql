-- silver.patients: one patient model for every hospital, whatever its column names.
-- The mapping from each hospital's columns to these names is in rcmlake.yaml (silver.entities).
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  -- A row without an id still gets a stable key of its own, so it is kept (and quarantined)
  -- instead of being merged with other id-less rows.
  coalesce(patient_id, '?' || md5(concat_ws('|', first_name, last_name, ssn, dob, address)))
    || '-' || datasource                         AS patient_key,
  patient_id,
  datasource,
  first_name,
  last_name,
  middle_name,
  ssn,
  phone_number,
  gender,
  TRY_CAST(dob AS DATE)                          AS dob,
  address,
  TRY_CAST(modified_date AS DATE)                AS modified_date,
  concat_ws(',',
    CASE WHEN dob IS NOT NULL AND TRY_CAST(dob AS DATE) IS NULL THEN 'dob' END,
    CASE WHEN modified_date IS NOT NULL AND TRY_CAST(modified_date AS DATE) IS NULL THEN 'modified_date' END
  )                                              AS _cast_errors
FROM {{ staged }}
