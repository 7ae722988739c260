package gold

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/silver"
)

// A gold model records in its commits the version of every input it read (a Delta txn
// "input:<table>") and a hash of its SQL text. A rebuild whose inputs and text are unchanged
// is skipped.
//
// A fact model can also declare, in its header, how its rows follow its inputs:
//
//	-- incremental: key transaction_key from silver.transactions
//	-- incremental: gold.dim_patient.patient_key = patient_key
//
// The first line names the output key and the driver table, which holds that key under the
// same name: each output row is computed from the driver's rows of its key. Each further line
// says that an input's column is matched by an expression over the driver's columns. Then a
// build computes only the keys that can have changed: the driver's keys whose rows changed, and
// the driver's keys whose expression matches a changed row of a mapped input. A map to a
// dimension with history ends in "as of <date expression over the driver>":
//
//	-- incremental: gold.dim_patient.patient_key = patient_key as of service_date
//
// The driver then joins the version valid at that date (valid_from <= date < valid_to), and
// depends on a changed version only from the first day the change moves: a new or removed
// version from its valid_from, a version whose end moved from the earlier of its two ends.
// A patient's new version touches the charges from its start on, not all of the patient's.
// An input's
// changed rows are those of the files added since the recorded version, less those of the files
// removed (and the other way round), so the cost follows the change, not the table. Any other
// change (an input not declared, the model's text, a version no longer in the log) rebuilds the
// table in full.
type incremental struct {
	key    string
	driver string
	maps   []inputMap
}

// inputMap: rows of the driver whose expr equals input.column depend on that input row (as
// of the date asOf, when the input keeps versions).
type inputMap struct {
	input, column, expr string
	asOf                string
}

// FactFileBytes is the target size of an incremental fact's data files, written sorted by key,
// so that a change rewrites only the files whose key range it touches.
const FactFileBytes = 32 << 20

// DefaultMaxRewriteShare: an incremental fact build that would rewrite more than this share of
// the table's files rebuilds the table instead.
const DefaultMaxRewriteShare = 0.5

var incrementalLine = regexp.MustCompile(`(?m)^--\s*incremental:\s*(.*?)\s*$`)
var incrementalHead = regexp.MustCompile(`^key\s+(\w+)\s+from\s+(\w+\.\w+)$`)
var incrementalMap = regexp.MustCompile(`^(\w+\.\w+)\.(\w+)\s*=\s*(.+)$`)
var asOfClause = regexp.MustCompile(`\s+as\s+of\s+(.+)$`)

// parseIncremental reads a model's incremental declaration; nil if it has none.
func parseIncremental(text string) (*incremental, error) {
	lines := incrementalLine.FindAllStringSubmatch(text, -1)
	if len(lines) == 0 {
		return nil, nil
	}
	h := incrementalHead.FindStringSubmatch(lines[0][1])
	if h == nil {
		return nil, fmt.Errorf("incremental: the first line must read 'key <column> from <layer.table>', not %q", lines[0][1])
	}
	inc := &incremental{key: h[1], driver: h[2]}
	for _, l := range lines[1:] {
		m := incrementalMap.FindStringSubmatch(l[1])
		if m == nil {
			return nil, fmt.Errorf("incremental: want '<layer.table>.<column> = <expression over %s>', not %q", inc.driver, l[1])
		}
		mp := inputMap{input: m[1], column: m[2], expr: m[3]}
		if a := asOfClause.FindStringSubmatchIndex(mp.expr); a != nil {
			mp.expr, mp.asOf = strings.TrimSpace(mp.expr[:a[0]]), strings.TrimSpace(mp.expr[a[2]:a[3]])
		}
		inc.maps = append(inc.maps, mp)
	}
	return inc, nil
}

// declares reports whether a change of input can be followed key by key.
func (inc *incremental) declares(input string) bool {
	if input == inc.driver {
		return true
	}
	for _, m := range inc.maps {
		if m.input == input {
			return true
		}
	}
	return false
}

const (
	inputTxn = "input:"
	buildTxn = "rcmlake.gold.build"
)

// Delta txn versions only grow, so the model's text is recorded in the app id
// ("model:gold/x:<hash>") with the build number as its version: the text of the last build is
// the one whose entry carries the latest build number.
func modelTxn(m Model, text string) string {
	h := fnv.New64a()
	h.Write([]byte(text))
	return fmt.Sprintf("model:%s/%s:%016x", m.Layer, m.Name, h.Sum64())
}

