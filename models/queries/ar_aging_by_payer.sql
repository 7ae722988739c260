-- Open A/R by payer and aging bucket at the latest month end, from the KPI table.
SELECT
  datasource,
  member             AS payer_name,
  ar_0_30, ar_31_60, ar_61_90, ar_91_120, ar_over_120,
  ar_total,
  ar_over_90_pct
FROM gold.kpi_monthly
WHERE grain = 'payer'
  AND month_start = (SELECT max(month_start) FROM gold.kpi_monthly)
ORDER BY ar_total DESC
