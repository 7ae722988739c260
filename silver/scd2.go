package silver

import (
	"fmt"
	"strings"
)

// SCD2 column names, the same in every silver entity.
const (
	ColHash       = "_row_hash"      // hash of the tracked columns (null-safe)
	ColSeq        = "_source_seq"    // the source's watermark/sequence: orders versions
	ColValidFrom  = "valid_from"     // when this version became true (source time)
	ColValidTo    = "valid_to"       // when the next version replaced it; NULL while current
	ColIsCurrent  = "is_current"     // exactly one current version per key
	ColIsDeleted  = "is_deleted"     // a deleted-marker version
	ColInsertedAt = "_inserted_at"   // when rcmlake first wrote this version
	ColModifiedAt = "_modified_at"   // when rcmlake last changed this version (e.g. closed it)
	ColIngestSeq  = "_ingest_seq"    // order of arrival, breaks ties on the source sequence
	colSrc        = "_rcmlake_src"   // 0 existing, 1 incoming (internal)
	colPrevHash   = "_rcmlake_prevh" // (internal)
	colOldTo      = "_rcmlake_oldto" // (internal)
)

// HashExpr is the null-safe change-detection hash of the tracked columns. Each value is
// length-prefixed and NULL has its own marker, so NULL, ”, 'NULL' and shifted boundaries
// ("a|b","c" versus "a","b|c") all hash differently. The seed's `<>` comparison missed changes
// to and from NULL; this does not.
func HashExpr(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		v := "CAST(" + c + " AS STRING)"
		parts[i] = fmt.Sprintf("coalesce(CAST(length(%s) AS STRING) || ':' || %s, 'N')", v, v)
	}
	return "md5(" + strings.Join(parts, " || '|' || ") + ")"
}

// SCD2 describes how one entity keeps history.
type SCD2 struct {
	Key     []string // business key columns
	Columns []string // every data column carried into silver (key included)
}

// MergeSQL rebuilds the full version history of the keys present in the relations existing
// (silver rows, with every SCD2 column) and incoming (new rows with the data columns,
// ColHash, ColSeq, ColIsDeleted, ColIngestSeq). now is a SQL timestamp expression.
//
// The timeline of each key is recomputed from all its versions, so late and out-of-order rows
// land in sequence and several versions of one key in one batch apply in order. An incoming
// row identical to a stored version (same key, sequence and hash) is ignored, and a version
// equal to the one before it is dropped, so re-running the same input changes nothing.
// Versions are compacted: a row that only confirms the value before it is not kept.
func (s SCD2) MergeSQL(existing, incoming, now string) string {
	key := strings.Join(s.Key, ", ")
	data := strings.Join(s.Columns, ", ")
	carry := data + ", " + strings.Join([]string{ColHash, ColSeq, ColIsDeleted, ColIngestSeq, ColInsertedAt}, ", ")
	order := fmt.Sprintf("PARTITION BY %s ORDER BY %s, %s, %s", key, ColSeq, ColIngestSeq, colSrc)
	return fmt.Sprintf(`WITH unioned AS (
  SELECT %[1]s, %[5]s, %[6]s AS %[7]s, 0 AS %[8]s FROM %[2]s
  UNION ALL
  SELECT %[1]s, CASE WHEN FALSE THEN %[4]s END AS %[5]s, CASE WHEN FALSE THEN %[12]s END AS %[7]s, 1 AS %[8]s FROM (
    SELECT %[9]s, %[11]s, %[12]s, %[13]s, %[14]s, %[4]s AS %[10]s FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY %[20]s, %[12]s, %[11]s ORDER BY %[14]s) AS _rcmlake_dup FROM %[3]s) d
    WHERE _rcmlake_dup = 1
      AND NOT EXISTS (SELECT 1 FROM %[2]s x WHERE %[21]s AND x.%[12]s = d.%[12]s AND x.%[11]s = d.%[11]s)) i
),
ordered AS (
  SELECT *, LAG(%[11]s) OVER (%[15]s) AS %[16]s FROM unioned
),
kept AS (
  SELECT * FROM ordered WHERE %[16]s IS NULL OR %[16]s <> %[11]s
),
timeline AS (
  SELECT *, LEAD(%[12]s) OVER (%[15]s) AS next_seq FROM kept
)
SELECT %[9]s, %[11]s, %[12]s, %[13]s, %[14]s,
  %[12]s AS %[17]s,
  next_seq AS %[18]s,
  next_seq IS NULL AS %[19]s,
  coalesce(%[10]s, %[4]s) AS %[10]s,
  CASE WHEN %[8]s = 1 THEN %[4]s
       WHEN (next_seq IS NULL) = (%[7]s IS NULL) AND (next_seq IS NULL OR next_seq = %[7]s) THEN coalesce(%[5]s, %[4]s)
       ELSE %[4]s END AS %[5]s
FROM timeline`,
		carry, existing, incoming, now, ColModifiedAt, ColValidTo, colOldTo, colSrc,
		data, ColInsertedAt, ColHash, ColSeq, ColIsDeleted, ColIngestSeq, order, colPrevHash,
		ColValidFrom, ColValidTo, ColIsCurrent, key, keyMatch(s.Key, "x", "d"))
}

// keyMatch is "a.k1 = b.k1 AND ..." over the key columns.
func keyMatch(key []string, a, b string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = fmt.Sprintf("%s.%s = %s.%s", a, k, b, k)
	}
	return strings.Join(parts, " AND ")
}
