package silver

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcmlake/rcmlake/config"
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

// markDeletes makes a deleted-marker row for every key whose newest version came from a
// source that no longer holds it, one temporary table of markers per source, with the
// columns of kept (cols, then the hash, sequence, deleted flag and arrival number). The
// marker repeats the last known values, so the deleted version reads like the one before it;
// its hash differs, so a key that comes back later is a new version again. Markers take the
// arrival numbers after lastSeq, in turn. It returns the marker tables, every temporary table
// it made (also on error; the caller drops them once it no longer reads the markers: Spark's
// cached views resolve the views they read from) and the number of markers.
func (b *Builder) markDeletes(ctx context.Context, e config.Entity, srcs []source, existingScan, kept string, cols []string, lastSeq int64) (markers, temps []string, n int64, err error) {
	eng, d := b.engine(), b.dialect()
	perDatasource := map[string]int{}
	for _, s := range e.Sources {
		perDatasource[s.Datasource]++
	}
	for i, s := range srcs {
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
		keys, err := eng.ParquetSQL(ctx, ks.files)
		if err != nil {
			return markers, temps, n, err
		}
		// First the keys whose source id is gone, reading only key columns; then the full
		// rows of those keys alone, whose newest version each marker repeats. (The id is the
		// same in every version of a key: the key is made from it.)
		prefix := fmt.Sprintf("%s_%d", strings.TrimSuffix(kept, "_kept"), i)
		ds := d.Literal(s.cfg.Datasource)
		parts := func(sel, cond string) string {
			q := fmt.Sprintf("SELECT %s FROM %s c WHERE NOT %s AND datasource = %s%s", sel, kept, ColIsDeleted, ds, cond)
			if existingScan != "" {
				q += fmt.Sprintf("\nUNION ALL\nSELECT %s FROM %s c WHERE %s AND NOT %s AND datasource = %s%s",
					sel, existingScan, ColIsCurrent, ColIsDeleted, ds, cond)
			}
			return q
		}
		key := strings.Join(e.Key, ", ")
		gone := prefix + "_gone"
		temps = append(temps, gone)
		if err := eng.TempTable(ctx, gone, fmt.Sprintf(`SELECT DISTINCT %[1]s FROM (%[2]s) u
WHERE _rcmlake_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %[4]s k WHERE CAST(k.%[3]s AS STRING) = u._rcmlake_id)`,
			key, parts(key+", "+ks.idColumn+" AS _rcmlake_id", ""), d.Ident(ks.pk), keys)); err != nil {
			return markers, temps, n, fmt.Errorf("detecting deletes from %s.%s: %w", s.cfg.Datasource, s.cfg.Table, err)
		}
		carried := strings.Join(append(append([]string{}, cols...), ColHash, ColSeq, ColIngestSeq), ", ")
		q := fmt.Sprintf(`SELECT %[1]s, md5('deleted|' || %[2]s) AS %[2]s,
  greatest(CAST(%[3]s AS TIMESTAMP), CAST(%[4]s AS TIMESTAMP) + INTERVAL 1 MICROSECOND) AS %[4]s,
  TRUE AS %[5]s, CAST(%[6]d + row_number() OVER (ORDER BY %[7]s) AS BIGINT) AS %[8]s
FROM (
  SELECT *, row_number() OVER (PARTITION BY %[7]s ORDER BY %[4]s DESC, %[8]s DESC) AS _rcmlake_latest
  FROM (%[9]s) u
) v
WHERE _rcmlake_latest = 1`,
			strings.Join(cols, ", "), ColHash, ks.at, ColSeq, ColIsDeleted, lastSeq+n, key, ColIngestSeq,
			parts(carried, " AND EXISTS (SELECT 1 FROM "+gone+" g WHERE "+keyMatch(e.Key, "g", "c")+")"))
		name := prefix + "_markers"
		temps = append(temps, name)
		markers = append(markers, name)
		if err := eng.TempTable(ctx, name, q); err != nil {
			return markers, temps, n, fmt.Errorf("detecting deletes from %s.%s: %w", s.cfg.Datasource, s.cfg.Table, err)
		}
		r, err := eng.Query(ctx, "SELECT count(*) FROM "+name)
		if err != nil {
			return markers, temps, n, err
		}
		n += toInt(r.Rows[0][0])
	}
	return markers, temps, n, nil
}
