package bronze

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/source/icd"
	"github.com/rcmlake/rcmlake/source/npi"
	"github.com/rcmlake/rcmlake/source/record"
)

// The reference tables land under the datasource "ref".
const (
	RefDatasource = "ref"
	RefNPI        = "npi"
	RefICD        = "icd_codes"
)

// Reference is one reference load the config enables.
type Reference struct {
	Table string // bronze table under datasource "ref"
	Load  func(context.Context, Options) LoadLog
}

// References lists the enabled reference loads, NPI first. NPI lookups read the providers
// tables, so they run after those have loaded.
func (in *Ingester) References() []Reference {
	var out []Reference
	if in.Config.Sources.APIs.NPI.IsEnabled() {
		out = append(out, Reference{RefNPI, in.LoadNPI})
	}
	if in.Config.Sources.APIs.ICD.IsEnabled() {
		out = append(out, Reference{RefICD, in.LoadICD})
	}
	return out
}

// LoadNPI looks up, in the NPPES NPI Registry, every NPI that the EMR providers tables name
// (through the providers entity's npi mapping) and lands the answers in bronze ref.npi, one
// snapshot per load. An NPI that is malformed or unknown to the registry is a reject with its
// reason; it never stops the load.
func (in *Ingester) LoadNPI(ctx context.Context, opts Options) LoadLog {
	return in.loadReference(ctx, opts, RefNPI, func(ctx context.Context, w *recordWriter, rej *rejectWriter) error {
		a := *in.Config.Sources.APIs.NPI
		if a.Kind == "bulk" {
			return in.importNPPES(ctx, a, w, rej)
		}
		numbers, err := in.providerNPIs(ctx)
		if err != nil {
			return err
		}
		if dir, ok := strings.CutPrefix(a.BaseURL, "file://"); ok && !filepath.IsAbs(dir) {
			// Relative to the config file, and absolute: a file:// URL has no relative form.
			if a.BaseURL, err = filepath.Abs(in.Config.ResolvePath(dir)); err != nil {
				return err
			}
			a.BaseURL = "file://" + a.BaseURL
		}
		c, err := npi.NewFromConfig(&a)
		if err != nil {
			return err
		}
		return c.LookupAll(ctx, numbers, func(r npi.LookupResult) error {
			w.read++
			if r.Err != nil {
				return rej.add(Reject{File: "nppes:" + r.NPI, Reason: r.Err.Error(), Raw: r.NPI})
			}
			return w.write(r.Provider)
		})
	})
}

