// Package open picks the lake backend from a location URL, so that callers (the config,
// the CLI) name a lake by one string: a plain path or file://…, abfss://…, az://… or
// s3://…. It is the only package that knows every backend; the backends stay independent.
package open

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/azure"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lake/s3"
)

// Options tune remote backends. The zero value is right for production: credentials
// come from the environment or the cloud's default chain.
type Options struct {
	// Endpoint overrides the service endpoint: Azurite
	// (http://127.0.0.1:10000/devstoreaccount1), moto or MinIO (http://127.0.0.1:9000).
	Endpoint string
	// Create makes a missing container or bucket (new lakes, emulators).
	Create bool

	// Azure credentials, typically secret references the config resolved. Empty: the
	// AZURE_STORAGE_* variables, then DefaultAzureCredential.
	Azure azure.Credentials
	// AzureAccount names the account for az://container/… URLs (else AZURE_STORAGE_ACCOUNT).
	AzureAccount string

	// S3 credentials. Empty: the AWS default chain (AWS_ACCESS_KEY_ID, profiles, roles).
	S3 s3.Credentials
	// S3Region of the bucket (else AWS_REGION, else us-east-1).
	S3Region string
	// S3PathStyle forces path-style addressing (implied by Endpoint).
	S3PathStyle bool
}

// Open returns the storage for a lake location:
//
//	/data/lake, ./lake, file:///data/lake            local disk
//	abfss://container@account.dfs.core.windows.net/p  Azure ADLS Gen2 / Blob
//	az://container/p, azure://…, abfs://…, wasbs://…  Azure Blob
//	s3://bucket/p, s3a://bucket/p                     S3 or S3-compatible
//
// Remote backends check at open that the container or bucket can be reached with the
// credentials, so a wrong key fails here with a clear message, not mid-pipeline.
func Open(ctx context.Context, location string, opts Options) (lake.Storage, error) {
	scheme, _, hasScheme := strings.Cut(location, "://")
	if !hasScheme || isWindowsDrive(location) {
		return file.New(location)
	}
	switch strings.ToLower(scheme) {
	case "file":
		return file.FromURL(location)
	case "abfss", "abfs", "az", "azure", "wasbs", "wasb":
		cfg, err := azure.ParseURL(location)
		if err != nil {
			return nil, err
		}
		if cfg.Account == "" {
			cfg.Account = opts.AzureAccount
		}
		cfg.Endpoint = opts.Endpoint
		cfg.Credentials = opts.Azure
		cfg.CreateContainer = opts.Create
		return azure.New(ctx, cfg)
	case "s3", "s3a":
		cfg, err := s3.ParseURL(location)
		if err != nil {
			return nil, err
		}
		cfg.Endpoint = opts.Endpoint
		cfg.Region = opts.S3Region
		cfg.PathStyle = opts.S3PathStyle
		cfg.Credentials = opts.S3
		cfg.CreateBucket = opts.Create
		return s3.New(ctx, cfg)
	case "http", "https":
		return nil, fmt.Errorf("lake location %q: use abfss://container@account.dfs.core.windows.net/… or s3://bucket/… and pass the http(s) endpoint as the endpoint override", location)
	}
	return nil, fmt.Errorf("lake location %q: unknown scheme %q (want a path, file://, abfss://, az:// or s3://)", location, scheme)
}

func isWindowsDrive(p string) bool {
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}
