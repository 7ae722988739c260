package pipeline

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// OpenLineage events: the ecosystem's standard for lineage (Marquez, DataHub, OpenMetadata,
// Purview read it). One job per task; its runs nest under the pipeline run's job.

const (
	lineageProducer = "https://github.com/rcmlake/rcmlake"
	lineageSchema   = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
)

// LineageEvent is an OpenLineage RunEvent.
type LineageEvent struct {
	EventType string           `json:"eventType"` // START, COMPLETE, FAIL, ABORT
	EventTime string           `json:"eventTime"`
	Run       lineageRun       `json:"run"`
	Job       lineageJob       `json:"job"`
	Inputs    []LineageDataset `json:"inputs"`
	Outputs   []LineageDataset `json:"outputs"`
	Producer  string           `json:"producer"`
	SchemaURL string           `json:"schemaURL"`
}

type lineageRun struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

type lineageJob struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// LineageDataset names a dataset: the lake's URL as namespace and the table as name.
type LineageDataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// LineageEmitter sends events somewhere.
type LineageEmitter interface {
	Emit(ctx context.Context, e LineageEvent) error
}

// LineageDir writes each event as a JSON file.
type LineageDir string

func (d LineageDir) Emit(_ context.Context, e LineageEvent) error {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%s-%s.json", strings.NewReplacer(":", "", "-", "", ".", "").Replace(e.EventTime), safeName(e.Job.Name), e.EventType)
	return os.WriteFile(filepath.Join(string(d), name), append(data, '\n'), 0o644)
}

// LineageHTTP posts events to an OpenLineage endpoint (e.g. Marquez's /api/v1/lineage).
type LineageHTTP struct {
	URL    string
	Client *http.Client
}

func (h LineageHTTP) Emit(ctx context.Context, e LineageEvent) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("lineage endpoint: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lineage endpoint answered %s", resp.Status)
	}
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// lineageUUID is a stable, name-based (version 5 layout) UUID, so a task's START and
// COMPLETE events of one run carry the same runId.
func lineageUUID(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// taskEvent turns a task's state change into a lineage event.
func taskEvent(namespace, runID string, t *Task, tr TaskRun) (LineageEvent, bool) {
	var typ string
	switch tr.Status {
	case StatusRunning:
		typ = "START"
	case StatusSuccess:
		typ = "COMPLETE"
	case StatusFailed:
		typ = "FAIL"
	case StatusInterrupted:
		if tr.Started.IsZero() {
			return LineageEvent{}, false
		}
		typ = "ABORT"
	default:
		return LineageEvent{}, false // skipped and done-earlier tasks did not run
	}
	ds := func(names []string) []LineageDataset {
		out := []LineageDataset{}
		for _, n := range names {
			out = append(out, LineageDataset{Namespace: namespace, Name: n})
		}
		return out
	}
	when := tr.Finished
	if typ == "START" {
		when = tr.Started
	}
	facets := map[string]any{"parent": map[string]any{
		"_producer": lineageProducer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet",
		"run": map[string]string{"runId": lineageUUID(runID)},
		"job": map[string]string{"namespace": "rcmlake", "name": "pipeline"},
	}}
	if tr.Error != "" {
		facets["errorMessage"] = map[string]any{
			"_producer": lineageProducer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
			"message": tr.Error, "programmingLanguage": "go",
		}
	}
	return LineageEvent{
		EventType: typ, EventTime: when.UTC().Format(time.RFC3339Nano),
		Run:    lineageRun{RunID: lineageUUID(runID, t.ID), Facets: facets},
		Job:    lineageJob{Namespace: "rcmlake", Name: t.ID},
		Inputs: ds(t.Inputs), Outputs: ds(t.Outputs), Producer: lineageProducer, SchemaURL: lineageSchema,
	}, true
}
