package s3

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Config says where a lake lives in S3 (or an S3-compatible store) and how to authenticate.
type Config struct {
	Bucket string
	Prefix string // folder inside the bucket that is the lake root; may be empty

	// Region of the bucket. Empty: AWS_REGION / the shared config, else us-east-1.
	Region string
	// Endpoint overrides the S3 endpoint, e.g. http://127.0.0.1:5000 for moto or a MinIO
	// server. AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL are honoured too. A custom endpoint
	// implies path-style addressing.
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket/key rather than bucket.endpoint/key.
	PathStyle bool

	Credentials Credentials

	// CreateBucket creates the bucket when it does not exist (for emulators and new lakes).
	CreateBucket bool

	// PartSize is the size of the parts of a multipart upload (default 8 MiB, minimum
	// 5 MiB); an object smaller than one part is written with a single PutObject.
	// Concurrency is how many parts go up at once (default 4). A Put buffers
	// PartSize*(Concurrency+1) bytes.
	PartSize    int64
	Concurrency int

	listPageSize int32        // tests bound listing pages to exercise paging
	httpClient   *http.Client // tests inject faults with it
}

// Credentials authenticate to S3. With AccessKeyID set they are used as static keys;
// else Profile selects a shared-config profile; else the SDK's default chain runs
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, shared files, SSO, web
// identity, container and instance roles). Values come from the environment or from
// secret references the caller resolved, never from a literal in a config file. String
// and LogValue redact them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Profile         string
}

func (c Credentials) kind() string {
	switch {
	case c.AccessKeyID != "":
		return "static access key"
	case c.Profile != "":
		return "profile " + c.Profile
	}
	return "default AWS credential chain"
}

// String redacts the credentials, so they never reach a log or an error by accident.
func (c Credentials) String() string { return "s3 credentials (" + c.kind() + ", redacted)" }

// GoString redacts the credentials for %#v too.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts the credentials for log/slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ParseURL reads s3://bucket/prefix (s3a:// as Spark spells it is accepted too).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("s3 lake url %q: %w", raw, err)
	}
	if u.Scheme != "s3" && u.Scheme != "s3a" {
		return Config{}, fmt.Errorf("s3 lake url %q: scheme is not s3 or s3a", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		return Config{}, fmt.Errorf("s3 lake url %q: credentials, queries and fragments are not allowed in the URL; want s3://bucket/prefix", u.String())
	}
	if u.Host == "" {
		return Config{}, fmt.Errorf("s3 lake url %q: no bucket; want s3://bucket/prefix", raw)
	}
	return Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
}
