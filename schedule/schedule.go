// Package schedule is the long-running side of rcmlake: it starts pipeline runs on cron
// schedules and when new files arrive in the landing folder, the way the seed project's Azure
// Data Factory triggers did.
//
// Guarantees, and the choices behind them:
//
//   - One run at a time. The pipeline takes a lease on the whole lake, so runs of different
//     schedules could not overlap anyway; fires wait in a queue and start in order.
//   - A schedule never runs twice at once. A fire that comes while the same schedule is still
//     running, or still waiting in the queue, is skipped: logged, counted in
//     rcmlake_schedule_skipped_total, and not made up later. The run in progress already does
//     that work, and stacking up runs behind a slow one only makes it later.
//   - Each scheduled instant fires at most once. Before a run starts, the service creates a
//     marker for its instant in the lake with put-if-absent (_schedule/fires/NAME/INSTANT);
//     if the marker exists, another scheduler (or this one before a crash) has already started
//     it and the fire is dropped.
//   - Restarts miss nothing silently. _schedule/state.json records, per schedule, the latest
//     instant dealt with. On start, instants that fell while the service was down are missed
//     fires: with catch_up the schedule fires once, for the latest of them (one catch-up run
//     loads everything since the last run, since loads are incremental); without catch_up they
//     are logged and passed over. A fire that was queued but not started when the service
//     stopped counts as missed.
//   - A run interrupted by a stop or crash is not restarted by the scheduler: its instant was
//     claimed, and audit.runs shows it unfinished; rcmlake run --from-failure resumes it.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rcmlake/rcmlake/lake"
)

// Runner starts one pipeline run. name is the schedule's name ("landing" for the landing
// trigger), selection its --select text (opaque here), and trigger what audit.runs records:
// "schedule:NAME" or "landing". The context carries the fire's instant (FireTime).
type Runner interface {
	Run(ctx context.Context, name, selection, trigger string) error
}

// RunnerFunc adapts a function to a Runner.
type RunnerFunc func(ctx context.Context, name, selection, trigger string) error

// Run implements Runner.
func (f RunnerFunc) Run(ctx context.Context, name, selection, trigger string) error {
	return f(ctx, name, selection, trigger)
}

// Schedule is one cron-triggered run.
type Schedule struct {
	Name string
	// Cron is five fields (minute hour day-of-month month day-of-week) or six with seconds
	// first, a descriptor such as @daily or @monthly, optionally prefixed by CRON_TZ=Zone.
	// Instants are computed in the service clock's location (UTC unless CRON_TZ says).
	Cron string
	// Select is the run's task selection, as rcmlake run --select takes it.
	Select string
	// CatchUp fires once after a restart when fires were missed while the service was down.
	CatchUp bool
}

// LandingName is the name the landing trigger's runs go by.
const LandingName = "landing"

// Landing starts a run when a new file matching one of the landing patterns appears and its
// size has stopped changing (seen the same at two polls in a row), so a file still being
// copied is not loaded half-written.
type Landing struct {
	Store    lake.Storage // the landing folder
	Patterns []string     // globs relative to the folder, e.g. claims/hospital1_*.csv
	Exclude  []string     // key prefixes to ignore, e.g. the archive folder "archive/"
	Poll     time.Duration
	Select   string
}

// Service runs schedules until its context ends.
type Service struct {
	Clock     Clock        // default RealClock
	Store     lake.Storage // the lake, where the state lives
	Runner    Runner
	Schedules []Schedule
	Landing   *Landing // nil: no landing trigger
	Log       *slog.Logger

	mu       sync.Mutex
	state    State
	entries  map[string]*entry
	queue    []job
	wake     chan struct{}
	observed map[string]lake.ObjectInfo // landing files seen at the last poll, not yet fired
	nextPoll time.Time
	landing  *entry
}

type entry struct {
	sched    Schedule
	cron     cron.Schedule
	next     time.Time // next instant to fire
	pending  bool      // queued or running
	running  bool
	fires    int
	skipped  int
	failures int
	lastFire time.Time
}

type job struct {
	name, selection, trigger string
	at                       time.Time // the scheduled instant; the poll time for landing runs
	cron                     bool
}

// NameRe is what a schedule name may look like: it is part of a lake key and a metric label.
var NameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Parser is the cron parser: seconds optional, descriptors (@daily, @every 1h) allowed.
var Parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a cron expression as the service does.
func ParseCron(expr string) (cron.Schedule, error) { return Parser.Parse(expr) }

type fireKey struct{}

// FireTime is the scheduled instant of the fire that started a run (for the landing trigger,
// the poll that found the file).
func FireTime(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(fireKey{}).(time.Time)
	return t, ok
}

