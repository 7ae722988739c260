-- silver.departments.
SELECT
  department_id || '-' || datasource             AS department_key,
  department_id,
  datasource,
  name,
  '' AS _cast_errors
FROM {{ staged }}
