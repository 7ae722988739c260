package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/file"
)

// fire is one call of the recording runner.
type fire struct {
	Name, Selection, Trigger string
	At                       time.Time
}

func (f fire) String() string {
	return fmt.Sprintf("%s@%s", f.Name, f.At.UTC().Format("2006-01-02T15:04"))
}

// recorder is a Runner that records its calls; block, when set, holds a run until released.
type recorder struct {
	mu      sync.Mutex
	fires   []fire
	active  int
	maxSeen int
	block   func(f fire) <-chan struct{}
}

func (r *recorder) Run(ctx context.Context, name, selection, trigger string) error {
	at, ok := FireTime(ctx)
	if !ok {
		return fmt.Errorf("no fire time in the run's context")
	}
	f := fire{name, selection, trigger, at}
	r.mu.Lock()
	r.fires = append(r.fires, f)
	r.active++
	r.maxSeen = max(r.maxSeen, r.active)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.active--
		r.mu.Unlock()
	}()
	if r.block != nil {
		if ch := r.block(f); ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func (r *recorder) list() []fire {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]fire(nil), r.fires...)
}

func newStore(t *testing.T) lake.Storage {
	t.Helper()
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// harness runs a Service on a fake clock in the background.
type harness struct {
	t     *testing.T
	svc   *Service
	clock *FakeClock
	stop  context.CancelFunc
	done  chan error
	logs  *bytes.Buffer
}

func start(t *testing.T, svc *Service, clock *FakeClock) *harness {
	t.Helper()
	logs := &bytes.Buffer{}
	svc.Clock = clock
	svc.Log = slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, svc: svc, clock: clock, stop: cancel, done: make(chan error, 1), logs: logs}
	before := clock.createdCount()
	go func() { h.done <- svc.Run(ctx) }()
	if !clock.WaitForTimers(before + 1) {
		select {
		case err := <-h.done:
			t.Fatalf("service did not start: %v", err)
		default:
			t.Fatal("service armed no timer within a second")
		}
	}
	t.Cleanup(func() { h.shutdown() })
	return h
}

func (h *harness) shutdown() {
	if h.stop == nil {
		return
	}
	h.stop()
	h.stop = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Error("service did not stop within 5s of its context ending")
	}
}

// idle waits until no run is queued or running.
func (h *harness) idle() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		busy := false
		for _, st := range h.svc.Status() {
			busy = busy || st.Pending
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("runs still pending after 5s: %+v", h.svc.Status())
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// advance moves the clock in steps, letting queued runs finish after each.
func (h *harness) advance(total, step time.Duration) {
	for d := time.Duration(0); d < total; d += step {
		h.clock.Advance(min(step, total-d))
		h.idle()
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *FakeClock) createdCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}

func names(fs []fire) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// daily lists the 02:00 UTC instants between from and to, computed by the calendar, not cron.
func expectedFires(from, to time.Time) []string {
	var out []string
	for d := time.Date(from.Year(), from.Month(), from.Day(), 2, 0, 0, 0, time.UTC); !d.After(to); d = d.AddDate(0, 0, 1) {
		if d.Before(from) {
			continue
		}
		// Same instant: the queue starts them in name order (claims-monthly < emr-daily).
		if d.Day() == 1 {
			out = append(out, fire{Name: "claims-monthly", At: d}.String())
		}
		out = append(out, fire{Name: "emr-daily", At: d}.String())
	}
	return out
}

var (
	daily   = Schedule{Name: "emr-daily", Cron: "0 2 * * *", Select: "bronze.hos-a.*+", CatchUp: true}
	monthly = Schedule{Name: "claims-monthly", Cron: "0 0 2 1 * *", Select: "bronze.claims.*+"} // seconds field given
)

func TestSimulatedMonthFiresDailyAndMonthly(t *testing.T) {
	store := newStore(t)
	rec := &recorder{}
	t0 := time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)
	clock := NewFakeClock(t0)
	h := start(t, &Service{Store: store, Runner: rec, Schedules: []Schedule{daily, monthly}}, clock)
	h.advance(32*24*time.Hour, time.Hour) // to 2026-02-01 12:00
	h.shutdown()

	got := names(rec.list())
	want := expectedFires(t0, clock.Now())
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fires over the month:\n got  %v\n want %v", got, want)
	}
	if len(want) != 32+2 {
		t.Fatalf("calendar gave %d fires, want 34", len(want))
	}
	for _, f := range rec.list() {
		wantSel := map[string]string{"emr-daily": daily.Select, "claims-monthly": monthly.Select}[f.Name]
		if f.Selection != wantSel || f.Trigger != "schedule:"+f.Name {
			t.Errorf("%s: selection %q trigger %q", f, f.Selection, f.Trigger)
		}
	}
	if rec.maxSeen != 1 {
		t.Errorf("%d runs at once; the service runs one at a time", rec.maxSeen)
	}
	// The state in the lake says where each schedule is.
	st, err := loadState(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Schedules["emr-daily"].LastFire; !got.Equal(time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("state: emr-daily last fire %v", got)
	}
	if got := st.Schedules["claims-monthly"].Through; !got.Equal(time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("state: claims-monthly through %v", got)
	}
	// Markers: one per fire, claims never repeated.
	objs, err := store.List(context.Background(), firesPrefix)
	if err != nil || len(objs) != len(want) {
		t.Errorf("%d fire markers (%v), want %d", len(objs), err, len(want))
	}
}

