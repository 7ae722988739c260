-- The floor: the same full refresh as `rcmlake run`, as one plain DuckDB script over the
-- generated world's CSV exports. No Delta, no history, no audit, no quarantine table, no
-- retries: the latest version of each row, typed into the common data model, the seed's
-- quality flags, the star schema's joins and the monthly KPIs, each written once as Parquet.
-- It is about the least work an embedded engine can do for the same answer, and the yardstick
-- `rcmlake bench` divides rcmlake's time by. {emr}, {claims_a}, {claims_b} and {out} are filled in.

CREATE TABLE patients AS
SELECT patient_id || '-' || datasource AS patient_key, *,
       (patient_id IS NULL OR first_name IS NULL OR first_name = 'NULL' OR dob IS NULL) AS is_quarantined
FROM (
  SELECT CAST(PatientID AS VARCHAR) AS patient_id, 'hos-a' AS datasource, FirstName AS first_name, LastName AS last_name,
         MiddleName AS middle_name, SSN AS ssn, PhoneNumber AS phone_number, Gender AS gender,
         TRY_CAST(DOB AS DATE) AS dob, Address AS address, TRY_CAST(ModifiedDate AS TIMESTAMP) AS modified_date
  FROM read_csv('{emr}/hos-a/patients.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')
  UNION ALL
  SELECT CAST(ID AS VARCHAR), 'hos-b', F_Name, L_Name, M_Name, SSN, PhoneNumber, Gender,
         TRY_CAST(DOB AS DATE), Address, TRY_CAST(Updated_Date AS TIMESTAMP)
  FROM read_csv('{emr}/hos-b/patients.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')
) p
QUALIFY row_number() OVER (PARTITION BY patient_id, datasource ORDER BY modified_date DESC) = 1;

CREATE TABLE providers AS
SELECT ProviderID || '-' || ds AS provider_key, ProviderID AS provider_id, ds AS datasource, FirstName AS first_name,
       LastName AS last_name, Specialization AS specialization, DeptID || '-' || ds AS department_key, CAST(NPI AS VARCHAR) AS npi
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('{emr}/hos-a/providers.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')
      UNION ALL SELECT *, 'hos-b' FROM read_csv('{emr}/hos-b/providers.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')) x;

CREATE TABLE departments AS
SELECT DeptID || '-' || ds AS department_key, DeptID AS department_id, ds AS datasource, Name AS name
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('{emr}/hos-a/departments.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')
      UNION ALL SELECT *, 'hos-b' FROM read_csv('{emr}/hos-b/departments.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')) x;

CREATE TABLE encounters AS
SELECT EncounterID || '-' || ds AS encounter_key, ds AS datasource, PatientID || '-' || ds AS patient_key,
       TRY_CAST(EncounterDate AS DATE) AS encounter_date, EncounterType AS encounter_type,
       ProviderID || '-' || ds AS provider_key, DepartmentID || '-' || ds AS department_key, ProcedureCode AS procedure_code
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('{emr}/hos-a/encounters.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')
      UNION ALL SELECT *, 'hos-b' FROM read_csv('{emr}/hos-b/encounters.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')) x
QUALIFY row_number() OVER (PARTITION BY EncounterID, ds ORDER BY TRY_CAST(ModifiedDate AS TIMESTAMP) DESC) = 1;

