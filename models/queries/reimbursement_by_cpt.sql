-- Average reimbursement per paid claim, by CPT code and payer.
SELECT
  cpt_code,
  payer_name,
  count(*)                             AS paid_claims,
  round(avg(paid_amount), 2)           AS avg_paid,
  round(avg(allowed_amount), 2)        AS avg_allowed,
  round(avg(claim_amount), 2)          AS avg_charge
FROM gold.fact_claim
WHERE claim_status = 'Paid'
GROUP BY 1, 2
ORDER BY paid_claims DESC, cpt_code, payer_name
