-- silver.npi: the NPPES NPI Registry's record of each provider NPI the EMRs name. NPIs are
-- ten-digit strings, never numbers (the seed cast them to int32 and lost them).
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  trim(npi)                                       AS npi,
  datasource,
  enumeration_type,
  status,
  first_name,
  last_name,
  middle_name,
  credential,
  organization_name,
  taxonomy_code,
  taxonomy_desc,
  taxonomy_state,
  city,
  state,
  postal_code,
  TRY_CAST(enumeration_date AS DATE)              AS enumeration_date,
  TRY_CAST(last_updated AS DATE)                  AS last_updated
FROM {{ staged }}
