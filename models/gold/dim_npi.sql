-- gold.dim_npi: current registry records of the providers' NPIs (dim_provider.npi points
-- here), plus "unknown". Empty but for "unknown" when the NPI Registry source is off.
{{ if exists "silver.npi" }}
SELECT md5(npi) AS npi_sk, npi, enumeration_type, status, first_name, last_name, credential,
  organization_name, taxonomy_code, taxonomy_desc, state, enumeration_date, last_updated
FROM {{ ref "silver.npi" }}
WHERE is_current AND NOT is_quarantined AND NOT is_deleted
UNION ALL
{{ end }}
SELECT '-1', 'unknown', CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING),
  CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING), 'Unknown', CAST(NULL AS STRING),
  CAST(NULL AS DATE), CAST(NULL AS DATE)
