package bronze

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/source/sqldb"
)

// Metadata columns every bronze row gains, after the source's own columns.
const (
	ColDatasource      = "datasource"
	ColRunID           = "_run_id"
	ColLoadTime        = "_load_time"
	ColSourceWatermark = "_source_watermark"
)

// LoadLogsTable is the audit table of every load, in the lake's audit layer.
const LoadLogsTable = "audit/load_logs"

// LoadLog is one row of audit.load_logs: the seed's columns (data_source, tablename,
// numberofrowscopied, watermarkcolumnname, loaddate) and what a rerun and an auditor need.
type LoadLog struct {
	RunID               string
	DataSource          string
	TableName           string
	LoadType            string
	WatermarkColumnName string
	OldWatermark        string
	NewWatermark        string
	NumberOfRowsCopied  int64
	RowsRead            int64
	RowsSkipped         int64
	RowsRejected        int64
	Files               []string // bronze files of this load, relative to the lake root
	StateKey            string   // the stored watermark state, or file:<name>:<sha256> for a landing file
	RejectsFile         string   // rows that could not be read, with file, line and reason
	KeysFile            string   // incremental loads with track_deletes: every primary key the source held
	LoadDate            time.Time
	Status              string // success or failed
	Error               string
	DurationMS          int64
}

// Options select what an ingest run loads.
type Options struct {
	RunID      string
	Datasource string // only this datasource, if set
	Table      string // only this table, if set
	Now        func() time.Time
	// FullRefresh reads incremental tables whole, ignoring their stored watermarks; the new
	// marks are stored as usual.
	FullRefresh bool
	// Backfill, when set, makes incremental tables take the rows whose watermark falls in
	// [From, To) again, without moving their stored marks (load type "backfill"); full tables
	// load as usual. Silver then applies what changed and ignores what it already has.
	Backfill *Period
}

// Period is a backfill window [From, To).
type Period struct{ From, To time.Time }

// Ingester loads the configured EMR tables into bronze.
type Ingester struct {
	Config   *config.Config
	Lake     *lakehouse.Lakehouse
	Resolver *secrets.Resolver
	Log      *slog.Logger
	mu       sync.Mutex // serialises DuckDB work (one connection)
}

// ErrNoTableMatches: no active EMR table matches the datasource and table asked for.
var ErrNoTableMatches = errors.New("nothing to ingest: no active EMR table matches")

// Run loads every active, selected EMR table, up to cfg.Ingest.Parallelism at once. Each
// table's load is independent: one failing does not stop the others. It returns the audit rows.
func (in *Ingester) Run(ctx context.Context, opts Options) ([]LoadLog, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID(opts.Now())
	}
	done, err := in.committedLoads(ctx, opts.RunID)
	if err != nil {
		return nil, err
	}
	type job struct {
		db  config.Database
		tbl config.Table
	}
	var jobs []job
	for _, db := range in.Config.Sources.EMR {
		if opts.Datasource != "" && db.Datasource != opts.Datasource {
			continue
		}
		for _, t := range db.Tables {
			if !t.IsActive() || (opts.Table != "" && !strings.EqualFold(t.TargetName(), opts.Table)) {
				continue
			}
			if done[db.Datasource+"."+t.TargetName()] {
				in.Log.Info("already loaded in this run; skipping", "run", opts.RunID, "datasource", db.Datasource, "table", t.TargetName())
				continue
			}
			jobs = append(jobs, job{db, t})
		}
	}
	if len(jobs) == 0 && len(done) == 0 {
		return nil, fmt.Errorf("%w (datasource %q, table %q)", ErrNoTableMatches, opts.Datasource, opts.Table)
	}
	logs := make([]LoadLog, len(jobs))
	sem := make(chan struct{}, max(1, in.Config.Ingest.Parallelism))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			logs[i] = in.loadTable(ctx, j.db, j.tbl, opts)
		}()
	}
	wg.Wait()
	var failed []string
	for _, l := range logs {
		if l.Status != "success" {
			failed = append(failed, l.DataSource+"."+l.TableName+": "+l.Error)
		}
	}
	if len(failed) > 0 {
		return logs, fmt.Errorf("%d of %d loads failed:\n  %s", len(failed), len(logs), strings.Join(failed, "\n  "))
	}
	return logs, nil
}