// importNPPES lands NPIs from the NPPES monthly dissemination file instead of the API: the
// scalable route for a network with many providers, streamed row by row. With scope providers
// (the default) it keeps the NPIs the providers tables name, and each of those the file does not
// hold is a reject, as an unknown NPI is for the API; scope all keeps every row.
func (in *Ingester) importNPPES(ctx context.Context, a config.API, w *recordWriter, rej *rejectWriter) error {
	var want map[string]bool
	if a.Scope != "all" {
		numbers, err := in.providerNPIs(ctx)
		if err != nil {
			return err
		}
		want = make(map[string]bool, len(numbers))
		for _, n := range numbers {
			want[n] = false
		}
	}
	f, name, err := npi.OpenBulk(in.Config.ResolvePath(a.Root))
	if err != nil {
		return err
	}
	defer f.Close()
	var skipped int
	_, err = npi.ReadBulk(ctx, name, f, npi.BulkOptions{Reject: func(line int, reason string) error {
		w.read++
		return rej.add(Reject{File: name, Line: line, Reason: reason})
	}}, func(p npi.Provider) error {
		if want != nil {
			if _, ok := want[p.NPI]; !ok {
				skipped++
				return nil
			}
			want[p.NPI] = true
		}
		w.read++
		return w.write(p)
	})
	if err != nil {
		return err
	}
	missing := make([]string, 0)
	for n, seen := range want {
		if !seen {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		w.read++
		if err := rej.add(Reject{File: name, Reason: "NPI not in the NPPES file", Raw: n}); err != nil {
			return err
		}
	}
	in.Log.Info("NPPES bulk import", "file", name, "kept", w.rows, "outside_scope", skipped, "rejected", rej.n)
	return nil
}

// LoadICD lands the ICD-10 codes of the configured source (WHO ICD-API walk, NLM search or
// the CMS order file) in bronze ref.icd_codes, one snapshot per load.
func (in *Ingester) LoadICD(ctx context.Context, opts Options) LoadLog {
	return in.loadReference(ctx, opts, RefICD, func(ctx context.Context, w *recordWriter, _ *rejectWriter) error {
		a := in.Config.Sources.APIs.ICD
		var res icd.Resolved
		var err error
		if res.ClientID, err = in.Resolver.Resolve(ctx, a.ClientID); err != nil {
			return err
		}
		if res.ClientSecret, err = in.Resolver.Resolve(ctx, a.ClientSecret); err != nil {
			return err
		}
		if a.Kind == "cms-file" {
			res.Root = in.Config.ResolvePath(a.Root)
		}
		src, err := icd.FromConfig(a, res)
		if err != nil {
			return err
		}
		return src.Stream(ctx, func(c icd.Code) error {
			w.read++
			return w.write(c)
		})
	})
}

// providerNPIs lists the distinct NPIs of every committed providers load, through the npi
// column mapping of the providers entity's sources.
func (in *Ingester) providerNPIs(ctx context.Context) ([]string, error) {
	logs, err := ReadLoadLogs(ctx, in.Lake, &in.mu)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, e := range in.Config.Silver.Entities {
		if e.Name != "providers" {
			continue
		}
		for _, s := range e.Sources {
			expr, ok := s.Columns["npi"]
			if !ok {
				continue
			}
			var paths []string
			for _, f := range CommittedFiles(logs, s.Datasource, s.Table) {
				p, err := in.Lake.LocalPath(ctx, f)
				if err != nil {
					return nil, err
				}
				paths = append(paths, duckdb.Literal(p))
			}
			if len(paths) > 0 {
				parts = append(parts, fmt.Sprintf("SELECT trim(CAST(%s AS VARCHAR)) AS npi FROM read_parquet([%s], union_by_name = true)",
					expr, strings.Join(paths, ", ")))
			}
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("sources.apis.npi is enabled, but no providers have loaded through a silver providers entity that maps an npi column")
	}
	in.mu.Lock()
	res, err := in.Lake.Engine.Query(ctx, "SELECT DISTINCT npi FROM ("+strings.Join(parts, " UNION ALL ")+") x WHERE npi IS NOT NULL AND npi <> '' ORDER BY 1")
	in.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("reading the providers' NPIs: %w", err)
	}
	out := make([]string, 0, len(res.Rows))
	for _, r := range res.Rows {
		out = append(out, fmt.Sprint(r[0]))
	}
	return out, nil
}

// loadReference runs one reference load into bronze ref.<table> and commits its audit row.
func (in *Ingester) loadReference(ctx context.Context, opts Options, table string, fill func(context.Context, *recordWriter, *rejectWriter) error) LoadLog {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID(opts.Now())
	}
	start := opts.Now().UTC()
	l := LoadLog{RunID: opts.RunID, DataSource: RefDatasource, TableName: table, LoadType: "api", LoadDate: start, Status: "failed"}
	// A rerun of the same run id (`rcmlake ingest --run-id`, after a crash) keeps the snapshot
	// that run already committed instead of landing a second one, as EMR loads do.
	if prev, err := in.committedLoad(ctx, opts.RunID, RefDatasource, table); err != nil || prev != nil {
		if prev != nil {
			in.Log.Info("already loaded in this run; skipping", "run", opts.RunID, "datasource", RefDatasource, "table", table)
			return *prev
		}
		l.Error = in.Resolver.Redact(err.Error())
		return l
	}
	err := func() error {
		w, err := newRecordWriter()
		if err != nil {
			return err
		}
		defer w.discard()
		rej, err := newRejectWriter(table)
		if err != nil {
			return err
		}
		defer rej.discard()
		if err := fill(ctx, w, rej); err != nil {
			return err
		}
		if err := w.finish(); err != nil {
			return err
		}
		l.RowsRead, l.NumberOfRowsCopied, l.RowsRejected = w.read, w.rows, rej.n
		if w.cols == nil && rej.n > 0 {
			return fmt.Errorf("all %d records were rejected; the first: %s", rej.n, rej.first)
		}
		if w.cols == nil {
			return fmt.Errorf("the source returned nothing")
		}
		base := fmt.Sprintf("%s/%s/load_date=%s/run_id=%s", RefDatasource, table, start.Format("2006-01-02"), opts.RunID)
		key := "bronze/" + base + "/part-00000.parquet"
		if err := in.writeParquet(ctx, w.name(), w.cols, key, RefDatasource, opts.RunID, start, ""); err != nil {
			return err
		}
		l.Files = []string{key}
		if rej.n > 0 {
			l.RejectsFile = "bronze/_rejects/" + base + "/rejects.json"
			return rej.upload(ctx, in.Lake.Store, l.RejectsFile)
		}
		return nil
	}()
	in.commitLoad(ctx, &l, start, err)
	if err != nil {
		in.Log.Error("reference load failed", "table", table, "err", l.Error)
	}
	if l.Status == "success" {
		in.Log.Info("reference loaded", "table", table, "rows", l.NumberOfRowsCopied, "rejected", l.RowsRejected, "ms", l.DurationMS)
	}
	return l
}

// recordWriter lands flat records (the API clients' record view) in a rowFile.
type recordWriter struct {
	*rowFile
	cols []string
	read int64 // records the source gave, rejects included
}

func newRecordWriter() (*recordWriter, error) {
	rf, err := newRowFile()
	if err != nil {
		return nil, err
	}
	return &recordWriter{rowFile: rf}, nil
}

func (r *recordWriter) write(x record.Flat) error {
	if r.cols == nil {
		for _, c := range x.Columns() {
			r.cols = append(r.cols, c.Name)
		}
	}
	return r.rowFile.write(r.cols, x.Values())
}
