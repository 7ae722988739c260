// Package azure is the lake backend for Azure Blob Storage and ADLS Gen2, through the
// Blob API (which ADLS Gen2 accounts also serve), so one code path works for both and for
// the Azurite emulator.
//
// Commits rely on conditional writes: PutIfAbsent sends If-None-Match: * and the service
// refuses the write if the blob exists (409 BlobAlreadyExists, or 412 ConditionNotMet).
package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/rcmlake/rcmlake/lake"
)

const (
	defaultBlockSize   = 8 << 20
	defaultConcurrency = 4
)

// Storage is a lake.Storage over one container (and optional folder) of a storage account.
type Storage struct {
	client      *container.Client
	prefix      string // "" or "folder/" — prepended to every key
	url         string // for messages; no credentials
	blockSize   int64
	concurrency int
	pageSize    int32
}

// Open parses a lake URL (see ParseURL), applies creds (which may be empty: the
// environment and then DefaultAzureCredential are tried) and the endpoint override, and
// connects.
func Open(ctx context.Context, rawURL string, creds Credentials, endpoint string) (*Storage, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.Credentials = creds
	cfg.Endpoint = endpoint
	return New(ctx, cfg)
}

// New connects to the container that cfg names and checks that it can be reached. Empty
// fields are filled from the environment first (Config.FromEnv).
func New(ctx context.Context, cfg Config) (*Storage, error) {
	cfg.FromEnv()
	if cfg.Container == "" {
		return nil, errors.New("azure lake: no container given")
	}
	creds := cfg.Credentials
	kind := creds.kind()
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	if creds.ConnectionString != "" {
		cs, err := parseConnectionString(creds.ConnectionString)
		if err != nil {
			return nil, fmt.Errorf("azure lake container %q: %w", cfg.Container, err)
		}
		if cfg.Account == "" {
			cfg.Account = cs.account
		}
		if endpoint == "" {
			endpoint = cs.blobEndpoint
		}
		creds = Credentials{AccountKey: cs.key, SASToken: cs.sas}
	}
	if cfg.EndpointSuffix == "" {
		cfg.EndpointSuffix = DefaultEndpointSuffix
	}
	if endpoint == "" {
		if cfg.Account == "" {
			return nil, fmt.Errorf("azure lake container %q: no storage account: use abfss://%s@<account>.dfs.core.windows.net/…, set %s, or pass an endpoint", cfg.Container, cfg.Container, EnvAccount)
		}
		endpoint = "https://" + cfg.Account + ".blob." + cfg.EndpointSuffix
	}
	if u, err := url.Parse(endpoint); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("azure lake: endpoint %q is not an http(s) URL", endpoint)
	} else if u.RawQuery != "" {
		return nil, fmt.Errorf("azure lake: endpoint %s must not carry a query; pass a SAS token as a credential", u.Scheme+"://"+u.Host+u.Path)
	}
	containerURL := endpoint + "/" + url.PathEscape(cfg.Container)

	s := &Storage{
		blockSize:   cfg.BlockSize,
		concurrency: cfg.Concurrency,
		pageSize:    cfg.listPageSize,
	}
	if s.blockSize <= 0 {
		s.blockSize = defaultBlockSize
	}
	if s.concurrency <= 0 {
		s.concurrency = defaultConcurrency
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	s.url = displayURL(cfg, endpoint)

	var opts *container.ClientOptions
	if cfg.httpClient != nil {
		opts = &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: cfg.httpClient}}
	}
	var err error
	switch {
	case creds.AccountKey != "":
		if cfg.Account == "" {
			return nil, fmt.Errorf("azure lake %s: a shared key needs the account name", s.url)
		}
		var cred *azblob.SharedKeyCredential
		cred, err = azblob.NewSharedKeyCredential(cfg.Account, creds.AccountKey)
		if err == nil {
			s.client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		}
	case creds.SASToken != "":
		s.client, err = container.NewClientWithNoCredential(containerURL+"?"+strings.TrimPrefix(creds.SASToken, "?"), opts)
	case creds.Token != nil:
		s.client, err = container.NewClient(containerURL, creds.Token, opts)
	default:
		var cred *azidentity.DefaultAzureCredential
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err == nil {
			s.client, err = container.NewClient(containerURL, cred, opts)
		}
	}
	if err != nil {
		// Constructor errors could quote a malformed key; say only which kind failed.
		return nil, fmt.Errorf("azure lake %s: cannot set up the %s: %s", s.url, kind, safeMessage(err))
	}
	if err := s.checkContainer(ctx, cfg.CreateContainer, kind); err != nil {
		return nil, err
	}
	return s, nil
}