// NewRunID is a unique, sortable run id: the start time and a random suffix.
func NewRunID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// committedLoads names the tables (datasource.table) a run already loaded successfully: a
// rerun of the same run id skips them, so bronze files are never written twice.
func (in *Ingester) committedLoads(ctx context.Context, runID string) (map[string]bool, error) {
	logs, err := ReadLoadLogs(ctx, in.Lake, &in.mu)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, l := range logs {
		if l.RunID == runID && l.Status == "success" {
			out[l.DataSource+"."+l.TableName] = true
		}
	}
	return out, nil
}

// committedLoad is the successful load of ds.table by runID, or nil.
func (in *Ingester) committedLoad(ctx context.Context, runID, ds, table string) (*LoadLog, error) {
	logs, err := ReadLoadLogs(ctx, in.Lake, &in.mu)
	if err != nil {
		return nil, err
	}
	for i := len(logs) - 1; i >= 0; i-- {
		if l := logs[i]; l.RunID == runID && l.DataSource == ds && l.TableName == table && l.Status == "success" {
			return &l, nil
		}
	}
	return nil, nil
}

// loadTable extracts one table into new bronze files and commits its audit row. The audit
// row is the commit point: until it lands, the files are invisible and the mark unchanged.
func (in *Ingester) loadTable(ctx context.Context, db config.Database, t config.Table, opts Options) LoadLog {
	start := opts.Now().UTC()
	l := LoadLog{RunID: opts.RunID, DataSource: db.Datasource, TableName: t.TargetName(), LoadType: t.Load,
		WatermarkColumnName: t.Watermark, LoadDate: start, Status: "failed"}
	err := in.extract(ctx, db, t, opts, &l)
	in.commitLoad(ctx, &l, start, err)
	if err != nil {
		in.Log.Error("load failed", "datasource", l.DataSource, "table", l.TableName, "err", l.Error)
	}
	if l.Status == "success" {
		in.Log.Info("loaded", "datasource", l.DataSource, "table", l.TableName, "rows", l.NumberOfRowsCopied,
			"skipped", l.RowsSkipped, "watermark", l.NewWatermark, "ms", l.DurationMS)
	}
	return l
}

// commitLoad finishes a load's audit row from its outcome and commits it: the row is what
// makes the load's files part of bronze. Nothing of a failed load reaches bronze, and its
// error is redacted of secrets.
func (in *Ingester) commitLoad(ctx context.Context, l *LoadLog, start time.Time, err error) {
	l.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		l.Status, l.Error = "failed", in.Resolver.Redact(err.Error())
		l.NumberOfRowsCopied, l.Files = 0, nil
	} else {
		l.Status = "success"
	}
	if werr := in.writeLog(ctx, *l); werr != nil && err == nil {
		l.Status, l.Error = "failed", "writing the audit row: "+werr.Error()
	}
}

