// Package faulty makes HTTP transports that fail in the ways that matter for
// correctness tests: a request the server applied whose response never arrives.
package faulty

import (
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
)

// LostResponse forwards requests to the real transport. For the first Times requests
// that Match accepts, it lets the server apply the request but reports a connection reset
// to the client, as when a response is lost on the way back.
type LostResponse struct {
	Match func(*http.Request) bool
	Times int32
	lost  atomic.Int32
}

// Lost is how many responses were dropped.
func (l *LostResponse) Lost() int { return int(l.lost.Load()) }

// RoundTrip implements http.RoundTripper.
func (l *LostResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !l.Match(req) {
		return resp, err
	}
	if l.lost.Add(1) > l.Times {
		return resp, nil
	}
	resp.Body.Close()
	return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
}

// Client is an http.Client over l.
func (l *LostResponse) Client() *http.Client { return &http.Client{Transport: l} }
