package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/rcmlake/rcmlake/internal/pgserver"
)

// postgres measures extraction from PostgreSQL: the same world generated into a throwaway
// server (untimed), then the extract stage, from an empty lake each repeat.
func (b *Bench) postgres(ctx context.Context, sizes []float64) error {
	var todo []*World
	for _, w := range b.report.Worlds {
		for _, s := range b.opts.Postgres {
			if s == w.Scale && slices.Contains(sizes, s) {
				todo = append(todo, w)
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	srv, err := startPostgres()
	if err != nil {
		for _, w := range todo {
			w.PostgresNote = "not measured: " + err.Error()
		}
		b.logf("PostgreSQL: %v", err)
		return nil
	}
	defer srv.Stop()
	for i, w := range todo {
		db := fmt.Sprintf("bench_%d", i)
		if err := srv.CreateDB(db); err != nil {
			return err
		}
		dir := filepath.Join(b.opts.Dir, fmt.Sprintf("scale-%g-postgres", w.Scale))
		os.RemoveAll(dir)
		if !b.opts.Keep {
			defer os.RemoveAll(dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		logPath := filepath.Join(dir, "bench.log")
		b.logf("scale %g: generate into PostgreSQL (untimed)", w.Scale)
		g, err := b.runProc(ctx, dir, logPath, "generate", "--out", "world", "--scale", fmt.Sprint(w.Scale),
			"--months", strconv.Itoa(b.opts.Months), "--emr-dsn", srv.DSN(db))
		if err != nil {
			return err
		}
		world := filepath.Join(dir, "world")
		if err := b.patchConfig(world); err != nil {
			return err
		}
		ws, _, err := readWorld(world)
		if err != nil {
			return err
		}
		defs := stages(ws)[:1]
		b.checkpoint()
		var p Phase
		for r := 0; r < w.Repeat; r++ {
			os.RemoveAll(filepath.Join(world, "lake"))
			b.logf("scale %g, repeat %d: extract from PostgreSQL", w.Scale, r+1)
			if err := b.runPhase(ctx, world, &p, defs, ""); err != nil {
				return err
			}
		}
		st := p.stage("extract", "")
		st.Name = "extract from PostgreSQL"
		w.ExtractPostgres = st
		w.PostgresNote = fmt.Sprintf("PostgreSQL %s on 127.0.0.1 (fsync off), the world loaded by generate --emr-dsn in %.0f s (untimed)", srv.Version(), g.Seconds)
		b.checkpoint()
	}
	return nil
}

// scaling times the incremental month on one world as its history grows month by month.
func (b *Bench) scaling(ctx context.Context) error {
	lo, hi := b.opts.ScalingMonths[0], b.opts.ScalingMonths[0]
	for _, m := range b.opts.ScalingMonths {
		lo, hi = min(lo, m), max(hi, m)
	}
	return b.history(ctx, "scaling", b.opts.ScalingScale, lo, hi, func(s *Scaling) { b.report.Scaling = s })
}

// changeMonths times one incremental month on each size of world with a long history, where
// a month's new and changed rows are about 1% of the lake (the targets' "1% changed" month),
// against the full run of that world.
func (b *Bench) changeMonths(ctx context.Context, scales []float64) error {
	for _, scale := range scales {
		months := b.opts.ChangeMonths
		if err := b.history(ctx, fmt.Sprintf("change-%g", scale), scale, months, months,
			func(s *Scaling) { b.report.setChange(s, true) }); err != nil {
			return fmt.Errorf("1%%-changed month at scale %g: %w", scale, err)
		}
	}
	return nil
}

// history generates a world of lo months at scale, runs it in full, then appends months up
// to hi, timing each month's incremental run. record gets the figures so far after each
// phase, and they are checkpointed, so that a stopped run keeps them.
func (b *Bench) history(ctx context.Context, name string, scale float64, lo, hi int, record func(*Scaling)) error {
	s := &Scaling{Scale: scale, FirstMonths: lo}
	record(s)
	root := filepath.Join(b.opts.Dir, name)
	os.RemoveAll(root)
	if !b.opts.Keep {
		defer os.RemoveAll(root)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	world := filepath.Join(root, "world")
	logPath := filepath.Join(root, "bench.log")
	b.logf("%s: a %d-month world at scale %g", name, lo, s.Scale)
	if _, err := b.runProc(ctx, root, logPath, "generate", "--out", world, "--scale", fmt.Sprint(s.Scale), "--months", strconv.Itoa(lo)); err != nil {
		return err
	}
	if err := b.patchConfig(world); err != nil {
		return err
	}
	ws, _, err := readWorld(world)
	if err != nil {
		return err
	}
	s.Transactions = ws.Transactions
	defs := stages(ws)
	var full Phase
	b.logf("%s: full run on %d months", name, lo)
	if err := b.runPhase(ctx, world, &full, defs, ""); err != nil {
		return err
	}
	s.Full, s.FullRows, s.FullPeakIn = full.Total, bronzeRows(full), full.peakStage()
	s.FullStages = map[string]float64{}
	for _, st := range full.Stages {
		s.FullStages[st.Name] = st.Seconds
	}
	b.checkpoint()
	for m := lo; m <= hi; m++ {
		if _, err := b.runProc(ctx, world, logPath, "generate", "--out", ".", "--append-month"); err != nil {
			return err
		}
		if err := b.patchConfig(world); err != nil {
			return err
		}
		var p Phase
		b.logf("%s: incremental month on %d months of history", name, m)
		if err := b.runPhase(ctx, world, &p, defs, ""); err != nil {
			return err
		}
		pt := ScalingPoint{Months: m, Seconds: p.Total.Seconds, Silver: p.stage("silver", "").Seconds,
			PeakRSS: p.Total.PeakRSS, PeakIn: p.peakStage(), Rows: bronzeRows(p), Stages: map[string]float64{}}
		for _, st := range p.Stages {
			pt.Stages[st.Name] = st.Seconds
		}
		s.Points = append(s.Points, pt)
		b.checkpoint()
	}
	return nil
}

const gib = 1 << 30

// targets states each acceptance target against the largest world measured.
func targets(r *Report) []Target {
	w := largest(r)
	if w == nil {
		return nil
	}
	var out []Target
	add := func(name, want string, value, limit float64, measured string, lessIsBetter bool) {
		t := Target{Name: name, Want: want, Value: value, Limit: limit, Measured: measured, Scale: w.Scale}
		if value <= 0 { // a run stopped before this was measured, or the floor failed
			t.Measured, t.Margin = "not measured", "not measured"
			out = append(out, t)
			return
		}
		t.Met = value <= limit
		if lessIsBetter && limit > 0 {
			if t.Met {
				t.Margin = fmt.Sprintf("met, %.0f%% under", 100*(1-value/limit))
			} else {
				t.Margin = fmt.Sprintf("missed by %.0f%%", 100*(value/limit-1))
			}
		}
		out = append(out, t)
	}
	// The floor is judged on the largest world where it finished; where it did not finish on
	// a larger one, the target says so.
	fw := w
	for _, x := range r.Worlds {
		if x.FloorRatio > 0 && (fw.FloorRatio <= 0 || x.Scale > fw.Scale) {
			fw = x
		}
	}
	measured := fmt.Sprintf("%.2fx (%.1f s vs %.1f s)", fw.FloorRatio, fw.Full.Total.Seconds, fw.Floor.Seconds)
	if fw != w {
		measured += fmt.Sprintf("; at scale %g the floor did not finish", w.Scale)
		if w.FloorError != "" {
			measured += ": " + w.FloorError
		}
	}
	n := len(out)
	add("full run vs the floor", "at most 1.5x the floor", fw.FloorRatio, 1.5, measured, true)
	out[n].Scale = fw.Scale
	if fw.FloorRatio <= 0 && w.FloorError != "" {
		out[n].Measured = "the floor failed: " + w.FloorError
	}
	if c := largestChange(r); c != nil {
		// The target's month changes 1% of the rows: measured on the largest long-history world.
		pt := c.Points[0]
		n := len(out)
		add("incremental month", "at most 5% of a full run (1% changed)", pt.Seconds/c.Full.Seconds, 0.05,
			fmt.Sprintf("%.1f%% (%.1f s vs %.1f s; %.1f%% of rows new or changed, %s transactions over %d months)",
				100*pt.Seconds/c.Full.Seconds, pt.Seconds, c.Full.Seconds, 100*c.changedShare(), count(c.Transactions), c.FirstMonths), true)
		out[n].Scale = c.Scale
	} else {
		add("incremental month", "at most 5% of a full run", w.IncrementalRatio, 0.05,
			fmt.Sprintf("%.1f%% (%.1f s vs %.1f s)", 100*w.IncrementalRatio, w.Incremental.Total.Seconds, w.Full.Total.Seconds), true)
	}
	// Memory is judged on every world of the largest size, the long-history ones included: the
	// same transactions over more months make bigger snapshots and KPI tables.
	over := func(tx int64, months int) string {
		return fmt.Sprintf("%s transactions over %d months", count(tx), months)
	}
	rss := max(w.Full.Total.PeakRSS, w.Incremental.Total.PeakRSS)
	where, scale := over(w.Transactions, w.Months), w.Scale
	for _, c := range r.Changes {
		if c.Transactions < w.Transactions*9/10 {
			continue
		}
		peak := c.Full.PeakRSS
		for _, p := range c.Points {
			peak = max(peak, p.PeakRSS)
		}
		if peak > rss {
			rss, scale, where = peak, c.Scale, over(c.Transactions, c.FirstMonths)
		}
	}
	n = len(out)
	add("peak RSS", "at most 3 GiB with memory_limit "+r.Settings.MemoryLimit, float64(rss)/gib, 3,
		fmt.Sprintf("%.2f GiB (%s)", float64(rss)/gib, where), true)
	out[n].Scale = scale
	if w.API != nil {
		add("dashboard KPI API p99", fmt.Sprintf("under 200 ms at %d clients", w.API.Clients), w.API.P99ms, 200,
			fmt.Sprintf("%.0f ms (p50 %.1f ms, %.0f req/s)", w.API.P99ms, w.API.P50ms, w.API.ReqPerSec), true)
	}
	return out
}

// largestChange is the biggest long-history world whose change month was measured.
func largestChange(r *Report) *Scaling {
	var out *Scaling
	for _, c := range r.Changes {
		if len(c.Points) > 0 && c.Full.Seconds > 0 && (out == nil || c.size() > out.size()) {
			out = c
		}
	}
	return out
}

func startPostgres() (*pgserver.Server, error) { return pgserver.Start() }
