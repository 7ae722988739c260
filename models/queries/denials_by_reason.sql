-- Initial denials by payer and reason, with how many were later overturned.
SELECT
  payer_name,
  coalesce(denial_reason, '(none given)')            AS denial_reason,
  count(*)                                           AS denied_claims,
  sum(claim_amount)                                  AS denied_amount,
  count(*) FILTER (WHERE claim_status = 'Paid')      AS overturned
FROM gold.fact_claim
WHERE initial_denial
GROUP BY 1, 2
ORDER BY denied_claims DESC, payer_name, denial_reason
