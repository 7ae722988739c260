// Package pipeline runs the lakehouse as one pipeline: a DAG of tasks (one per source table,
// silver entity, gold model and KPI model), executed in parallel as their inputs become ready,
// with retries, timeouts, run history in audit.runs and audit.task_runs, resumption of failed
// runs, a lease that keeps two runs off one lake, and OpenLineage events.
package pipeline

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Stats is what a task reports about the rows it moved.
type Stats struct {
	RowsIn  int64
	RowsOut int64
}

// Task is one unit of work of a run.
type Task struct {
	ID      string   // bronze.<datasource>.<table>, silver.<entity>, gold.<model>
	Deps    []string // tasks that must succeed first
	Inputs  []string // datasets read, for lineage (catalog names or source names)
	Outputs []string // datasets written
	Pool    string   // tasks of one pool run at most Executor.Pools[Pool] at once
	Run     func(ctx context.Context) (Stats, error)
}

// DAG is a set of tasks and their dependencies.
type DAG struct {
	tasks map[string]*Task
}

// NewDAG checks that every dependency exists and that there is no cycle.
func NewDAG(tasks []*Task) (*DAG, error) {
	d := &DAG{tasks: map[string]*Task{}}
	for _, t := range tasks {
		if _, dup := d.tasks[t.ID]; dup {
			return nil, fmt.Errorf("two tasks are named %s", t.ID)
		}
		d.tasks[t.ID] = t
	}
	for _, t := range tasks {
		for _, dep := range t.Deps {
			if _, ok := d.tasks[dep]; !ok {
				return nil, fmt.Errorf("task %s depends on %s, which is not a task", t.ID, dep)
			}
		}
	}
	if _, err := d.Levels(); err != nil {
		return nil, err
	}
	return d, nil
}

// Task returns a task by id.
func (d *DAG) Task(id string) (*Task, bool) {
	t, ok := d.tasks[id]
	return t, ok
}

// IDs lists the task ids, sorted.
func (d *DAG) IDs() []string {
	ids := make([]string, 0, len(d.tasks))
	for id := range d.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Len is the number of tasks.
func (d *DAG) Len() int { return len(d.tasks) }

// Levels groups the tasks into waves: each task's dependencies are all in earlier waves.
func (d *DAG) Levels() ([][]string, error) {
	level := map[string]int{}
	state := map[string]int{}
	var visit func(id string, trail []string) (int, error)
	visit = func(id string, trail []string) (int, error) {
		switch state[id] {
		case 1:
			return 0, fmt.Errorf("tasks depend on each other in a cycle: %s", strings.Join(append(trail, id), " -> "))
		case 2:
			return level[id], nil
		}
		state[id] = 1
		l := 0
		for _, dep := range d.tasks[id].Deps {
			if _, ok := d.tasks[dep]; !ok {
				continue // outside a selection
			}
			dl, err := visit(dep, append(trail, id))
			if err != nil {
				return 0, err
			}
			l = max(l, dl+1)
		}
		state[id], level[id] = 2, l
		return l, nil
	}
	var out [][]string
	for _, id := range d.IDs() {
		l, err := visit(id, nil)
		if err != nil {
			return nil, err
		}
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], id)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out, nil
}

// Select keeps the tasks a selection names, as dbt selects models: "silver.patients" is that
// task, "silver.*" a glob over ids, "+silver.patients" it and everything upstream of it,
// "silver.patients+" it and everything downstream. Dependencies on tasks left out are
// dropped: the selection runs on what the lake already holds.
func (d *DAG) Select(exprs []string) (*DAG, error) {
	if len(exprs) == 0 {
		return d, nil
	}
	down := map[string][]string{}
	for _, t := range d.tasks {
		for _, dep := range t.Deps {
			down[dep] = append(down[dep], t.ID)
		}
	}
	keep := map[string]bool{}
	var walk func(id string, next func(string) []string)
	walk = func(id string, next func(string) []string) {
		for _, n := range next(id) {
			if !keep[n] {
				keep[n] = true
				walk(n, next)
			}
		}
	}
	for _, raw := range exprs {
		for _, e := range strings.Split(raw, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			up, dn := strings.HasPrefix(e, "+"), strings.HasSuffix(e, "+")
			pattern := strings.TrimSuffix(strings.TrimPrefix(e, "+"), "+")
			var matched []string
			for id := range d.tasks {
				if ok, err := path.Match(pattern, id); err != nil {
					return nil, fmt.Errorf("--select %q: %w", e, err)
				} else if ok || id == pattern {
					matched = append(matched, id)
				}
			}
			if len(matched) == 0 {
				return nil, fmt.Errorf("--select %q matches no task (tasks: %s)", e, strings.Join(d.IDs(), ", "))
			}
			for _, id := range matched {
				keep[id] = true
				if up {
					walk(id, func(x string) []string { return d.tasks[x].Deps })
				}
				if dn {
					walk(id, func(x string) []string { return down[x] })
				}
			}
		}
	}
	sel := &DAG{tasks: map[string]*Task{}}
	for id := range keep {
		t := *d.tasks[id]
		t.Deps = nil
		for _, dep := range d.tasks[id].Deps {
			if keep[dep] {
				t.Deps = append(t.Deps, dep)
			}
		}
		sel.tasks[id] = &t
	}
	return sel, nil
}
