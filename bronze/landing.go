package bronze

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/open"
)

// NormalizeHeader turns a CSV header into a column name: trimmed, lower case, runs of
// anything but letters and digits as one underscore ("Procedure Code Category" ->
// procedure_code_category, "ClaimID" -> claimid). SQL names are case-insensitive, so
// mappings may still say ClaimID.
func NormalizeHeader(h string) string {
	h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// Reject is a landing row that could not be read, kept with where it came from and why.
type Reject struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

// fileKey identifies one version of a landing file: its name and its content.
func fileKey(name, sha string) string { return "file:" + name + ":" + sha }

// RunLanding ingests the landing files the config names, each version of each file exactly
// once: a file's audit row (which names its content hash) is the ledger, committed with the
// data, so a crash at any point means the file is simply ingested again, never twice.
// Ingested files then move to the archive folder by date.
func (in *Ingester) RunLanding(ctx context.Context, opts Options) ([]LoadLog, error) {
	l := in.Config.Sources.Landing
	if l == nil {
		return nil, nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID(opts.Now())
	}
	store, err := open.Open(ctx, in.Config.ResolvePath(l.Root), open.Options{Create: true})
	if err != nil {
		return nil, fmt.Errorf("landing %s: %w", l.Root, err)
	}
	objs, err := store.List(ctx, "")
	if err != nil {
		return nil, err
	}
	logs, err := ReadLoadLogs(ctx, in.Lake, &in.mu)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, x := range logs {
		if x.Status == "success" && strings.HasPrefix(x.StateKey, "file:") {
			seen[x.StateKey] = true
		}
	}
	var out []LoadLog
	var failed []string
	for _, o := range objs {
		if strings.HasPrefix(o.Key, l.Archive+"/") {
			continue
		}
		rule, ok := matchRule(l.Files, o.Key)
		if !ok || (opts.Datasource != "" && rule.Datasource != opts.Datasource) || (opts.Table != "" && rule.Table != opts.Table) {
			continue
		}
		// Two streaming passes, never the whole file in memory: the hash decides whether this
		// version was ingested already, then the rows are read.
		sha, err := hashObject(ctx, store, o.Key)
		if err != nil {
			return out, err
		}
		if seen[fileKey(o.Key, sha)] {
			in.Log.Info("landing file already ingested; archiving it", "file", o.Key)
			if err := archive(ctx, store, l.Archive, o.Key, opts.Now()); err != nil {
				return out, err
			}
			continue
		}
		lg := in.loadFile(ctx, rule, store, o.Key, sha, opts)
		out = append(out, lg)
		if lg.Status != "success" {
			failed = append(failed, o.Key+": "+lg.Error)
			continue
		}
		seen[fileKey(o.Key, sha)] = true
		if err := archive(ctx, store, l.Archive, o.Key, opts.Now()); err != nil {
			return out, err
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%d landing files failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return out, nil
}

// hashObject is the SHA-256 of a landing object, read as a stream.
func hashObject(ctx context.Context, st lake.Storage, key string) (string, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("landing %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func matchRule(rules []config.LandingFile, key string) (config.LandingFile, bool) {
	for _, r := range rules {
		if !r.IsActive() {
			continue
		}
		if ok, _ := path.Match(r.Pattern, key); ok {
			return r, true
		}
	}
	return config.LandingFile{}, false
}

// archive moves a file to archive/YYYY/MM/DD/<name>: copy, then delete, so a crash between
// the two leaves the file in both places and the next run finishes the move.
func archive(ctx context.Context, st lake.Storage, dir, key string, now time.Time) error {
	dst := fmt.Sprintf("%s/%s/%s", dir, now.UTC().Format("2006/01/02"), key)
	rc, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	err = st.Put(ctx, dst, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("archiving %s: %w", key, err)
	}
	return st.Delete(ctx, key)
}

// loadFile reads one landing CSV into bronze. Rows with the wrong field count or invalid
// UTF-8 go to bronze/_rejects with file, line and reason; they never stop the file, and
// rows read = rows loaded + rows rejected.
func (in *Ingester) loadFile(ctx context.Context, rule config.LandingFile, st lake.Storage, key, sha string, opts Options) LoadLog {
	start := opts.Now().UTC()
	lg := LoadLog{RunID: opts.RunID, DataSource: rule.Datasource, TableName: rule.Table, LoadType: "file",
		LoadDate: start, Status: "failed", StateKey: fileKey(key, sha), OldWatermark: key}
	err := func() error {
		rc, err := st.Get(ctx, key)
		if err != nil {
			return err
		}
		defer rc.Close()
		return in.readCSV(ctx, rule, key, rc, opts, &lg)
	}()
	in.commitLoad(ctx, &lg, start, err)
	in.Log.Info("landing file", "file", key, "rows", lg.NumberOfRowsCopied, "rejected", lg.RowsRejected, "status", lg.Status)
	return lg
}

// ColRescued holds, as a JSON object keyed by the file's own header, the values of columns a
// landing rule does not declare: schema drift never loses data, and never breaks a mapping.
const ColRescued = "_rescued_data"

// readCSV streams a landing file into a bronze Parquet file and its rejects, one record in
// memory at a time; every record read is either loaded or rejected.
func (in *Ingester) readCSV(ctx context.Context, rule config.LandingFile, key string, src io.Reader, opts Options, lg *LoadLog) error {
	sc, err := newCSVScanner(rule, key, src)
	if err != nil {
		return err
	}
	rf, err := newRowFile()
	if err != nil {
		return err
	}
	defer rf.discard()
	rej, err := newRejectWriter(key)
	if err != nil {
		return err
	}
	defer rej.discard()
	vals := make([]any, len(sc.cols))
	for {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		reject, err := sc.next(vals)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		lg.RowsRead++
		if reject != nil {
			if err := rej.add(*reject); err != nil {
				return err
			}
			continue
		}
		if err := rf.write(sc.cols, vals); err != nil {
			return err
		}
		lg.NumberOfRowsCopied++
	}
	if err := rf.finish(); err != nil {
		return err
	}
	lg.RowsRejected = rej.n
	if lg.NumberOfRowsCopied+lg.RowsRejected != lg.RowsRead {
		return fmt.Errorf("%s: %d rows read, %d loaded and %d rejected do not add up", key, lg.RowsRead, lg.NumberOfRowsCopied, lg.RowsRejected)
	}
	base := fmt.Sprintf("%s/%s/load_date=%s/run_id=%s", rule.Datasource, rule.Table, lg.LoadDate.Format("2006-01-02"), opts.RunID)
	name := strings.NewReplacer("/", "_", ".", "_").Replace(key)
	out := "bronze/" + base + "/" + name + ".parquet"
	if err := in.writeParquet(ctx, rf.name(), sc.cols, out, rule.Datasource, opts.RunID, lg.LoadDate, ""); err != nil {
		return err
	}
	lg.Files = []string{out}
	if rej.n > 0 {
		lg.RejectsFile = "bronze/_rejects/" + base + "/" + name + ".json"
		if err := rej.upload(ctx, in.Lake.Store, lg.RejectsFile); err != nil {
			return err
		}
	}
	return nil
}

// rejectWriter streams rejected rows to a temporary JSON array file, so a file full of bad
// rows costs disk, not memory.
type rejectWriter struct {
	f     *os.File
	w     *bufio.Writer
	n     int64
	first string // the first reject's reason, for an error that names one
}

func newRejectWriter(key string) (*rejectWriter, error) {
	f, err := os.CreateTemp("", "rcmlake-rejects-*.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &rejectWriter{f: f, w: bufio.NewWriter(f)}, nil
}

func (r *rejectWriter) add(x Reject) error {
	sep := ","
	if r.n == 0 {
		sep = "["
	}
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	if r.n == 0 {
		r.first = x.Raw + ": " + x.Reason
	}
	r.n++
	if _, err := r.w.WriteString(sep); err != nil {
		return err
	}
	_, err = r.w.Write(b)
	return err
}

func (r *rejectWriter) upload(ctx context.Context, st lake.Storage, key string) error {
	if _, err := r.w.WriteString("]"); err != nil {
		return err
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return st.Put(ctx, key, r.f)
}

func (r *rejectWriter) discard() {
	r.f.Close()
	os.Remove(r.f.Name())
}
