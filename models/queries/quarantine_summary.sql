-- Quarantined rows per silver entity and reason (current versions).
SELECT 'patients' AS entity, quarantine_reasons, count(*) AS rows_quarantined
FROM silver.patients WHERE is_quarantined AND is_current GROUP BY 1, 2
UNION ALL
SELECT 'transactions', quarantine_reasons, count(*)
FROM silver.transactions WHERE is_quarantined AND is_current GROUP BY 1, 2
UNION ALL
SELECT 'claims', quarantine_reasons, count(*)
FROM silver.claims WHERE is_quarantined AND is_current GROUP BY 1, 2
ORDER BY 1, 3 DESC
