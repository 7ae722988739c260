-- silver.icd_codes: ICD-10 codes with their titles, from the configured source (WHO ICD-API,
-- NLM Clinical Tables or the CMS order file). The code keeps its dot (E11.9); code_nodot is
-- the form claims files often use.
SELECT
  _source_seq, _ingest_seq, _load_time,          -- as staged: they order versions and tell loads apart
  upper(trim(code))                               AS code,
  upper(replace(trim(code), '.', ''))             AS code_nodot,
  datasource,
  system                                          AS code_system,
  title,
  short_title,
  TRY_CAST(billable AS BOOLEAN)                   AS billable,
  kind,
  parent_code,
  release,
  source
FROM {{ staged }}
