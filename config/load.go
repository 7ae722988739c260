package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config, at a place in its file.
type Problem struct {
	File    string
	Line    int
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Problems is every problem found in a config. It is an error.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in config:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Load reads, decodes and validates a config file. The returned error is Problems when the
// file was readable YAML but wrong in places; every problem is listed, not only the first.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates config bytes; path is used in messages and to resolve relative
// paths in the config against the file's folder.
func Parse(path string, data []byte) (*Config, error) {
	cfg, probs := decode(path, data)
	if cfg == nil {
		return nil, probs
	}
	probs = append(probs, cfg.validate()...)
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	if len(probs) > 0 {
		return cfg, probs
	}
	return cfg, nil
}

func decode(path string, data []byte) (*Config, Problems) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: path, Message: "the file is empty"}}
		}
		return nil, Problems{{File: path, Line: yamlErrLine(err), Message: "not valid YAML: " + trimYAMLErr(err)}}
	}
	cfg := &Config{file: path}
	var probs Problems
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, Problems{{File: path, Line: root.Line, Message: "the top level must be a mapping (version:, lake:, sources:, ...)"}}
	}
	// Unknown keys are reported with their line, then the typed decode collects type errors.
	checkKeys(path, root.Content[0], reflect.TypeOf(Config{}), "", &probs)
	if err := root.Content[0].Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				probs = append(probs, Problem{File: path, Line: yamlErrLine(errors.New(msg)), Message: trimYAMLErr(errors.New(msg))})
			}
		} else {
			probs = append(probs, Problem{File: path, Message: err.Error()})
		}
	}
	recordPositions(root.Content[0], reflect.ValueOf(cfg).Elem())
	cfg.applyDefaults()
	return cfg, probs
}

// yamlErrLine pulls "line N" out of a yaml.v3 message.
func yamlErrLine(err error) int {
	msg := err.Error()
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	n := 0
	for _, r := range msg[i+5:] {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// trimYAMLErr drops the "yaml: line N:" prefix, since Problem prints the line itself.
func trimYAMLErr(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return msg
}

// yamlFields lists the YAML keys a struct type accepts, with the field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		out[tag] = f.Type
	}
	return out
}

// checkKeys reports keys that the config schema does not know, recursively.
func checkKeys(file string, n *yaml.Node, t reflect.Type, where string, probs *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				*probs = append(*probs, Problem{File: file, Line: k.Line,
					Message: fmt.Sprintf("unknown key %q%s; known keys: %s", k.Value, inWhere(where), strings.Join(sortedKeys(fields), ", "))})
				continue
			}
			checkKeys(file, v, ft, joinWhere(where, k.Value), probs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			checkKeys(file, item, t.Elem(), where+"[]", probs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(file, n.Content[i+1], t.Elem(), joinWhere(where, n.Content[i].Value), probs)
		}
	}
}

func inWhere(where string) string {
	if where == "" {
		return " at the top level"
	}
	return " in " + where
}

func joinWhere(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// recordPositions stores the line of every struct with an embedded Pos.
func recordPositions(n *yaml.Node, v reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		if pf := v.FieldByName("Pos"); pf.IsValid() && pf.Type() == reflect.TypeOf(Pos{}) {
			pf.Set(reflect.ValueOf(Pos{Line: n.Line, Column: n.Column}))
		}
		fields := map[string]int{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				fields[tag] = i
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if fi, ok := fields[n.Content[i].Value]; ok {
				recordPositions(n.Content[i+1], v.Field(fi))
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i := 0; i < v.Len() && i < len(n.Content); i++ {
			recordPositions(n.Content[i], v.Index(i))
		}
	}
}

// ResolvePath makes a path in the config relative to the config file's folder. URLs and
// absolute paths are returned as they are.
func (c *Config) ResolvePath(p string) string {
	if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) || strings.HasPrefix(p, "${") {
		return p
	}
	return filepath.Join(filepath.Dir(c.file), p)
}

// Marshal renders a config as YAML.
func Marshal(c *Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
