package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts the CPU profile of --cpuprofile; the returned function stops it and
// writes the heap profile of --memprofile. Profiles say where a command's time goes
// (`go tool pprof rcmlake cpu.prof`); the bench's notes come from them.
func startProfiles() (func() error, error) {
	var cpu *os.File
	if gflags.cpuProfile != "" {
		f, err := os.Create(gflags.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		cpu = f
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return err
			}
		}
		if gflags.memProfile == "" {
			return nil
		}
		f, err := os.Create(gflags.memProfile)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}