func TestLongRunDoesNotOverlapNextFire(t *testing.T) {
	store := newStore(t)
	release := make(chan struct{})
	entered := make(chan fire, 10)
	rec := &recorder{block: func(f fire) <-chan struct{} {
		entered <- f
		if f.At.Day() == 1 { // the first run takes three days
			return release
		}
		return nil
	}}
	t0 := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	clock := NewFakeClock(t0)
	skippedBefore := testutil.ToFloat64(skippedTotal.WithLabelValues("emr-daily", "busy"))
	h := start(t, &Service{Store: store, Runner: rec, Schedules: []Schedule{daily}}, clock)

	clock.Advance(24 * time.Hour) // Apr 1 02:00 fires and blocks
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("first run did not start")
	}
	clock.Advance(2 * 24 * time.Hour) // Apr 2 and Apr 3 come while it runs
	st := h.svc.Status()[0]
	if st.Skipped != 2 || !st.Running || st.Fires != 1 {
		t.Fatalf("while the first run is going: %+v, want 2 skipped", st)
	}
	if d := testutil.ToFloat64(skippedTotal.WithLabelValues("emr-daily", "busy")) - skippedBefore; d != 2 {
		t.Errorf("rcmlake_schedule_skipped_total{reason=busy} grew by %v, want 2", d)
	}
	close(release)
	h.idle()
	h.advance(24*time.Hour, time.Hour) // Apr 4 fires normally
	h.shutdown()
	got := strings.Join(names(rec.list()), " ")
	if want := "emr-daily@2026-04-01T02:00 emr-daily@2026-04-04T02:00"; got != want {
		t.Fatalf("fires %s, want %s", got, want)
	}
	if rec.maxSeen != 1 {
		t.Fatalf("%d runs of one schedule at once", rec.maxSeen)
	}
	if !strings.Contains(h.logs.String(), "previous run has not finished") {
		t.Errorf("skip not logged:\n%s", h.logs)
	}
}

