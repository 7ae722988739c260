package bench

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func world(scale, full, floor, incr float64, rss int64) *World {
	w := &World{Scale: scale, Transactions: int64(scale * 20000), Months: 12}
	w.Full.Total = Step{Name: "total", Seconds: full, PeakRSS: rss}
	w.Floor = Step{Seconds: floor}
	w.FloorRatio = full / floor
	w.Incremental.Total = Step{Seconds: incr, PeakRSS: rss / 2}
	w.IncrementalRatio = incr / full
	return w
}

func target(t *testing.T, ts []Target, name string) Target {
	t.Helper()
	for _, x := range ts {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no target %q in %+v", name, ts)
	return Target{}
}

// The targets are judged on the largest world, and the incremental one on the 1%-changed
// month when the report has it.
func TestTargetsUseLargestWorldAndChangeMonth(t *testing.T) {
	r := &Report{Settings: Settings{MemoryLimit: "2GB"}}
	r.Worlds = []*World{world(1, 10, 2, 8, 300<<20), world(500, 1200, 1000, 600, 4*gib)}
	ts := targets(r)
	floor := target(t, ts, "full run vs the floor")
	if floor.Scale != 500 || !floor.Met || floor.Value != 1.2 {
		t.Errorf("floor target = %+v, want met at 1.2x on scale 500", floor)
	}
	if rss := target(t, ts, "peak RSS"); rss.Met || !strings.Contains(rss.Margin, "missed by 33%") {
		t.Errorf("RSS target = %+v, want missed by 33%%", rss)
	}
	if inc := target(t, ts, "incremental month"); inc.Met || inc.Value != 0.5 {
		t.Errorf("without a change month the incremental target is the 12-month world's: %+v", inc)
	}

	r.setChange(&Scaling{Scale: 6.25, FirstMonths: 96, Transactions: 1_000_000, Full: Step{Seconds: 200}, FullRows: 4_000_000,
		FullStages: map[string]float64{"silver": 100}, Points: []ScalingPoint{{Months: 96, Seconds: 8, Rows: 48_000, Stages: map[string]float64{"silver": 5}}}}, true)
	inc := target(t, targets(r), "incremental month")
	if !inc.Met || inc.Value != 0.04 || inc.Scale != 6.25 {
		t.Errorf("change-month target = %+v, want met at 4%% on scale 6.25", inc)
	}
	// A bigger change world that is still running (no month yet) does not count; once measured it does.
	big := &Scaling{Scale: 62.5, FirstMonths: 96, Transactions: 10_000_000}
	r.setChange(big, true)
	if inc := target(t, targets(r), "incremental month"); inc.Scale != 6.25 {
		t.Errorf("an unmeasured change world was judged: %+v", inc)
	}
	big.Full, big.FullRows = Step{Seconds: 1000}, 40_000_000
	big.Points = []ScalingPoint{{Months: 96, Seconds: 100, Rows: 400_000}}
	if inc := target(t, targets(r), "incremental month"); inc.Scale != 62.5 || inc.Value != 0.1 || inc.Met {
		t.Errorf("the largest change world should be judged: %+v", inc)
	}
	if !strings.Contains(inc.Measured, "1.2% of rows new or changed") || !strings.Contains(inc.Measured, "96 months") {
		t.Errorf("measured %q does not state the changed share and history", inc.Measured)
	}
	md := r.Markdown(notesBegin + "\n" + notesEnd)
	for _, want := range []string{"## Incremental month at 1% changed", "| **incremental / full** | **4.0%** | - | - | 5% |", "| **incremental / full** | **10.0%** |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// Memory is judged on every world of the largest size: a long-history world with the same
// transactions that peaks higher decides it, and a smaller one does not.
func TestPeakRSSTargetCountsLongHistoryWorldsOfTheLargestSize(t *testing.T) {
	r := &Report{Settings: Settings{MemoryLimit: "2GB"}}
	r.Worlds = []*World{world(500, 1200, 1000, 600, 2*gib)}
	r.setChange(&Scaling{Scale: 6.25, FirstMonths: 96, Transactions: 1_000_000, Full: Step{Seconds: 100, PeakRSS: 5 * gib}}, true)
	if rss := target(t, targets(r), "peak RSS"); rss.Value != 2 || !rss.Met || !strings.Contains(rss.Measured, "over 12 months") {
		t.Errorf("a smaller long-history world decided the memory target: %+v", rss)
	}
	r.setChange(&Scaling{Scale: 62.5, FirstMonths: 96, Transactions: 10_000_000, Full: Step{Seconds: 1000, PeakRSS: 3 * gib},
		FullPeakIn: "silver", Points: []ScalingPoint{{Months: 96, Seconds: 100, PeakRSS: 3*gib + gib/4, PeakIn: "gold"}}}, true)
	rss := target(t, targets(r), "peak RSS")
	if rss.Value != 3.25 || rss.Met || rss.Scale != 62.5 || !strings.Contains(rss.Measured, "3.25 GiB (10.0M transactions over 96 months)") {
		t.Errorf("the 10M long-history world's month should decide the memory target: %+v", rss)
	}
	md := r.Markdown(notesBegin + "\n" + notesEnd)
	for _, want := range []string{"| 3072 MiB in silver |", "| 3328 MiB in gold |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks the stage of a peak, %q:\n%s", want, md)
		}
	}
}

// A report merged with an older one keeps the older one's change months of other sizes, and
// an older report's single change month is read as one of them.
func TestMergeKeepsChangeMonth(t *testing.T) {
	dir := t.TempDir()
	old := &Report{Worlds: []*World{world(1, 10, 2, 8, 1)},
		Change: &Scaling{Scale: 6.25, Points: []ScalingPoint{{Months: 96, Seconds: 1}}}}
	path := filepath.Join(dir, "benchmarks.json")
	if err := old.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	r := &Report{Worlds: []*World{world(500, 1, 1, 1, 1)}}
	r.setChange(&Scaling{Scale: 62.5, Points: []ScalingPoint{{Months: 96, Seconds: 2}}}, true)
	if err := r.Merge(path); err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 2 || r.Changes[0].Scale != 6.25 || r.Changes[1].Scale != 62.5 || len(r.Worlds) != 2 {
		t.Errorf("merged report: changes %+v, %d worlds", r.Changes, len(r.Worlds))
	}
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Change != nil || len(back.Changes) != 2 {
		t.Errorf("read back: change %+v, changes %+v", back.Change, back.Changes)
	}
}

// A floor that failed leaves the ratio unmeasured, with the reason in the target and the report.
func TestFailedFloorIsReported(t *testing.T) {
	r := &Report{Settings: Settings{MemoryLimit: "2GB"}, Worlds: []*World{world(500, 1200, 1, 600, 2*gib)}}
	w := r.Worlds[0]
	w.Floor, w.FloorRatio = Step{}, 0
	w.FloorError = failureReason(errors.New("rcmlake bench floor: exit status 1\n  Error: floor statement 15: Out of Memory Error: failed to pin block\n  \n  Possible solutions:"))
	if w.FloorError != "floor statement 15: Out of Memory Error: failed to pin block" {
		t.Fatalf("reason = %q", w.FloorError)
	}
	ft := target(t, targets(r), "full run vs the floor")
	if ft.Met || !strings.Contains(ft.Measured, "the floor failed: floor statement 15") {
		t.Errorf("floor target = %+v", ft)
	}
	// With a smaller world whose floor finished, the ratio is that world's, and the failure is named.
	r.Worlds = append([]*World{world(50, 90, 20, 40, gib)}, r.Worlds...)
	ft = target(t, targets(r), "full run vs the floor")
	if ft.Scale != 50 || ft.Value != 4.5 || !strings.Contains(ft.Measured, "at scale 500 the floor did not finish: floor statement 15") {
		t.Errorf("floor target with a smaller world = %+v", ft)
	}
	if md := r.Markdown(notesBegin + "\n" + notesEnd); !strings.Contains(md, "the floor failed: floor statement 15") {
		t.Errorf("markdown does not say the floor failed:\n%s", md)
	}
}

func TestTimeSpanNamesTheEndDayWhenItDiffers(t *testing.T) {
	from := time.Date(2026, 12, 3, 17, 1, 0, 0, time.UTC)
	if got, want := timeSpan(from, from.Add(2*time.Hour)), "2026-12-03 17:01 to 19:01"; got != want {
		t.Errorf("same day: %q, want %q", got, want)
	}
	if got, want := timeSpan(from, from.Add(13*time.Hour)), "2026-12-03 17:01 to 2026-12-04 06:01"; got != want {
		t.Errorf("across midnight: %q, want %q", got, want)
	}
}

func TestPeakStageIsTheStageWithTheHighestPeak(t *testing.T) {
	var p Phase
	for name, rss := range map[string]int64{"extract": 200 << 20, "silver": 3 * gib, "kpi": 2 * gib} {
		p.stage(name, "").PeakRSS = rss
	}
	if got := p.peakStage(); got != "silver" {
		t.Errorf("peak stage = %q, want silver", got)
	}
}
