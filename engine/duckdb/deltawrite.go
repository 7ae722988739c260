package duckdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/lake"
)

// The write types live in package engine, shared by every engine; these names keep the
// embedded engine's callers unchanged.
type (
	WriteMode    = engine.WriteMode
	WriteOptions = engine.WriteOptions
	WriteResult  = engine.WriteResult
)

// Write modes (see engine.WriteMode).
const (
	Append    = engine.Append
	Overwrite = engine.Overwrite
	Replace   = engine.Replace
)

// WriteDelta runs query and commits its rows to the table in one atomic commit. Data files
// are written first (unreferenced until the commit lands, so a crash leaves only garbage for
// VACUUM); the commit is put-if-absent with conflict checks and retries.
func (e *Engine) WriteDelta(ctx context.Context, tbl *delta.Table, query string, opts WriteOptions) (*WriteResult, error) {
	read, txns, done, err := prepareWrite(ctx, tbl, opts)
	if err != nil || done != nil {
		return done, err
	}
	cols, err := e.describe(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("delta %s: %w", tbl.Location(), err)
	}
	schema := &delta.StructType{}
	var sel []string
	for _, c := range cols {
		dt, cast, err := deltaType(c.typ)
		if err != nil {
			return nil, fmt.Errorf("delta %s: column %s: %w", tbl.Location(), c.name, err)
		}
		schema.Fields = append(schema.Fields, delta.StructField{Name: c.name, Type: dt, Nullable: true})
		if cast != "" {
			sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", quoteIdent(c.name), cast, quoteIdent(c.name)))
		} else {
			sel = append(sel, quoteIdent(c.name))
		}
	}
	newSchema, partBy, err := checkSchema(tbl, read, schema, opts)
	if err != nil {
		return nil, err
	}
	var files []writtenFile
	if len(partBy) == 0 {
		files, err = e.writeFiles(ctx, tbl, "SELECT "+strings.Join(sel, ", ")+" FROM ("+query+") q", "", nil, opts.FileBytes, opts.RowGroupRows)
	} else {
		files, err = e.writePartitioned(ctx, tbl, "SELECT "+strings.Join(sel, ", ")+" FROM ("+query+") q", schema, partBy, opts.FileBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("delta %s: writing data files: %w", tbl.Location(), err)
	}
	return commit(ctx, tbl, read, txns, schema, newSchema, partBy, files, opts)
}

// prepareWrite finds the snapshot a write builds on and its txns; done is set when every txn
// is already committed, so the write is a no-op.
func prepareWrite(ctx context.Context, tbl *delta.Table, opts WriteOptions) (read *delta.Snapshot, txns []delta.Txn, done *WriteResult, err error) {
	read = opts.Read
	if read == nil {
		exists, err := tbl.Exists(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		if exists {
			if read, err = tbl.Latest(ctx); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	txns = opts.Txns
	if opts.Txn != nil {
		txns = append([]delta.Txn{*opts.Txn}, txns...)
	}
	if read != nil && len(txns) > 0 {
		all := true
		for _, x := range txns {
			if v, ok := read.TxnVersion(x.AppID); !ok || v < x.Version {
				all = false
			}
		}
		if all {
			return read, txns, &WriteResult{Version: read.Version, Skipped: true}, nil
		}
	}
	return read, txns, nil, nil
}

// checkSchema decides whether the write changes the table's schema (allowed for an
// overwrite, or a widening with MergeSchema) and which partition columns it uses.
func checkSchema(tbl *delta.Table, read *delta.Snapshot, schema *delta.StructType, opts WriteOptions) (bool, []string, error) {
	newSchema := read == nil || read.Schema == nil || !sameSchema(read.Schema, schema)
	if newSchema && read != nil && read.Schema != nil && opts.Mode != Overwrite && opts.MergeSchema && addsColumns(read.Schema, schema) {
		newSchema = true // schema evolution: the commit carries the wider schema
	} else if newSchema && read != nil && opts.Mode != Overwrite {
		return false, nil, fmt.Errorf("delta %s: the query's columns (%s) differ from the table's (%s); only an overwrite may change the schema",
			tbl.Location(), fieldList(schema), fieldList(read.Schema))
	}
	partBy := opts.PartitionBy
	if read != nil && (!newSchema || opts.Mode != Overwrite) {
		partBy = read.Metadata.PartitionColumns
	}
	return newSchema, partBy, nil
}

// commit records written files in one Delta commit: put-if-absent, conflict-checked.
func commit(ctx context.Context, tbl *delta.Table, read *delta.Snapshot, txns []delta.Txn, schema *delta.StructType, newSchema bool,
	partBy []string, files []writtenFile, opts WriteOptions) (*WriteResult, error) {
	op := opts.Operation
	if op == "" {
		op = map[WriteMode]string{Append: "WRITE", Overwrite: "WRITE", Replace: "MERGE"}[opts.Mode]
	}
	tx := tbl.Begin(read, op)
	if newSchema {
		conf := opts.Config
		if conf == nil && read != nil {
			conf = read.Metadata.Configuration // a new schema keeps the table's properties
		}
		tx.SetMetadata(schema, partBy, conf)
	}
	mode := map[WriteMode]string{Append: "Append", Overwrite: "Overwrite", Replace: "Replace"}[opts.Mode]
	tx.Param("mode", mode)
	for k, v := range opts.Params {
		tx.Param(k, v)
	}
	for k, v := range opts.Metrics {
		tx.Metric(k, v)
	}
	switch opts.Mode {
	case Append:
		tx.BlindAppend()
	case Overwrite:
		if read != nil {
			tx.Remove(read.Files()...)
		}
	case Replace:
		tx.Remove(opts.Remove...)
	}
	res := &WriteResult{}
	for _, f := range files {
		tx.Add(f.add)
		res.Files++
		res.Rows += f.rows
		res.Bytes += f.add.Size
	}
	for _, x := range txns {
		tx.SetTxn(x.AppID, x.Version)
	}
	v, err := tx.Commit(ctx)
	if err != nil {
		return nil, err
	}
	res.Version = v
	return res, nil
}

// StagedFile is a Parquet data file another engine wrote into the lake, not yet part of any
// table: its storage key and a local path to read it from (the file itself on local disk,
// else a downloaded copy).
type StagedFile struct {
	Key   string
	Local string
}

// CommitFiles makes Parquet files that another engine (Spark) wrote the new content of a
// table, as WriteDelta does with its own files: the schema comes from the files, each file's
// row count and min/max/null statistics are read here, the files move under the table's
// folder with Delta data file names, and one commit (put-if-absent, txns, conflict checks)
// records them. Files are taken in key order: the order of the rows they hold. A failure
// before the commit leaves only unreferenced files, which VACUUM removes.
func (e *Engine) CommitFiles(ctx context.Context, tbl *delta.Table, staged []StagedFile, opts WriteOptions) (*WriteResult, error) {
	read, txns, done, err := prepareWrite(ctx, tbl, opts)
	if err != nil || done != nil {
		return done, err
	}
	if len(staged) == 0 {
		return nil, fmt.Errorf("delta %s: no data files to commit (an engine writes at least one, empty, file)", tbl.Location())
	}
	sort.Slice(staged, func(i, j int) bool { return staged[i].Key < staged[j].Key })
	list := make([]string, len(staged))
	for i, f := range staged {
		list[i] = quote(f.Local)
	}
	cols, err := e.describe(ctx, "SELECT * FROM read_parquet(["+strings.Join(list, ", ")+"], union_by_name = true)")
	if err != nil {
		return nil, fmt.Errorf("delta %s: reading staged files: %w", tbl.Location(), err)
	}
	schema := &delta.StructType{}
	for _, c := range cols {
		dt, cast, err := deltaType(c.typ)
		if err == nil && cast != "" {
			err = fmt.Errorf("type %s is not stored as Delta stores %s; write it as %s", c.typ, dt, cast)
		}
		if err != nil {
			return nil, fmt.Errorf("delta %s: column %s: %w", tbl.Location(), c.name, err)
		}
		schema.Fields = append(schema.Fields, delta.StructField{Name: c.name, Type: dt, Nullable: true})
	}
	newSchema, partBy, err := checkSchema(tbl, read, schema, opts)
	if err != nil {
		return nil, err
	}
	if len(partBy) > 0 {
		return nil, fmt.Errorf("delta %s: partitioned tables take files from the embedded engine only", tbl.Location())
	}
	st := tbl.Storage()
	var files []writtenFile
	for i, f := range staged {
		rows, stats, err := e.fileStats(ctx, f.Local)
		if err != nil {
			return nil, fmt.Errorf("delta %s: statistics of %s: %w", tbl.Location(), f.Key, err)
		}
		if rows == 0 && len(staged) > 1 {
			continue
		}
		fi, err := os.Stat(f.Local)
		if err != nil {
			return nil, err
		}
		name := delta.NewDataFileName(i, "zstd")
		key := name
		if tbl.Root() != "" {
			key = tbl.Root() + "/" + name
		}
		moved := false
		if lp, ok := st.(lake.LocalPather); ok && filepath.Clean(lp.LocalPath(f.Key)) == filepath.Clean(f.Local) {
			dst := lp.LocalPath(key)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			moved = os.Rename(f.Local, dst) == nil
		}
		if !moved {
			if err := copyUp(ctx, st, key, f.Local); err != nil {
				return nil, err
			}
		}
		files = append(files, writtenFile{rows: rows, add: delta.Add{Path: delta.EscapePathURI(name), PartitionValues: map[string]*string{},
			Size: fi.Size(), ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: stats}})
	}
	return commit(ctx, tbl, read, txns, schema, newSchema, nil, files, opts)
}

// AppendDelta appends the query's rows as WriteDelta does, and tries again when another writer
// committed first (created the table, appended, or widened its schema): an append never
// conflicts in content, so the retry lands on top. A txn in opts keeps a retry from landing
// twice. This is how the audit tables take rows from many writers at once.
func (e *Engine) AppendDelta(ctx context.Context, tbl *delta.Table, query string, opts WriteOptions) (*WriteResult, error) {
	opts.Mode, opts.Read = Append, nil
	for attempt := 0; ; attempt++ {
		w, err := e.WriteDelta(ctx, tbl, query, opts)
		if err != nil && errors.Is(err, delta.ErrConflict) && attempt < 5 {
			continue
		}
		return w, err
	}
}

type column struct{ name, typ string }

func (e *Engine) describe(ctx context.Context, query string) ([]column, error) {
	rows, err := e.db.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		var a, b, d, f any
		if err := rows.Scan(&c.name, &c.typ, &a, &b, &d, &f); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

var duckDecimalRe = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// deltaType maps a DuckDB column type to a Delta type, and the cast that makes the Parquet
// encoding what the Delta protocol expects ("" for none). Naive timestamps become UTC
// timestamps, because timestamp_ntz would raise the table's protocol.
func deltaType(t string) (delta.DataType, string, error) {
	if m := duckDecimalRe.FindStringSubmatch(t); m != nil {
		return delta.DataType{Primitive: fmt.Sprintf("decimal(%s,%s)", m[1], m[2])}, "", nil
	}
	switch t {
	case "VARCHAR":
		return delta.DataType{Primitive: "string"}, "", nil
	case "BIGINT":
		return delta.DataType{Primitive: "long"}, "", nil
	case "INTEGER":
		return delta.DataType{Primitive: "integer"}, "", nil
	case "SMALLINT":
		return delta.DataType{Primitive: "short"}, "", nil
	case "TINYINT":
		return delta.DataType{Primitive: "byte"}, "", nil
	case "UTINYINT", "USMALLINT":
		return delta.DataType{Primitive: "integer"}, "INTEGER", nil
	case "UINTEGER":
		return delta.DataType{Primitive: "long"}, "BIGINT", nil
	case "HUGEINT", "UBIGINT":
		return delta.DataType{Primitive: "decimal(38,0)"}, "DECIMAL(38,0)", nil
	case "DOUBLE":
		return delta.DataType{Primitive: "double"}, "", nil
	case "FLOAT":
		return delta.DataType{Primitive: "float"}, "", nil
	case "BOOLEAN":
		return delta.DataType{Primitive: "boolean"}, "", nil
	case "BLOB":
		return delta.DataType{Primitive: "binary"}, "", nil
	case "DATE":
		return delta.DataType{Primitive: "date"}, "", nil
	case "TIMESTAMP WITH TIME ZONE":
		return delta.DataType{Primitive: "timestamp"}, "", nil
	case "TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_NS":
		return delta.DataType{Primitive: "timestamp"}, "TIMESTAMPTZ", nil
	case "\"NULL\"", "NULL":
		return delta.DataType{Primitive: "string"}, "VARCHAR", nil
	}
	if strings.HasSuffix(t, "[]") {
		et, cast, err := deltaType(strings.TrimSuffix(t, "[]"))
		if err != nil {
			return delta.DataType{}, "", err
		}
		if cast != "" {
			cast += "[]"
		}
		return delta.DataType{Array: &delta.ArrayType{ElementType: et, ContainsNull: true}}, cast, nil
	}
	return delta.DataType{}, "", fmt.Errorf("type %s has no Delta equivalent here; cast it in the model", t)
}

// addsColumns reports whether b is a followed by new columns.
func addsColumns(a, b *delta.StructType) bool {
	if len(b.Fields) <= len(a.Fields) {
		return false
	}
	return sameSchema(a, &delta.StructType{Fields: b.Fields[:len(a.Fields)]})
}

func sameSchema(a, b *delta.StructType) bool {
	if len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || a.Fields[i].Type.String() != b.Fields[i].Type.String() {
			return false
		}
	}
	return true
}

func fieldList(s *delta.StructType) string {
	var parts []string
	for _, f := range s.Fields {
		parts = append(parts, f.Name+" "+f.Type.String())
	}
	return strings.Join(parts, ", ")
}

type writtenFile struct {
	add  delta.Add
	rows int64
}

// writeFiles writes the query into new Parquet files of the table and returns their adds.
// Local tables get the files in place; remote ones get them uploaded from a temp folder.
func (e *Engine) writeFiles(ctx context.Context, tbl *delta.Table, query, dir string, pv map[string]*string, fileBytes int64, rowGroup int) ([]writtenFile, error) {
	if fileBytes <= 0 {
		fileBytes = 128 << 20
	}
	if rowGroup <= 0 {
		// Row groups small enough that a file can close near its target size: a file ends
		// only at a row group's end.
		rowGroup = int(min(max(fileBytes/256, 256), 122880))
	}
	st := tbl.Storage()
	stage, err := os.MkdirTemp("", "rcmlake-write-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	out := filepath.Join(stage, "out")
	// Zstd compresses better than snappy at a similar speed; every Delta reader reads it.
	copySQL := fmt.Sprintf(`COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE %d,
		FILE_SIZE_BYTES %d, FILENAME_PATTERN 'part-{i}', PER_THREAD_OUTPUT false)`, query, quote(out), rowGroup, fileBytes)
	if _, err := e.db.ExecContext(ctx, copySQL); err != nil {
		return nil, fmt.Errorf("%w%s", err, e.memoryUse(ctx))
	}
	entries, err := os.ReadDir(out)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var files []writtenFile
	for i, ent := range entries {
		local := filepath.Join(out, ent.Name())
		rows, stats, err := e.fileStats(ctx, local)
		if err != nil {
			return nil, err
		}
		if rows == 0 && len(entries) > 1 {
			continue
		}
		name := delta.NewDataFileName(i, "zstd")
		if dir != "" {
			name = dir + "/" + name
		}
		key := tbl.Root() + "/" + name
		if tbl.Root() == "" {
			key = name
		}
		fi, err := os.Stat(local)
		if err != nil {
			return nil, err
		}
		if lp, ok := st.(lake.LocalPather); ok {
			dst := lp.LocalPath(key)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			if err := os.Rename(local, dst); err != nil {
				if err := copyUp(ctx, st, key, local); err != nil {
					return nil, err
				}
			}
		} else if err := copyUp(ctx, st, key, local); err != nil {
			return nil, err
		}
		if pv == nil {
			pv = map[string]*string{}
		}
		files = append(files, writtenFile{rows: rows, add: delta.Add{Path: delta.EscapePathURI(name), PartitionValues: pv,
			Size: fi.Size(), ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: stats}})
	}
	return files, nil
}

// writePartitioned stages the rows once, then writes each partition's rows to its folder.
func (e *Engine) writePartitioned(ctx context.Context, tbl *delta.Table, query string, schema *delta.StructType, partBy []string, fileBytes int64) ([]writtenFile, error) {
	isPart := map[string]bool{}
	for _, c := range partBy {
		f, ok := schema.Field(c)
		if !ok {
			return nil, fmt.Errorf("partition column %s is not in the query", c)
		}
		switch f.Type.Primitive {
		case "string", "long", "integer", "short", "byte", "date", "boolean":
		default:
			return nil, fmt.Errorf("partition column %s: type %s cannot partition a table here; use a string, integer, date or boolean", c, f.Type)
		}
		isPart[c] = true
	}
	var dataCols []string
	for _, f := range schema.Fields {
		if !isPart[f.Name] {
			dataCols = append(dataCols, quoteIdent(f.Name))
		}
	}
	stage := "rcmlake_stage_" + strings.ReplaceAll(delta.NewDataFileName(0, "x"), "-", "_")[11:30]
	if _, err := e.db.ExecContext(ctx, "CREATE TEMP TABLE "+stage+" AS "+query); err != nil {
		return nil, err
	}
	defer e.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+stage)
	var casts []string
	for _, c := range partBy {
		casts = append(casts, "CAST("+quoteIdent(c)+" AS VARCHAR)")
	}
	rows, err := e.db.QueryContext(ctx, "SELECT DISTINCT "+strings.Join(casts, ", ")+" FROM "+stage+" ORDER BY ALL")
	if err != nil {
		return nil, err
	}
	var combos [][]*string
	for rows.Next() {
		vals := make([]*string, len(partBy))
		ptrs := make([]any, len(partBy))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return nil, err
		}
		combos = append(combos, vals)
	}
	rows.Close()
	var all []writtenFile
	for _, vals := range combos {
		var where, dirs []string
		pv := map[string]*string{}
		for i, c := range partBy {
			if vals[i] == nil {
				where = append(where, quoteIdent(c)+" IS NULL")
			} else {
				where = append(where, casts[i]+" = "+quote(*vals[i]))
			}
			dirs = append(dirs, delta.PartitionDir(c, vals[i]))
			pv[c] = vals[i]
		}
		q := "SELECT " + strings.Join(dataCols, ", ") + " FROM " + stage + " WHERE " + strings.Join(where, " AND ")
		files, err := e.writeFiles(ctx, tbl, q, strings.Join(dirs, "/"), pv, fileBytes, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, files...)
	}
	return all, nil
}

func copyUp(ctx context.Context, st lake.Storage, key, local string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	return st.Put(ctx, key, f)
}

// maxStatsColumns is how many leading columns get min/max/nullCount, as Spark's default
// delta.dataSkippingNumIndexedCols.
const maxStatsColumns = 32

// fileStats computes numRecords and, for the first 32 primitive columns, min, max and
// nullCount, in the JSON form Spark writes.
func (e *Engine) fileStats(ctx context.Context, path string) (int64, string, error) {
	cols, err := e.describe(ctx, "SELECT * FROM read_parquet("+quote(path)+")")
	if err != nil {
		return 0, "", err
	}
	exprs := []string{"count(*)"}
	type statCol struct {
		name, typ string
		minmax    bool
	}
	var sc []statCol
	for i, c := range cols {
		if i >= maxStatsColumns {
			break
		}
		if strings.HasPrefix(c.typ, "STRUCT") || strings.HasPrefix(c.typ, "MAP") || strings.HasSuffix(c.typ, "[]") {
			continue
		}
		mm := c.typ != "BOOLEAN" && c.typ != "BLOB"
		s := statCol{name: c.name, typ: c.typ, minmax: mm}
		exprs = append(exprs, fmt.Sprintf("count(*) - count(%s)", quoteIdent(c.name)))
		if mm {
			exprs = append(exprs, fmt.Sprintf("min(%s)", quoteIdent(c.name)), fmt.Sprintf("max(%s)", quoteIdent(c.name)))
		}
		sc = append(sc, s)
	}
	row := e.db.QueryRowContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM read_parquet("+quote(path)+")")
	vals := make([]any, len(exprs))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		return 0, "", err
	}
	n := toInt64(vals[0])
	st := delta.Stats{NumRecords: n, MinValues: map[string]any{}, MaxValues: map[string]any{}, NullCount: map[string]any{}}
	i := 1
	for _, c := range sc {
		st.NullCount[c.name] = toInt64(vals[i])
		i++
		if c.minmax {
			lo, hi := statValue(vals[i], c.typ, false), statValue(vals[i+1], c.typ, true)
			if lo != nil && hi != nil {
				st.MinValues[c.name], st.MaxValues[c.name] = lo, hi
			}
			i += 2
		}
	}
	b, err := json.Marshal(st)
	return n, string(b), err
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case *big.Int:
		return x.Int64()
	}
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n
}

// statValue renders a min or max as Spark does. Strings longer than 32 characters get no
// stats (a truncated max would be wrong); timestamps are milliseconds, the max rounded up so
// it still bounds the data.
func statValue(v any, typ string, isMax bool) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if len([]rune(x)) > 32 {
			return nil
		}
		return x
	case time.Time:
		if typ == "DATE" {
			return x.Format("2006-01-02")
		}
		t := x.UTC()
		if isMax && t.Truncate(time.Millisecond) != t {
			t = t.Truncate(time.Millisecond).Add(time.Millisecond)
		} else {
			t = t.Truncate(time.Millisecond)
		}
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	case duck.Decimal:
		return json.Number(DecimalText(x))
	case float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		return x
	case *big.Int:
		return json.Number(x.String())
	}
	return nil
}

