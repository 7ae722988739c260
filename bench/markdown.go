package bench

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Notes between these markers in BENCHMARKS.md are written by hand (what the figures mean,
// what was changed) and kept when the file is rendered again.
const (
	notesBegin = "<!-- notes:begin -->"
	notesEnd   = "<!-- notes:end -->"
)

// WriteMarkdown renders the report to path, keeping the hand-written notes already there.
func (r *Report) WriteMarkdown(path string) error {
	notes := notesBegin + "\n" + notesEnd
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		if i, j := strings.Index(s, notesBegin), strings.Index(s, notesEnd); i >= 0 && j > i {
			notes = s[i : j+len(notesEnd)]
		}
	}
	return os.WriteFile(path, []byte(r.Markdown(notes)), 0o644)
}

func secs(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func mib(b int64) string {
	if b >= 10*gib {
		return fmt.Sprintf("%.1f GiB", float64(b)/gib)
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

func count(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func rate(x float64) string {
	if x <= 0 {
		return "-"
	}
	return count(int64(x)) + "/s"
}

func runsText(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, ", ")
}

// timeSpan is "2006-01-02 15:04 to 17:30", with the end's date too when the run crossed midnight.
func timeSpan(from, to time.Time) string {
	end := "15:04"
	if from.UTC().Format("2006-01-02") != to.UTC().Format("2006-01-02") {
		end = "2006-01-02 15:04"
	}
	return from.UTC().Format("2006-01-02 15:04") + " to " + to.UTC().Format(end)
}

// Markdown is the report as docs/BENCHMARKS.md.
func (r *Report) Markdown(notes string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	p("# Benchmarks\n\n")
	p("Written by `%s` (%s UTC); the raw figures are in [benchmarks.json](benchmarks.json).\n",
		r.Command, timeSpan(r.Started, r.Finished))
	p("Rerun a subset with `rcmlake bench --sizes 1,50` (or `scripts/bench.sh --sizes 1`).\n\n")
	p("**Machine:** %d cores, %.0f GiB memory, %s, %s; %s; DuckDB %s. ", m.Cores, float64(m.MemoryBytes)/gib, m.CPU, m.OS, m.Go, m.DuckDB)
	if m.LoadAvg >= 1 {
		p("The cores were shared with other work (load average %.1f when the bench began), so wall times are pessimistic and vary from run to run.\n\n", m.LoadAvg)
	} else {
		p("Load average %.1f when the bench began.\n\n", m.LoadAvg)
	}
	p("**Method.** Every step is a child process (`rcmlake run --select <stage>`, `rcmlake kpi`, ...), timed on the wall clock; its peak RSS is the child's `ru_maxrss`. ")
	p("The full run is run stage by stage (extract from the EMRs; landing files and reference data; silver; gold's star schema; the KPI table), and the stages together run every task of `rcmlake run`'s plan (the bench checks this with `--dry-run`). ")
	p("Figures are medians over the repeats (the run times are listed); peak RSS is the highest over them. Generation is timed but is not part of any pipeline figure. ")
	p("Worlds are configured with `engine.memory_limit: %s` and a temp folder for DuckDB's spills. ", r.Settings.MemoryLimit)
	p("The incremental month appends one month to the world (`generate --append-month`: new visits, charges and claims, changed and deleted rows) and runs the same stages again; in a 12-month world that month is about a tenth of the rows, so the 1%%-changed month of the targets is measured on a world with a long history (below). ")
	p("The floor is [bench/floor.sql](../bench/floor.sql): the same full refresh as one plain DuckDB script over CSV exports of the same EMRs, with no Delta, history or audit, on the same DuckDB with the same memory limit.\n\n")

	if len(r.Targets) > 0 {
		p("## Targets\n\n| target | want | measured | scale | result |\n|---|---|---|---|---|\n")
		for _, t := range r.Targets {
			res := "**met**"
			switch {
			case t.Measured == "not measured":
				res = "-"
			case !t.Met:
				res = "**missed**"
			}
			p("| %s | %s | %s | %g | %s (%s) |\n", t.Name, t.Want, t.Measured, t.Scale, res, t.Margin)
		}
		if w := largest(r); w != nil && w.Scale < 500 {
			p("\nThe targets are stated for 10M transactions (scale 500); this report's largest world is scale %g.\n", w.Scale)
		}
		p("\n")
	}

	p("## Worlds\n\n| scale | transactions | EMR rows | claims files | sources on disk | generate | generate peak RSS | repeats |\n|---|---|---|---|---|---|---|---|\n")
	for _, w := range r.Worlds {
		p("| %g | %s | %s | %d | %s | %s | %s | %d |\n", w.Scale, count(w.Transactions), count(w.EMRRows), w.ClaimsFiles,
			mib(w.SourceBytes), secs(w.Generate.Seconds), mib(w.Generate.PeakRSS), w.Repeat)
	}
	p("\n")

	p("## Full run and incremental month\n\n")
	for _, w := range r.Worlds {
		p("### Scale %g (%s transactions, %d months)\n\n", w.Scale, count(w.Transactions), w.Months)
		p("| stage | full run | rows | rows/s | peak RSS | lake growth | incremental month | rows | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range w.Full.Stages {
			inc := w.Incremental.stage(s.Name, "")
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Name, secs(s.Seconds), count(s.Rows), rate(s.RowsPerSec),
				mib(s.PeakRSS), mib(s.Bytes), secs(inc.Seconds), count(inc.Rows), mib(inc.PeakRSS))
		}
		p("| **total** | **%s** | | %s transactions | %s | %s | **%s** | | %s |\n\n", secs(w.Full.Total.Seconds),
			rate(float64(w.Transactions)/w.Full.Total.Seconds), mib(w.Full.Total.PeakRSS), mib(w.Full.Lake),
			secs(w.Incremental.Total.Seconds), mib(w.Incremental.Total.PeakRSS))
		if w.FloorError != "" {
			p("- Full run (seconds per repeat: %s); the floor failed: %s.\n", runsText(w.Full.Total.Runs), w.FloorError)
		} else if w.Floor.Seconds <= 0 {
			p("- Full run (seconds per repeat: %s); the floor did not finish (see the notes).\n", runsText(w.Full.Total.Runs))
		} else {
			p("- Full run (seconds per repeat: %s); the floor: %s (seconds per repeat: %s), peak RSS %s; **rcmlake / floor = %.2fx**.\n",
				runsText(w.Full.Total.Runs), secs(w.Floor.Seconds), runsText(w.Floor.Runs), mib(w.Floor.PeakRSS), w.FloorRatio)
		}
		p("- Incremental month (seconds per repeat: %s): it extracted %s rows, %.1f%% of the full run's %s; **incremental / full = %.1f%%** (silver alone: %.1f%%).\n",
			runsText(w.Incremental.Total.Runs), count(w.IncrementalRows), 100*w.ChangedFraction, count(bronzeRows(w.Full)), 100*w.IncrementalRatio, 100*w.SilverRatio)
		p("- Lake after the full run: %s; after the incremental month: %s.\n\n", mib(w.Full.Lake), mib(w.Incremental.Lake))
	}

	p("## Extraction (issue #4)\n\nRows read from the EMR tables and written to bronze Parquet (the extract stage), per source.\n\n")
	p("| scale | source | rows | wall | rows/s | peak RSS |\n|---|---|---|---|---|---|\n")
	for _, w := range r.Worlds {
		s := w.Full.stage("extract", "")
		p("| %g | SQLite | %s | %s | %s | %s |\n", w.Scale, count(s.Rows), secs(s.Seconds), rate(s.RowsPerSec), mib(s.PeakRSS))
		if pg := w.ExtractPostgres; pg != nil {
			p("| %g | PostgreSQL | %s | %s | %s | %s |\n", w.Scale, count(pg.Rows), secs(pg.Seconds), rate(pg.RowsPerSec), mib(pg.PeakRSS))
		}
	}
	for _, w := range r.Worlds {
		if w.PostgresNote != "" {
			p("\nScale %g: %s.", w.Scale, w.PostgresNote)
		}
	}
	p("\n\n## Silver (issue #5) and gold (issue #6)\n\n")
	p("| scale | silver full | silver incremental | ratio | silver peak RSS | gold full | gold incremental | KPI table | gold peak RSS |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range r.Worlds {
		sf, si := w.Full.stage("silver", ""), w.Incremental.stage("silver", "")
		gf, gi, k := w.Full.stage("gold", ""), w.Incremental.stage("gold", ""), w.Full.stage("kpi", "")
		p("| %g | %s | %s | %.1f%% | %s | %s | %s | %s | %s |\n", w.Scale, secs(sf.Seconds), secs(si.Seconds), 100*w.SilverRatio,
			mib(max(sf.PeakRSS, si.PeakRSS)), secs(gf.Seconds), secs(gi.Seconds), secs(k.Seconds), mib(max(gf.PeakRSS, gi.PeakRSS, k.PeakRSS)))
	}
	p("\n### KPI queries\n\nEach a child process on the lake after the full run (its start-up included).\n\n| command |")
	for _, w := range r.Worlds {
		p(" scale %g | RSS |", w.Scale)
	}
	p("\n|---|%s\n", strings.Repeat("---|---|", len(r.Worlds)))
	if len(r.Worlds) > 0 {
		for i, q := range r.Worlds[0].Queries {
			p("| `rcmlake %s` |", q.Name)
			for _, w := range r.Worlds {
				if i < len(w.Queries) {
					p(" %s | %s |", secs(w.Queries[i].Seconds), mib(w.Queries[i].PeakRSS))
				} else {
					p(" - | - |")
				}
			}
			p("\n")
		}
	}
	if len(r.Changes) > 0 {
		p("\n## Incremental month at 1%% changed\n\n")
		p("Each world is generated with a long history (`generate --scale S --months M`) and run in full; then one month is appended (`generate --append-month`) and run incrementally. ")
		p("The month's share of rows is its extracted rows against the full run's; the last row of each world is the incremental month's time as a share of the full run's, stage by stage.\n\n")
		p("| world | run | total | extract | landing | silver | gold | kpi | rows extracted | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|\n")
		stages := []string{"extract", "landing", "silver", "gold", "kpi"}
		for _, c := range r.Changes {
			world := fmt.Sprintf("%s transactions over %d months (scale %g)", count(c.Transactions), c.FirstMonths, c.Scale)
			if c.Full.Seconds <= 0 {
				p("| %s | full run | not measured | | | | | | | |\n", world)
				continue
			}
			p("| %s | full run | %s |", world, secs(c.Full.Seconds))
			for _, st := range stages {
				if v, ok := c.FullStages[st]; ok {
					p(" %s |", secs(v))
				} else {
					p(" - |") // a report from before the full run's stages were recorded
				}
			}
			p(" %s | %s |\n", count(c.FullRows), peakIn(c.Full.PeakRSS, c.FullPeakIn))
			if len(c.Points) == 0 {
				p("| | incremental month | not measured | | | | | | | |\n")
				continue
			}
			pt := c.Points[0]
			p("| | incremental month %d | %s |", pt.Months+1, secs(pt.Seconds))
			for _, st := range stages {
				p(" %s |", secs(pt.Stages[st]))
			}
			p(" %s (%.1f%%) | %s |\n", count(pt.Rows), 100*c.changedShare(), peakIn(pt.PeakRSS, pt.PeakIn))
			p("| | **incremental / full** | **%.1f%%** |", 100*pt.Seconds/c.Full.Seconds)
			for _, st := range stages {
				if full, ok := c.FullStages[st]; ok && full > 0 {
					p(" %.0f%% |", 100*pt.Stages[st]/full)
				} else {
					p(" - |")
				}
			}
			p(" | |\n")
		}
	}
	p("\n## Dashboard API\n\n`rcmlake serve` as a child process, on the lake after the incremental month; each client sends its requests one after another (6 KPI URLs in turn, with hospital, payer and period filters).\n\n")
	p("| scale | clients | requests | p50 | p99 | max | req/s | server peak RSS |\n|---|---|---|---|---|---|---|---|\n")
	for _, w := range r.Worlds {
		if a := w.API; a != nil {
			p("| %g | %d | %d | %.1f ms | %.1f ms | %.1f ms | %.0f | %s |\n", w.Scale, a.Clients, a.Requests, a.P50ms, a.P99ms, a.MaxMs, a.ReqPerSec, mib(a.PeakRSS))
		}
	}
	if s := r.Scaling; s != nil && len(s.Points) > 0 {
		p("\n## Incremental month against history (scale %g)\n\nOne world, appended a month at a time; each month's incremental run, stage by stage.\n\n", s.Scale)
		p("| months of history | incremental month | extract | landing | silver | gold | kpi | rows extracted | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, pt := range s.Points {
			p("| %d | %s |", pt.Months, secs(pt.Seconds))
			for _, st := range []string{"extract", "landing", "silver", "gold", "kpi"} {
				if v, ok := pt.Stages[st]; ok {
					p(" %s |", secs(v))
				} else if st == "silver" {
					p(" %s |", secs(pt.Silver))
				} else {
					p(" - |") // a report from before stages were recorded
				}
			}
			p(" %s | %s |\n", count(pt.Rows), peakIn(pt.PeakRSS, pt.PeakIn))
		}
	}
	if w := largest(r); w != nil && len(w.Full.Tasks) > 0 {
		p("\n## Where the time goes (scale %g, full run, first repeat)\n\nThe slowest tasks; tasks of a stage run in parallel (4 workers; silver's one at a time on the embedded engine), so they overlap.\n\n| task | seconds | rows out |\n|---|---|---|\n", w.Scale)
		tasks := append([]taskRow(nil), w.Full.Tasks...)
		sort.Slice(tasks, func(i, j int) bool { return tasks[i].Seconds > tasks[j].Seconds })
		for i, t := range tasks {
			if i == 12 {
				break
			}
			p("| %s | %.1f | %s |\n", t.Task, t.Seconds, count(t.RowsOut))
		}
	}
	p("\n## Notes\n\n%s\n", notes)
	return b.String()
}

func largest(r *Report) *World {
	var w *World
	for _, x := range r.Worlds {
		if w == nil || x.Scale > w.Scale {
			w = x
		}
	}
	return w
}

// peakIn is a peak RSS with the stage it was reached in, when the report knows it.
func peakIn(rss int64, stage string) string {
	if stage == "" {
		return mib(rss)
	}
	return mib(rss) + " in " + stage
}