// buildTxns are what a commit of the model records: a build number that always moves (so the
// writer never mistakes the commit for a retry), its text, and the versions of the inputs
// that moved since prev (an entry, once written, stays in the table's state).
func buildTxns(m Model, text string, inputs map[string]*delta.Snapshot, prev *delta.Snapshot) []delta.Txn {
	next := int64(0)
	if prev != nil {
		next = prev.Version + 1
	}
	out := []delta.Txn{{AppID: buildTxn, Version: next}, {AppID: modelTxn(m, text), Version: next}}
	for _, name := range sortedKeys(inputs) {
		if prev != nil {
			if v, ok := prev.TxnVersion(inputTxn + name); ok && v >= inputs[name].Version {
				continue // unchanged (or an input recreated at a lower version: never up to date)
			}
		}
		out = append(out, delta.Txn{AppID: inputTxn + name, Version: inputs[name].Version})
	}
	return out
}

// sameText reports whether prev's last build ran this text.
func sameText(prev *delta.Snapshot, m Model, text string) bool {
	last, ok := prev.TxnVersion(buildTxn)
	v, found := prev.TxnVersion(modelTxn(m, text))
	return ok && found && v == last
}

// upToDate reports whether prev was built from exactly these inputs and text.
func upToDate(prev *delta.Snapshot, m Model, text string, inputs map[string]*delta.Snapshot) bool {
	if !sameText(prev, m, text) {
		return false
	}
	for name, s := range inputs {
		if v, ok := prev.TxnVersion(inputTxn + name); !ok || v != s.Version {
			return false
		}
	}
	return true
}

// changedKeys fills keys with the driver keys that can have changed since prev was built. ok is
// false when the change cannot be followed key by key and the table must be rebuilt.
func (b *Builder) changedKeys(ctx context.Context, m Model, text string, inc *incremental, prev *delta.Snapshot,
	inputs map[string]*delta.Snapshot, keys string) (ok bool, err error) {
	if !sameText(prev, m, text) {
		return false, nil
	}
	drv, found := inputs[inc.driver]
	if !found {
		return false, nil
	}
	if was, ok := prev.TxnVersion(inputTxn + inc.driver); ok && was < drv.Version {
		if n, err := catalog.Parse(inc.driver); err != nil {
			return false, err
		} else if old, err := b.Lake.Table(n).At(ctx, was); err == nil {
			// Following the change reads the driver's added and removed files. When the added
			// ones hold most of its bytes (an input rewritten nearly whole), that alone costs
			// more than a rebuild, which reads the driver once.
			if added, total := addedBytes(old, drv); float64(added) > b.maxRewriteShare()*float64(total) {
				b.Log.Info("gold driver changed in most of its files; rebuilding", "table", "gold."+m.Name,
					"driver", inc.driver, "added_bytes", added, "of", total)
				return false, nil
			}
		}
	}
	eng := b.Lake.Engine
	if err := eng.Exec(ctx, "CREATE OR REPLACE TEMP TABLE "+keys+" (k VARCHAR)"); err != nil {
		return false, err
	}
	driverScan, err := b.Lake.ScanSQL(ctx, drv)
	if err != nil {
		return false, err
	}
	var conds []string
	for _, name := range sortedKeys(inputs) {
		cur := inputs[name]
		was, found := prev.TxnVersion(inputTxn + name)
		if !found || was > cur.Version {
			return false, nil
		}
		if was == cur.Version {
			continue
		}
		if !inc.declares(name) {
			return false, nil
		}
		n, err := catalog.Parse(name)
		if err != nil {
			return false, err
		}
		old, err := b.Lake.Table(n).At(ctx, was)
		if err != nil || old.Schema == nil || cur.Schema == nil || fieldNames(old.Schema) != fieldNames(cur.Schema) {
			return false, nil // expired from the log, or reshaped: rebuild
		}
		var need []string
		if name == inc.driver {
			need = append(need, inc.key)
		}
		for _, mp := range inc.maps {
			if mp.input == name {
				need = append(need, mp.column)
			}
		}
		diffCols := quotedFields(cur.Schema)
		if narrow := silverDiffColumns(cur.Schema, need); n.Layer == catalog.Silver && narrow != nil {
			diffCols = narrow
		}
		changed, err := b.changedRows(ctx, old, cur, diffCols)
		if err != nil {
			return false, nil // e.g. a removed file already vacuumed: rebuild
		}
		if changed == "" {
			continue
		}
		if name == inc.driver {
			if err := eng.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT CAST(%s AS VARCHAR) FROM %s c", keys, inc.key, changed)); err != nil {
				return false, fmt.Errorf("changes of %s: %w", name, err)
			}
		}
		for i, mp := range inc.maps {
			if mp.input != name {
				continue
			}
			if mp.asOf == "" {
				conds = append(conds, fmt.Sprintf("CAST(%s AS VARCHAR) IN (SELECT CAST(%s AS VARCHAR) FROM %s c)", mp.expr, mp.column, changed))
				continue
			}
			since := fmt.Sprintf("%s_since%d", keys, i)
			defer eng.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+since)
			if err := eng.Exec(ctx, "CREATE OR REPLACE TEMP TABLE "+since+" AS "+versionChanges(changed, mp.column, diffCols)); err != nil {
				return false, fmt.Errorf("changed versions of %s: %w", name, err)
			}
			// The version table's columns are named so that the driver's bare column names in
			// the expressions cannot bind to them.
			conds = append(conds, fmt.Sprintf("EXISTS (SELECT 1 FROM %s v WHERE v._rcmlake_k = CAST(%s AS VARCHAR) AND (%s) >= v._rcmlake_from)",
				since, mp.expr, mp.asOf))
		}
	}
	// One scan of the driver for every mapped input that moved.
	if len(conds) > 0 {
		q := fmt.Sprintf("INSERT INTO %s SELECT CAST(%s AS VARCHAR) FROM %s d WHERE %s", keys, inc.key, driverScan, strings.Join(conds, "\n OR "))
		if err := eng.Exec(ctx, q); err != nil {
			return false, fmt.Errorf("driver rows of changed inputs: %w", err)
		}
	}
	return true, nil
}

