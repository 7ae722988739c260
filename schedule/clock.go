package schedule

import (
	"sort"
	"sync"
	"time"
)

// Clock is the service's source of time. The real clock is the wall clock; the fake one lets
// tests walk through a month of schedules in milliseconds, deterministically.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that delivers the time once d has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer from a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped a pending timer.
	Stop() bool
}

// RealClock is the wall clock, in UTC: cron expressions mean UTC unless they start with
// CRON_TZ=Zone, whatever the host's time zone.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now().UTC() }

// NewTimer implements Clock.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// FakeClock is a Clock that only moves when Advance is called. Advance fires the due timers one
// at a time, in deadline order, and after each one waits until the service has armed its next
// timer, so that everything a fire causes happens at that fire's instant.
type FakeClock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	timers  []*fakeTimer
	created int // timers made so far; Advance waits for this to grow after a fire
}

// NewFakeClock returns a fake clock that reads now.
func NewFakeClock(now time.Time) *FakeClock {
	f := &FakeClock{now: now}
	f.cond = sync.NewCond(&f.mu)
	return f
}

type fakeTimer struct {
	f        *FakeClock
	deadline time.Time
	ch       chan time.Time
	active   bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// Now implements Clock.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer implements Clock.
func (f *FakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A timer that is already due (d <= 0) fires at the next Advance, like any other, so
	// that nothing happens between Advance calls and tests stay deterministic.
	t := &fakeTimer{f: f, deadline: f.now.Add(max(d, 0)), ch: make(chan time.Time, 1), active: true}
	f.timers = append(f.timers, t)
	f.created++
	f.cond.Broadcast()
	return t
}

// WaitForTimers blocks until at least n timers have been created in all, or a real second
// passes; tests call it to know that a service has started and armed its first timer.
func (f *FakeClock) WaitForTimers(n int) bool {
	return f.waitCreated(n, time.Second)
}

func (f *FakeClock) waitCreated(n int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	stop := time.AfterFunc(limit, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer stop.Stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.created < n {
		if time.Now().After(deadline) {
			return false
		}
		f.cond.Wait()
	}
	return true
}

// Advance moves the clock forward by d, firing every timer that falls due on the way, in
// order. After each fire it waits (up to a real 5 seconds) for the owner of the timer to arm
// a new one, which is how the service signals that it has handled the fire.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	for {
		f.mu.Lock()
		live := f.timers[:0]
		for _, t := range f.timers {
			if t.active {
				live = append(live, t)
			}
		}
		f.timers = live
		sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].deadline.Before(f.timers[j].deadline) })
		if len(f.timers) == 0 || f.timers[0].deadline.After(target) {
			f.now = target
			f.mu.Unlock()
			return
		}
		t := f.timers[0]
		f.timers = f.timers[1:]
		t.active = false
		if t.deadline.After(f.now) {
			f.now = t.deadline
		}
		now, gen := f.now, f.created
		f.mu.Unlock()
		t.ch <- now
		f.waitCreated(gen+1, 5*time.Second)
	}
}
