-- gold.dim_icd_code: current ICD-10 codes with titles, plus "unknown". When no ICD source is
-- configured it holds the codes the facts use, untitled, so facts still have a member.
{{ if exists "silver.icd_codes" }}
SELECT md5(code_nodot) AS icd_sk, code AS icd_code, code_nodot, title, short_title, billable, code_system
FROM {{ ref "silver.icd_codes" }}
WHERE is_current AND NOT is_quarantined AND NOT is_deleted
{{ else }}
SELECT DISTINCT md5(upper(replace(trim(icd_code), '.', ''))) AS icd_sk, upper(trim(icd_code)) AS icd_code,
  upper(replace(trim(icd_code), '.', '')) AS code_nodot, CAST(NULL AS STRING) AS title, CAST(NULL AS STRING) AS short_title,
  CAST(NULL AS BOOLEAN) AS billable, CAST(NULL AS STRING) AS code_system
FROM {{ ref "silver.transactions" }}
WHERE icd_code IS NOT NULL AND is_current AND NOT is_quarantined AND NOT is_deleted
{{ end }}
UNION ALL
SELECT '-1', 'unknown', 'unknown', 'Unknown', 'Unknown', CAST(NULL AS BOOLEAN), CAST(NULL AS STRING)
