package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profiler writes the pprof profiles asked for by --cpuprofile and --memprofile, so that the
// benchmark harness (rcmlake bench --profile) can see where a stage's time and memory go.
type profiler struct {
	cpu *os.File
}

var prof profiler

// start begins CPU profiling when --cpuprofile is set.
func (p *profiler) start() error {
	if gflags.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(gflags.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	p.cpu = f
	return nil
}

// stop ends CPU profiling and writes the heap profile; errors go to stderr, as the command's
// own result matters more than its profile.
func (p *profiler) stop(stderr interface{ Write([]byte) (int, error) }) {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		p.cpu.Close()
		p.cpu = nil
	}
	if gflags.memProfile == "" {
		return
	}
	f, err := os.Create(gflags.memProfile)
	if err != nil {
		fmt.Fprintln(stderr, "--memprofile:", err)
		return
	}
	defer f.Close()
	runtime.GC() // the heap profile shows live objects as of the last GC
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(stderr, "--memprofile:", err)
	}
}
