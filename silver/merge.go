package silver

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
)

// DefaultFileBytes is the target size of a silver data file. Files hold rows sorted by key,
// so a merge rewrites only the files whose key range holds a changed key: smaller files make
// that rewrite smaller, at the cost of more files to list.
const DefaultFileBytes = 32 << 20

// merger writes one entity's merged history: the whole table on a first build or a full
// refresh; otherwise only the files that hold a key of the batch.
type merger struct {
	b        *Builder
	tbl      *delta.Table
	existing *delta.Snapshot // nil: a new table (or a full refresh)
	scd      SCD2
	incoming string // temp table of incoming rows (and delete markers)
	tmp      string // prefix for this entity's temp tables
}

// mergeStats says how much of the table a merge rewrote.
type mergeStats struct {
	filesBefore, filesRewritten int
}

func (m *merger) write(ctx context.Context, opts engine.WriteOptions) (*engine.WriteResult, mergeStats, error) {
	eng := m.b.engine()
	order := " ORDER BY " + strings.Join(m.scd.Key, ", ")
	opts.FileBytes = m.b.FileBytes
	if opts.FileBytes <= 0 {
		opts.FileBytes = DefaultFileBytes
	}
	empty := "(SELECT * FROM " + m.incoming + " i, (SELECT CAST(NULL AS TIMESTAMP) AS " + ColInsertedAt + ", CAST(NULL AS TIMESTAMP) AS " +
		ColModifiedAt + ", CAST(NULL AS TIMESTAMP) AS " + ColValidTo + ") z WHERE FALSE)"
	now := m.b.nowSQL()
	if m.existing == nil {
		opts.Mode = engine.Overwrite
		w, err := eng.WriteDelta(ctx, m.tbl, "SELECT * FROM ("+m.scd.MergeSQL(empty, m.incoming, now)+") q"+order, opts)
		return w, mergeStats{}, err
	}
	st := mergeStats{filesBefore: len(m.existing.Files())}
	affected, err := m.affectedFiles(ctx)
	if err != nil {
		return nil, st, err
	}
	st.filesRewritten = len(affected)
	cols := make([]string, len(m.existing.Schema.Fields))
	for i, f := range m.existing.Schema.Fields {
		cols[i] = f.Name
	}
	sel := "SELECT " + strings.Join(cols, ", ") + " FROM "
	inBatch := func(alias string) string {
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s i WHERE %s)", m.incoming, keyMatch(m.scd.Key, alias, "i"))
	}
	if len(affected) == 0 {
		// Only new keys: their versions go to new files; no existing file changes.
		opts.Mode = engine.Append
		w, err := eng.WriteDelta(ctx, m.tbl, sel+"("+m.scd.MergeSQL(empty, m.incoming, now)+") q"+order, opts)
		return w, st, err
	}
	scan, err := eng.ScanSQL(ctx, m.existing, affected)
	if err != nil {
		return nil, st, err
	}
	// Every stored version of the batch's keys (all of them live in the affected files), and
	// the rows of other keys that share those files, which are carried over unchanged.
	old := m.tmp + "_old"
	if err := eng.TempTable(ctx, old, fmt.Sprintf("SELECT * FROM %s a WHERE %s", scan, inBatch("a"))); err != nil {
		return nil, st, fmt.Errorf("reading the versions of changed keys: %w", err)
	}
	defer eng.DropTemp(context.WithoutCancel(ctx), old)
	q := sel + "(" + sel + scan + " a WHERE NOT " + inBatch("a") +
		"\nUNION ALL\n" + sel + "(" + m.scd.MergeSQL(old, m.incoming, now) + ") merged) q" + order
	opts.Mode = engine.Replace
	opts.Remove = affected
	w, err := eng.WriteDelta(ctx, m.tbl, q, opts)
	return w, st, err
}

// affectedFiles lists the table's files that hold a key of the batch. File statistics rule
// out files whose key range misses every batch key (files are written sorted by key); the
// rest are checked by reading their key column only.
func (m *merger) affectedFiles(ctx context.Context) ([]delta.FileEntry, error) {
	eng := m.b.engine()
	files := m.existing.Files()
	candidates := files
	if len(m.scd.Key) == 1 {
		var err error
		if candidates, err = m.byKeyRange(ctx, files); err != nil {
			return nil, err
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// Data file names are unique within a table (Delta writers name them by UUID).
	byName := map[string]delta.FileEntry{}
	keys := make([]string, len(candidates))
	for i, f := range candidates {
		byName[path.Base(f.Key)] = f
		keys[i] = f.Key
	}
	scan, err := eng.ParquetSQL(ctx, keys)
	if err != nil {
		return nil, err
	}
	r, err := eng.Query(ctx, fmt.Sprintf(`SELECT DISTINCT %s FROM %s a
		WHERE EXISTS (SELECT 1 FROM %s i WHERE %s)`, engine.ColFile, scan, m.incoming, keyMatch(m.scd.Key, "a", "i")))
	if err != nil {
		return nil, fmt.Errorf("finding the files that hold changed keys: %w", err)
	}
	var out []delta.FileEntry
	for _, row := range r.Rows {
		f, ok := byName[fmt.Sprint(row[0])]
		if !ok {
			return nil, fmt.Errorf("finding the files that hold changed keys: unexpected file %v", row[0])
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// byKeyRange keeps the files whose [min, max] key statistics hold at least one batch key;
// files without statistics are kept.
func (m *merger) byKeyRange(ctx context.Context, files []delta.FileEntry) ([]delta.FileEntry, error) {
	key := m.scd.Key[0]
	d := m.b.dialect()
	var rows []string
	var out []delta.FileEntry
	for i, f := range files {
		st, err := delta.ParseStats(f.Stats)
		lo, okLo := statString(st, err, true, key)
		hi, okHi := statString(st, err, false, key)
		if !okLo || !okHi {
			out = append(out, f)
			continue
		}
		rows = append(rows, fmt.Sprintf("(%d, %s, %s)", i, d.Literal(lo), d.Literal(hi)))
	}
	if len(rows) == 0 {
		return out, nil
	}
	// A range join (DuckDB plans it as an inequality join), not one probe per file.
	r, err := m.b.engine().Query(ctx, fmt.Sprintf(`SELECT DISTINCT f.i FROM (VALUES %s) f(i, lo, hi)
		JOIN (SELECT DISTINCT CAST(%s AS STRING) AS k FROM %s b0) b ON b.k >= f.lo AND b.k <= f.hi`, strings.Join(rows, ", "), key, m.incoming))
	if err != nil {
		return nil, fmt.Errorf("pruning files by key range: %w", err)
	}
	for _, row := range r.Rows {
		out = append(out, files[int(toInt(row[0]))])
	}
	return out, nil
}

// statString is a string column's min or max from a file's statistics.
func statString(st *delta.Stats, err error, min bool, col string) (string, bool) {
	if err != nil || st == nil {
		return "", false
	}
	vals := st.MaxValues
	if min {
		vals = st.MinValues
	}
	v, ok := vals[col].(string)
	return v, ok
}