// Status is a snapshot of one schedule for logs and tests.
type Status struct {
	Name     string
	Next     time.Time
	LastFire time.Time
	Fires    int // runs started
	Skipped  int // fires dropped because the schedule was busy, or already claimed
	Failures int // runs that returned an error
	Pending  bool
	Running  bool
}

// Status reports every schedule, the landing trigger last.
func (s *Service) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, sc := range s.Schedules {
		if e := s.entries[sc.Name]; e != nil {
			out = append(out, e.status())
		}
	}
	if s.landing != nil {
		st := s.landing.status()
		st.Next = s.nextPoll
		out = append(out, st)
	}
	return out
}

func (e *entry) status() Status {
	return Status{Name: e.sched.Name, Next: e.next, LastFire: e.lastFire, Fires: e.fires, Skipped: e.skipped,
		Failures: e.failures, Pending: e.pending, Running: e.running}
}

func (s *Service) init() error {
	if s.Clock == nil {
		s.Clock = RealClock{}
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Store == nil || s.Runner == nil {
		return errors.New("schedule: Service needs a Store and a Runner")
	}
	s.entries = map[string]*entry{}
	s.wake = make(chan struct{}, 1)
	s.observed = map[string]lake.ObjectInfo{}
	var probs []string
	for _, sc := range s.Schedules {
		if !NameRe.MatchString(sc.Name) || sc.Name == LandingName {
			probs = append(probs, fmt.Sprintf("schedule name %q: use lower-case letters, digits, - and _ (and not %q)", sc.Name, LandingName))
			continue
		}
		if s.entries[sc.Name] != nil {
			probs = append(probs, fmt.Sprintf("schedule %q is defined twice", sc.Name))
			continue
		}
		c, err := ParseCron(sc.Cron)
		if err != nil {
			probs = append(probs, fmt.Sprintf("schedule %s: cron %q: %v", sc.Name, sc.Cron, err))
			continue
		}
		s.entries[sc.Name] = &entry{sched: sc, cron: c}
	}
	if l := s.Landing; l != nil {
		if l.Store == nil || len(l.Patterns) == 0 {
			probs = append(probs, "landing trigger needs the landing folder and at least one file pattern")
		}
		for _, p := range l.Patterns {
			if _, err := path.Match(p, ""); err != nil {
				probs = append(probs, fmt.Sprintf("landing pattern %q: %v", p, err))
			}
		}
		if l.Poll <= 0 {
			l.Poll = 30 * time.Second
		}
		s.landing = &entry{sched: Schedule{Name: LandingName, Select: l.Select}}
	}
	if len(probs) > 0 {
		return errors.New("schedule: " + strings.Join(probs, "; "))
	}
	if len(s.entries) == 0 && s.landing == nil {
		return errors.New("schedule: nothing to do: no schedules and no landing trigger in the config")
	}
	// Every series exists from the start, so dashboards and alerts see zeros, not gaps.
	labels := []string{}
	for n := range s.entries {
		labels = append(labels, n)
	}
	if s.landing != nil {
		labels = append(labels, LandingName)
	}
	for _, n := range labels {
		firesTotal.WithLabelValues(n)
		failuresTotal.WithLabelValues(n)
		skippedTotal.WithLabelValues(n, "busy")
		skippedTotal.WithLabelValues(n, "claimed")
		running.WithLabelValues(n)
	}
	return nil
}

// Run loads the state, deals with fires missed while the service was down, and then fires
// schedules until ctx ends. On the way out it waits for the run in progress, which sees the
// same cancellation and stops cleanly.
func (s *Service) Run(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	st, err := loadState(ctx, s.Store)
	if err != nil {
		return err
	}
	s.state = st
	now := s.Clock.Now()
	s.mu.Lock()
	for _, sc := range s.Schedules {
		e := s.entries[sc.Name]
		s.catchUp(e, now)
	}
	if s.landing != nil {
		s.nextPoll = now
	}
	err = s.saveLocked(ctx)
	s.mu.Unlock()
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.worker(ctx)
	}()
	defer wg.Wait()

	for {
		s.mu.Lock()
		wakeAt := s.nextWakeLocked()
		s.mu.Unlock()
		timer := s.Clock.NewTimer(wakeAt.Sub(s.Clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			s.Log.Info("scheduler stopping; waiting for the run in progress to stop")
			return nil
		case now := <-timer.C():
			s.tick(ctx, now)
		}
	}
}

// catchUp sets a schedule's next instant after a (re)start, queueing one fire for the latest
// missed instant when the schedule catches up.
func (s *Service) catchUp(e *entry, now time.Time) {
	name := e.sched.Name
	ps, known := s.state.Schedules[name]
	if !known || ps.Through.IsZero() {
		// First start: nothing can have been missed. Count from now.
		s.state.Schedules[name] = ScheduleState{Through: now}
		e.next = e.cron.Next(now)
		return
	}
	e.lastFire = ps.LastFire
	latest, missed := lastDue(e.cron, ps.Through, now)
	e.next = e.cron.Next(now)
	if missed == 0 {
		return
	}
	if e.sched.CatchUp {
		s.Log.Info("schedule missed fires while the scheduler was down; catching up once", "schedule", name,
			"missed", missed, "since", ps.Through.UTC().Format(time.RFC3339), "instant", latest.UTC().Format(time.RFC3339))
		s.enqueueLocked(e, job{name: name, selection: e.sched.Select, trigger: "schedule:" + name, at: latest, cron: true})
		return
	}
	s.Log.Warn("schedule missed fires while the scheduler was down; catch_up is off, so they are passed over",
		"schedule", name, "missed", missed, "since", ps.Through.UTC().Format(time.RFC3339))
	ps.Through = latest
	s.state.Schedules[name] = ps
}

// lastDue returns the latest instant of c in (after, now] and how many there are (counted up
// to a point: a per-second schedule over a long outage is not walked instant by instant).
func lastDue(c cron.Schedule, after, now time.Time) (latest time.Time, n int) {
	for t := c.Next(after); !t.IsZero() && !t.After(now); t = c.Next(t) {
		latest = t
		n++
		if n == 10_000 {
			// Skip ahead: the latest instant is within the last day for anything this frequent.
			if j := c.Next(now.Add(-24 * time.Hour)); j.After(t) && !j.After(now) {
				t = j
				latest = j
			}
		}
	}
	return latest, n
}

func (s *Service) nextWakeLocked() time.Time {
	var at time.Time
	for _, e := range s.entries {
		if at.IsZero() || e.next.Before(at) {
			at = e.next
		}
	}
	if s.landing != nil && (at.IsZero() || s.nextPoll.Before(at)) {
		at = s.nextPoll
	}
	return at
}

// tick fires every schedule that is due at now and polls the landing folder when its turn
// has come.
func (s *Service) tick(ctx context.Context, now time.Time) {
	s.mu.Lock()
	names := make([]string, 0, len(s.entries))
	for n := range s.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := s.entries[n]
		if e.next.IsZero() || e.next.After(now) {
			continue
		}
		// If the process was suspended past several instants, the latest one stands for all.
		at, _ := lastDue(e.cron, e.next.Add(-time.Nanosecond), now)
		e.next = e.cron.Next(now)
		if e.pending {
			e.skipped++
			skippedTotal.WithLabelValues(n, "busy").Inc()
			s.Log.Warn("schedule skipped: its previous run has not finished", "schedule", n, "instant", at.UTC().Format(time.RFC3339))
			if ps := s.state.Schedules[n]; at.After(ps.Through) {
				ps.Through = at
				s.state.Schedules[n] = ps
				if err := s.saveLocked(ctx); err != nil {
					s.Log.Error("scheduler state not saved", "err", err)
				}
			}
			continue
		}
		s.enqueueLocked(e, job{name: n, selection: e.sched.Select, trigger: "schedule:" + n, at: at, cron: true})
	}
	poll := s.landing != nil && !s.nextPoll.After(now)
	if poll {
		s.nextPoll = now.Add(s.Landing.Poll)
	}
	s.mu.Unlock()
	if poll {
		s.poll(ctx, now)
	}
}

