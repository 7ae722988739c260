//go:build unix

package pipeline

import (
	"errors"
	"syscall"
)

// processGone reports whether no process has this pid on this machine (a run killed with
// SIGKILL, or a crashed machine's lease seen after a reboot). An error other than "no such
// process" (e.g. EPERM: someone else's process) counts as alive.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
