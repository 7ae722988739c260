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

// RowIdentity are the columns that determine a stored silver row: ColHash covers every other
// column (the data and its quality verdict). A reader that diffs two versions of a silver table
// can compare these instead of whole rows. A column added to silver rows outside the hashed data
// must be added here.
var RowIdentity = []string{ColHash, ColSeq, ColIngestSeq, ColIsDeleted, ColQuarantined,
	ColValidFrom, ColValidTo, ColIsCurrent, ColInsertedAt, ColModifiedAt}

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
	// CloseDeletes ends a deleted key's history: the deleted-marker version is kept (it holds
	// the time of the delete) but is not current, and closes at once, so the key has no
	// current version. Otherwise the marker is the current version, with is_deleted set.
	CloseDeletes bool
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
	validTo, current := "next_seq", "next_seq IS NULL"
	if s.CloseDeletes {
		validTo = "coalesce(next_seq, CASE WHEN " + ColIsDeleted + " THEN " + ColSeq + " END)"
		current = "next_seq IS NULL AND NOT " + ColIsDeleted
	}
	r := strings.NewReplacer(
		"{carry}", strings.Join(s.Columns, ", ")+", "+strings.Join([]string{ColHash, ColSeq, ColIsDeleted, ColIngestSeq, ColInsertedAt}, ", "),
		"{data}", strings.Join(s.Columns, ", "),
		"{existing}", existing, "{incoming}", incoming, "{now}", now,
		"{key}", strings.Join(s.Key, ", "), "{keymatch}", keyMatch(s.Key, "x", "d"),
		"{order}", fmt.Sprintf("PARTITION BY %s ORDER BY %s, %s, %s", strings.Join(s.Key, ", "), ColSeq, ColIngestSeq, colSrc),
		"{validto_expr}", validTo, "{current_expr}", current,
		"{hash}", ColHash, "{seq}", ColSeq, "{deleted}", ColIsDeleted, "{ingest}", ColIngestSeq,
		"{inserted}", ColInsertedAt, "{modified}", ColModifiedAt, "{validfrom}", ColValidFrom, "{validto}", ColValidTo,
		"{iscurrent}", ColIsCurrent, "{src}", colSrc, "{prevh}", colPrevHash, "{oldto}", colOldTo)
	return r.Replace(`WITH unioned AS (
  SELECT {carry}, {modified}, {validto} AS {oldto}, 0 AS {src} FROM {existing}
  UNION ALL
  SELECT {carry}, CASE WHEN FALSE THEN {now} END AS {modified}, CASE WHEN FALSE THEN {seq} END AS {oldto}, 1 AS {src} FROM (
    SELECT {data}, {hash}, {seq}, {deleted}, {ingest}, {now} AS {inserted} FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY {key}, {seq}, {hash} ORDER BY {ingest}) AS _rcmlake_dup FROM {incoming}) d
    WHERE _rcmlake_dup = 1
      AND NOT EXISTS (SELECT 1 FROM {existing} x WHERE {keymatch} AND x.{seq} = d.{seq} AND x.{hash} = d.{hash})) i
),
ordered AS (
  SELECT *, LAG({hash}) OVER ({order}) AS {prevh} FROM unioned
),
kept AS (
  SELECT * FROM ordered WHERE {prevh} IS NULL OR {prevh} <> {hash}
),
timeline AS (
  SELECT *, LEAD({seq}) OVER ({order}) AS next_seq FROM kept
),
closed AS (
  SELECT *, {validto_expr} AS _rcmlake_vto, {current_expr} AS _rcmlake_cur FROM timeline
)
SELECT {data}, {hash}, {seq}, {deleted}, {ingest},
  {seq} AS {validfrom},
  _rcmlake_vto AS {validto},
  _rcmlake_cur AS {iscurrent},
  coalesce({inserted}, {now}) AS {inserted},
  CASE WHEN {src} = 1 THEN {now}
       WHEN (_rcmlake_vto IS NULL) = ({oldto} IS NULL) AND (_rcmlake_vto IS NULL OR _rcmlake_vto = {oldto}) THEN coalesce({modified}, {now})
       ELSE {now} END AS {modified}
FROM closed`)
}

// keyMatch is "a.k1 = b.k1 AND ..." over the key columns.
func keyMatch(key []string, a, b string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = fmt.Sprintf("%s.%s = %s.%s", a, k, b, k)
	}
	return strings.Join(parts, " AND ")
}