// DecimalText renders a DuckDB decimal exactly, with its scale ("-0.10", "3.0000000000").
func DecimalText(d duck.Decimal) string {
	neg := d.Value.Sign() < 0
	digits := new(big.Int).Abs(d.Value).String()
	scale := int(d.Scale)
	for len(digits) <= scale {
		digits = "0" + digits
	}
	s := digits
	if scale > 0 {
		s = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// memoryUse describes, after an out-of-memory error, what holds DuckDB's memory (its largest
// users by tag, with temporary storage), so that the error says what to cut.
func (e *Engine) memoryUse(ctx context.Context) string {
	rows, err := e.db.QueryContext(context.WithoutCancel(ctx), `SELECT tag, memory_usage_bytes, temporary_storage_bytes
		FROM duckdb_memory() WHERE memory_usage_bytes + temporary_storage_bytes > 0 ORDER BY memory_usage_bytes DESC`)
	if err != nil {
		return ""
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var tag string
		var mem, tmp int64
		if rows.Scan(&tag, &mem, &tmp) == nil {
			parts = append(parts, fmt.Sprintf("%s %d MiB (%d MiB spilled)", strings.ToLower(tag), mem>>20, tmp>>20))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (DuckDB memory: " + strings.Join(parts, ", ") + ")"
}