// versionChanges is, per key of a dimension with history (valid_from, valid_to), the first day
// from which a fact's version lookup can have changed, from the dimension's changed rows (with
// their _side). A version only added or only removed counts from its start; so does one whose
// other columns changed. A version that is on both sides with only its end moved counts from
// the earlier of its two ends, an open end being the latest.
// cols are the (quoted) columns that changed holds.
func versionChanges(changed, column string, cols []string) string {
	const open = "TIMESTAMP '9999-12-31'"
	var attrs []string
	for _, c := range cols {
		if c != duckdb.Ident("valid_to") && c != duckdb.Ident("is_current") {
			attrs = append(attrs, c)
		}
	}
	return fmt.Sprintf(`SELECT k AS _rcmlake_k, min(f) AS _rcmlake_from FROM (
  SELECT CAST(%[1]s AS VARCHAR) AS k,
    CASE WHEN count(*) FILTER (WHERE _side = '+') > 0 AND count(*) FILTER (WHERE _side = '-') > 0 AND count(DISTINCT hash(%[4]s)) = 1
      THEN CAST(least(coalesce(max(valid_to) FILTER (WHERE _side = '+'), %[3]s), coalesce(max(valid_to) FILTER (WHERE _side = '-'), %[3]s)) AS TIMESTAMP)
      ELSE CAST(min(valid_from) AS TIMESTAMP) END AS f
  FROM %[2]s c GROUP BY 1, valid_from) v
GROUP BY 1`, duckdb.Ident(column), changed, open, strings.Join(attrs, ", "))
}

// silverDiffColumns are the (quoted) columns on which to diff two versions of a silver table,
// nil for all. Its row hash covers its data and verdict, so its rows are told apart by
// silver.RowIdentity plus the columns the build reads from the diff (need): about a third of
// the columns to read and compare.
func silverDiffColumns(schema *delta.StructType, need []string) []string {
	has := map[string]bool{}
	for _, f := range schema.Fields {
		has[f.Name] = true
	}
	want := map[string]bool{}
	for _, c := range append(append([]string{}, silver.RowIdentity...), need...) {
		if !has[c] {
			return nil // a table from before these columns, or an expression: compare whole rows
		}
		want[c] = true
	}
	var cols []string
	for _, f := range schema.Fields {
		if want[f.Name] {
			cols = append(cols, duckdb.Ident(f.Name))
		}
	}
	return cols
}

// addedBytes is the size of cur's files that old lacks, against cur's whole size.
func addedBytes(old, cur *delta.Snapshot) (added, total int64) {
	was := map[string]bool{}
	for _, f := range old.Files() {
		was[f.Path] = true
	}
	for _, f := range cur.Files() {
		total += f.Size
		if !was[f.Path] {
			added += f.Size
		}
	}
	return added, total
}

