package npi

import (
	"fmt"
	"time"

	"github.com/rcmlake/rcmlake/config"
)

// NewFromConfig returns a Client for the config's sources.apis.npi. The registry needs no
// credentials. A nil or disabled entry is an error: check IsEnabled first.
func NewFromConfig(a *config.API) (*Client, error) {
	if !a.IsEnabled() {
		return nil, fmt.Errorf("sources.apis.npi is not enabled")
	}
	o := Options{BaseURL: a.BaseURL, Workers: a.Workers, RatePerSec: a.RatePerSec, MaxAttempts: a.MaxAttempts}
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil {
			return nil, fmt.Errorf("sources.apis.npi.timeout %q: %w", a.Timeout, err)
		}
		o.Timeout = d
	}
	c, err := New(o)
	if err != nil {
		return nil, fmt.Errorf("sources.apis.npi: %w", err)
	}
	return c, nil
}
