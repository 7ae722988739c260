-- gold.dim_npi: current registry records of the providers' NPIs (dim_provider.npi points
-- here), plus "unknown". Empty but for "unknown" when the NPI Registry source is off.
{{ if exists "silver.npi" }}
SELECT md5(npi) AS npi_sk, npi, enumeration_type, status, first_name, last_name, credential,
  organization_name, taxonomy_code, taxonomy_desc, state, enumeration_date, last_updated
FROM {{ ref "silver.npi" }}
WHERE is_current AND NOT is_quarantined AND NOT is_deleted
UNION ALL
{{ end }}
SELECT '-1' AS npi_sk, 'unknown' AS npi, CAST(NULL AS STRING) AS enumeration_type, CAST(NULL AS STRING) AS status,
  CAST(NULL AS STRING) AS first_name, CAST(NULL AS STRING) AS last_name, CAST(NULL AS STRING) AS credential,
  CAST(NULL AS STRING) AS organization_name, CAST(NULL AS STRING) AS taxonomy_code, 'Unknown' AS taxonomy_desc,
  CAST(NULL AS STRING) AS state, CAST(NULL AS DATE) AS enumeration_date, CAST(NULL AS DATE) AS last_updated
