// Package interop drives independent Delta Lake engines, Apache Spark (delta-spark) and delta-rs,
// from rcmlake's tests, to prove that the tables rcmlake writes are Delta tables as those engines
// understand them, and that rcmlake reads what they write.
//
// Each engine is a Python script (spark_engine.py, delta_rs_engine.py) that stays running and
// answers one JSON request line with one JSON line (see summary.py): a JVM start costs ~10 s, so
// a test binary starts Spark once and sends it every read and write.
package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Engine is a running engine script.
type Engine struct {
	Name    string
	Version string // the engine's version, as it reported it when ready

	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
	dead   error
}

// Error is an engine's refusal or failure of one request; the engine stays usable.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// scriptDir is this package's folder, where the scripts are.
func scriptDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// StartSpark starts spark_engine.py with the Delta jars, in env (see testenv.FindSpark).
func StartSpark(python string, jars []string, env []string) (*Engine, error) {
	return start("spark", env, python, filepath.Join(scriptDir(), "spark_engine.py"), strings.Join(jars, ","))
}

// StartDeltaRS starts delta_rs_engine.py.
func StartDeltaRS(python string) (*Engine, error) {
	return start("delta-rs", nil, python, filepath.Join(scriptDir(), "delta_rs_engine.py"))
}

func start(name string, env []string, argv ...string) (*Engine, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// The engine dies with the test binary even if nobody calls Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	e := &Engine{Name: name, cmd: cmd, stderr: &tailBuffer{max: 16 << 10}}
	cmd.Stderr = e.stderr
	var err error
	if e.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	e.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var ready struct {
		OK    bool   `json:"ok"`
		Ready string `json:"ready"`
	}
	if err := e.readLine(&ready); err != nil {
		e.Close()
		return nil, err
	}
	e.Version = ready.Ready
	return e, nil
}

func (e *Engine) readLine(v any) error {
	line, err := e.out.ReadBytes('\n')
	if err != nil {
		e.dead = fmt.Errorf("%s stopped (%v); its last output:\n%s", e.Name, err, e.stderr.String())
		return e.dead
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("%s: bad answer %.200q: %w", e.Name, line, err)
	}
	return nil
}

// Call sends one request ({"op": op} plus args) and decodes the result into out (if not nil).
// A refusal or failure of the request is an *Error.
func (e *Engine) Call(op string, args map[string]any, out any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead != nil {
		return e.dead
	}
	req := map[string]any{"op": op}
	for k, v := range args {
		req[k] = v
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := e.in.Write(append(b, '\n')); err != nil {
		e.dead = fmt.Errorf("%s stopped: %v; its last output:\n%s", e.Name, err, e.stderr.String())
		return e.dead
	}
	var resp struct {
		OK     bool            `json:"ok"`
		Error  string          `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := e.readLine(&resp); err != nil {
		return err
	}
	if !resp.OK {
		return &Error{Msg: fmt.Sprintf("%s %s: %s", e.Name, op, resp.Error)}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(resp.Result, out)
}

// Summary reads a table (at version, or the latest when version < 0) and summarizes it.
func (e *Engine) Summary(path string, version int64) (*Summary, error) {
	var s Summary
	if err := e.Call("summary", map[string]any{"path": path, "version": optVersion(version)}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Rows reads every row of a table, ordered by the columns, each value as text.
func (e *Engine) Rows(path string, version int64, orderBy ...string) (*RowSet, error) {
	var r RowSet
	if err := e.Call("rows", map[string]any{"path": path, "version": optVersion(version), "order_by": orderBy}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SQL runs a statement (Spark only) and returns its rows, each value as text.
func (e *Engine) SQL(sql string) ([][]*string, error) {
	var rows [][]*string
	err := e.Call("sql", map[string]any{"sql": sql}, &rows)
	return rows, err
}

func optVersion(v int64) any {
	if v < 0 {
		return nil
	}
	return v
}

// Close stops the engine.
func (e *Engine) Close() error {
	if e == nil || e.cmd == nil || e.cmd.Process == nil {
		return nil
	}
	e.in.Close() // the script ends at the end of its input
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-timeAfter():
		// Kill the whole group: Spark's JVM is a child of the Python process.
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		return errors.Join(errors.New(e.Name+" did not stop; killed"), <-done)
	}
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func timeAfter() <-chan time.Time { return time.After(30 * time.Second) }
