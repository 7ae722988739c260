package gold

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// A model whose rows are days or months, each computed from everything before it (a running
// balance, a trailing window), cannot follow its inputs key by key. It can be recomputed from
// a day on instead, when its header says how:
//
//	-- since: snapshot_date
//	-- since: gold.fact_transaction least(service_date, paid_date) over service_date, paid_date, charge_amount
//	-- since: gold.dim_date date_day
//
// The first line names the output's date column, and "by month" when it holds month starts
// (a build then recomputes from the first day of the changed day's month). Each further line names an input, an
// expression over its columns that gives the first day a row of it affects, and (after
// "over") the columns the model reads from it; without "over", every column. A build takes
// the input rows that changed on those columns since the versions recorded in the table
// (those of the files added, less those of the files removed, and the other way round), and
// the earliest day their expression gives. It renders the model with {{ since }} set to that
// day, and the model must then produce exactly its rows on or after that day. The table's
// files holding such rows are replaced by their earlier rows and the recomputed ones, in one
// commit. Any other change (an input not declared, the model's text, a version no longer in
// the log) rebuilds the table in full, as does --full-refresh.
// SinceFileBytes is the target data file size of a model built from a day on. Its files are
// written in date order, and a month replaces the files from its first changed day on: small
// files keep that to the recent ones (one 18 MB file held the 1M world's whole A/R snapshot,
// all rewritten for a month).
const SinceFileBytes = 4 << 20

type sinceDecl struct {
	column  string
	monthly bool // the column holds month starts: a build recomputes from the changed day's month
	inputs  map[string]sinceInput
}

type sinceInput struct {
	expr string
	cols []string // nil: every column
}

var sinceLine = regexp.MustCompile(`(?m)^--\s*since:\s*(.*?)\s*$`)
var sinceHead = regexp.MustCompile(`^(\w+)(\s+by\s+month)?$`)
var sinceInputLine = regexp.MustCompile(`^(\w+\.\w+)\s+(.+)$`)
var sinceOver = regexp.MustCompile(`\s+over\s+([\w\s,]+)$`)

// parseSince reads a model's since declaration; nil if it has none.
func parseSince(text string) (*sinceDecl, error) {
	lines := sinceLine.FindAllStringSubmatch(text, -1)
	if len(lines) == 0 {
		return nil, nil
	}
	h := sinceHead.FindStringSubmatch(lines[0][1])
	if h == nil {
		return nil, fmt.Errorf("since: the first line must name the output's date column ('<column>' or '<column> by month'), not %q", lines[0][1])
	}
	d := &sinceDecl{column: h[1], monthly: h[2] != "", inputs: map[string]sinceInput{}}
	for _, l := range lines[1:] {
		m := sinceInputLine.FindStringSubmatch(l[1])
		if m == nil {
			return nil, fmt.Errorf("since: want '<layer.table> <first day a row affects> [over <columns>]', not %q", l[1])
		}
		in := sinceInput{expr: m[2]}
		if o := sinceOver.FindStringSubmatchIndex(m[2]); o != nil {
			in.expr = strings.TrimSpace(m[2][:o[0]])
			for _, c := range strings.Split(m[2][o[2]:o[3]], ",") {
				in.cols = append(in.cols, strings.TrimSpace(c))
			}
		}
		if _, dup := d.inputs[m[1]]; dup {
			return nil, fmt.Errorf("since: %s is declared twice", m[1])
		}
		d.inputs[m[1]] = in
	}
	return d, nil
}

