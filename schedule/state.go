package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// StateKey is where the service keeps what it has done, in the lake, so that a restart (on
// this machine or another) neither misses nor repeats a fire.
const StateKey = "_schedule/state.json"

// firesPrefix holds one marker object per fired instant, created with PutIfAbsent: the marker
// is the claim that makes a scheduled instant fire at most once, even when two schedulers
// share a lake or one crashed between claiming and saving its state.
const firesPrefix = "_schedule/fires/"

// keepMarkers is how many fire markers are kept per schedule; older ones are deleted.
const keepMarkers = 100

// State is the persisted state of a scheduler.
type State struct {
	Schedules map[string]ScheduleState `json:"schedules"`
	// Landing lists the landing files that have started a run, with the size and modification
	// time they had then; a file that is replaced by a different one triggers again.
	Landing map[string]LandingFile `json:"landing_files,omitempty"`
}

// ScheduleState is one schedule's progress.
type ScheduleState struct {
	// Through is the latest scheduled instant that has been dealt with: started, skipped
	// because the schedule was busy, or passed over while the service was down. Fires are
	// computed from here on a restart.
	Through time.Time `json:"through"`
	// LastFire is the scheduled instant of the latest run started.
	LastFire time.Time `json:"last_fire,omitzero"`
}

// LandingFile is a landing file that has triggered a run.
type LandingFile struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	Fired   time.Time `json:"fired"`
}

func loadState(ctx context.Context, store lake.Storage) (State, error) {
	st := State{Schedules: map[string]ScheduleState{}, Landing: map[string]LandingFile{}}
	data, err := lake.ReadAll(ctx, store, StateKey)
	if errors.Is(err, lake.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read scheduler state %s: %w", StateKey, err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("scheduler state %s is not valid JSON (%v); move it away to start afresh", StateKey, err)
	}
	if st.Schedules == nil {
		st.Schedules = map[string]ScheduleState{}
	}
	if st.Landing == nil {
		st.Landing = map[string]LandingFile{}
	}
	return st, nil
}

func saveState(ctx context.Context, store lake.Storage, st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := store.Put(ctx, StateKey, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write scheduler state %s: %w", StateKey, err)
	}
	return nil
}

func markerKey(name string, at time.Time) string {
	return firesPrefix + name + "/" + at.UTC().Format("20060102T150405Z")
}

// claim creates the marker of a scheduled instant; it reports false when the instant has
// already been claimed.
func claim(ctx context.Context, store lake.Storage, name string, at time.Time, now time.Time) (bool, error) {
	body, _ := json.Marshal(map[string]time.Time{"scheduled": at.UTC(), "claimed": now.UTC()})
	err := store.PutIfAbsent(ctx, markerKey(name, at), body)
	if errors.Is(err, lake.ErrExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", markerKey(name, at), err)
	}
	return true, nil
}

// pruneMarkers deletes all but the newest keepMarkers markers of a schedule.
func pruneMarkers(ctx context.Context, store lake.Storage, name string) error {
	objs, err := store.List(ctx, firesPrefix+name+"/")
	if err != nil {
		return err
	}
	for i := 0; i < len(objs)-keepMarkers; i++ { // List is sorted, and the keys sort by time
		if err := store.Delete(ctx, objs[i].Key); err != nil {
			return err
		}
	}
	return nil
}
