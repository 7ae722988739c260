-- silver.encounters. Foreign keys are re-keyed to the surrogate keys of their dimensions.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  encounter_id || '-' || datasource              AS encounter_key,
  encounter_id,
  datasource,
  patient_id || '-' || datasource                AS patient_key,
  provider_id || '-' || datasource               AS provider_key,
  department_id || '-' || datasource             AS department_key,
  TRY_CAST(encounter_date AS DATE)               AS encounter_date,
  encounter_type,
  CAST(procedure_code AS STRING)                 AS procedure_code,
  TRY_CAST(inserted_date AS DATE)                AS inserted_date,
  TRY_CAST(modified_date AS DATE)                AS modified_date,
  concat_ws(',',
    CASE WHEN encounter_date IS NOT NULL AND TRY_CAST(encounter_date AS DATE) IS NULL THEN 'encounter_date' END,
    CASE WHEN modified_date IS NOT NULL AND TRY_CAST(modified_date AS DATE) IS NULL THEN 'modified_date' END
  )                                              AS _cast_errors
FROM {{ staged }}
