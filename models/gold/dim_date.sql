-- gold.dim_date: one row per day from the first to the last date any fact carries, with
-- calendar and fiscal periods. The fiscal year starts on July 1, as at most US hospitals, and
-- is named by the calendar year it ends in (FY2025 = July 2024 to June 2025); to move it,
-- change the 7 and the 5 (= 12 - 7) below.
WITH bounds AS (
  SELECT min(d) AS lo, max(d) AS hi
  FROM (
    SELECT service_date AS d FROM {{ ref "gold.fact_transaction" }}
    UNION ALL SELECT paid_date FROM {{ ref "gold.fact_transaction" }}
    UNION ALL SELECT claim_date FROM {{ ref "gold.fact_claim" }}
    UNION ALL SELECT paid_date FROM {{ ref "gold.fact_claim" }}
  ) x
  WHERE d IS NOT NULL
),
days AS (
  SELECT CAST(day AS DATE) AS date_day
  FROM (SELECT {{ day_series "lo" "hi" }} AS day FROM bounds WHERE lo IS NOT NULL) s
)
SELECT
  CAST(year(date_day) * 10000 + month(date_day) * 100 + dayofmonth(date_day) AS BIGINT) AS date_key,
  date_day,
  CAST(year(date_day) AS BIGINT)                                         AS year,
  CAST(quarter(date_day) AS BIGINT)                                      AS quarter,
  CAST(month(date_day) AS BIGINT)                                        AS month,
  CASE month(date_day) WHEN 1 THEN 'January' WHEN 2 THEN 'February' WHEN 3 THEN 'March'
    WHEN 4 THEN 'April' WHEN 5 THEN 'May' WHEN 6 THEN 'June' WHEN 7 THEN 'July'
    WHEN 8 THEN 'August' WHEN 9 THEN 'September' WHEN 10 THEN 'October'
    WHEN 11 THEN 'November' ELSE 'December' END                          AS month_name,
  CAST(dayofmonth(date_day) AS BIGINT)                                   AS day_of_month,
  CAST({{ iso_day_of_week "date_day" }} AS BIGINT)                       AS day_of_week,
  {{ iso_day_of_week "date_day" }} >= 6                                  AS is_weekend,
  CAST(weekofyear(date_day) AS BIGINT)                                   AS iso_week,
  {{ month_start "date_day" }}                                           AS month_start,
  CAST(year(date_day) + CASE WHEN month(date_day) >= 7 THEN 1 ELSE 0 END AS BIGINT) AS fiscal_year,
  CAST((month(date_day) + 5) % 12 + 1 AS BIGINT)                         AS fiscal_month,
  CAST(floor(((month(date_day) + 5) % 12) / 3) AS INT) + 1               AS fiscal_quarter
FROM days