func (b *Builder) maxRewriteShare() float64 { return cmp.Or(b.MaxRewriteShare, DefaultMaxRewriteShare) }

// changedRows is a relation of the rows that differ between two versions of a table, on the
// given (quoted) columns or on all of them: those of the files added since old, less those of
// the files removed ('+' in the column _side), and the other way round ('-'). Files carried
// over are not read. Empty when no file changed.
func (b *Builder) changedRows(ctx context.Context, old, cur *delta.Snapshot, cols []string) (string, error) {
	was := map[string]bool{}
	for _, f := range old.Files() {
		was[f.Path] = true
	}
	var added, removed []delta.FileEntry
	for _, f := range cur.Files() {
		if !was[f.Path] {
			added = append(added, f)
		}
		delete(was, f.Path)
	}
	for _, f := range old.Files() {
		if was[f.Path] {
			removed = append(removed, f)
		}
	}
	var a, r string
	var err error
	if len(added) > 0 {
		if a, err = b.Lake.ScanFilesSQL(ctx, cur, added); err != nil {
			return "", err
		}
	}
	if len(removed) > 0 {
		if r, err = b.Lake.ScanFilesSQL(ctx, old, removed); err != nil {
			return "", err
		}
	}
	if len(cols) == 0 {
		cols = quotedFields(cur.Schema)
	}
	list := strings.Join(cols, ", ")
	switch {
	case a == "" && r == "":
		return "", nil
	case r == "":
		return "(SELECT " + list + ", '+' AS _side FROM " + a + " a)", nil
	case a == "":
		return "(SELECT " + list + ", '-' AS _side FROM " + r + " r)", nil
	}
	// EXCEPT ALL: on a subset of the columns, rows need not be distinct.
	return fmt.Sprintf("((SELECT *, '+' AS _side FROM (SELECT %[1]s FROM %[2]s a EXCEPT ALL SELECT %[1]s FROM %[3]s r)) UNION ALL (SELECT *, '-' AS _side FROM (SELECT %[1]s FROM %[3]s r EXCEPT ALL SELECT %[1]s FROM %[2]s a)))",
		list, a, r), nil
}

// filesWithKeys lists prev's files that hold one of the keys: file statistics rule out those
// whose key range misses every key (files are written sorted by key), and the rest are checked
// by reading their key column.
func (b *Builder) filesWithKeys(ctx context.Context, prev *delta.Snapshot, key, keys string) ([]delta.FileEntry, error) {
	eng := b.Lake.Engine
	r, err := eng.Query(ctx, "SELECT min(k), max(k) FROM "+keys)
	if err != nil {
		return nil, err
	}
	if r.Rows[0][0] == nil {
		return nil, nil
	}
	var candidates, ranged []delta.FileEntry
	var ranges []string
	for _, f := range prev.Files() {
		st, err := delta.ParseStats(f.Stats)
		lo, okLo := "", false
		hi, okHi := "", false
		if err == nil && st != nil {
			lo, okLo = st.MinValues[key].(string)
			hi, okHi = st.MaxValues[key].(string)
		}
		if !okLo || !okHi {
			candidates = append(candidates, f)
			continue
		}
		ranges = append(ranges, fmt.Sprintf("(%d, %s, %s)", len(ranged), duckdb.Literal(lo), duckdb.Literal(hi)))
		ranged = append(ranged, f)
	}
	if len(ranges) > 0 {
		hit, err := eng.Query(ctx, fmt.Sprintf(`SELECT DISTINCT f.i FROM (VALUES %s) f(i, lo, hi)
			JOIN %s k ON k.k >= f.lo AND k.k <= f.hi ORDER BY 1`, strings.Join(ranges, ", "), keys))
		if err != nil {
			return nil, fmt.Errorf("pruning files by key range: %w", err)
		}
		for _, row := range hit.Rows {
			candidates = append(candidates, ranged[asInt(row[0])])
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	// One scan of the candidates' key column, each file tagged with its index.
	parts := make([]string, len(candidates))
	for i, f := range candidates {
		scan, err := b.Lake.ScanFilesSQL(ctx, prev, []delta.FileEntry{f})
		if err != nil {
			return nil, err
		}
		parts[i] = fmt.Sprintf("SELECT %d AS f, CAST(%s AS VARCHAR) AS k FROM %s s", i, duckdb.Ident(key), scan)
	}
	hit, err := eng.Query(ctx, fmt.Sprintf("SELECT DISTINCT f FROM (%s) x WHERE k IN (SELECT k FROM %s) ORDER BY 1",
		strings.Join(parts, " UNION ALL "), keys))
	if err != nil {
		return nil, fmt.Errorf("finding the files that hold changed keys: %w", err)
	}
	var out []delta.FileEntry
	for _, row := range hit.Rows {
		out = append(out, candidates[asInt(row[0])])
	}
	return out, nil
}

func quotedFields(s *delta.StructType) []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = duckdb.Ident(f.Name)
	}
	return out
}

