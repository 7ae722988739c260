package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// LeaseKey is the object that holds the pipeline lease.
const LeaseKey = "_locks/pipeline.json"

// Why a lease and not Delta's conflict detection alone: each table's commit is already safe
// against a concurrent writer, but two runs interleaved would both extract the same source
// rows, race on the bronze watermarks and double silver's work. A lease in the lake makes
// runs on one lake take turns, whichever machine they start on. It is created with
// put-if-absent (atomic on local disk, Azure and S3), renewed while the run lives, and
// taken over only once it has expired, so a crashed run blocks the next one for at most TTL.
// On the holder's own host a lease whose process no longer exists is taken over at once:
// a run killed with SIGKILL (or the OOM killer) should not hold up its own restart.

// LeaseInfo is what the lease object records.
type LeaseInfo struct {
	RunID   string    `json:"run_id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Taken   time.Time `json:"taken"`
	Expires time.Time `json:"expires"`
}

// ErrLeaseHeld is returned when another live run holds the lease.
var ErrLeaseHeld = errors.New("another run holds the lake's pipeline lease")

// Lease is a held pipeline lease.
type Lease struct {
	store lake.Storage
	info  LeaseInfo
	ttl   time.Duration
	stop  chan struct{}
	done  sync.WaitGroup
}

// AcquireLease takes the lease for runID, or fails with ErrLeaseHeld naming the holder.
func AcquireLease(ctx context.Context, store lake.Storage, runID string, ttl time.Duration) (*Lease, error) {
	host, _ := os.Hostname()
	now := time.Now().UTC()
	info := LeaseInfo{RunID: runID, Host: host, PID: os.Getpid(), Taken: now, Expires: now.Add(ttl)}
	data, _ := json.Marshal(info)
	for attempt := 0; attempt < 2; attempt++ {
		err := store.PutIfAbsent(ctx, LeaseKey, data)
		if err == nil {
			l := &Lease{store: store, info: info, ttl: ttl, stop: make(chan struct{})}
			l.done.Add(1)
			go l.renew()
			return l, nil
		}
		if !errors.Is(err, lake.ErrExists) {
			return nil, fmt.Errorf("take the pipeline lease: %w", err)
		}
		held, err := ReadLease(ctx, store)
		if err != nil {
			if errors.Is(err, lake.ErrNotExist) {
				continue // released meanwhile
			}
			return nil, err
		}
		if time.Now().Before(held.Expires) && !holderDead(held) {
			return nil, fmt.Errorf("%w: run %s on %s (pid %d) since %s, until %s unless renewed",
				ErrLeaseHeld, held.RunID, held.Host, held.PID, held.Taken.Format(time.RFC3339), held.Expires.Format(time.RFC3339))
		}
		// Expired, or its process is gone: its run crashed. Remove it and try once more; if
		// another run takes it first, its put-if-absent wins and ours fails cleanly.
		if err := store.Delete(ctx, LeaseKey); err != nil && !errors.Is(err, lake.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: it changed hands while being taken; try again", ErrLeaseHeld)
}

// ReadLease reads the current lease.
func ReadLease(ctx context.Context, store lake.Storage) (LeaseInfo, error) {
	var info LeaseInfo
	data, err := lake.ReadAll(ctx, store, LeaseKey)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("%s: %w", LeaseKey, err)
	}
	return info, nil
}

func (l *Lease) renew() {
	defer l.done.Done()
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
			if held, err := ReadLease(ctx, l.store); err == nil && held.RunID == l.info.RunID {
				l.info.Expires = time.Now().UTC().Add(l.ttl)
				data, _ := json.Marshal(l.info)
				l.store.Put(ctx, LeaseKey, bytes.NewReader(data))
			}
			cancel()
		}
	}
}

// Release gives the lease back.
func (l *Lease) Release(ctx context.Context) error {
	close(l.stop)
	l.done.Wait()
	if held, err := ReadLease(ctx, l.store); err != nil || held.RunID != l.info.RunID {
		return nil // expired and taken over: not ours to delete
	}
	return l.store.Delete(ctx, LeaseKey)
}
