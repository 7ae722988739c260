package delta

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// VacuumOptions control VACUUM.
type VacuumOptions struct {
	Retain *time.Duration // how old a removed file must be; nil means the table's retention (default 7 days)
	DryRun bool           // list, delete nothing
	Force  bool           // allow a retention shorter than the table's
}

// VacuumResult lists what VACUUM deleted (or would delete).
type VacuumResult struct {
	Files []string
	Bytes int64
}

// Vacuum deletes data files that no version within the retention still needs: files that are
// not active and were either removed longer ago than the retention, or never committed (left
// by a crashed writer) and older than it. It refuses a retention shorter than the table's
// unless forced, because readers of older versions may still need the files.
func (t *Table) Vacuum(ctx context.Context, opts VacuumOptions) (*VacuumResult, error) {
	s, err := t.Latest(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkWritable(t.Location(), s.Protocol, s.Metadata); err != nil {
		return nil, err
	}
	tableRetention := tombstoneRetention(s.Metadata)
	retain := tableRetention
	if opts.Retain != nil {
		retain = *opts.Retain
	}
	if retain < tableRetention && !opts.Force {
		return nil, fmt.Errorf("delta %s: a retention of %s is shorter than the table's %s; readers of older versions could lose their files. Use --force if you are sure", t.Location(), retain, tableRetention)
	}
	cutoff := t.Clock().Add(-retain)
	active := map[string]bool{}
	for _, f := range s.Files() {
		active[f.Key] = true
	}
	recent := map[string]bool{} // removed within the retention: still needed for time travel
	for _, r := range s.Tombstones() {
		if r.DeletionTimestamp != nil && time.UnixMilli(*r.DeletionTimestamp).After(cutoff) {
			recent[t.dataKey(r.Path)] = true
		}
	}
	prefix := t.key("")
	objs, err := t.store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	res := &VacuumResult{}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, prefix)
		if strings.HasPrefix(rel, "_delta_log/") || isHidden(rel) || active[o.Key] || recent[o.Key] {
			continue
		}
		if o.ModTime.After(cutoff) {
			continue // may belong to a commit still being written
		}
		res.Files = append(res.Files, o.Key)
		res.Bytes += o.Size
	}
	if opts.DryRun {
		return res, nil
	}
	for _, k := range res.Files {
		if err := t.store.Delete(ctx, k); err != nil {
			return res, err
		}
	}
	return res, nil
}

// isHidden reports files and folders that Delta leaves alone: names starting with _ or .
// (other than partition folders, which contain '=').
func isHidden(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if (strings.HasPrefix(part, "_") || strings.HasPrefix(part, ".")) && !strings.Contains(part, "=") {
			return true
		}
	}
	return false
}

// CleanupLog deletes commit and checkpoint files older than the log retention, but only below
// the newest checkpoint that is itself past the retention, so every version still within
// retention stays reconstructable.
func (t *Table) CleanupLog(ctx context.Context) ([]string, error) {
	s, err := t.Latest(ctx)
	if err != nil {
		return nil, err
	}
	l, err := t.list(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := t.Clock().Add(-logRetention(s.Metadata))
	keep := int64(-1) // newest checkpoint older than the cutoff
	for v := range l.checkpoints {
		parts := l.completeCheckpoint(v)
		if parts != nil && parts[0].modTime.Before(cutoff) && v > keep {
			keep = v
		}
	}
	if keep < 0 {
		return nil, nil
	}
	var deleted []string
	for v, f := range l.commits {
		if v < keep && f.modTime.Before(cutoff) {
			deleted = append(deleted, f.name)
		}
	}
	for v, parts := range l.checkpoints {
		if v < keep {
			for _, p := range parts {
				deleted = append(deleted, p.name)
			}
		}
	}
	for _, name := range deleted {
		if err := t.store.Delete(ctx, t.logKey(name)); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
