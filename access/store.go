package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// docs is a small versioned JSON document in the lake (_governance/<name>/<seq>.json). Each
// change writes the next sequence number with PutIfAbsent, so two admins changing grants at
// once cannot lose each other's change: the second one re-reads and applies again.
type docs struct {
	store lake.Storage
	dir   string
}

const governanceDir = "_governance"

// latest reads the newest version into v; it returns the version, or -1 if none exists.
func (d docs) latest(ctx context.Context, v any) (int64, error) {
	objs, err := d.store.List(ctx, d.dir+"/")
	if err != nil {
		return -1, err
	}
	seq := int64(-1)
	key := ""
	for _, o := range objs {
		n, err := strconv.ParseInt(strings.TrimSuffix(path.Base(o.Key), ".json"), 10, 64)
		if err == nil && strings.HasSuffix(o.Key, ".json") && n > seq {
			seq, key = n, o.Key
		}
	}
	if seq < 0 {
		return -1, nil
	}
	data, err := lake.ReadAll(ctx, d.store, key)
	if err != nil {
		return -1, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return -1, fmt.Errorf("%s: %w", key, err)
	}
	return seq, nil
}

// update applies change to the latest version and stores the result as the next one.
func update[T any](ctx context.Context, d docs, change func(*T) error) error {
	for attempt := 0; attempt < 10; attempt++ {
		var v T
		seq, err := d.latest(ctx, &v)
		if err != nil {
			return err
		}
		if err := change(&v); err != nil {
			return err
		}
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		err = d.store.PutIfAbsent(ctx, fmt.Sprintf("%s/%020d.json", d.dir, seq+1), data)
		if errors.Is(err, lake.ErrExists) {
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
			continue
		}
		return err
	}
	return fmt.Errorf("%s: too many concurrent changes; try again", d.dir)
}