// firstChangedDay is the earliest day that the inputs' changes since prev was built can
// affect, as 'YYYY-MM-DD'; empty when no change touches the model. ok is false when the
// change cannot be followed and the table must be rebuilt.
func (b *Builder) firstChangedDay(ctx context.Context, m Model, text string, d *sinceDecl, prev *delta.Snapshot,
	inputs map[string]*delta.Snapshot) (day string, ok bool, err error) {
	if !sameText(prev, m, text) {
		return "", false, nil
	}
	var firsts []string
	var addedAll, totalAll int64
	for _, name := range sortedKeys(inputs) {
		cur := inputs[name]
		was, found := prev.TxnVersion(inputTxn + name)
		if !found || was > cur.Version {
			return "", false, nil
		}
		if was == cur.Version {
			continue
		}
		in, declared := d.inputs[name]
		if !declared {
			return "", false, nil
		}
		n, err := catalog.Parse(name)
		if err != nil {
			return "", false, err
		}
		old, err := b.Lake.Table(n).At(ctx, was)
		if err != nil || old.Schema == nil || cur.Schema == nil || fieldNames(old.Schema) != fieldNames(cur.Schema) {
			return "", false, nil // expired from the log, or reshaped: rebuild
		}
		added, total := addedBytes(old, cur)
		addedAll, totalAll = addedAll+added, totalAll+total
		var cols []string
		for _, c := range in.cols {
			cols = append(cols, duckdb.Ident(c))
		}
		changed, err := b.changedRows(ctx, old, cur, cols)
		if err != nil {
			return "", false, nil // e.g. a removed file already vacuumed: rebuild
		}
		if changed != "" {
			firsts = append(firsts, fmt.Sprintf("SELECT min(CAST(%s AS DATE)) AS d FROM %s c", in.expr, changed))
		}
	}
	// Inputs rewritten nearly whole (facts rebuilt) cost more to diff than the model costs to
	// rebuild: at 10M charges, diffing fact_transaction's two versions made kpi_monthly three
	// times slower than its full build.
	if float64(addedAll) > b.maxRewriteShare()*float64(totalAll) {
		b.Log.Info("gold inputs changed in most of their files; rebuilding", "table", "gold."+m.Name,
			"added_bytes", addedAll, "of", totalAll)
		return "", false, nil
	}
	if len(firsts) == 0 {
		return "", true, nil
	}
	r, err := b.Lake.Engine.Query(ctx, "SELECT CAST(min(d) AS VARCHAR) FROM ("+strings.Join(firsts, " UNION ALL ")+") f")
	if err != nil {
		return "", false, err
	}
	if v, isStr := r.Rows[0][0].(string); isStr {
		return v, true, nil
	}
	return "", true, nil // only rows without a day changed: they touch no output row
}

// mergeSince recomputes the model's rows from the first changed day on and replaces the files
// that hold such rows, keeping their earlier rows, in one commit. It returns nil when the table
// must be rebuilt in full instead.
func (b *Builder) mergeSince(ctx context.Context, m Model, text string, d *sinceDecl, render func(since string) (string, error),
	prev *delta.Snapshot, inputs map[string]*delta.Snapshot, opts engine.WriteOptions, res *Result) (*engine.WriteResult, error) {
	day, ok, err := b.firstChangedDay(ctx, m, text, d, prev, inputs)
	if err != nil && ctx.Err() == nil {
		// Finding the first changed day is only a shortcut; the rebuild still gives the right table.
		b.Log.Warn("gold could not follow its inputs' changes; rebuilding", "table", "gold."+m.Name, "err", err)
		return nil, nil
	}
	if err != nil || !ok {
		return nil, err
	}
	res.Incremental = true
	if day == "" {
		b.Log.Info("gold unchanged by its inputs' changes", "table", "gold."+m.Name)
		return &engine.WriteResult{Version: prev.Version, Skipped: true}, nil
	}
	if d.monthly {
		day = day[:8] + "01" // the model recomputes whole months, and the kept rows end before them
	}
	res.Since = day
	since := "DATE " + duckdb.Literal(day)
	var files []delta.FileEntry
	for _, f := range prev.Files() {
		// Files are written sorted by the date column: only those reaching the day change.
		st, err := delta.ParseStats(f.Stats)
		if err == nil && st != nil {
			if hi, isStr := st.MaxValues[d.column].(string); isStr && len(hi) >= 10 && hi[:10] < day {
				continue
			}
		}
		files = append(files, f)
	}
	res.FilesRemoved = len(files)
	model, err := render(since)
	if err != nil {
		return nil, err
	}
	cols := strings.Join(quotedFields(prev.Schema), ", ")
	col := duckdb.Ident(d.column)
	q := fmt.Sprintf("SELECT %s FROM (%s) m", cols, model)
	opts.Mode, opts.Operation = engine.Append, "MERGE"
	if len(files) > 0 {
		scan, err := b.Lake.ScanFilesSQL(ctx, prev, files)
		if err != nil {
			return nil, err
		}
		q = fmt.Sprintf("SELECT %s FROM %s a WHERE a.%s < %s\nUNION ALL\n%s", cols, scan, col, since, q)
		opts.Mode, opts.Remove = engine.Replace, files
	}
	opts.Metrics = map[string]int64{"numRemovedFiles": int64(len(files))}
	opts.Params["since"] = day
	tbl := delta.Open(b.Lake.Store, catalog.Key(catalog.Gold, m.Name))
	b.Log.Info("gold recomputed from a day on", "table", "gold."+m.Name, "since", day, "files_rewritten", len(files), "of", len(prev.Files()))
	return b.Lake.Engine.WriteDelta(ctx, tbl, "SELECT * FROM ("+q+") q ORDER BY "+col, opts)
}
