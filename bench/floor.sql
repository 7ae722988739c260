-- The floor: the same full refresh as `rcmlake run` (sources to silver to gold to KPIs), as one
-- plain DuckDB script with no Delta, no history, no audit and no quality tables. It is what a
-- hand-written batch job on the same engine would cost, and rcmlake's full run is reported as a
-- ratio to it.
--
-- Input (prepared untimed by `rcmlake bench`, relative to file_search_path): each hospital's EMR
-- tables exported from SQLite to CSV (<datasource>/<table>.csv), the insurers' claims files
-- (claims/), the CPT file (cptcodes/) and the CMS ICD-10 order file. Every column is read as text
-- and cast here, as silver does. The NPI Registry records are left out (dim_npi is not joined
-- by any fact). Output: the gold star schema and kpi_monthly as Parquet files in out/.
--
-- Statements are separated by a line holding only ';'.

-- Silver: one data model over both hospitals' schemas, typed, with the quality flags of the
-- generated config's rules; one current row per key (no history).
CREATE TABLE patients AS
WITH src AS (
  SELECT PatientID AS patient_id, 'hos-a' AS datasource, FirstName AS first_name, LastName AS last_name,
         MiddleName AS middle_name, SSN AS ssn, PhoneNumber AS phone_number, Gender AS gender, DOB AS dob,
         Address AS address, ModifiedDate AS modified_date
  FROM read_csv('hos-a/patients.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
  UNION ALL
  SELECT ID, 'hos-b', F_Name, L_Name, M_Name, SSN, PhoneNumber, Gender, DOB, Address, Updated_Date
  FROM read_csv('hos-b/patients.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
),
typed AS (
  SELECT coalesce(patient_id, '?' || md5(concat_ws('|', first_name, last_name, ssn, dob, address))) || '-' || datasource AS patient_key,
         patient_id, datasource, first_name, last_name, middle_name, ssn, phone_number, gender,
         TRY_CAST(dob AS DATE) AS dob, address, TRY_CAST(modified_date AS DATE) AS modified_date,
         (dob IS NOT NULL AND TRY_CAST(dob AS DATE) IS NULL) OR (modified_date IS NOT NULL AND TRY_CAST(modified_date AS DATE) IS NULL) AS cast_error,
         (first_name IS NULL OR trim(first_name) = 'NULL') OR (dob IS NULL OR trim(dob) = 'NULL') OR patient_id IS NULL AS missing
  FROM src
)
SELECT * EXCLUDE (cast_error, missing), cast_error OR missing AS is_quarantined
FROM typed
QUALIFY row_number() OVER (PARTITION BY patient_key ORDER BY modified_date DESC NULLS LAST) = 1
;
CREATE TABLE providers AS
SELECT ProviderID || '-' || ds AS provider_key, ProviderID AS provider_id, ds AS datasource, FirstName AS first_name,
       LastName AS last_name, Specialization AS specialization, DeptID || '-' || ds AS department_key, NPI AS npi
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('hos-a/providers.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
      UNION ALL BY NAME
      SELECT *, 'hos-b' AS ds FROM read_csv('hos-b/providers.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true))
QUALIFY row_number() OVER (PARTITION BY provider_key) = 1
;
CREATE TABLE departments AS
SELECT DeptID || '-' || ds AS department_key, DeptID AS department_id, ds AS datasource, Name AS name
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('hos-a/departments.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
      UNION ALL BY NAME
      SELECT *, 'hos-b' AS ds FROM read_csv('hos-b/departments.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true))
QUALIFY row_number() OVER (PARTITION BY department_key) = 1
;
CREATE TABLE transactions AS
WITH src AS (
  SELECT *, 'hos-a' AS ds, 'H1-' || ProviderID AS prov FROM read_csv('hos-a/transactions.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
  UNION ALL BY NAME
  SELECT *, 'hos-b' AS ds, 'H2-' || ProviderID AS prov FROM read_csv('hos-b/transactions.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
),
typed AS (
  SELECT coalesce(TransactionID, '?' || md5(concat_ws('|', EncounterID, PatientID, ServiceDate, Amount))) || '-' || ds AS transaction_key,
         TransactionID AS transaction_id, ds AS datasource,
         EncounterID || '-' || ds AS encounter_key, PatientID || '-' || ds AS patient_key,
         prov || '-' || ds AS provider_key, DeptID || '-' || ds AS department_key,
         TRY_CAST(VisitDate AS DATE) AS visit_date, TRY_CAST(ServiceDate AS DATE) AS service_date,
         TRY_CAST(PaidDate AS DATE) AS paid_date, VisitType AS visit_type,
         TRY_CAST(Amount AS DECIMAL(18,2)) AS amount, AmountType AS amount_type,
         TRY_CAST(PaidAmount AS DECIMAL(18,2)) AS paid_amount, ClaimID AS claim_id, ClaimID || '-' || ds AS claim_key,
         PayorID AS payor_id, ProcedureCode AS procedure_code, ICDCode AS icd_code, LineOfBusiness AS line_of_business,
         TRY_CAST(InsertDate AS DATE) AS insert_date, TRY_CAST(ModifiedDate AS DATE) AS modified_date,
         (ServiceDate IS NOT NULL AND TRY_CAST(ServiceDate AS DATE) IS NULL)
           OR (PaidDate IS NOT NULL AND TRY_CAST(PaidDate AS DATE) IS NULL)
           OR (Amount IS NOT NULL AND TRY_CAST(Amount AS DECIMAL(18,2)) IS NULL)
           OR (PaidAmount IS NOT NULL AND TRY_CAST(PaidAmount AS DECIMAL(18,2)) IS NULL) AS cast_error
  FROM src
)
SELECT * EXCLUDE (cast_error),
       cast_error
         OR (count(*) OVER (PARTITION BY transaction_key) > 1)
         OR coalesce(amount < 0, FALSE)
         OR (patient_key IS NOT NULL AND patient_key NOT IN (SELECT patient_key FROM patients)) AS is_quarantined
FROM typed
QUALIFY row_number() OVER (PARTITION BY transaction_key ORDER BY modified_date DESC NULLS LAST) = 1
;
-- A claim appears again in a later month's file when its status changes: its current row is
-- the last one, and its first adjudicated status is kept for the initial denial rate.
CREATE TABLE claims_versions AS
WITH src AS (
  SELECT *, 'hos-a' AS ds, 'H1-' || ProviderID AS prov FROM read_csv('claims/hospital1_claims_*.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true, filename = true)
  UNION ALL BY NAME
  SELECT *, 'hos-b' AS ds, 'H2-' || ProviderID AS prov FROM read_csv('claims/hospital2_claims_*.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true, filename = true)
)
SELECT ClaimID || '-' || ds AS claim_key, ClaimID AS claim_id, ds AS datasource,
       TransactionID || '-' || ds AS transaction_key,
       TRY_CAST(ServiceDate AS DATE) AS service_date, TRY_CAST(ClaimDate AS DATE) AS claim_date,
       TRY_CAST(PaidDate AS DATE) AS paid_date, PayorID AS payer_name, PayorType AS payer_type,
       TRY_CAST(ClaimAmount AS DECIMAL(18,2)) AS claim_amount, TRY_CAST(AllowedAmount AS DECIMAL(18,2)) AS allowed_amount,
       TRY_CAST(PaidAmount AS DECIMAL(18,2)) AS paid_amount, TRY_CAST(Deductible AS DECIMAL(18,2)) AS deductible,
       TRY_CAST(Coinsurance AS DECIMAL(18,2)) AS coinsurance, TRY_CAST(Copay AS DECIMAL(18,2)) AS copay,
       ClaimStatus AS claim_status, NULLIF(DenialReason, '') AS denial_reason,
       TRY_CAST(ModifiedDate AS DATE) AS modified_date, filename AS file,
       (ClaimDate IS NOT NULL AND TRY_CAST(ClaimDate AS DATE) IS NULL)
         OR (ClaimAmount IS NOT NULL AND TRY_CAST(ClaimAmount AS DECIMAL(18,2)) IS NULL) AS is_quarantined
FROM src
WHERE ClaimID IS NOT NULL AND TransactionID IS NOT NULL AND ClaimStatus IS NOT NULL
;
CREATE TABLE cpt_codes AS
SELECT upper(trim("CPT Codes")) AS cpt_code, trim("Procedure Code Category") AS category,
       trim("Procedure Code Descriptions") AS description,
       CASE WHEN lower(trim("Code Status")) = 'no change' THEN 'No Change' ELSE trim("Code Status") END AS code_status
FROM read_csv('cptcodes/*.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
QUALIFY row_number() OVER (PARTITION BY upper(trim("CPT Codes"))) = 1
;
-- The CMS order file: fixed-width, code in columns 7-13, billable flag in 15, titles after.
CREATE TABLE icd_codes AS
SELECT code AS code_nodot, code, billable, short_title, title
FROM (
  SELECT trim(substr(line, 7, 7)) AS code, substr(line, 15, 1) = '1' AS billable,
         trim(substr(line, 17, 60)) AS short_title, trim(substr(line, 78)) AS title
  FROM read_csv('icd10cm_order.txt', columns = {'line': 'VARCHAR'}, header = false, delim = '\0', quote = '', escape = '')
)
QUALIFY row_number() OVER (PARTITION BY code) = 1
;
-- Gold: the star schema.
CREATE TABLE dim_patient AS
SELECT md5(patient_key || '|1900-01-01') AS patient_sk, patient_key, patient_id, datasource, first_name, last_name,
       middle_name, ssn, phone_number, gender, dob, address
FROM patients WHERE NOT is_quarantined
UNION ALL
SELECT '-1', 'unknown', 'unknown', 'unknown', 'Unknown', 'Unknown', NULL, NULL, NULL, NULL, NULL, NULL
;
CREATE TABLE dim_provider AS
SELECT md5(provider_key || '|1900-01-01') AS provider_sk, * FROM providers
UNION ALL
SELECT '-1', 'unknown', 'unknown', 'unknown', 'Unknown', 'Unknown', 'Unknown', 'unknown', NULL
;
CREATE TABLE dim_department AS
SELECT * FROM departments UNION ALL SELECT 'unknown', 'unknown', 'unknown', 'Unknown'
;
CREATE TABLE dim_cpt_code AS
SELECT md5(cpt_code) AS cpt_sk, * FROM cpt_codes UNION ALL SELECT '-1', 'unknown', 'Unknown', 'Unknown', 'Unknown'
;
CREATE TABLE dim_icd_code AS
SELECT md5(code_nodot) AS icd_sk, * FROM icd_codes UNION ALL SELECT '-1', 'unknown', 'unknown', NULL, 'Unknown', 'Unknown'
;
CREATE TABLE dim_payer AS
SELECT md5(payer_name) AS payer_sk, payer_name, max(payer_type) AS payer_type
FROM claims_versions
WHERE payer_name IS NOT NULL AND NOT is_quarantined
GROUP BY payer_name
UNION ALL SELECT '-1', 'Unknown', NULL
;
CREATE TABLE fact_transaction AS
SELECT t.transaction_key, t.transaction_id, t.datasource,
       coalesce(p.patient_sk, '-1') AS patient_sk, coalesce(v.provider_sk, '-1') AS provider_sk,
       coalesce(d.department_key, 'unknown') AS department_key, coalesce(c.cpt_sk, '-1') AS cpt_sk,
       coalesce(i.icd_sk, '-1') AS icd_sk, t.encounter_key, t.claim_key, t.procedure_code AS cpt_code, t.icd_code,
       t.payor_id, t.amount_type, t.visit_type, t.line_of_business, t.visit_date, t.service_date, t.paid_date,
       t.amount AS charge_amount, t.paid_amount, t.insert_date,
       (p.patient_sk IS NULL OR v.provider_sk IS NULL OR d.department_key IS NULL OR c.cpt_sk IS NULL OR i.icd_sk IS NULL) AS has_unknown_member
FROM transactions t
LEFT JOIN dim_patient p ON p.patient_key = t.patient_key
LEFT JOIN dim_provider v ON v.provider_key = t.provider_key
LEFT JOIN dim_department d ON d.department_key = t.department_key
LEFT JOIN dim_cpt_code c ON c.cpt_code = t.procedure_code
LEFT JOIN dim_icd_code i ON i.code_nodot = upper(replace(trim(t.icd_code), '.', ''))
WHERE NOT t.is_quarantined
;
-- Each claim's current version (its last: by modified date, then file) and its first adjudicated
-- status, in one hash aggregate over the versions, materialised before fact_claim joins it. The
-- version order is packed into one BIGINT (the day times 2^20 plus the file's rank; a missing
-- date counts as 0001-01-01 for the current version and as last for the first status, as a
-- struct of the date and the file name orders it), so that every aggregate state is fixed-size.
-- Ordered by that struct, arg_max and arg_min ran out of memory at 10M (17.6M versions) under
-- the 2 GB limit, in one statement or materialised first, as did a window over every version.
CREATE TABLE claim_latest AS
WITH files AS (
  SELECT file, row_number() OVER (ORDER BY file) AS file_seq FROM (SELECT DISTINCT file FROM claims_versions)
)
SELECT arg_max(v.rowid, (coalesce(v.modified_date, DATE '0001-01-01') - DATE '1970-01-01') * 1048576 + f.file_seq) AS version_rowid,
       arg_min(v.claim_status, CASE WHEN v.modified_date IS NULL THEN 4611686018427387904
                                    ELSE (v.modified_date - DATE '1970-01-01') * 1048576 END + f.file_seq)
         FILTER (WHERE v.claim_status <> 'Pending') AS initial_status
FROM claims_versions v JOIN files f ON f.file = v.file
WHERE NOT v.is_quarantined
GROUP BY v.claim_key
;
CREATE TABLE fact_claim AS
SELECT c.claim_key, c.claim_id, c.datasource, c.transaction_key,
       coalesce(t.patient_sk, '-1') AS patient_sk, coalesce(t.provider_sk, '-1') AS provider_sk,
       coalesce(t.department_key, 'unknown') AS department_key, t.cpt_code,
       coalesce(c.payer_name, 'Unknown') AS payer_name, c.payer_type, c.service_date, c.claim_date, c.paid_date,
       c.claim_amount, c.allowed_amount, c.paid_amount, c.deductible, c.coinsurance, c.copay, c.claim_status,
       l.initial_status,
       coalesce(l.initial_status = 'Denied', FALSE) AS initial_denial,
       coalesce(c.claim_status = 'Denied', FALSE) AS is_denied,
       coalesce(l.initial_status IN ('Paid', 'Approved'), FALSE) AS clean_first_pass,
       c.denial_reason, (t.transaction_key IS NULL) AS has_unknown_member
FROM claims_versions c
JOIN claim_latest l ON c.rowid = l.version_rowid
LEFT JOIN fact_transaction t ON t.transaction_key = c.transaction_key
;
CREATE TABLE dim_date AS
WITH bounds AS (
  SELECT min(d) AS lo, max(d) AS hi FROM (
    SELECT service_date AS d FROM fact_transaction UNION ALL SELECT paid_date FROM fact_transaction
    UNION ALL SELECT claim_date FROM fact_claim UNION ALL SELECT paid_date FROM fact_claim) x
  WHERE d IS NOT NULL
)
SELECT year(d) * 10000 + month(d) * 100 + dayofmonth(d) AS date_key, d AS date_day, year(d) AS year,
       quarter(d) AS quarter, month(d) AS month, monthname(d) AS month_name, dayofmonth(d) AS day_of_month,
       isodow(d) AS day_of_week, isodow(d) >= 6 AS is_weekend, weekofyear(d) AS iso_week,
       date_trunc('month', d) AS month_start, year(d) + CASE WHEN month(d) >= 7 THEN 1 ELSE 0 END AS fiscal_year,
       (month(d) + 5) % 12 + 1 AS fiscal_month, CAST(floor(((month(d) + 5) % 12) / 3) AS INT) + 1 AS fiscal_quarter
FROM (SELECT CAST(unnest(generate_series(lo, hi, INTERVAL 1 DAY)) AS DATE) AS d FROM bounds)
;
-- Open A/R at the end of every day by hospital, payer, department and aging bucket, from
-- enter/leave events and a running sum (as gold.fact_ar_snapshot).
CREATE TABLE fact_ar_snapshot AS
WITH bounds AS (SELECT max(date_day) AS hi FROM dim_date),
buckets AS (
  SELECT * FROM (VALUES (1, '0-30', 0, 30), (2, '31-60', 31, 60), (3, '61-90', 61, 90),
                        (4, '91-120', 91, 120), (5, '120+', 121, 1000000)) b(bucket_order, aging_bucket, lo_days, hi_days)
),
spans AS (
  SELECT t.datasource, t.payor_id AS payer, t.department_key, b.bucket_order, b.aging_bucket, t.charge_amount,
         t.service_date + b.lo_days AS enter_day,
         least(t.service_date + (b.hi_days + 1), coalesce(t.paid_date, x.hi + 1), x.hi + 1) AS leave_day
  FROM fact_transaction t CROSS JOIN buckets b CROSS JOIN bounds x
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
  FROM events GROUP BY ALL
),
grid AS (
  SELECT g.*, d.date_day
  FROM (SELECT DISTINCT datasource, payer, department_key, bucket_order, aging_bucket FROM daily) g
  CROSS JOIN dim_date d
),
running AS (
  SELECT g.date_day, g.datasource, g.payer, g.department_key, g.bucket_order, g.aging_bucket,
         sum(coalesce(e.amount, 0)) OVER w AS ar_amount, sum(coalesce(e.n, 0)) OVER w AS open_charges
  FROM grid g
  LEFT JOIN daily e
    ON e.day = g.date_day AND e.bucket_order = g.bucket_order
   AND e.datasource IS NOT DISTINCT FROM g.datasource AND e.payer IS NOT DISTINCT FROM g.payer
   AND e.department_key IS NOT DISTINCT FROM g.department_key
  WINDOW w AS (PARTITION BY g.datasource, g.payer, g.department_key, g.bucket_order ORDER BY g.date_day
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT date_day AS snapshot_date, year(date_day) * 10000 + month(date_day) * 100 + dayofmonth(date_day) AS date_key,
       datasource, payer, department_key, bucket_order, aging_bucket,
       CAST(ar_amount AS DECIMAL(18,2)) AS ar_amount, CAST(open_charges AS BIGINT) AS open_charges
FROM running WHERE open_charges <> 0
;
-- KPIs by month at every grain (as gold.kpi_monthly).
CREATE TABLE kpi_monthly AS
WITH months AS (
  SELECT DISTINCT date_trunc('month', service_date) AS month_start FROM fact_transaction WHERE service_date IS NOT NULL
),
bounds AS (SELECT month_start, last_day(month_start) AS month_end FROM months),
charges AS (
  SELECT date_trunc('month', service_date) AS month_start, datasource, payor_id AS payer, department_key, provider_sk, cpt_code,
         sum(charge_amount) AS gross_charges, count(*) AS charge_count,
         sum(date_diff('day', service_date, insert_date)) AS charge_lag_days_sum, count(insert_date) AS charge_lag_n
  FROM fact_transaction WHERE service_date IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
),
payments AS (
  SELECT date_trunc('month', paid_date) AS month_start, datasource, payor_id AS payer, department_key, provider_sk, cpt_code,
         sum(paid_amount) AS payments, sum(charge_amount) AS paid_charges
  FROM fact_transaction WHERE paid_date IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
),
ar AS (
  SELECT b.month_start, t.datasource, t.payor_id AS payer, t.department_key, t.provider_sk, t.cpt_code,
         sum(t.charge_amount) AS ar_total,
         sum(CASE WHEN date_diff('day', t.service_date, b.month_end) <= 30 THEN t.charge_amount ELSE 0 END) AS ar_0_30,
         sum(CASE WHEN date_diff('day', t.service_date, b.month_end) BETWEEN 31 AND 60 THEN t.charge_amount ELSE 0 END) AS ar_31_60,
         sum(CASE WHEN date_diff('day', t.service_date, b.month_end) BETWEEN 61 AND 90 THEN t.charge_amount ELSE 0 END) AS ar_61_90,
         sum(CASE WHEN date_diff('day', t.service_date, b.month_end) BETWEEN 91 AND 120 THEN t.charge_amount ELSE 0 END) AS ar_91_120,
         sum(CASE WHEN date_diff('day', t.service_date, b.month_end) > 120 THEN t.charge_amount ELSE 0 END) AS ar_over_120
  FROM bounds b
  JOIN fact_transaction t ON t.service_date <= b.month_end AND (t.paid_date IS NULL OR t.paid_date > b.month_end)
  GROUP BY 1, 2, 3, 4, 5, 6
),
claims AS (
  SELECT date_trunc('month', claim_date) AS month_start, datasource, payer_name AS payer, department_key, provider_sk, cpt_code,
         count(*) AS claims_submitted, sum(claim_amount) AS claims_amount,
         sum(CASE WHEN initial_denial THEN 1 ELSE 0 END) AS claims_denied,
         sum(CASE WHEN initial_denial THEN claim_amount ELSE 0 END) AS denied_amount,
         sum(CASE WHEN clean_first_pass THEN 1 ELSE 0 END) AS claims_clean,
         sum(CASE WHEN initial_denial AND NOT is_denied THEN 1 ELSE 0 END) AS denials_overturned,
         sum(date_diff('day', service_date, claim_date)) AS claim_lag_days_sum, count(service_date) AS claim_lag_n,
         sum(CASE WHEN paid_amount > 0 THEN paid_amount ELSE 0 END) AS claims_paid,
         sum(CASE WHEN paid_amount > 0 THEN coalesce(allowed_amount, claim_amount) ELSE 0 END) AS claims_allowed_paid,
         sum(CASE WHEN paid_amount > 0 THEN claim_amount ELSE 0 END) AS claims_charged_paid,
         sum(CASE WHEN paid_amount > 0 THEN 1 ELSE 0 END) AS claims_paid_count
  FROM fact_claim WHERE claim_date IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
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
    coalesce(p.payments, 0) AS payments,
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
    sum(gross_charges) AS gross_charges, sum(charge_lag_days_sum) AS charge_lag_days_sum, sum(charge_lag_n) AS charge_lag_n,
    sum(payments) AS payments, sum(ar_total) AS ar_total, sum(ar_0_30) AS ar_0_30, sum(ar_31_60) AS ar_31_60,
    sum(ar_61_90) AS ar_61_90, sum(ar_91_120) AS ar_91_120, sum(ar_over_120) AS ar_over_120,
    sum(claims_submitted) AS claims_submitted, sum(claims_amount) AS claims_amount, sum(claims_denied) AS claims_denied,
    sum(denied_amount) AS denied_amount, sum(claims_clean) AS claims_clean, sum(denials_overturned) AS denials_overturned,
    sum(claim_lag_days_sum) AS claim_lag_days_sum, sum(claim_lag_n) AS claim_lag_n, sum(claims_paid) AS claims_paid,
    sum(claims_allowed_paid) AS claims_allowed_paid, sum(claims_charged_paid) AS claims_charged_paid,
    sum(claims_paid_count) AS claims_paid_count
  FROM fine
  GROUP BY GROUPING SETS ((month_start), (month_start, payer), (month_start, datasource), (month_start, datasource, payer),
    (month_start, datasource, department_key), (month_start, datasource, provider_sk), (month_start, datasource, cpt_code))
),
windowed AS (
  SELECT r.*,
    sum(gross_charges) OVER (PARTITION BY grain, datasource, member ORDER BY year(month_start) * 12 + month(month_start)
      RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) AS charges_3m,
    date_diff('day', month_start - INTERVAL 2 MONTH, last_day(month_start)) + 1 AS days_3m
  FROM rolled r
)
SELECT month_start, grain, datasource, member,
  CAST(gross_charges AS DECIMAL(18,2)) AS gross_charges, CAST(payments AS DECIMAL(18,2)) AS payments,
  CAST(ar_total AS DECIMAL(18,2)) AS ar_total,
  CASE WHEN charges_3m > 0 THEN CAST(ar_total AS DOUBLE) / (CAST(charges_3m AS DOUBLE) / days_3m) END AS days_in_ar,
  CASE WHEN ar_total > 0 THEN CAST(ar_91_120 + ar_over_120 AS DOUBLE) / CAST(ar_total AS DOUBLE) END AS ar_over_90_pct,
  claims_submitted, claims_denied,
  CASE WHEN claims_submitted > 0 THEN CAST(claims_denied AS DOUBLE) / claims_submitted END AS initial_denial_rate,
  CASE WHEN claims_amount > 0 THEN CAST(denied_amount AS DOUBLE) / CAST(claims_amount AS DOUBLE) END AS initial_denial_rate_amount,
  CASE WHEN claims_submitted > 0 THEN CAST(claims_clean AS DOUBLE) / claims_submitted END AS clean_claim_rate,
  denials_overturned,
  CASE WHEN claims_allowed_paid > 0 THEN CAST(claims_paid AS DOUBLE) / CAST(claims_allowed_paid AS DOUBLE) END AS net_collection_rate,
  CASE WHEN claims_charged_paid > 0 THEN CAST(claims_paid AS DOUBLE) / CAST(claims_charged_paid AS DOUBLE) END AS gross_collection_rate,
  CASE WHEN charge_lag_n > 0 THEN CAST(charge_lag_days_sum AS DOUBLE) / charge_lag_n END AS charge_lag_days,
  CASE WHEN claim_lag_n > 0 THEN CAST(claim_lag_days_sum AS DOUBLE) / claim_lag_n END AS claim_lag_days,
  CASE WHEN claims_paid_count > 0 THEN CAST(claims_paid AS DOUBLE) / claims_paid_count END AS avg_reimbursement
FROM windowed
;
-- The gold tables land as Parquet, as rcmlake's land as Delta (Parquet plus a log).
COPY dim_patient TO 'out/dim_patient.parquet' (FORMAT parquet)
;
COPY dim_provider TO 'out/dim_provider.parquet' (FORMAT parquet)
;
COPY dim_department TO 'out/dim_department.parquet' (FORMAT parquet)
;
COPY dim_cpt_code TO 'out/dim_cpt_code.parquet' (FORMAT parquet)
;
COPY dim_icd_code TO 'out/dim_icd_code.parquet' (FORMAT parquet)
;
COPY dim_payer TO 'out/dim_payer.parquet' (FORMAT parquet)
;
COPY dim_date TO 'out/dim_date.parquet' (FORMAT parquet)
;
COPY fact_transaction TO 'out/fact_transaction.parquet' (FORMAT parquet)
;
COPY fact_claim TO 'out/fact_claim.parquet' (FORMAT parquet)
;
COPY fact_ar_snapshot TO 'out/fact_ar_snapshot.parquet' (FORMAT parquet)
;
COPY kpi_monthly TO 'out/kpi_monthly.parquet' (FORMAT parquet)
