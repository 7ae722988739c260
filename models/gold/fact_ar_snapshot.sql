-- gold.fact_ar_snapshot: open A/R at the end of every day, by hospital, payer, department and
-- aging bucket (days since service: 0-30, 31-60, 61-90, 91-120, over 120), so aging can be
-- read as of any date. A charge is open from its service date until its payment date, the
-- same rule kpi_monthly applies at month ends. Days and groups without open charges have no
-- row (read them as zero).
--
-- It is built from events, not from charges x days: each charge enters a bucket on one day and
-- leaves it on another, and a running sum over the calendar gives each day's balance.
--
-- Built from a day on: a build recomputes only the days from the first one that a changed fact
-- or calendar row touches (`since`; the earliest date in a full build). A charge that
-- entered a bucket before that day counts as entering it on that day, so each day's balance
-- is the same as from the beginning. See docs/ARCHITECTURE.md, "Gold by day".
-- since: snapshot_date
-- since: gold.fact_transaction least(service_date, paid_date) over datasource, payor_id, department_key, service_date, paid_date, charge_amount
-- since: gold.dim_date date_day over date_day
WITH bounds AS (
  SELECT max(date_day) AS hi, {{ since }} AS lo FROM {{ ref "gold.dim_date" }}
),
buckets AS (
  SELECT * FROM (VALUES (1, '0-30', 0, 30), (2, '31-60', 31, 60), (3, '61-90', 61, 90),
                        (4, '91-120', 91, 120), (5, '120+', 121, 1000000)) b(bucket_order, aging_bucket, lo_days, hi_days)
),
spans AS (            -- the days [enter_day, leave_day) each charge spends in each bucket
  SELECT t.datasource, t.payor_id AS payer, t.department_key, b.bucket_order, b.aging_bucket, t.charge_amount,
         greatest({{ add_days "t.service_date" "b.lo_days" }}, x.lo) AS enter_day,
         least({{ add_days "t.service_date" "b.hi_days + 1" }},
               coalesce(t.paid_date, {{ add_days "x.hi" "1" }}),
               {{ add_days "x.hi" "1" }}) AS leave_day
  FROM {{ ref "gold.fact_transaction" }} t
  CROSS JOIN buckets b
  CROSS JOIN bounds x
  WHERE t.service_date IS NOT NULL AND t.charge_amount IS NOT NULL
),
events AS (
  SELECT datasource, payer, department_key, bucket_order, aging_bucket, enter_day AS day, charge_amount AS amount, 1 AS n
  FROM spans WHERE enter_day < leave_day
  UNION ALL
  SELECT datasource, payer, department_key, bucket_order, aging_bucket, leave_day, -charge_amount, -1
  FROM spans WHERE enter_day < leave_day
),
daily AS (
  SELECT datasource, payer, department_key, bucket_order, aging_bucket, day, sum(amount) AS amount, sum(n) AS n
  FROM events GROUP BY datasource, payer, department_key, bucket_order, aging_bucket, day
),
grid AS (             -- every day for every group that ever had open A/R
  SELECT g.datasource, g.payer, g.department_key, g.bucket_order, g.aging_bucket, d.date_day
  FROM (SELECT DISTINCT datasource, payer, department_key, bucket_order, aging_bucket FROM daily) g
  CROSS JOIN {{ ref "gold.dim_date" }} d
  WHERE d.date_day >= {{ since }}
),
running AS (
  SELECT g.date_day, g.datasource, g.payer, g.department_key, g.bucket_order, g.aging_bucket,
         sum(coalesce(e.amount, 0)) OVER w AS ar_amount,
         sum(coalesce(e.n, 0)) OVER w AS open_charges
  FROM grid g
  LEFT JOIN daily e
    ON e.day = g.date_day AND e.bucket_order = g.bucket_order
   AND e.datasource IS NOT DISTINCT FROM g.datasource
   AND e.payer IS NOT DISTINCT FROM g.payer
   AND e.department_key IS NOT DISTINCT FROM g.department_key
  WINDOW w AS (PARTITION BY g.datasource, g.payer, g.department_key, g.bucket_order ORDER BY g.date_day
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
  date_day                                   AS snapshot_date,
  CAST(year(date_day) * 10000 + month(date_day) * 100 + dayofmonth(date_day) AS BIGINT) AS date_key,
  datasource,
  payer,
  department_key,
  bucket_order,
  aging_bucket,
  CAST(ar_amount AS DECIMAL(18,2))           AS ar_amount,
  CAST(open_charges AS BIGINT)               AS open_charges
FROM running
WHERE open_charges <> 0
