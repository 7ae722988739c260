-- gold.kpi_monthly: the revenue-cycle KPIs by month, for the whole network and by hospital,
-- payer, department, provider and CPT code. Formulas: docs/KPIS.md (HFMA MAP Keys where one
-- exists). Ratios are computed after rolling up, from summed numerators and denominators.
-- Grains: network, hospital, and per hospital payer, department, provider and cpt; plus
-- network_payer (a payer across every hospital).
--
-- Built from a month on: a build recomputes only the months from the first one that a changed
-- fact row touches (a charge counts from its service date, a payment from its date, a claim
-- from its claim date); the earlier months' rows are kept. The three-month charges window of
-- Days in A/R reads the two months before, which are still summed here.
-- since: month_start by month
-- since: gold.fact_transaction least(service_date, paid_date) over service_date, paid_date, insert_date, datasource, payor_id, department_key, provider_sk, cpt_code, charge_amount, paid_amount
-- since: gold.fact_claim claim_date over claim_date, service_date, datasource, payer_name, department_key, provider_sk, cpt_code, claim_amount, allowed_amount, paid_amount, initial_denial, clean_first_pass, is_denied
WITH months AS (      -- the month ends at which open A/R is computed: the expensive part
  SELECT DISTINCT {{ month_start "service_date" }} AS month_start
  FROM {{ ref "gold.fact_transaction" }}
  WHERE service_date IS NOT NULL AND service_date >= {{ since }}
),
bounds AS (
  SELECT month_start, last_day(month_start) AS month_end FROM months
),
charges AS (          -- gross charges and charge lag, by service month
  SELECT {{ month_start "service_date" }} AS month_start, datasource, payor_id AS payer,
         department_key, provider_sk, cpt_code,
         sum(charge_amount) AS gross_charges,
         count(*) AS charge_count,
         sum({{ date_diff_days "service_date" "insert_date" }}) AS charge_lag_days_sum,
         count(insert_date) AS charge_lag_n
  FROM {{ ref "gold.fact_transaction" }}
  WHERE service_date IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6
),
payments AS (         -- payments, by payment month
  SELECT {{ month_start "paid_date" }} AS month_start, datasource, payor_id AS payer,
         department_key, provider_sk, cpt_code,
         sum(paid_amount) AS payments,
         sum(charge_amount) AS paid_charges
  FROM {{ ref "gold.fact_transaction" }}
  WHERE paid_date IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6
),
ar AS (               -- open A/R at each month end, with aging by days since service
  SELECT b.month_start, t.datasource, t.payor_id AS payer, t.department_key, t.provider_sk, t.cpt_code,
         sum(t.charge_amount) AS ar_total,
         sum(CASE WHEN {{ date_diff_days "t.service_date" "b.month_end" }} <= 30 THEN t.charge_amount ELSE 0 END) AS ar_0_30,
         sum(CASE WHEN {{ date_diff_days "t.service_date" "b.month_end" }} BETWEEN 31 AND 60 THEN t.charge_amount ELSE 0 END) AS ar_31_60,
         sum(CASE WHEN {{ date_diff_days "t.service_date" "b.month_end" }} BETWEEN 61 AND 90 THEN t.charge_amount ELSE 0 END) AS ar_61_90,
         sum(CASE WHEN {{ date_diff_days "t.service_date" "b.month_end" }} BETWEEN 91 AND 120 THEN t.charge_amount ELSE 0 END) AS ar_91_120,
         sum(CASE WHEN {{ date_diff_days "t.service_date" "b.month_end" }} > 120 THEN t.charge_amount ELSE 0 END) AS ar_over_120
  FROM bounds b
  JOIN {{ ref "gold.fact_transaction" }} t
    ON t.service_date <= b.month_end
   AND (t.paid_date IS NULL OR t.paid_date > b.month_end)
  GROUP BY 1, 2, 3, 4, 5, 6
),
claims AS (           -- claims submitted, by claim month
  SELECT {{ month_start "claim_date" }} AS month_start, datasource, payer_name AS payer,
         department_key, provider_sk, cpt_code,
         count(*) AS claims_submitted,
         sum(claim_amount) AS claims_amount,
         sum(CASE WHEN initial_denial THEN 1 ELSE 0 END) AS claims_denied,
         sum(CASE WHEN initial_denial THEN claim_amount ELSE 0 END) AS denied_amount,
         sum(CASE WHEN clean_first_pass THEN 1 ELSE 0 END) AS claims_clean,
         sum(CASE WHEN initial_denial AND NOT is_denied THEN 1 ELSE 0 END) AS denials_overturned,
         sum({{ date_diff_days "service_date" "claim_date" }}) AS claim_lag_days_sum,
         count(service_date) AS claim_lag_n,
         sum(CASE WHEN paid_amount > 0 THEN paid_amount ELSE 0 END) AS claims_paid,
         sum(CASE WHEN paid_amount > 0 THEN coalesce(allowed_amount, claim_amount) ELSE 0 END) AS claims_allowed_paid,
         sum(CASE WHEN paid_amount > 0 THEN claim_amount ELSE 0 END) AS claims_charged_paid,
         sum(CASE WHEN paid_amount > 0 THEN 1 ELSE 0 END) AS claims_paid_count
  FROM {{ ref "gold.fact_claim" }}
  WHERE claim_date IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6
),
keys AS (
  SELECT month_start, datasource, payer, department_key, provider_sk, cpt_code FROM charges
  UNION SELECT month_start, datasource, payer, department_key, provider_sk, cpt_code FROM payments
  UNION SELECT month_start, datasource, payer, department_key, provider_sk, cpt_code FROM ar
  UNION SELECT month_start, datasource, payer, department_key, provider_sk, cpt_code FROM claims
),
fine AS (
  SELECT k.*,
    coalesce(c.gross_charges, 0) AS gross_charges, coalesce(c.charge_count, 0) AS charge_count,
    coalesce(c.charge_lag_days_sum, 0) AS charge_lag_days_sum, coalesce(c.charge_lag_n, 0) AS charge_lag_n,
    coalesce(p.payments, 0) AS payments, coalesce(p.paid_charges, 0) AS paid_charges,
    coalesce(a.ar_total, 0) AS ar_total, coalesce(a.ar_0_30, 0) AS ar_0_30, coalesce(a.ar_31_60, 0) AS ar_31_60,
    coalesce(a.ar_61_90, 0) AS ar_61_90, coalesce(a.ar_91_120, 0) AS ar_91_120, coalesce(a.ar_over_120, 0) AS ar_over_120,
    coalesce(l.claims_submitted, 0) AS claims_submitted, coalesce(l.claims_amount, 0) AS claims_amount,
    coalesce(l.claims_denied, 0) AS claims_denied, coalesce(l.denied_amount, 0) AS denied_amount,
    coalesce(l.claims_clean, 0) AS claims_clean, coalesce(l.denials_overturned, 0) AS denials_overturned,
    coalesce(l.claim_lag_days_sum, 0) AS claim_lag_days_sum, coalesce(l.claim_lag_n, 0) AS claim_lag_n,
    coalesce(l.claims_paid, 0) AS claims_paid, coalesce(l.claims_allowed_paid, 0) AS claims_allowed_paid,
    coalesce(l.claims_charged_paid, 0) AS claims_charged_paid, coalesce(l.claims_paid_count, 0) AS claims_paid_count
  FROM keys k
  LEFT JOIN charges c ON c.month_start = k.month_start AND c.datasource = k.datasource AND c.payer IS NOT DISTINCT FROM k.payer
    AND c.department_key = k.department_key AND c.provider_sk = k.provider_sk AND c.cpt_code IS NOT DISTINCT FROM k.cpt_code
  LEFT JOIN payments p ON p.month_start = k.month_start AND p.datasource = k.datasource AND p.payer IS NOT DISTINCT FROM k.payer
    AND p.department_key = k.department_key AND p.provider_sk = k.provider_sk AND p.cpt_code IS NOT DISTINCT FROM k.cpt_code
  LEFT JOIN ar a ON a.month_start = k.month_start AND a.datasource = k.datasource AND a.payer IS NOT DISTINCT FROM k.payer
    AND a.department_key = k.department_key AND a.provider_sk = k.provider_sk AND a.cpt_code IS NOT DISTINCT FROM k.cpt_code
  LEFT JOIN claims l ON l.month_start = k.month_start AND l.datasource = k.datasource AND l.payer IS NOT DISTINCT FROM k.payer
    AND l.department_key = k.department_key AND l.provider_sk = k.provider_sk AND l.cpt_code IS NOT DISTINCT FROM k.cpt_code
  -- From two months before the first recomputed one: the charges window reads them.
  WHERE k.month_start >= {{ add_months (since) -2 }}
),
rolled AS (
  SELECT month_start,
    CASE WHEN GROUPING(datasource) = 1 AND GROUPING(payer) = 0 THEN 'network_payer'
         WHEN GROUPING(datasource) = 1 THEN 'network'
         WHEN GROUPING(payer) = 0 THEN 'payer'
         WHEN GROUPING(department_key) = 0 THEN 'department'
         WHEN GROUPING(provider_sk) = 0 THEN 'provider'
         WHEN GROUPING(cpt_code) = 0 THEN 'cpt'
         ELSE 'hospital' END AS grain,
    coalesce(datasource, 'all') AS datasource,
    coalesce(payer, department_key, provider_sk, cpt_code, datasource, 'all') AS member,
    sum(gross_charges) AS gross_charges, sum(charge_count) AS charge_count,
    sum(charge_lag_days_sum) AS charge_lag_days_sum, sum(charge_lag_n) AS charge_lag_n,
    sum(payments) AS payments, sum(paid_charges) AS paid_charges,
    sum(ar_total) AS ar_total, sum(ar_0_30) AS ar_0_30, sum(ar_31_60) AS ar_31_60, sum(ar_61_90) AS ar_61_90,
    sum(ar_91_120) AS ar_91_120, sum(ar_over_120) AS ar_over_120,
    sum(claims_submitted) AS claims_submitted, sum(claims_amount) AS claims_amount,
    sum(claims_denied) AS claims_denied, sum(denied_amount) AS denied_amount, sum(claims_clean) AS claims_clean,
    sum(denials_overturned) AS denials_overturned,
    sum(claim_lag_days_sum) AS claim_lag_days_sum, sum(claim_lag_n) AS claim_lag_n,
    sum(claims_paid) AS claims_paid, sum(claims_allowed_paid) AS claims_allowed_paid,
    sum(claims_charged_paid) AS claims_charged_paid, sum(claims_paid_count) AS claims_paid_count
  FROM fine
  GROUP BY GROUPING SETS ((month_start), (month_start, payer), (month_start, datasource), (month_start, datasource, payer),
    (month_start, datasource, department_key), (month_start, datasource, provider_sk), (month_start, datasource, cpt_code))
),
windowed AS (
  SELECT r.*,
    -- HFMA: average daily gross revenue over the last three months (this one and two before).
    sum(gross_charges) OVER (PARTITION BY grain, datasource, member ORDER BY year(month_start) * 12 + month(month_start)
      RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS charges_3m,
    {{ date_diff_days (add_months "month_start" -2) "last_day(month_start)" }} + 1 AS days_3m
  FROM rolled r
)
SELECT
  month_start, grain, datasource, member,
  CAST(gross_charges AS DECIMAL(18,2)) AS gross_charges,
  CAST(payments AS DECIMAL(18,2)) AS payments,
  CAST(ar_total AS DECIMAL(18,2)) AS ar_total,
  CAST(ar_0_30 AS DECIMAL(18,2)) AS ar_0_30,
  CAST(ar_31_60 AS DECIMAL(18,2)) AS ar_31_60,
  CAST(ar_61_90 AS DECIMAL(18,2)) AS ar_61_90,
  CAST(ar_91_120 AS DECIMAL(18,2)) AS ar_91_120,
  CAST(ar_over_120 AS DECIMAL(18,2)) AS ar_over_120,
  CASE WHEN charges_3m > 0 THEN CAST(ar_total AS DOUBLE) / (CAST(charges_3m AS DOUBLE) / days_3m) END AS days_in_ar,
  CASE WHEN ar_total > 0 THEN CAST(ar_91_120 + ar_over_120 AS DOUBLE) / CAST(ar_total AS DOUBLE) END AS ar_over_90_pct,
  -- Counts are BIGINT in every engine (a sum of counts is HUGEINT in DuckDB, BIGINT in Spark).
  CAST(claims_submitted AS BIGINT) AS claims_submitted, CAST(claims_denied AS BIGINT) AS claims_denied,
  CASE WHEN claims_submitted > 0 THEN CAST(claims_denied AS DOUBLE) / claims_submitted END AS initial_denial_rate,
  CASE WHEN claims_amount > 0 THEN CAST(denied_amount AS DOUBLE) / CAST(claims_amount AS DOUBLE) END AS initial_denial_rate_amount,
  CASE WHEN claims_submitted > 0 THEN CAST(claims_clean AS DOUBLE) / claims_submitted END AS clean_claim_rate,
  CAST(denials_overturned AS BIGINT) AS denials_overturned,
  CASE WHEN claims_allowed_paid > 0 THEN CAST(claims_paid AS DOUBLE) / CAST(claims_allowed_paid AS DOUBLE) END AS net_collection_rate,
  CASE WHEN claims_charged_paid > 0 THEN CAST(claims_paid AS DOUBLE) / CAST(claims_charged_paid AS DOUBLE) END AS gross_collection_rate,
  CASE WHEN charge_lag_n > 0 THEN CAST(charge_lag_days_sum AS DOUBLE) / charge_lag_n END AS charge_lag_days,
  CASE WHEN claim_lag_n > 0 THEN CAST(claim_lag_days_sum AS DOUBLE) / claim_lag_n END AS claim_lag_days,
  CASE WHEN claims_paid_count > 0 THEN CAST(claims_paid AS DOUBLE) / claims_paid_count END AS avg_reimbursement
FROM windowed
WHERE month_start >= {{ since }}
