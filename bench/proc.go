package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one measured subprocess: its wall time and its peak resident memory.
type sample struct {
	Seconds float64
	MaxRSS  int64 // bytes
	Stdout  string
}

// runProc runs the rcmlake binary (or another program when bin is set) in dir as a child
// process and measures it. Each step is its own process so that its peak RSS (getrusage's
// ru_maxrss, which only grows) is its own. stderr goes to logPath; it holds rcmlake's logs,
// which name tables and counts, never row values.
func (b *Bench) runProc(ctx context.Context, dir, logPath string, args ...string) (sample, error) {
	cmd := exec.CommandContext(ctx, b.opts.Bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out strings.Builder
	cmd.Stdout = &out
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n$ rcmlake %s\n", strings.Join(args, " "))
	cmd.Stderr = logf
	began := time.Now()
	err = cmd.Run()
	s := sample{Seconds: time.Since(began).Seconds(), Stdout: out.String()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.MaxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		return s, fmt.Errorf("rcmlake %s: %w (log: %s)%s", strings.Join(args, " "), err, logPath, tail(logPath))
	}
	return s, nil
}

// tail is the last lines of a log, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

// taskRow is one line of the task table that rcmlake run prints (the run's audit.task_runs).
type taskRow struct {
	Task    string  `json:"task"`
	Status  string  `json:"status"`
	RowsIn  int64   `json:"rows_in"`
	RowsOut int64   `json:"rows_out"`
	Seconds float64 `json:"seconds"`
}

// parseTasks reads the task table of rcmlake run's output.
func parseTasks(out string) ([]taskRow, error) {
	var rows []taskRow
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "TASK ") {
			in = true
			continue
		}
		if !in {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		if len(f) < 6 {
			return nil, fmt.Errorf("task table line %q: want 6 columns", line)
		}
		r := taskRow{Task: f[0], Status: f[1]}
		var err1, err2, err3 error
		r.RowsIn, err1 = strconv.ParseInt(f[3], 10, 64)
		r.RowsOut, err2 = strconv.ParseInt(f[4], 10, 64)
		r.Seconds, err3 = strconv.ParseFloat(f[5], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("task table line %q: not numbers", line)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no task table in the output of rcmlake run")
	}
	return rows, nil
}

// dirBytes is the size of the files under dir (0 when it does not exist).
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// copyTree copies a world folder (files and folders only), so that every repeat starts
// from the same sources; a run archives the landing files it loads.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
