-- silver.transactions. Money is decimal(18,2), never float: the source's float artefacts
-- (988.3699951171875) are rounded to the cent once, here.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  coalesce(transaction_id, '?' || md5(concat_ws('|', encounter_id, patient_id, service_date, amount)))
    || '-' || datasource                         AS transaction_key,
  transaction_id,
  datasource,
  encounter_id || '-' || datasource              AS encounter_key,
  patient_id || '-' || datasource                AS patient_key,
  provider_id || '-' || datasource               AS provider_key,
  department_id || '-' || datasource             AS department_key,
  TRY_CAST(visit_date AS DATE)                   AS visit_date,
  TRY_CAST(service_date AS DATE)                 AS service_date,
  TRY_CAST(paid_date AS DATE)                    AS paid_date,
  visit_type,
  TRY_CAST(amount AS DECIMAL(18,2))              AS amount,
  amount_type,
  TRY_CAST(paid_amount AS DECIMAL(18,2))         AS paid_amount,
  claim_id,
  claim_id || '-' || datasource                  AS claim_key,
  payor_id,
  CAST(procedure_code AS STRING)                 AS procedure_code,
  icd_code,
  line_of_business,
  medicaid_id,
  medicare_id,
  TRY_CAST(insert_date AS DATE)                  AS insert_date,
  TRY_CAST(modified_date AS DATE)                AS modified_date,
  concat_ws(',',
    CASE WHEN service_date IS NOT NULL AND TRY_CAST(service_date AS DATE) IS NULL THEN 'service_date' END,
    CASE WHEN paid_date IS NOT NULL AND TRY_CAST(paid_date AS DATE) IS NULL THEN 'paid_date' END,
    CASE WHEN amount IS NOT NULL AND TRY_CAST(amount AS DECIMAL(18,2)) IS NULL THEN 'amount' END,
    CASE WHEN paid_amount IS NOT NULL AND TRY_CAST(paid_amount AS DECIMAL(18,2)) IS NULL THEN 'paid_amount' END
  )                                              AS _cast_errors
FROM {{ staged }}
