-- silver.cpt_codes: the CPT code file, one version per change of a code's description,
-- category or status. Codes are text: leading zeros ("0001U") matter.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  upper(trim(cpt_code))                          AS cpt_code,
  datasource,
  trim(category)                                 AS category,
  trim(description)                              AS description,
  -- The seed's file spells "No Change" both ways.
  CASE WHEN lower(trim(code_status)) = 'no change' THEN 'No Change' ELSE trim(code_status) END AS code_status
FROM {{ staged }}