func (in *Ingester) extract(ctx context.Context, db config.Database, t config.Table, opts Options, l *LoadLog) error {
	dsn, err := in.Resolver.Resolve(ctx, db.DSN)
	if err != nil {
		return err
	}
	if db.Driver == "sqlite" {
		dsn = in.Config.ResolvePath(dsn)
		if _, err := os.Stat(dsn); err != nil {
			return fmt.Errorf("EMR database %s: %w", db.Name, err)
		}
	}
	conn, dialect, err := sqldb.Open(db.Driver, dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	var prev Watermark
	if t.Load == config.LoadIncremental && !opts.FullRefresh {
		if prev, err = in.lastWatermark(ctx, db.Datasource, t.TargetName()); err != nil {
			return err
		}
		l.OldWatermark = prev.Value
	}
	name := t.Name
	if db.Schema != "" && !strings.Contains(name, ".") {
		name = db.Schema + "." + name
	}
	wm := ""
	if t.Load == config.LoadIncremental {
		wm = t.Watermark
	}
	ex := &Extractor{DB: conn, Dialect: dialect, Table: name, Watermark: wm, Prev: prev}
	backfill := opts.Backfill != nil && t.Load == config.LoadIncremental
	if backfill {
		last, err := in.lastWatermark(ctx, db.Datasource, t.TargetName())
		if err != nil {
			return err
		}
		if last.Kind == "" {
			return fmt.Errorf("backfill of %s.%s: the table has never loaded; run it once first", db.Datasource, t.TargetName())
		}
		ex.Window = &Window{From: opts.Backfill.From, To: opts.Backfill.To, Kind: last.Kind}
		l.LoadType, l.OldWatermark = "backfill", opts.Backfill.From.Format("2006-01-02")
	}

	rf, err := newRowFile()
	if err != nil {
		return err
	}
	defer rf.discard()
	var cols []string
	st, next, err := ex.Run(ctx, func(ct []*sql.ColumnType, vals []any) error {
		if cols == nil {
			for _, c := range ct {
				cols = append(cols, c.Name())
			}
		}
		return rf.write(cols, vals)
	})
	if err != nil {
		return err
	}
	if err := rf.finish(); err != nil {
		return err
	}
	l.RowsRead, l.NumberOfRowsCopied, l.RowsSkipped = st.Read, st.Kept, st.Skipped
	l.NewWatermark = next.Value
	if backfill {
		l.NewWatermark = opts.Backfill.To.Format("2006-01-02")
	}
	if cols == nil {
		cols, err = tableColumns(ctx, conn, dialect, name)
		if err != nil {
			return err
		}
	}
	key := fmt.Sprintf("bronze/%s/%s/load_date=%s/run_id=%s/part-00000.parquet", db.Datasource, t.TargetName(),
		l.LoadDate.Format("2006-01-02"), opts.RunID)
	if err := in.writeParquet(ctx, rf.name(), cols, key, db.Datasource, opts.RunID, l.LoadDate, wm); err != nil {
		return err
	}
	l.Files = []string{key}
	if t.Load == config.LoadIncremental && t.TrackDeletes && !backfill {
		// An incremental load cannot see deletes; the source's full key list, taken after the
		// rows, lets silver find the keys that vanished.
		l.KeysFile = path.Dir(key) + "/keys.parquet"
		if err := in.snapshotKeys(ctx, conn, dialect, name, t.PrimaryKey, l.KeysFile, db.Datasource, opts.RunID, l.LoadDate); err != nil {
			return fmt.Errorf("primary keys for delete tracking: %w", err)
		}
	}
	if t.Load == config.LoadIncremental && !backfill {
		state, _ := MarshalWatermark(next)
		l.StateKey = fmt.Sprintf("bronze/_state/%s/%s/%s.json", db.Datasource, t.TargetName(), opts.RunID)
		if err := in.Lake.Store.Put(ctx, l.StateKey, strings.NewReader(string(state))); err != nil {
			return err
		}
	}
	return nil
}

// snapshotKeys writes the table's primary key columns, every row, to a bronze Parquet file.
func (in *Ingester) snapshotKeys(ctx context.Context, conn *sql.DB, d sqldb.Dialect, table string, pk []string, key, ds, runID string, at time.Time) error {
	cols := make([]string, len(pk))
	for i, c := range pk {
		cols[i] = d.QuoteIdent(c)
	}
	rows, err := conn.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+d.QuoteIdent(table))
	if err != nil {
		return err
	}
	defer rows.Close()
	rf, err := newRowFile()
	if err != nil {
		return err
	}
	defer rf.discard()
	vals := make([]any, len(pk))
	ptrs := make([]any, len(pk))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := rf.write(pk, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := rf.finish(); err != nil {
		return err
	}
	return in.writeParquet(ctx, rf.name(), pk, key, ds, runID, at, "")
}

// textOf renders a source value as text, exactly: floats keep every digit they have.
func textOf(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return string(x)
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// tableColumns lists a table's columns when it returned no rows.
func tableColumns(ctx context.Context, db *sql.DB, d sqldb.Dialect, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+d.QuoteIdent(table)+" WHERE 1 = 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}

// bronzeRowGroup is the rows per row group of a bronze file. With DuckDB's default (122,880)
// the peak memory of a large load still grew with its size; with this it stays flat
// (TestLandingCSVStreams), and bronze files are read whole anyway.
const bronzeRowGroup = 20000

func (in *Ingester) writeParquet(ctx context.Context, jsonl string, cols []string, key, ds, runID string, at time.Time, wm string) error {
	colSpec := make([]string, len(cols))
	sel := make([]string, len(cols))
	for i, c := range cols {
		colSpec[i] = fmt.Sprintf("%s: 'VARCHAR'", sqlString(c))
		sel[i] = sqlIdent(c)
	}
	wmExpr := "CAST(NULL AS VARCHAR)"
	if wm != "" {
		wmExpr = sqlIdent(wm)
	}
	out, err := os.CreateTemp("", "rcmlake-bronze-*.parquet")
	if err != nil {
		return err
	}
	out.Close()
	defer os.Remove(out.Name())
	q := fmt.Sprintf(`COPY (SELECT %s, %s AS %s, %s AS %s, TIMESTAMPTZ %s AS %s, %s AS %s
		FROM read_json(%s, format = 'newline_delimited', columns = {%s})) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d)`,
		strings.Join(sel, ", "), sqlString(ds), ColDatasource, sqlString(runID), ColRunID,
		sqlString(at.Format(time.RFC3339Nano)), ColLoadTime, wmExpr, ColSourceWatermark,
		sqlString(jsonl), strings.Join(colSpec, ", "), sqlString(out.Name()), bronzeRowGroup)
	in.mu.Lock()
	err = in.Lake.Engine.ExecStreaming(ctx, q)
	in.mu.Unlock()
	if err != nil {
		return fmt.Errorf("writing bronze parquet: %w", err)
	}
	f, err := os.Open(out.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	return in.Lake.Store.Put(ctx, key, f)
}

func sqlString(s string) string { return duckdb.Literal(s) }
func sqlIdent(s string) string  { return duckdb.Ident(s) }

// lastWatermark is the mark of the table's latest successful load, from audit.load_logs.
func (in *Ingester) lastWatermark(ctx context.Context, ds, table string) (Watermark, error) {
	logs, err := ReadLoadLogs(ctx, in.Lake, &in.mu)
	if err != nil {
		return Watermark{}, err
	}
	var last *LoadLog
	for i := range logs {
		l := &logs[i]
		if l.DataSource == ds && l.TableName == table && l.Status == "success" && l.StateKey != "" {
			if last == nil || l.LoadDate.After(last.LoadDate) {
				last = l
			}
		}
	}
	if last == nil {
		return Watermark{}, nil
	}
	data, err := lake.ReadAll(ctx, in.Lake.Store, last.StateKey)
	if err != nil {
		return Watermark{}, fmt.Errorf("watermark state of %s.%s (%s): %w", ds, table, last.StateKey, err)
	}
	return UnmarshalWatermark(data)
}

// writeLog appends one audit row. The txn (one per run and table) makes a retried write a
// no-op, so a rerun of the same run id never doubles an audit row.
func (in *Ingester) writeLog(ctx context.Context, l LoadLog) error {
	files, _ := json.Marshal(l.Files)
	q := fmt.Sprintf(`SELECT %s AS run_id, %s AS data_source, %s AS tablename, %s AS load_type, %s AS watermarkcolumnname,
		%s AS old_watermark, %s AS new_watermark, CAST(%d AS BIGINT) AS numberofrowscopied, CAST(%d AS BIGINT) AS rows_read,
		CAST(%d AS BIGINT) AS rows_skipped, CAST(%d AS BIGINT) AS rows_rejected, %s AS files, %s AS state_key,
		TIMESTAMPTZ %s AS loaddate, %s AS status, %s AS error, CAST(%d AS BIGINT) AS duration_ms, %s AS rejects_file,
		%s AS keys_file`,
		sqlString(l.RunID), sqlString(l.DataSource), sqlString(l.TableName), sqlString(l.LoadType), sqlString(l.WatermarkColumnName),
		sqlString(l.OldWatermark), sqlString(l.NewWatermark), l.NumberOfRowsCopied, l.RowsRead, l.RowsSkipped, l.RowsRejected,
		sqlString(string(files)), sqlString(l.StateKey), sqlString(l.LoadDate.Format(time.RFC3339Nano)), sqlString(l.Status),
		sqlString(l.Error), l.DurationMS, sqlString(l.RejectsFile), sqlString(l.KeysFile))
	tbl := delta.Open(in.Lake.Store, LoadLogsTable)
	app := "load:" + l.RunID + ":" + l.DataSource + "." + l.TableName
	if l.LoadType == "file" {
		app += ":" + l.StateKey // several files of one table land in one run
	}
	if l.Status != "success" {
		// A failure is recorded once per attempt; it must never take the txn a later,
		// successful attempt of the same run commits under.
		app += ":failed:" + l.LoadDate.Format(time.RFC3339Nano)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	_, err := in.Lake.Engine.AppendDelta(ctx, tbl, q, duckdb.WriteOptions{Operation: "WRITE",
		Txn: &delta.Txn{AppID: app, Version: 1}, MergeSchema: true})
	return err
}

// ReadLoadLogs reads audit.load_logs (empty before the first load).
func ReadLoadLogs(ctx context.Context, lh *lakehouse.Lakehouse, mu *sync.Mutex) ([]LoadLog, error) {
	tbl := delta.Open(lh.Store, LoadLogsTable)
	ok, err := tbl.Exists(ctx)
	if err != nil || !ok {
		return nil, err
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		return nil, err
	}
	q, err := lh.ScanSQL(ctx, s)
	if err != nil {
		return nil, err
	}
	if mu != nil {
		mu.Lock()
		defer mu.Unlock()
	}
	keys := "keys_file"
	if _, ok := s.Schema.Field("keys_file"); !ok {
		keys = "NULL" // written before delete tracking existed
	}
	res, err := lh.Engine.Query(ctx, `SELECT run_id, data_source, tablename, load_type, watermarkcolumnname, old_watermark,
		new_watermark, numberofrowscopied, rows_read, rows_skipped, rows_rejected, files, state_key, loaddate, status, error,
		duration_ms, rejects_file, `+keys+` FROM `+q+` t ORDER BY loaddate`)
	if err != nil {
		return nil, err
	}
	out := make([]LoadLog, 0, len(res.Rows))
	for _, r := range res.Rows {
		l := LoadLog{RunID: str(r[0]), DataSource: str(r[1]), TableName: str(r[2]), LoadType: str(r[3]),
			WatermarkColumnName: str(r[4]), OldWatermark: str(r[5]), NewWatermark: str(r[6]), NumberOfRowsCopied: r[7].(int64),
			RowsRead: r[8].(int64), RowsSkipped: r[9].(int64), RowsRejected: r[10].(int64), StateKey: str(r[12]),
			Status: str(r[14]), Error: str(r[15]), DurationMS: r[16].(int64), RejectsFile: str(r[17]), KeysFile: str(r[18])}
		json.Unmarshal([]byte(str(r[11])), &l.Files)
		if ts, ok := r[13].(time.Time); ok {
			l.LoadDate = ts
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LoadDate.Before(out[j].LoadDate) })
	return out, nil
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// CommittedFiles lists the bronze files of a table's successful loads, oldest first: what
// silver reads. Files of loads whose audit row never committed are not in it.
func CommittedFiles(logs []LoadLog, ds, table string) []string {
	var out []string
	for _, l := range logs {
		if l.DataSource == ds && l.TableName == table && l.Status == "success" {
			out = append(out, l.Files...)
		}
	}
	return out
}
