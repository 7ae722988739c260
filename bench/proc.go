package bench

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Step is one timed command: its wall time, its process's peak resident memory, the rows it
// moved and the bytes it added to the lake.
type Step struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Rows       int64   `json:"rows,omitempty"`
	RowsPerSec float64 `json:"rows_per_sec,omitempty"`
	BytesOut   int64   `json:"bytes_written,omitempty"`
}

// runner runs the rcmlake binary as a subprocess, so that each step's peak RSS is its own.
type runner struct {
	bin string
	env []string
	log func(format string, args ...any)
}

// run times one command in dir. Its output is kept only for the error message.
func (r *runner) run(ctx context.Context, dir, name string, args ...string) (Step, string, error) {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), r.env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	st := Step{Name: name, Seconds: time.Since(start).Seconds()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			st.PeakRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		tail := out.String()
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return st, out.String(), fmt.Errorf("rcmlake %s: %w\n%s", strings.Join(args, " "), err, tail)
	}
	r.log("  %-28s %8.2f s  %7.0f MB", name, st.Seconds, st.PeakRSSMB)
	return st, out.String(), nil
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// cloneWorld makes dst a copy of a generated world: files are hard links (a run only reads
// sources, and moving a landing file away unlinks only the clone's name), except SQLite files,
// which are copied so that appending a month to the clone leaves the original alone.
func cloneWorld(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".sqlite") || strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".json") {
			return copyFile(p, target)
		}
		return os.Link(p, target)
	})
}

func copyFile(src, dst string) error {
	data, err := os.Open(src)
	if err != nil {
		return err
	}
	defer data.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianStep combines repeats of one step: the median of each figure.
func medianStep(steps []Step) Step {
	if len(steps) == 0 {
		return Step{}
	}
	var sec, rss, rows, bytes []float64
	for _, s := range steps {
		sec = append(sec, s.Seconds)
		rss = append(rss, s.PeakRSSMB)
		rows = append(rows, float64(s.Rows))
		bytes = append(bytes, float64(s.BytesOut))
	}
	out := Step{Name: steps[0].Name, Seconds: median(sec), PeakRSSMB: median(rss), Rows: int64(median(rows)), BytesOut: int64(median(bytes))}
	if out.Seconds > 0 && out.Rows > 0 {
		out.RowsPerSec = float64(out.Rows) / out.Seconds
	}
	return out
}
