// Package secrets resolves the references that stand in for credentials in the config:
// ${secret:NAME}, ${env:NAME} and ${file:/path}. No credential is ever written in the config
// itself; it is looked up when a run needs it, and every value looked up is remembered so
// that logs, errors and audit rows can be redacted.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// ErrNotFound is returned (wrapped) when no provider has a secret.
var ErrNotFound = errors.New("secret not found")

// Provider looks up named secrets (${secret:NAME}).
type Provider interface {
	// Name identifies the provider in messages, e.g. "env" or "azure-keyvault".
	Name() string
	// Lookup returns the secret's value, or an error wrapping ErrNotFound.
	Lookup(ctx context.Context, name string) (string, error)
}

var refRe = regexp.MustCompile(`\$\{(secret|env|file):([^}]+)\}`)

// Resolver expands references through a chain of providers, first hit wins.
type Resolver struct {
	providers []Provider
	mu        sync.Mutex
	seen      map[string]bool // every value handed out, for redaction
}

// NewResolver returns a resolver that asks the providers in order.
func NewResolver(providers ...Provider) *Resolver {
	return &Resolver{providers: providers, seen: map[string]bool{}}
}

// SetProviders replaces the providers asked for ${secret:...}, keeping every value already
// handed out for redaction. The CLI builds its resolver before it has read the config, and
// switches to the config's providers (secrets.providers) once it has.
func (r *Resolver) SetProviders(providers ...Provider) {
	r.mu.Lock()
	r.providers = providers
	r.mu.Unlock()
}

// ProviderNames lists the providers in the order they are asked, for messages.
func (r *Resolver) ProviderNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.providers))
	for i, p := range r.providers {
		out[i] = p.Name()
	}
	return out
}

// Resolve expands every reference in s. A reference that cannot be resolved is an error that
// names the reference and the providers asked, never a value.
func (r *Resolver) Resolve(ctx context.Context, s string) (string, error) {
	var firstErr error
	out := refRe.ReplaceAllStringFunc(s, func(ref string) string {
		m := refRe.FindStringSubmatch(ref)
		kind, name := m[1], strings.TrimSpace(m[2])
		v, err := r.lookup(ctx, kind, name)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return ref
		}
		r.remember(v)
		return v
	})
	return out, firstErr
}

func (r *Resolver) lookup(ctx context.Context, kind, name string) (string, error) {
	switch kind {
	case "env":
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("${env:%s}: environment variable is not set: %w", name, ErrNotFound)
		}
		return v, nil
	case "file":
		data, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("${file:%s}: %w", name, ErrNotFound)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	var asked []string
	r.mu.Lock()
	providers := r.providers
	r.mu.Unlock()
	for _, p := range providers {
		v, err := p.Lookup(ctx, name)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return "", fmt.Errorf("${secret:%s} from %s: %w", name, p.Name(), err)
		}
		asked = append(asked, p.Name())
	}
	return "", fmt.Errorf("${secret:%s}: not found in %s: %w", name, strings.Join(asked, ", "), ErrNotFound)
}

func (r *Resolver) remember(v string) {
	if len(v) < 4 { // too short to redact without mangling ordinary text
		return
	}
	r.mu.Lock()
	r.seen[v] = true
	// The forms a value takes inside URLs and DSNs that errors quote, too.
	for _, e := range []string{url.QueryEscape(v), url.PathEscape(v), url.UserPassword("u", v).String()[2:]} {
		if e != v && e != "" {
			r.seen[e] = true
		}
	}
	r.mu.Unlock()
}

// Redact replaces every secret value this resolver handed out with "[REDACTED]".
func (r *Resolver) Redact(s string) string {
	r.mu.Lock()
	vals := make([]string, 0, len(r.seen))
	for v := range r.seen {
		vals = append(vals, v)
	}
	r.mu.Unlock()
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	return s
}

// Env is the provider that maps ${secret:emr-hospital-a-dsn} to the environment variable
// RCMLAKE_SECRET_EMR_HOSPITAL_A_DSN.
type Env struct{}

// Name implements Provider.
func (Env) Name() string { return "env" }

// EnvName is the environment variable that holds a named secret.
func EnvName(name string) string {
	up := strings.ToUpper(name)
	up = strings.Map(func(r rune) rune {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, up)
	return "RCMLAKE_SECRET_" + up
}

// Lookup implements Provider.
func (Env) Lookup(_ context.Context, name string) (string, error) {
	if v, ok := os.LookupEnv(EnvName(name)); ok {
		return v, nil
	}
	return "", fmt.Errorf("%s is not set: %w", EnvName(name), ErrNotFound)
}

// Dir is the provider for mounted secret files (Kubernetes and Docker secrets): the secret
// NAME is the file Dir/NAME.
type Dir string

// Name implements Provider.
func (d Dir) Name() string { return "files in " + string(d) }

// Lookup implements Provider.
func (d Dir) Lookup(_ context.Context, name string) (string, error) {
	if strings.ContainsAny(name, `/\`) || name == ".." || name == "." {
		return "", fmt.Errorf("secret name %q may not contain a path: %w", name, ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(string(d), name))
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(string(d), name), ErrNotFound)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// Remember adds a secret that did not come through Resolve (a key read from the lake) to
// the values this resolver redacts.
func (r *Resolver) Remember(v string) { r.remember(v) }