func TestRestartCatchesUpOnceAndNeverDoubles(t *testing.T) {
	store := newStore(t)
	rec := &recorder{}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	noCatch := Schedule{Name: "hourly-apis", Cron: "@hourly", Select: "bronze.apis.*"}
	scheds := []Schedule{daily, noCatch}

	h := start(t, &Service{Store: store, Runner: rec, Schedules: scheds}, NewFakeClock(t0))
	h.advance(2*24*time.Hour, time.Hour) // Jan 2 and Jan 3 02:00, and 48 hourly
	h.shutdown()
	if n := len(rec.list()); n != 2+48 {
		t.Fatalf("%d fires before the restart, want 50", n)
	}

	// Down from Jan 3 12:00 to Jan 6 12:00: daily missed Jan 4, 5, 6 and catches up once for
	// Jan 6; the hourly schedule does not catch up.
	rec2 := &recorder{}
	t1 := t0.Add(5 * 24 * time.Hour)
	h2 := start(t, &Service{Store: store, Runner: rec2, Schedules: scheds}, NewFakeClock(t1))
	h2.idle()
	if got := strings.Join(names(rec2.list()), " "); got != "emr-daily@2026-01-06T02:00" {
		t.Fatalf("after the restart: %s, want one catch-up fire for Jan 6 02:00", got)
	}
	if !strings.Contains(h2.logs.String(), "catch_up is off") {
		t.Errorf("passing over the hourly schedule's missed fires is not logged:\n%s", h2.logs)
	}
	h2.advance(24*time.Hour, time.Hour)
	h2.shutdown()
	var dailies []string
	for _, f := range rec2.list() {
		if f.Name == "emr-daily" {
			dailies = append(dailies, f.String())
		}
	}
	if got := strings.Join(dailies, " "); got != "emr-daily@2026-01-06T02:00 emr-daily@2026-01-07T02:00" {
		t.Fatalf("daily after restart: %s", got)
	}
	if n := len(rec2.list()) - len(dailies); n != 24 {
		t.Fatalf("hourly fired %d times in the day after the restart, want 24 (no catch-up)", n)
	}

	// An immediate restart fires nothing.
	rec3 := &recorder{}
	h3 := start(t, &Service{Store: store, Runner: rec3, Schedules: scheds}, NewFakeClock(t1.Add(24*time.Hour)))
	h3.idle()
	h3.shutdown()
	if len(rec3.list()) != 0 {
		t.Fatalf("immediate restart fired %v", names(rec3.list()))
	}

	// A crash after claiming an instant but before saving the state: the state still says Jan
	// 6, yet Jan 7 02:00 was started. The restart must not start it again.
	st, err := loadState(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	ps := st.Schedules["emr-daily"]
	ps.Through = time.Date(2026, 1, 6, 2, 0, 0, 0, time.UTC)
	st.Schedules["emr-daily"] = ps
	if err := saveState(context.Background(), store, st); err != nil {
		t.Fatal(err)
	}
	rec4 := &recorder{}
	claimedBefore := testutil.ToFloat64(skippedTotal.WithLabelValues("emr-daily", "claimed"))
	h4 := start(t, &Service{Store: store, Runner: rec4, Schedules: []Schedule{daily}}, NewFakeClock(t1.Add(24*time.Hour)))
	h4.idle()
	h4.shutdown()
	if len(rec4.list()) != 0 {
		t.Fatalf("restart after a lost state write doubled a run: %v", names(rec4.list()))
	}
	if d := testutil.ToFloat64(skippedTotal.WithLabelValues("emr-daily", "claimed")) - claimedBefore; d != 1 {
		t.Errorf("claimed skips grew by %v, want 1", d)
	}
}

func TestTwoSchedulersOnOneLakeFireOnce(t *testing.T) {
	store := newStore(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	recA, recB := &recorder{}, &recorder{}
	clockA, clockB := NewFakeClock(t0), NewFakeClock(t0)
	ha := start(t, &Service{Store: store, Runner: recA, Schedules: []Schedule{daily}}, clockA)
	hb := start(t, &Service{Store: store, Runner: recB, Schedules: []Schedule{daily}}, clockB)
	for i := 0; i < 3*24; i++ {
		clockA.Advance(time.Hour)
		ha.idle()
		clockB.Advance(time.Hour)
		hb.idle()
	}
	all := append(names(recA.list()), names(recB.list())...)
	sort.Strings(all)
	want := "emr-daily@2026-05-02T02:00 emr-daily@2026-05-03T02:00 emr-daily@2026-05-04T02:00"
	if got := strings.Join(all, " "); got != want {
		t.Fatalf("two schedulers fired %s, want each instant once: %s", got, want)
	}
}

func TestLandingTriggerFiresOncePerNewFile(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	landing, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared := sharedClaims(t)
	rec := &recorder{}
	poll := 30 * time.Second
	lt := &Landing{Store: landing, Patterns: []string{"claims/*.csv"}, Exclude: []string{"archive/"}, Poll: poll, Select: "bronze.claims.*+"}
	clock := NewFakeClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	h := start(t, &Service{Store: store, Runner: rec, Landing: lt}, clock)
	count := func() int { return len(rec.list()) }

	h.advance(3*poll, poll)
	if count() != 0 {
		t.Fatalf("empty landing folder fired %d runs", count())
	}
	write("claims/hospital1_claim_data.csv", shared)
	write("claims/notes.txt", "not a claims file")
	write("archive/claims/old.csv", shared)
	h.advance(poll, poll) // first seen
	if count() != 0 {
		t.Fatal("fired before the file's size was seen stable")
	}
	h.advance(poll, poll) // same size at the next poll: fire
	if count() != 1 {
		t.Fatalf("%d runs after the file settled, want 1", count())
	}
	f := rec.list()[0]
	if f.Name != LandingName || f.Trigger != "landing" || f.Selection != lt.Select {
		t.Errorf("landing run: %+v", f)
	}
	h.advance(10*poll, poll)
	if count() != 1 {
		t.Fatalf("the same file fired %d runs", count())
	}

	// A file still being written fires only once it stops growing.
	lines := strings.SplitAfter(shared, "\n")
	write("claims/hospital2_claim_data.csv", strings.Join(lines[:len(lines)/2], ""))
	h.advance(poll, poll)
	write("claims/hospital2_claim_data.csv", shared)
	h.advance(poll, poll)
	if count() != 1 {
		t.Fatal("fired while the file was still growing")
	}
	h.advance(poll, poll)
	if count() != 2 {
		t.Fatalf("%d runs after the second file settled, want 2", count())
	}
	h.shutdown()

	// A restart does not fire again for files already handled...
	rec2 := &recorder{}
	h2 := start(t, &Service{Store: store, Runner: rec2, Landing: lt}, NewFakeClock(clock.Now()))
	h2.advance(5*poll, poll)
	if n := len(rec2.list()); n != 0 {
		t.Fatalf("restart fired %d landing runs for files already handled", n)
	}
	// ...but a file that was archived and arrives again under the same name is new.
	os.Remove(filepath.Join(dir, "claims", "hospital1_claim_data.csv"))
	h2.advance(poll, poll)
	write("claims/hospital1_claim_data.csv", shared+strings.Join(lines[1:3], ""))
	h2.advance(3*poll, poll)
	if n := len(rec2.list()); n != 1 {
		t.Fatalf("a new file under a known name fired %d runs, want 1", n)
	}
	h2.shutdown()
	var st State
	data, _ := lake.ReadAll(context.Background(), store, StateKey)
	if err := json.Unmarshal(data, &st); err != nil || len(st.Landing) != 2 {
		t.Fatalf("state lists %d landing files (%v), want 2", len(st.Landing), err)
	}
}

// sharedClaims is a real claims file from the shared seed data.
func sharedClaims(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(testenv.SharedDir(t), "seed-data", "claims", "hospital1_claim_data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestServiceRefusesBadSchedules(t *testing.T) {
	store := newStore(t)
	for _, tc := range []struct {
		sched []Schedule
		want  string
	}{
		{[]Schedule{{Name: "x", Cron: "61 * * * *"}}, "cron"},
		{[]Schedule{{Name: "Bad Name", Cron: "@daily"}}, "schedule name"},
		{[]Schedule{{Name: "a", Cron: "@daily"}, {Name: "a", Cron: "@hourly"}}, "twice"},
		{nil, "nothing to do"},
	} {
		err := (&Service{Store: store, Runner: &recorder{}, Schedules: tc.sched}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.sched, err, tc.want)
		}
	}
}

func TestLastDue(t *testing.T) {
	every, _ := ParseCron("* * * * * *")
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	latest, n := lastDue(every, now.Add(-40*24*time.Hour), now)
	if !latest.Equal(now) || n < 10_000 {
		t.Fatalf("per-second over 40 days: latest %v after %d", latest, n)
	}
	monthly, _ := ParseCron("@monthly")
	latest, n = lastDue(monthly, time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC), now)
	if !latest.Equal(now) || n != 4 { // Dec 1, Jan 1, Feb 1, Mar 1
		t.Fatalf("monthly: latest %v, %d instants", latest, n)
	}
	if latest, n = lastDue(monthly, now, now.Add(time.Hour)); !latest.IsZero() || n != 0 {
		t.Fatalf("nothing due: %v %d", latest, n)
	}
}
