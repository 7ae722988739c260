-- silver.claims: the insurers' monthly claims files, one model for every hospital. A claim
-- appears again in a later month's file when its status changes; SCD2 keeps each status, so the
-- first one (e.g. an initial denial) is never lost.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  claim_id || '-' || datasource                  AS claim_key,
  claim_id,
  datasource,
  transaction_id || '-' || datasource            AS transaction_key,
  patient_id || '-' || datasource                AS patient_key,
  encounter_id || '-' || datasource              AS encounter_key,
  provider_id || '-' || datasource               AS provider_key,
  department_id || '-' || datasource             AS department_key,
  TRY_CAST(service_date AS DATE)                 AS service_date,
  TRY_CAST(claim_date AS DATE)                   AS claim_date,
  TRY_CAST(paid_date AS DATE)                    AS paid_date,
  payer_name,
  payer_type,
  TRY_CAST(claim_amount AS DECIMAL(18,2))        AS claim_amount,
  TRY_CAST(allowed_amount AS DECIMAL(18,2))      AS allowed_amount,
  TRY_CAST(paid_amount AS DECIMAL(18,2))         AS paid_amount,
  TRY_CAST(deductible AS DECIMAL(18,2))          AS deductible,
  TRY_CAST(coinsurance AS DECIMAL(18,2))         AS coinsurance,
  TRY_CAST(copay AS DECIMAL(18,2))               AS copay,
  claim_status,
  NULLIF(denial_reason, '')                      AS denial_reason,
  TRY_CAST(insert_date AS DATE)                  AS insert_date,
  TRY_CAST(modified_date AS DATE)                AS modified_date,
  concat_ws(',',
    CASE WHEN claim_date IS NOT NULL AND TRY_CAST(claim_date AS DATE) IS NULL THEN 'claim_date' END,
    CASE WHEN claim_amount IS NOT NULL AND TRY_CAST(claim_amount AS DECIMAL(18,2)) IS NULL THEN 'claim_amount' END
  )                                              AS _cast_errors
FROM {{ staged }}
