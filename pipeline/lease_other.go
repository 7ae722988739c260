//go:build !unix

package pipeline

// holderDead cannot probe processes here; a crashed run's lease waits for its expiry.
func holderDead(LeaseInfo) bool { return false }