// checkContainer fails early, with a clear message, when the container is missing or the
// credentials do not work; with create it makes a missing container.
func (s *Storage) checkContainer(ctx context.Context, create bool, kind string) error {
	// Listing one blob needs only the list permission that a read-only SAS also grants.
	pager := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: to.Ptr[int32](1), Prefix: to.Ptr(s.prefix)})
	_, err := pager.NextPage(ctx)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) && create {
		_, err = s.client.Create(ctx, nil)
		if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("azure lake %s (authenticating with %s): %w", s.url, kind, describe(err))
	}
	return nil
}

// displayURL is the storage root for messages and for engines: abfss://… for the real
// service, the endpoint URL for an emulator. It never holds credentials.
func displayURL(cfg Config, endpoint string) string {
	root := cfg.Container
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		root += "/" + p
	}
	if cfg.Account != "" && endpoint == "https://"+cfg.Account+".blob."+cfg.EndpointSuffix {
		c, p, _ := strings.Cut(root, "/")
		return "abfss://" + c + "@" + cfg.Account + ".dfs." + cfg.EndpointSuffix + "/" + p
	}
	return endpoint + "/" + root
}

// URL implements lake.Storage.
func (s *Storage) URL() string { return s.url }

func (s *Storage) name(key string) (string, error) {
	if err := lake.CheckKey(key); err != nil {
		return "", fmt.Errorf("azure lake %s: %w", s.url, err)
	}
	return s.prefix + key, nil
}

// Get implements lake.Storage. The body retries broken connections from where it stopped,
// pinned to the blob's ETag so a replaced blob is not spliced in.
func (s *Storage) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3}), nil
}

// Put implements lake.Storage. An object smaller than one block goes up in a single Put
// Blob; a larger one is streamed as staged blocks and appears only when the block list
// is committed, so a failed Put never leaves a partial object.
func (s *Storage) Put(ctx context.Context, key string, r io.Reader) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	first := make([]byte, s.blockSize)
	n, err := io.ReadFull(r, first)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		_, err = s.client.NewBlockBlobClient(name).Upload(ctx, streaming.NopCloser(bytes.NewReader(first[:n])), nil)
	case err != nil:
		return fmt.Errorf("azure lake %s: put %s: reading the source: %w", s.url, key, err)
	default:
		_, err = s.client.NewBlockBlobClient(name).UploadStream(ctx, io.MultiReader(bytes.NewReader(first), r),
			&blockblob.UploadStreamOptions{BlockSize: s.blockSize, Concurrency: s.concurrency})
	}
	if err != nil {
		return s.wrap("put", key, err)
	}
	return nil
}

