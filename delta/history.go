package delta

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// Stats is the per-file statistics of an add action.
type Stats struct {
	NumRecords int64          `json:"numRecords"`
	MinValues  map[string]any `json:"minValues,omitempty"`
	MaxValues  map[string]any `json:"maxValues,omitempty"`
	NullCount  map[string]any `json:"nullCount,omitempty"`
}

// ParseStats reads an add's stats string; empty gives nil.
func ParseStats(s string) (*Stats, error) {
	if s == "" {
		return nil, nil
	}
	var st Stats
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Commit is one entry of a table's history.
type Commit struct {
	Version   int64
	Timestamp time.Time
	Info      *CommitInfo // nil if the commit had none
}

// History lists the commits whose files remain, newest first.
func (t *Table) History(ctx context.Context) ([]Commit, error) {
	l, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := l.latest(); !ok {
		return nil, fmt.Errorf("delta %s: %w", t.Location(), ErrNotATable)
	}
	times := commitTimes(l)
	var out []Commit
	for v, f := range l.commits {
		c := Commit{Version: v, Timestamp: times[v]}
		data, err := lake.ReadAll(ctx, t.store, t.logKey(f.name))
		if err != nil {
			return nil, err
		}
		acts, err := ParseActions(data)
		if err != nil {
			return nil, fmt.Errorf("delta %s: commit %d: %w", t.Location(), v, err)
		}
		for _, a := range acts {
			if a.CommitInfo != nil {
				c.Info = a.CommitInfo
				if a.CommitInfo.InCommitTimestamp != nil {
					c.Timestamp = time.UnixMilli(*a.CommitInfo.InCommitTimestamp).UTC()
				}
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, nil
}

// commitTimes are the commit files' modification times, adjusted as Spark does so that they
// never go backwards: a commit is at least one millisecond after the one before.
func commitTimes(l *logListing) map[int64]time.Time {
	var vs []int64
	for v := range l.commits {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	out := map[int64]time.Time{}
	var prev time.Time
	for _, v := range vs {
		ts := l.commits[v].modTime.UTC().Truncate(time.Millisecond)
		if !prev.IsZero() && !ts.After(prev) {
			ts = prev.Add(time.Millisecond)
		}
		out[v] = ts
		prev = ts
	}
	return out
}

// AsOf loads the snapshot that was current at time ts, with Spark's rules: the latest commit
// at or before ts; a time before the first commit or after the last one is an error.
func (t *Table) AsOf(ctx context.Context, ts time.Time) (*Snapshot, error) {
	l, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := l.latest(); !ok {
		return nil, fmt.Errorf("delta %s: %w", t.Location(), ErrNotATable)
	}
	times := commitTimes(l)
	// In-commit timestamps, where the table has them, win over file times.
	for v, f := range l.commits {
		if data, err := lake.ReadAll(ctx, t.store, t.logKey(f.name)); err == nil && strings.Contains(string(data), "inCommitTimestamp") {
			if acts, err := ParseActions(data); err == nil {
				for _, a := range acts {
					if a.CommitInfo != nil && a.CommitInfo.InCommitTimestamp != nil {
						times[v] = time.UnixMilli(*a.CommitInfo.InCommitTimestamp).UTC()
					}
				}
			}
		}
	}
	best, first, last := int64(-1), int64(-1), int64(-1)
	for v, at := range times {
		if first < 0 || v < first {
			first = v
		}
		if v > last {
			last = v
		}
		if !at.After(ts) && v > best {
			best = v
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("delta %s: the timestamp %s is before the earliest commit (version %d at %s)", t.Location(),
			ts.UTC().Format(time.RFC3339Nano), first, times[first].Format(time.RFC3339Nano))
	}
	if ts.After(times[last]) && best == last {
		return nil, fmt.Errorf("delta %s: the timestamp %s is after the latest commit (version %d at %s); use the latest version instead",
			t.Location(), ts.UTC().Format(time.RFC3339Nano), last, times[last].Format(time.RFC3339Nano))
	}
	return t.At(ctx, best)
}
