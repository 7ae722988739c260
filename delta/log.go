package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// ErrNotATable is returned (wrapped) when a folder has no _delta_log.
var ErrNotATable = errors.New("not a Delta table (no _delta_log)")

var (
	commitRe     = regexp.MustCompile(`^(\d{20})\.json$`)
	checkpointRe = regexp.MustCompile(`^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$`)
	v2CkptRe     = regexp.MustCompile(`^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(?:parquet|json)$`)
)

// Table is a Delta table: a folder (key prefix) in a lake.
type Table struct {
	store lake.Storage
	root  string // key prefix of the table folder, without a trailing slash
	// Clock gives commit timestamps; tests replace it.
	Clock func() time.Time
}

// Open returns the table at root within store. Nothing is read until a snapshot is asked for.
func Open(store lake.Storage, root string) *Table {
	return &Table{store: store, root: strings.TrimSuffix(root, "/"), Clock: time.Now}
}

// Storage is where the table lives.
func (t *Table) Storage() lake.Storage { return t.store }

// Root is the table's key prefix.
func (t *Table) Root() string { return t.root }

// Location is the table's URL, for messages.
func (t *Table) Location() string {
	if t.root == "" {
		return strings.TrimSuffix(t.store.URL(), "/")
	}
	return strings.TrimSuffix(t.store.URL(), "/") + "/" + t.root
}

func (t *Table) key(rel string) string {
	if t.root == "" {
		return rel
	}
	return t.root + "/" + rel
}

func (t *Table) logKey(name string) string { return t.key("_delta_log/" + name) }

// CommitFileName is the log file name of a version.
func CommitFileName(v int64) string { return fmt.Sprintf("%020d.json", v) }

// logFile is one entry of the _delta_log listing.
type logFile struct {
	version int64
	name    string
	size    int64
	modTime time.Time
	// checkpoint parts: part/total are 0 for a commit, 1/1 for a single-part checkpoint
	part, total int
}

// logListing is what a listing of _delta_log holds.
type logListing struct {
	commits     map[int64]logFile
	checkpoints map[int64][]logFile // by version, parts of classic checkpoints
	v2          map[int64]bool      // versions that have a v2 (UUID-named) checkpoint
	hasLog      bool
}

func (t *Table) list(ctx context.Context) (*logListing, error) {
	prefix := t.logKey("")
	objs, err := t.store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("delta %s: listing the log: %w", t.Location(), err)
	}
	l := &logListing{commits: map[int64]logFile{}, checkpoints: map[int64][]logFile{}, v2: map[int64]bool{}}
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, prefix)
		if strings.Contains(name, "/") {
			continue // .tmp/, _sidecars/, _staged_commits/: never part of the log proper
		}
		l.hasLog = true
		if m := commitRe.FindStringSubmatch(name); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			l.commits[v] = logFile{version: v, name: name, size: o.Size, modTime: o.ModTime}
			continue
		}
		if m := checkpointRe.FindStringSubmatch(name); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			f := logFile{version: v, name: name, size: o.Size, modTime: o.ModTime, part: 1, total: 1}
			if m[2] != "" {
				f.part, _ = strconv.Atoi(m[2])
				f.total, _ = strconv.Atoi(m[3])
			}
			l.checkpoints[v] = append(l.checkpoints[v], f)
			continue
		}
		if m := v2CkptRe.FindStringSubmatch(name); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			l.v2[v] = true
		}
	}
	return l, nil
}

// latest is the highest version with a commit or a checkpoint.
func (l *logListing) latest() (int64, bool) {
	best, ok := int64(-1), false
	for v := range l.commits {
		if v > best {
			best, ok = v, true
		}
	}
	for v := range l.checkpoints {
		if v > best && l.completeCheckpoint(v) != nil {
			best, ok = v, true
		}
	}
	return best, ok
}

// completeCheckpoint returns the parts of a complete classic checkpoint at v, in order, or
// nil. A multi-part checkpoint with a part missing is skipped, as if it were not there.
func (l *logListing) completeCheckpoint(v int64) []logFile {
	parts := l.checkpoints[v]
	if len(parts) == 0 {
		return nil
	}
	byTotal := map[int][]logFile{}
	for _, p := range parts {
		byTotal[p.total] = append(byTotal[p.total], p)
	}
	totals := make([]int, 0, len(byTotal))
	for n := range byTotal {
		totals = append(totals, n)
	}
	sort.Ints(totals)
	for _, n := range totals {
		ps := byTotal[n]
		seen := map[int]logFile{}
		for _, p := range ps {
			seen[p.part] = p
		}
		if len(seen) != n {
			continue
		}
		out := make([]logFile, 0, n)
		for i := 1; i <= n; i++ {
			p, ok := seen[i]
			if !ok {
				out = nil
				break
			}
			out = append(out, p)
		}
		if out != nil {
			return out
		}
	}
	return nil
}

// lastCheckpointHint reads _last_checkpoint. It is only a hint: any problem means "none".
func (t *Table) lastCheckpointHint(ctx context.Context) (int64, bool) {
	data, err := lake.ReadAll(ctx, t.store, t.logKey("_last_checkpoint"))
	if err != nil || len(data) == 0 {
		return 0, false
	}
	var h struct {
		Version int64 `json:"version"`
	}
	if json.Unmarshal(data, &h) != nil {
		return 0, false
	}
	return h.Version, true
}