// PutIfAbsent implements lake.Storage with a single Put Blob carrying If-None-Match: *,
// which the service applies atomically.
//
// It retries transient failures itself, with the SDK's retries off: if an attempt whose
// outcome is unknown (a timeout, a 5xx) did land, the retry is refused as "exists", and
// only then is the stored blob compared with data — equal bytes mean the write was ours.
func (s *Storage) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	opts := &blockblob.UploadOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{
			IfNoneMatch: to.Ptr(azcore.ETagAny),
		}},
	}
	noRetry := policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
	ambiguous := false
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err = s.client.NewBlockBlobClient(name).Upload(noRetry, streaming.NopCloser(bytes.NewReader(data)), opts)
		if err == nil {
			return nil
		}
		if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) || statusOf(err) == http.StatusPreconditionFailed {
			if ambiguous {
				if got, gerr := lake.ReadAll(ctx, s, key); gerr == nil && bytes.Equal(got, data) {
					return nil
				}
			}
			return fmt.Errorf("azure lake %s: %s: %w", s.url, key, lake.ErrExists)
		}
		if !isTransient(err) || attempt == 5 || ctx.Err() != nil {
			return s.wrap("put-if-absent", key, err)
		}
		ambiguous = true
		select {
		case <-ctx.Done():
			return s.wrap("put-if-absent", key, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// isTransient reports failures after which the request may or may not have been applied.
func isTransient(err error) bool {
	switch st := statusOf(err); {
	case st >= 500, st == http.StatusRequestTimeout, st == http.StatusTooManyRequests:
		return true
	case st != 0:
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// Stat implements lake.Storage.
func (s *Storage) Stat(ctx context.Context, key string) (lake.ObjectInfo, error) {
	name, err := s.name(key)
	if err != nil {
		return lake.ObjectInfo{}, err
	}
	props, err := s.client.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return lake.ObjectInfo{}, s.wrap("stat", key, err)
	}
	if isFolder(props.Metadata) {
		return lake.ObjectInfo{}, fmt.Errorf("azure lake %s: %s is a folder: %w", s.url, key, lake.ErrNotExist)
	}
	info := lake.ObjectInfo{Key: key}
	if props.ContentLength != nil {
		info.Size = *props.ContentLength
	}
	if props.LastModified != nil {
		info.ModTime = *props.LastModified
	}
	return info, nil
}

// List implements lake.Storage with a flat listing. On ADLS Gen2 accounts the folders
// of the hierarchical namespace show up as empty blobs marked hdi_isfolder; they are
// skipped.
func (s *Storage) List(ctx context.Context, prefix string) ([]lake.ObjectInfo, error) {
	opts := &container.ListBlobsFlatOptions{
		Prefix:  to.Ptr(s.prefix + prefix),
		Include: container.ListBlobsInclude{Metadata: true},
	}
	if s.pageSize > 0 {
		opts.MaxResults = to.Ptr(s.pageSize)
	}
	var out []lake.ObjectInfo
	pager := s.client.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("azure lake %s: list %q: %w", s.url, prefix, describe(err))
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name == nil || isFolder(item.Metadata) {
				continue
			}
			key, ok := strings.CutPrefix(*item.Name, s.prefix)
			if !ok {
				continue
			}
			info := lake.ObjectInfo{Key: key}
			if p := item.Properties; p != nil {
				if p.ContentLength != nil {
					info.Size = *p.ContentLength
				}
				if p.LastModified != nil {
					info.ModTime = *p.LastModified
				}
			}
			out = append(out, info)
		}
	}
	// The service lists in UTF-8 byte order already; sort so that no page boundary or
	// emulator quirk can break the contract.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements lake.Storage.
func (s *Storage) Delete(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	_, err = s.client.NewBlobClient(name).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude)})
	if err != nil && !isNotFound(err) {
		return s.wrap("delete", key, err)
	}
	return nil
}

func isFolder(md map[string]*string) bool {
	for k, v := range md {
		if strings.EqualFold(k, "hdi_isfolder") && v != nil && strings.EqualFold(*v, "true") {
			return true
		}
	}
	return false
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func isNotFound(err error) bool {
	return bloberror.HasCode(err, bloberror.BlobNotFound) || statusOf(err) == http.StatusNotFound && !bloberror.HasCode(err, bloberror.ContainerNotFound)
}

// wrap turns an SDK error into one that names the storage and key, maps a missing blob
// to lake.ErrNotExist, and keeps the SDK error for errors.As.
func (s *Storage) wrap(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("azure lake %s: %s: %w", s.url, key, lake.ErrNotExist)
	}
	return fmt.Errorf("azure lake %s: %s %s: %w", s.url, op, key, describe(err))
}

// serviceError keeps the SDK's error for errors.As but prints one line: the SDK's own
// message spans a dozen lines of response dump.
type serviceError struct {
	msg string
	err error
}

func (e *serviceError) Error() string { return e.msg }
func (e *serviceError) Unwrap() error { return e.err }

func describe(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	msg := fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)
	switch {
	case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
		msg += " (check the credentials: account key, SAS token permissions and expiry, or the identity's Storage Blob Data role)"
	case re.ErrorCode == string(bloberror.ContainerNotFound):
		msg += " (create the container, or fix the container name in the lake URL)"
	}
	return &serviceError{msg: msg, err: err}
}

// safeMessage shortens constructor errors to their first line; they never need more and
// must not echo a connection string.
func safeMessage(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if strings.Contains(strings.ToLower(msg), "accountkey") || strings.Contains(strings.ToLower(msg), "sig=") {
		return "invalid credential (details withheld because they may contain the secret)"
	}
	return msg
}

var _ lake.Storage = (*Storage)(nil)
