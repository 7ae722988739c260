package silver

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// keySet is where one source's complete list of keys is, as of its newest load: the rows of
// a full load, or the key snapshot an incremental load with track_deletes took.
type keySet struct {
	files    []string // bronze files holding the source's primary key column
	pk       string   // the source's primary key column
	idColumn string   // the CDM column that carries it
	at       string   // SQL timestamp of the load: when the deletes were seen
}

// sourceKeySet finds the newest key list of one entity source, if its loads give one.
func (b *Builder) sourceKeySet(e config.Entity, s source) (*keySet, string) {
	if s.last == nil {
		return nil, ""
	}
	var files []string
	switch {
	case s.last.LoadType == config.LoadFull:
		files = s.last.Files
	case s.last.KeysFile != "":
		files = []string{s.last.KeysFile}
	default:
		return nil, "" // incremental without track_deletes, or a landing file: deletes cannot be seen
	}
	var pk []string
	for _, db := range b.Config.Sources.EMR {
		if db.Datasource != s.cfg.Datasource {
			continue
		}
		for _, t := range db.Tables {
			if t.TargetName() == s.cfg.Table {
				pk = t.PrimaryKey
			}
		}
	}
	if len(pk) != 1 {
		return nil, fmt.Sprintf("%s.%s has no single-column primary_key in the config", s.cfg.Datasource, s.cfg.Table)
	}
	for cdm, expr := range s.cfg.Columns {
		if strings.EqualFold(strings.TrimSpace(expr), pk[0]) {
			return &keySet{files: files, pk: pk[0], idColumn: cdm, at: timestampSQL(s.last.LoadDate)}, ""
		}
	}
	return nil, fmt.Sprintf("no CDM column of %s.%s maps its primary key %s as is", s.cfg.Datasource, s.cfg.Table, pk[0])
}

// markDeletes adds a deleted-marker row to the incoming batch for every key whose newest
// version came from a source that no longer holds it. The marker repeats the last known
// values, so the deleted version reads like the one before it; its hash differs, so a key
// that comes back later is a new version again. Markers take the arrival numbers after
// lastSeq, in turn. Returns the number of markers.
func (b *Builder) markDeletes(ctx context.Context, e config.Entity, srcs []source, existingScan, incoming string, carried []string, lastSeq int64) (int64, error) {
	perDatasource := map[string]int{}
	for _, s := range e.Sources {
		perDatasource[s.Datasource]++
	}
	var total int64
	for _, s := range srcs {
		ks, why := b.sourceKeySet(e, s)
		if ks == nil {
			if why != "" {
				b.Log.Warn("deletes cannot be detected", "entity", e.Name, "reason", why)
			}
			continue
		}
		if perDatasource[s.cfg.Datasource] > 1 {
			b.Log.Warn("deletes cannot be detected", "entity", e.Name, "reason", "several sources share datasource "+s.cfg.Datasource)
			continue
		}
		var paths []string
		for _, f := range ks.files {
			p, err := b.Lake.LocalPath(ctx, f)
			if err != nil {
				return 0, err
			}
			paths = append(paths, duckdb.Literal(p))
		}
		cols := strings.Join(carried, ", ")
		ds := duckdb.Literal(s.cfg.Datasource)
		var from []string
		if existingScan != "" {
			from = append(from, fmt.Sprintf("SELECT %s, %s, %s FROM %s x WHERE %s AND NOT %s AND datasource = %s",
				cols, ColSeq, ColIngestSeq, existingScan, ColIsCurrent, ColIsDeleted, ds))
		}
		from = append(from, fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE NOT %s AND datasource = %s",
			cols, ColSeq, ColIngestSeq, incoming, ColIsDeleted, ds))
		q := fmt.Sprintf(`INSERT INTO %[1]s BY NAME
SELECT %[2]s, md5('deleted|' || %[3]s) AS %[3]s,
  greatest(CAST(%[4]s AS TIMESTAMP), CAST(%[5]s AS TIMESTAMP) + INTERVAL 1 MICROSECOND) AS %[5]s,
  TRUE AS %[6]s, CAST(%[13]d + row_number() OVER () AS BIGINT) AS %[7]s
FROM (
  SELECT *, row_number() OVER (PARTITION BY %[8]s ORDER BY %[5]s DESC, %[7]s DESC) AS _rcmlake_latest
  FROM (%[9]s) u
) v
WHERE _rcmlake_latest = 1 AND %[10]s IS NOT NULL
  AND %[10]s NOT IN (SELECT CAST(%[11]s AS VARCHAR) FROM read_parquet([%[12]s], union_by_name = true) WHERE %[11]s IS NOT NULL)`,
			incoming, strings.Join(without(carried, ColHash), ", "), ColHash, ks.at, ColSeq, ColIsDeleted, ColIngestSeq,
			strings.Join(e.Key, ", "), strings.Join(from, "\nUNION ALL BY NAME\n"), ks.idColumn, duckdb.Ident(ks.pk), strings.Join(paths, ", "), lastSeq+total)
		if err := b.Lake.Engine.Exec(ctx, q); err != nil {
			return total, fmt.Errorf("detecting deletes from %s.%s: %w", s.cfg.Datasource, s.cfg.Table, err)
		}
		r, err := b.Lake.Engine.Query(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND datasource = %s", incoming, ColIsDeleted, ds))
		if err != nil {
			return total, err
		}
		total += toInt(r.Rows[0][0])
	}
	return total, nil
}

func without(cols []string, drop string) []string {
	var out []string
	for _, c := range cols {
		if c != drop {
			out = append(out, c)
		}
	}
	return out
}