func fieldNames(s *delta.StructType) string {
	var b strings.Builder
	for _, f := range s.Fields {
		b.WriteString(f.Name)
		b.WriteByte(',')
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func asInt(v any) int {
	switch n := v.(type) {
	case int32:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	}
	panic(fmt.Sprintf("gold: want an integer, got %T", v))
}

// mergeChanges rebuilds only the keys that can have changed since prev: it removes the files
// that hold one and adds their other rows back with the keys' fresh rows, in one commit. It
// returns nil when the table must be rebuilt in full instead.
func (b *Builder) mergeChanges(ctx context.Context, m Model, text string, inc *incremental, onlyKeys func(keys string) (string, error), prev *delta.Snapshot,
	inputs map[string]*delta.Snapshot, opts duckdb.WriteOptions, res *Result) (*duckdb.WriteResult, error) {
	eng := b.Lake.Engine
	keys := "_gold_keys_" + m.Name
	defer eng.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+keys)
	ok, err := b.changedKeys(ctx, m, text, inc, prev, inputs, keys)
	if err != nil && ctx.Err() == nil {
		// Finding the changed keys is only a shortcut; when it fails (e.g. the diff of a large
		// rewritten input runs out of memory), the rebuild still gives the right table.
		b.Log.Warn("gold could not follow its inputs' changes; rebuilding", "table", "gold."+m.Name, "err", err)
		return nil, nil
	}
	if err != nil || !ok {
		return nil, err
	}
	if err := eng.Exec(ctx, "DELETE FROM "+keys+" WHERE k IS NULL"); err != nil {
		return nil, err
	}
	r, err := eng.Query(ctx, "SELECT count(DISTINCT k) FROM "+keys)
	if err != nil {
		return nil, err
	}
	res.Incremental, res.ChangedKeys = true, r.Rows[0][0].(int64)
	if res.ChangedKeys == 0 {
		// The inputs moved but no row of this table follows them: nothing to write. The next
		// build diffs from the versions recorded here, which is still right.
		b.Log.Info("gold unchanged by its inputs' changes", "table", "gold."+m.Name)
		return &duckdb.WriteResult{Version: prev.Version, Skipped: true}, nil
	}
	files, err := b.filesWithKeys(ctx, prev, inc.key, keys)
	if err != nil {
		return nil, err
	}
	if share := b.maxRewriteShare(); float64(len(files)) > share*float64(len(prev.Files())) {
		// Rewriting most files with their carried rows costs more than recomputing the
		// table (at 1M charges, rewriting every file took twice a rebuild's time).
		b.Log.Info("gold changes touch most files; rebuilding", "table", "gold."+m.Name, "changed_keys", res.ChangedKeys,
			"files", len(files), "of", len(prev.Files()))
		res.Incremental, res.ChangedKeys = false, 0
		return nil, nil
	}
	res.FilesRemoved = len(files)
	cols := strings.Join(quotedFields(prev.Schema), ", ")
	key := duckdb.Ident(inc.key)
	model, err := onlyKeys(keys)
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT %s FROM (%s) m", cols, model)
	opts.Mode, opts.Operation = duckdb.Append, "MERGE"
	if len(files) > 0 {
		scan, err := b.Lake.ScanFilesSQL(ctx, prev, files)
		if err != nil {
			return nil, err
		}
		q = fmt.Sprintf("SELECT %s FROM %s a WHERE CAST(a.%s AS VARCHAR) NOT IN (SELECT k FROM %s)\nUNION ALL\n%s",
			cols, scan, key, keys, q)
		opts.Mode, opts.Remove = duckdb.Replace, files
	}
	opts.Metrics = map[string]int64{"numChangedKeys": res.ChangedKeys, "numRemovedFiles": int64(len(files))}
	tbl := delta.Open(b.Lake.Store, catalog.Key(catalog.Gold, m.Name))
	return eng.WriteDelta(ctx, tbl, "SELECT * FROM ("+q+") q ORDER BY "+key, opts)
}
