-- gold.dim_department: current clean departments, plus "unknown".
SELECT department_key, department_id, datasource, name
FROM {{ ref "silver.departments" }}
WHERE is_current AND NOT is_quarantined AND NOT is_deleted
UNION ALL
SELECT 'unknown', 'unknown', 'unknown', 'Unknown'
