-- The seed's report: total charge and paid amount per provider, by department, per month.
SELECT
  date_trunc('month', f.service_date)            AS month,
  d.name                                         AS department,
  p.first_name || ' ' || p.last_name             AS provider,
  p.npi,
  count(*)                                       AS charges,
  sum(f.charge_amount)                           AS total_charge,
  sum(coalesce(f.paid_amount, 0))                AS total_paid
FROM gold.fact_transaction f
JOIN gold.dim_provider p ON p.provider_sk = f.provider_sk
JOIN gold.dim_department d ON d.department_key = f.department_key
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3
