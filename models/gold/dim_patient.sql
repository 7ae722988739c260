-- gold.dim_patient: every version of every clean patient, plus the "unknown" member.
-- The first version of a key reaches back to the start of time, so a fact dated before the
-- patient's first recorded change still finds its patient.
SELECT
  -- The key hashes the version's start as presented, so a first version's key does not
  -- depend on when it was loaded, and rebuilding the lake gives the same keys; the start is
  -- hashed as canonical text, so every engine gives the same keys.
  md5(patient_key || '|' || {{ timestamp_text "valid_from" }}) AS patient_sk,
  *
FROM (
  SELECT
    patient_key, patient_id, datasource,
    first_name, last_name, middle_name, ssn, phone_number, gender, dob, address,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY patient_key ORDER BY valid_from) = 1
         THEN DATE '1900-01-01' ELSE valid_from END      AS valid_from,
    valid_to,
    is_current
  FROM {{ ref "silver.patients" }}
  WHERE NOT is_quarantined AND NOT is_deleted
) v
UNION ALL
SELECT '-1', 'unknown', 'unknown', 'unknown', 'Unknown', 'Unknown', NULL, NULL, NULL, NULL, NULL, NULL,
  DATE '1900-01-01', CAST(NULL AS DATE), TRUE