CREATE TABLE transactions AS
SELECT TransactionID || '-' || ds AS transaction_key, TransactionID AS transaction_id, ds AS datasource,
       PatientID || '-' || ds AS patient_key, ProviderID || '-' || ds AS provider_key, DeptID || '-' || ds AS department_key,
       EncounterID || '-' || ds AS encounter_key, ClaimID || '-' || ds AS claim_key,
       TRY_CAST(VisitDate AS DATE) AS visit_date, TRY_CAST(ServiceDate AS DATE) AS service_date,
       TRY_CAST(PaidDate AS DATE) AS paid_date, VisitType AS visit_type, AmountType AS amount_type,
       TRY_CAST(Amount AS DECIMAL(18,2)) AS amount, TRY_CAST(PaidAmount AS DECIMAL(18,2)) AS paid_amount,
       PayorID AS payor_id, ProcedureCode AS procedure_code, ICDCode AS icd_code, LineOfBusiness AS line_of_business
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('{emr}/hos-a/transactions.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')
      UNION ALL SELECT *, 'hos-b' FROM read_csv('{emr}/hos-b/transactions.csv', all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')) x
QUALIFY row_number() OVER (PARTITION BY TransactionID, ds ORDER BY TRY_CAST(ModifiedDate AS TIMESTAMP) DESC) = 1;

-- Every version of every claim (the monthly files repeat a claim as its status moves).
CREATE TABLE claim_versions AS
SELECT ClaimID || '-' || ds AS claim_key, ClaimID AS claim_id, ds AS datasource, TransactionID || '-' || ds AS transaction_key,
       TRY_CAST(ServiceDate AS DATE) AS service_date, TRY_CAST(ClaimDate AS DATE) AS claim_date,
       TRY_CAST(PaidDate AS DATE) AS paid_date, PayorID AS payer_name, PayorType AS payer_type,
       TRY_CAST(ClaimAmount AS DECIMAL(18,2)) AS claim_amount, TRY_CAST(AllowedAmount AS DECIMAL(18,2)) AS allowed_amount,
       TRY_CAST(PaidAmount AS DECIMAL(18,2)) AS paid_amount, ClaimStatus AS claim_status, NULLIF(DenialReason, '') AS denial_reason,
       TRY_CAST(ModifiedDate AS TIMESTAMP) AS modified_date
FROM (SELECT *, 'hos-a' AS ds FROM read_csv('{claims_a}', all_varchar = true, union_by_name = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)
      UNION ALL BY NAME SELECT *, 'hos-b' FROM read_csv('{claims_b}', all_varchar = true, union_by_name = true, header = true, delim = ',', quote = '"', escape = '"', ignore_errors = true)) x
WHERE ClaimID IS NOT NULL AND TransactionID IS NOT NULL AND ClaimStatus IS NOT NULL;

CREATE TABLE dim_patient AS SELECT md5(patient_key) AS patient_sk, * FROM patients WHERE NOT is_quarantined;
CREATE TABLE dim_provider AS SELECT md5(provider_key) AS provider_sk, * FROM providers;
CREATE TABLE dim_payer AS SELECT md5(payer_name) AS payer_sk, payer_name, max(payer_type) AS payer_type
  FROM claim_versions GROUP BY payer_name;

CREATE TABLE fact_transaction AS
SELECT t.*, coalesce(p.patient_sk, '-1') AS patient_sk, coalesce(v.provider_sk, '-1') AS provider_sk,
       coalesce(d.department_key, 'unknown') AS department_key_dim,
       (p.patient_sk IS NULL OR v.provider_sk IS NULL OR d.department_key IS NULL) AS has_unknown_member
FROM transactions t
LEFT JOIN dim_patient p ON p.patient_key = t.patient_key
LEFT JOIN dim_provider v ON v.provider_key = t.provider_key
LEFT JOIN departments d ON d.department_key = t.department_key;

CREATE TABLE fact_claim AS
WITH first_status AS (
  SELECT claim_key, arg_min(claim_status, modified_date) AS initial_status
  FROM claim_versions WHERE claim_status <> 'Pending' GROUP BY claim_key
)
SELECT c.*, f.initial_status, coalesce(f.initial_status = 'Denied', FALSE) AS initial_denial,
       coalesce(c.claim_status = 'Denied', FALSE) AS is_denied,
       coalesce(f.initial_status IN ('Paid', 'Approved'), FALSE) AS clean_first_pass,
       t.patient_sk, t.provider_sk, t.department_key
FROM (SELECT * FROM claim_versions QUALIFY row_number() OVER (PARTITION BY claim_key ORDER BY modified_date DESC) = 1) c
LEFT JOIN first_status f ON f.claim_key = c.claim_key
LEFT JOIN fact_transaction t ON t.transaction_key = c.transaction_key;

-- Monthly KPIs by hospital and payer: charges, collections, denials, clean claims, and the
-- month-end A/R with its aging.
CREATE TABLE kpi_monthly AS
WITH months AS (
  SELECT DISTINCT CAST(date_trunc('month', service_date) AS DATE) AS month FROM fact_transaction WHERE service_date IS NOT NULL
), ar AS (
  SELECT m.month, c.datasource, c.payer_name,
         sum(c.claim_amount - coalesce(c.paid_amount, 0)) AS ar_total,
         sum(CASE WHEN date_diff('day', c.service_date, last_day(m.month)) > 90 THEN c.claim_amount - coalesce(c.paid_amount, 0) END) AS ar_over_90
  FROM months m JOIN fact_claim c ON c.service_date <= last_day(m.month) AND (c.paid_date IS NULL OR c.paid_date > last_day(m.month))
  GROUP BY ALL
), flow AS (
  SELECT CAST(date_trunc('month', c.service_date) AS DATE) AS month, c.datasource, c.payer_name,
         sum(c.claim_amount) AS charges, sum(coalesce(c.paid_amount, 0)) AS collections, count(*) AS claims,
         count(*) FILTER (WHERE c.initial_denial) AS initial_denials, count(*) FILTER (WHERE c.clean_first_pass) AS clean_claims,
         avg(date_diff('day', c.service_date, c.claim_date)) AS claim_lag_days
  FROM fact_claim c WHERE c.service_date IS NOT NULL GROUP BY ALL
)
SELECT f.*, a.ar_total, a.ar_over_90, a.ar_over_90 / nullif(a.ar_total, 0) AS ar_over_90_share,
       f.initial_denials / nullif(f.claims, 0) AS initial_denial_rate, f.clean_claims / nullif(f.claims, 0) AS clean_claim_rate,
       a.ar_total / nullif(f.charges / 30.0, 0) AS days_in_ar
FROM flow f LEFT JOIN ar a USING (month, datasource, payer_name);

COPY patients TO '{out}/silver_patients.parquet' (FORMAT parquet);
COPY providers TO '{out}/silver_providers.parquet' (FORMAT parquet);
COPY encounters TO '{out}/silver_encounters.parquet' (FORMAT parquet);
COPY transactions TO '{out}/silver_transactions.parquet' (FORMAT parquet);
COPY claim_versions TO '{out}/silver_claims.parquet' (FORMAT parquet);
COPY dim_patient TO '{out}/dim_patient.parquet' (FORMAT parquet);
COPY dim_provider TO '{out}/dim_provider.parquet' (FORMAT parquet);
COPY dim_payer TO '{out}/dim_payer.parquet' (FORMAT parquet);
COPY fact_transaction TO '{out}/fact_transaction.parquet' (FORMAT parquet);
COPY fact_claim TO '{out}/fact_claim.parquet' (FORMAT parquet);
COPY kpi_monthly TO '{out}/kpi_monthly.parquet' (FORMAT parquet);
