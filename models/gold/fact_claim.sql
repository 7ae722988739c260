-- gold.fact_claim: one row per current, clean claim. The claim's first adjudicated status
-- (the first one after Pending, from silver's SCD2 history) tells whether it was denied on
-- first submission, which the initial denial rate and the clean claim rate need; the current
-- status tells whether a denial was later overturned.
--
-- Built incrementally: only the claims whose silver history or transaction fact changed.
-- incremental: key claim_key from silver.claims
-- incremental: gold.fact_transaction.transaction_key = transaction_key
WITH first_status AS (
  SELECT claim_key, claim_status AS initial_status
  FROM (
    SELECT claim_key, claim_status,
           ROW_NUMBER() OVER (PARTITION BY claim_key ORDER BY valid_from, _ingest_seq) AS rn
    FROM {{ ref "silver.claims" }}
    WHERE NOT is_quarantined AND claim_status <> 'Pending'
  ) v
  WHERE rn = 1
)
SELECT
  c.claim_key,
  c.claim_id,
  c.datasource,
  c.transaction_key,
  coalesce(t.patient_sk, '-1')          AS patient_sk,
  coalesce(t.provider_sk, '-1')         AS provider_sk,
  coalesce(t.department_key, 'unknown') AS department_key,
  t.cpt_code,
  coalesce(c.payer_name, 'Unknown')     AS payer_name,
  c.payer_type,
  c.service_date,
  c.claim_date,
  c.paid_date,
  c.claim_amount,
  c.allowed_amount,
  c.paid_amount,
  c.deductible,
  c.coinsurance,
  c.copay,
  c.claim_status,
  f.initial_status,
  coalesce(f.initial_status = 'Denied', FALSE)                      AS initial_denial,
  coalesce(c.claim_status = 'Denied', FALSE)                        AS is_denied,
  coalesce(f.initial_status IN ('Paid', 'Approved'), FALSE)         AS clean_first_pass,
  c.denial_reason,
  (t.transaction_key IS NULL)                                       AS has_unknown_member
FROM {{ ref "silver.claims" }} c
LEFT JOIN first_status f ON f.claim_key = c.claim_key
LEFT JOIN {{ ref "gold.fact_transaction" }} t ON t.transaction_key = c.transaction_key
WHERE c.is_current AND NOT c.is_quarantined AND NOT c.is_deleted
