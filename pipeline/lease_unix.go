//go:build unix

package pipeline

import (
	"errors"
	"os"
	"syscall"
)

// holderDead reports whether the lease was taken on this host by a process that no longer
// exists. Only ESRCH counts: a live process of another user (EPERM) still holds it. A
// recycled PID makes the lease look alive, which errs on the safe side (it then expires).
func holderDead(held LeaseInfo) bool {
	host, err := os.Hostname()
	if err != nil || held.Host != host || held.PID <= 0 || held.PID == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(held.PID, 0), syscall.ESRCH)
}
