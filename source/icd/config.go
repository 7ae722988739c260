package icd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/config"
)

// Source is any of the three ICD sources, configured to stream its codes.
type Source interface {
	// Stream calls emit for each code, from one goroutine at a time.
	Stream(ctx context.Context, emit func(Code) error) error
}

// Resolved holds the config values only the caller can settle: the WHO credentials resolved
// through the secret providers (the config holds ${secret:...} references) and, for cms-file,
// the order file's path made relative to the config file (config.ResolvePath).
type Resolved struct {
	ClientID     string
	ClientSecret string
	Root         string // overrides the config's root when set
}

// FromConfig returns the Source that sources.apis.icd describes:
//
//	kind who      (default) walks the WHO ICD-API from root (default the ICD-10 2019 release)
//	kind nlm      searches NLM Clinical Tables ICD-10-CM for root as terms
//	kind cms-file reads the CMS ICD-10-CM order file at root
func FromConfig(a *config.API, r Resolved) (Source, error) {
	if !a.IsEnabled() {
		return nil, fmt.Errorf("sources.apis.icd is not enabled")
	}
	var timeout time.Duration
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil {
			return nil, fmt.Errorf("sources.apis.icd.timeout %q: %w", a.Timeout, err)
		}
		timeout = d
	}
	root := a.Root
	if r.Root != "" {
		root = r.Root
	}
	switch a.Kind {
	case "", "who":
		w, err := NewWHO(WHOOptions{BaseURL: a.BaseURL, TokenURL: a.TokenURL, ClientID: r.ClientID, ClientSecret: r.ClientSecret,
			Language: a.Language, Workers: a.Workers, RatePerSec: a.RatePerSec, Timeout: timeout, MaxAttempts: a.MaxAttempts})
		if err != nil {
			return nil, fmt.Errorf("sources.apis.icd: %w", err)
		}
		return whoSource{w, root}, nil
	case "nlm":
		if strings.TrimSpace(root) == "" {
			return nil, fmt.Errorf("sources.apis.icd: kind nlm needs root: the search terms (e.g. E11 or diabetes)")
		}
		n, err := NewNLM(NLMOptions{BaseURL: a.BaseURL, RatePerSec: a.RatePerSec, Timeout: timeout, MaxAttempts: a.MaxAttempts})
		if err != nil {
			return nil, fmt.Errorf("sources.apis.icd: %w", err)
		}
		return nlmSource{n, root}, nil
	case "cms-file":
		if root == "" {
			return nil, fmt.Errorf("sources.apis.icd: kind cms-file needs root: the order file's path")
		}
		return fileSource{strings.TrimPrefix(root, "file://"), a.Release}, nil
	}
	return nil, fmt.Errorf("sources.apis.icd.kind %q: want who, nlm or cms-file", a.Kind)
}

type whoSource struct {
	w    *WHO
	root string
}

func (s whoSource) Stream(ctx context.Context, emit func(Code) error) error {
	_, err := s.w.Walk(ctx, s.root, emit)
	return err
}

type nlmSource struct {
	n     *NLM
	terms string
}

func (s nlmSource) Stream(ctx context.Context, emit func(Code) error) error {
	_, err := s.n.Search(ctx, s.terms, 0, emit)
	return err
}

type fileSource struct{ path, release string }

// Stream reads the order file; an unreadable line is an error naming file and line (the CMS
// file is clean, so a bad line means a wrong or damaged file).
func (s fileSource) Stream(ctx context.Context, emit func(Code) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("ICD-10-CM order file: %w", err)
	}
	defer f.Close()
	_, err = ReadOrderFile(ctx, s.path, f, OrderOptions{Release: s.release}, emit)
	return err
}