func (s *Service) enqueueLocked(e *entry, j job) {
	e.pending = true
	s.queue = append(s.queue, j)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// poll lists the landing folder and queues a landing run when new files have settled.
func (s *Service) poll(ctx context.Context, now time.Time) {
	l := s.Landing
	objs, err := l.Store.List(ctx, "")
	if err != nil {
		s.Log.Error("landing folder not listed; will try again at the next poll", "landing", l.Store.URL(), "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	present := map[string]bool{}
	var ready []lake.ObjectInfo
	observed := map[string]lake.ObjectInfo{}
	for _, o := range objs {
		if !s.landingMatch(o.Key) {
			continue
		}
		present[o.Key] = true
		if f, ok := s.state.Landing[o.Key]; ok && f.Size == o.Size && f.ModTime.Equal(o.ModTime) {
			continue // this very file has triggered already
		}
		if prev, ok := s.observed[o.Key]; ok && prev.Size == o.Size && prev.ModTime.Equal(o.ModTime) {
			ready = append(ready, o)
		}
		observed[o.Key] = o
	}
	s.observed = observed
	changed := false
	for k := range s.state.Landing {
		if !present[k] { // archived or removed: forget it, so a new file of that name triggers
			delete(s.state.Landing, k)
			changed = true
		}
	}
	e := s.landing
	switch {
	case len(ready) == 0:
	case e.running:
		// The run in progress may have listed the folder before these files arrived; keep
		// them and decide at the next poll (if that run loads them, they are gone by then).
		s.Log.Info("new landing files wait for the landing run in progress", "files", len(ready))
	default:
		keys := make([]string, len(ready))
		for i, o := range ready {
			keys[i] = o.Key
			s.state.Landing[o.Key] = LandingFile{Size: o.Size, ModTime: o.ModTime, Fired: now}
			delete(s.observed, o.Key)
		}
		changed = true
		if e.pending {
			s.Log.Info("new landing files join the landing run already queued", "files", strings.Join(keys, ", "))
		} else {
			s.Log.Info("new landing files; queueing a landing run", "files", strings.Join(keys, ", "))
			s.enqueueLocked(e, job{name: LandingName, selection: l.Select, trigger: LandingName, at: now})
		}
	}
	if changed {
		if err := s.saveLocked(ctx); err != nil {
			s.Log.Error("scheduler state not saved", "err", err)
		}
	}
}

func (s *Service) landingMatch(key string) bool {
	for _, p := range s.Landing.Exclude {
		if p != "" && strings.HasPrefix(key, p) {
			return false
		}
	}
	for _, p := range s.Landing.Patterns {
		if ok, _ := path.Match(p, key); ok {
			return true
		}
	}
	return false
}

func (s *Service) saveLocked(ctx context.Context) error {
	return saveState(context.WithoutCancel(ctx), s.Store, s.state)
}

// worker starts queued runs one at a time.
func (s *Service) worker(ctx context.Context) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		if ctx.Err() != nil {
			s.mu.Unlock()
			return
		}
		j := s.queue[0]
		s.queue = s.queue[1:]
		e := s.entries[j.name]
		if j.name == LandingName {
			e = s.landing
		}
		s.mu.Unlock()
		s.start(ctx, e, j)
	}
}

// start claims a job's instant and runs it.
func (s *Service) start(ctx context.Context, e *entry, j job) {
	done := func() {
		s.mu.Lock()
		e.pending, e.running = false, false
		s.mu.Unlock()
		running.WithLabelValues(j.name).Set(0)
	}
	if j.cron {
		ok, err := claim(ctx, s.Store, j.name, j.at, s.Clock.Now())
		if err != nil {
			s.Log.Error("schedule not started: its instant could not be claimed in the lake", "schedule", j.name, "err", err)
			s.mu.Lock()
			e.failures++
			s.mu.Unlock()
			failuresTotal.WithLabelValues(j.name).Inc()
			done()
			return
		}
		if !ok {
			s.mu.Lock()
			e.skipped++
			s.mu.Unlock()
			skippedTotal.WithLabelValues(j.name, "claimed").Inc()
			s.Log.Warn("schedule skipped: this instant has already been started (by another scheduler, or before a restart)",
				"schedule", j.name, "instant", j.at.UTC().Format(time.RFC3339))
			done()
			return
		}
		if err := pruneMarkers(ctx, s.Store, j.name); err != nil {
			s.Log.Warn("old fire markers not pruned", "schedule", j.name, "err", err)
		}
	}
	s.mu.Lock()
	e.running = true
	e.fires++
	e.lastFire = j.at
	if j.cron {
		ps := s.state.Schedules[j.name]
		if j.at.After(ps.Through) {
			ps.Through = j.at
		}
		ps.LastFire = j.at
		s.state.Schedules[j.name] = ps
		if err := s.saveLocked(ctx); err != nil {
			s.Log.Error("scheduler state not saved", "err", err)
		}
	}
	s.mu.Unlock()
	firesTotal.WithLabelValues(j.name).Inc()
	lastFire.WithLabelValues(j.name).Set(float64(j.at.Unix()))
	running.WithLabelValues(j.name).Set(1)

	s.Log.Info("run starting", "schedule", j.name, "trigger", j.trigger, "select", j.selection, "instant", j.at.UTC().Format(time.RFC3339))
	began := time.Now()
	err := s.Runner.Run(context.WithValue(ctx, fireKey{}, j.at), j.name, j.selection, j.trigger)
	switch {
	case err != nil && ctx.Err() != nil:
		s.Log.Warn("run stopped by the scheduler's shutdown; resume it with rcmlake run --from-failure", "schedule", j.name, "err", err)
	case err != nil:
		s.mu.Lock()
		e.failures++
		s.mu.Unlock()
		failuresTotal.WithLabelValues(j.name).Inc()
		s.Log.Error("run failed", "schedule", j.name, "err", err, "seconds", time.Since(began).Seconds())
	default:
		s.Log.Info("run finished", "schedule", j.name, "seconds", time.Since(began).Seconds())
	}
	done()
}
