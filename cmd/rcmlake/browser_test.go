package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/internal/testenv"
)

// chromium finds the headless browser that scripts/deps/chromium.sh installs.
func chromium(t *testing.T) string {
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			return p
		}
	}
	if testenv.RequireServers() {
		t.Fatal("no chromium (scripts/deps/chromium.sh installs it); RCMLAKE_REQUIRE_SERVERS=1, so this is a failure")
	}
	return ""
}

// kpiTiles reads the headline KPIs with rcmlake kpi and formats them as the tiles should show them.
func kpiTiles(t *testing.T, cfg string, args ...string) map[string]string {
	t.Helper()
	code, out, errs := runCLI(t, append([]string{"-c", cfg, "kpi", "--format", "csv"}, args...)...)
	if code != exitOK {
		t.Fatalf("kpi: %s", errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]string{}
	for _, k := range gold.Headlines() {
		units[k.Column] = k.Unit
	}
	want := map[string]string{}
	for _, r := range recs[1:] {
		v, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			continue
		}
		switch units[r[1]] {
		case "%":
			want[r[1]] = fmt.Sprintf("%.1f%%", v*100)
		case "days":
			want[r[1]] = fmt.Sprintf("%.1f days", v)
		}
	}
	return want
}

// TestDashboardInBrowser signs in with headless Chromium, checks that the tiles show the same
// numbers as rcmlake kpi for the network and, after choosing a hospital in the filter, for
// that hospital; it saves screenshots at laptop and tablet widths.
func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	if bin == "" {
		t.Skip("no chromium")
	}
	ts := newTestServer(t)
	cfg := demoWorld(t)
	shots := os.Getenv("RCMLAKE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	tiles := func() map[string]string {
		var got map[string]string
		if err := chromedp.Run(ctx, chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll('.tile')].map(e => [e.dataset.kpi, e.querySelector('[data-value]').textContent.trim()]))`, &got)); err != nil {
			t.Fatal(err)
		}
		return got
	}
	compare := func(what string, got, want map[string]string) {
		t.Helper()
		if len(got) < 5 {
			t.Fatalf("%s: %d tiles: %v", what, len(got), got)
		}
		for k, v := range got {
			if want[k] != v {
				t.Errorf("%s: tile %s shows %q, rcmlake kpi says %q", what, k, v, want[k])
			}
		}
	}
	var charts int
	err := chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`#token`),
		chromedp.SendKeys(`#token`, ts.tokens["analyst"]),
		chromedp.Submit(`#token`),
		chromedp.WaitVisible(`.tile`),
		chromedp.Sleep(300*time.Millisecond), // charts draw after DOMContentLoaded
		chromedp.Evaluate(`[...document.querySelectorAll('canvas')].filter(c => Chart.getChart(c)).length`, &charts),
	)
	if err != nil {
		t.Fatal(err)
	}
	if charts < 8 { // five sparklines, aging, trend and payer mix
		t.Errorf("%d charts drawn, want 8", charts)
	}
	compare("network", tiles(), kpiTiles(t, cfg))
	var buf []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&buf, 90)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(shots, "dashboard-1280.jpg"), buf, 0o644)

	// Choose a hospital with the keyboard-usable form, and apply.
	err = chromedp.Run(ctx,
		chromedp.SetValue(`#f-hospital`, "hos-a", chromedp.ByID),
		chromedp.Click(`#apply`),
	)
	if err != nil {
		t.Fatal(err)
	}
	var loc string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if chromedp.Run(ctx, chromedp.Location(&loc)) == nil && strings.Contains(loc, "hospital=hos-a") {
			break // the filtered page has started loading
		}
	}
	if err := chromedp.Run(ctx, chromedp.WaitReady(`body`), chromedp.WaitVisible(`.tile`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "hospital=hos-a") {
		t.Fatalf("after Apply the page is %s", loc)
	}
	compare("hos-a", tiles(), kpiTiles(t, cfg, "--hospital", "hos-a"))

	// Tablet width; the skip link is the first thing the keyboard reaches.
	var first string
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(768, 1024),
		chromedp.Reload(),
		chromedp.WaitVisible(`.tile`),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.FullScreenshot(&buf, 90),
		chromedp.KeyEvent("\t"),
		chromedp.Evaluate(`document.activeElement.className + ':' + document.activeElement.textContent`, &first),
	)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(shots, "dashboard-768.jpg"), buf, 0o644)
	if !strings.HasPrefix(first, "skip:") {
		t.Errorf("first Tab lands on %q, want the skip link", first)
	}
	var overflow bool
	chromedp.Run(ctx, chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow))
	if overflow {
		t.Error("the dashboard scrolls sideways at 768 px")
	}
	t.Logf("screenshots in %s", shots)
}
