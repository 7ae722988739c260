-- gold.dim_cpt_code: current clean CPT codes, plus "unknown" for codes the file lacks.
SELECT md5(cpt_code) AS cpt_sk, cpt_code, category, description, code_status
FROM {{ ref "silver.cpt_codes" }}
WHERE is_current AND NOT is_quarantined AND NOT is_deleted
UNION ALL
SELECT '-1', 'unknown', 'Unknown', 'Unknown', 'Unknown'
