-- gold.dim_payer: the payers seen on claims and transactions. Claims carry payer names
-- (the seed's PayorID column holds names), so the name is the business key.
SELECT md5(payer_name) AS payer_sk, payer_name, max(payer_type) AS payer_type
FROM (
  SELECT payer_name, payer_type FROM {{ ref "silver.claims" }}
  WHERE is_current AND NOT is_quarantined AND NOT is_deleted AND payer_name IS NOT NULL
) p
GROUP BY payer_name
UNION ALL
SELECT '-1', 'Unknown', NULL
