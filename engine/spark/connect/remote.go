// Package connect is a small Spark Connect client: the few RPCs rcmlake needs (ExecutePlan
// with a SQL relation or command, Config, ReleaseSession), hand-encoded with protowire over
// gRPC, results decoded from Arrow IPC. It follows the protocol's published message
// definitions (spark/connect/base.proto, relations.proto, commands.proto); only the fields
// used here are encoded or read.
package connect

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is Spark Connect's default gRPC port.
const DefaultPort = 15002

// Remote is a parsed Spark Connect connection string:
//
//	sc://host[:port]/;token=...;x-databricks-cluster-id=...;use_ssl=true;user_id=...
//
// token is sent as "authorization: Bearer <token>" and turns TLS on unless use_ssl=false says
// otherwise; user_id and user_agent go in the user context; session_id pins the session.
// Every other parameter is sent as a gRPC metadata header of that name.
type Remote struct {
	Host      string
	Port      int
	Token     string
	UseSSL    bool
	UserID    string
	UserAgent string
	SessionID string
	Headers   map[string]string
}

// ParseRemote parses a connection string. Errors never quote the token.
func ParseRemote(s string) (*Remote, error) {
	if !strings.HasPrefix(s, "sc://") {
		return nil, fmt.Errorf("spark connect: %q is not a connection string: want sc://host:port", redact(s))
	}
	rest := strings.TrimPrefix(s, "sc://")
	hostport, params, _ := strings.Cut(rest, "/")
	if h, more, ok := strings.Cut(hostport, ";"); ok { // parameters without the slash
		hostport, params = h, more+";"+params
	}
	r := &Remote{Port: DefaultPort, Headers: map[string]string{}}
	if hostport == "" {
		return nil, fmt.Errorf("spark connect: %q has no host", redact(s))
	}
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("spark connect: %q: bad port %q", redact(s), redact(p))
		}
		r.Host, r.Port = h, n
	} else if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
		return nil, fmt.Errorf("spark connect: %q: bad host:port", redact(s))
	} else {
		r.Host = strings.Trim(hostport, "[]")
	}
	sslSet := false
	for _, kv := range strings.Split(params, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("spark connect: parameter %q: want key=value", redactParam(kv))
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		switch strings.ToLower(k) {
		case "token":
			r.Token = v
		case "use_ssl":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("spark connect: use_ssl=%q: want true or false", v)
			}
			r.UseSSL, sslSet = b, true
		case "user_id":
			r.UserID = v
		case "user_agent":
			r.UserAgent = v
		case "session_id":
			r.SessionID = v
		default:
			r.Headers[strings.ToLower(k)] = v
		}
	}
	if r.Token != "" && !sslSet {
		r.UseSSL = true // a bearer token never travels in clear unless asked
	}
	return r, nil
}

// Address is host:port for dialing.
func (r *Remote) Address() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// String is the connection string with the token masked: safe for logs and errors.
func (r *Remote) String() string {
	s := "sc://" + r.Address() + "/"
	if r.Token != "" {
		s += ";token=***"
	}
	if r.UseSSL {
		s += ";use_ssl=true"
	}
	if r.UserID != "" {
		s += ";user_id=" + r.UserID
	}
	for k, v := range r.Headers {
		s += ";" + k + "=" + v
	}
	return s
}

// Metadata is the gRPC headers every call carries: the bearer token and the extra
// parameters (x-databricks-cluster-id, ...).
func (r *Remote) Metadata() map[string]string {
	md := map[string]string{}
	for k, v := range r.Headers {
		md[k] = v
	}
	if r.Token != "" {
		md["authorization"] = "Bearer " + r.Token
	}
	return md
}

// redact masks a token parameter in a raw connection string.
func redact(s string) string {
	parts := strings.Split(s, ";")
	for i, p := range parts {
		parts[i] = redactParam(p)
	}
	return strings.Join(parts, ";")
}

func redactParam(p string) string {
	if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "token") {
		return k + "=***"
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), "token") {
		return "token***"
	}
	return p
}
