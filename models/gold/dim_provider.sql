-- gold.dim_provider: clean provider versions, snowflaked to dim_department and dim_npi by key.
SELECT
  -- The key hashes the version's start as presented, so a first version's key does not
  -- depend on when it was loaded, and rebuilding the lake gives the same keys; the start is
  -- hashed as canonical text, so every engine gives the same keys.
  md5(provider_key || '|' || {{ timestamp_text "valid_from" }}) AS provider_sk,
  *
FROM (
  SELECT
    provider_key, provider_id, datasource,
    first_name, last_name, specialization,
    department_key, npi,
    CASE WHEN ROW_NUMBER() OVER (PARTITION BY provider_key ORDER BY valid_from) = 1
         THEN DATE '1900-01-01' ELSE valid_from END      AS valid_from,
    valid_to,
    is_current
  FROM {{ ref "silver.providers" }}
  WHERE NOT is_quarantined AND NOT is_deleted
) v
UNION ALL
SELECT '-1', 'unknown', 'unknown', 'unknown', 'Unknown', 'Unknown', 'Unknown', 'unknown', NULL,
  DATE '1900-01-01', CAST(NULL AS DATE), TRUE
