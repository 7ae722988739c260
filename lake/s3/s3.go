// Package s3 is the lake backend for Amazon S3 and S3-compatible stores (MinIO, moto),
// with the AWS SDK for Go v2.
//
// Commits rely on S3's conditional writes: PutIfAbsent sends If-None-Match: * and S3
// refuses the write with 412 Precondition Failed when the key exists.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/rcmlake/rcmlake/lake"
)

const (
	defaultPartSize    = 8 << 20
	minPartSize        = 5 << 20 // S3's minimum for every part but the last
	maxParts           = 10000
	defaultConcurrency = 4
)

// Storage is a lake.Storage over one bucket (and optional folder).
type Storage struct {
	client      *awss3.Client
	bucket      string
	prefix      string // "" or "folder/"
	url         string
	partSize    int64
	concurrency int
	pageSize    int32
}

// Open parses an s3:// URL, applies creds (which may be empty: the SDK's default chain
// is used) and the endpoint override, and connects.
func Open(ctx context.Context, rawURL string, creds Credentials, endpoint string) (*Storage, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.Credentials = creds
	cfg.Endpoint = endpoint
	return New(ctx, cfg)
}

// New connects to the bucket that cfg names and checks that it can be reached.
func New(ctx context.Context, cfg Config) (*Storage, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3 lake: no bucket given")
	}
	s := &Storage{
		bucket:      cfg.Bucket,
		partSize:    cfg.PartSize,
		concurrency: cfg.Concurrency,
		pageSize:    cfg.listPageSize,
		url:         "s3://" + cfg.Bucket,
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		s.prefix = p + "/"
		s.url += "/" + p
	}
	if s.partSize <= 0 {
		s.partSize = defaultPartSize
	}
	if s.partSize < minPartSize {
		return nil, fmt.Errorf("s3 lake %s: part size %d is below S3's minimum of 5 MiB", s.url, s.partSize)
	}
	if s.concurrency <= 0 {
		s.concurrency = defaultConcurrency
	}

	var loadOpts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(cfg.Region))
	}
	creds := cfg.Credentials
	switch {
	case creds.AccessKeyID != "":
		if creds.SecretAccessKey == "" {
			return nil, fmt.Errorf("s3 lake %s: an access key ID needs its secret access key", s.url)
		}
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)))
	case creds.Profile != "":
		loadOpts = append(loadOpts, awsconfig.WithSharedConfigProfile(creds.Profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3 lake %s: loading the AWS configuration (%s): %w", s.url, creds.kind(), err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return nil, fmt.Errorf("s3 lake %s: endpoint must be a plain http(s)://host[:port] URL", s.url)
		}
	}
	s.client = awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = cfg.PathStyle || endpoint != ""
		if cfg.httpClient != nil {
			o.HTTPClient = cfg.httpClient
		}
		// The SDK prints debug notes (e.g. "Response has no supported checksum") straight
		// to stderr; keep its warnings, through slog, and drop the notes.
		o.Logger = logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			if c == logging.Warn {
				slog.Warn("s3: " + fmt.Sprintf(format, v...))
			}
		})
	})
	if err := s.checkBucket(ctx, cfg.CreateBucket, awsCfg.Region, creds.kind()); err != nil {
		return nil, err
	}
	return s, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// checkBucket fails early, with a clear message, when the bucket is missing or the
// credentials do not work; with create it makes a missing bucket.
func (s *Storage) checkBucket(ctx context.Context, create bool, region, kind string) error {
	probe := func() error {
		_, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
			Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix), MaxKeys: aws.Int32(1),
		})
		return err
	}
	err := probe()
	if create && hasCode(err, "NoSuchBucket") {
		in := &awss3.CreateBucketInput{Bucket: aws.String(s.bucket)}
		if region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
		}
		_, err = s.client.CreateBucket(ctx, in)
		if hasCode(err, "BucketAlreadyOwnedByYou", "BucketAlreadyExists") {
			err = nil
		}
		if err == nil {
			err = probe()
		}
	}
	if err != nil {
		return fmt.Errorf("s3 lake %s (authenticating with %s, region %s): %w", s.url, kind, region, describe(err))
	}
	return nil
}

// URL implements lake.Storage.
func (s *Storage) URL() string { return s.url }

func (s *Storage) objectKey(key string) (string, error) {
	if err := lake.CheckKey(key); err != nil {
		return "", fmt.Errorf("s3 lake %s: %w", s.url, err)
	}
	return s.prefix + key, nil
}

// Get implements lake.Storage.
func (s *Storage) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := s.objectKey(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return out.Body, nil
}

// Put implements lake.Storage. An object smaller than one part goes up in one PutObject;
// a larger one as a multipart upload, which S3 shows only when it is completed (a failed
// upload is aborted), so a reader never sees a partial object.
func (s *Storage) Put(ctx context.Context, key string, r io.Reader) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	first := make([]byte, s.partSize)
	n, err := io.ReadFull(r, first)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		_, err = s.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k),
			Body: bytes.NewReader(first[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return s.wrap("put", key, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("s3 lake %s: put %s: reading the source: %w", s.url, key, err)
	}
	return s.putMultipart(ctx, key, k, first, r)
}

func (s *Storage) putMultipart(ctx context.Context, key, k string, first []byte, r io.Reader) error {
	created, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return s.wrap("put", key, err)
	}
	uploadID := created.UploadId
	abort := func(cause error) error {
		// Abort even if ctx was cancelled, so the parts do not linger (and cost) until a
		// lifecycle rule removes them.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: uploadID})
		return cause
	}

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		parts    []types.CompletedPart
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, s.concurrency)
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return firstErr != nil }

	upload := func(num int32, data []byte) bool {
		sem <- struct{}{}
		if failed() {
			<-sem
			return false
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := s.client.UploadPart(uctx, &awss3.UploadPartInput{
				Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: uploadID,
				PartNumber: aws.Int32(num), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
			})
			if err != nil {
				fail(s.wrap(fmt.Sprintf("put (part %d)", num), key, err))
				return
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{
				PartNumber: aws.Int32(num), ETag: out.ETag,
				ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C, ChecksumCRC64NVME: out.ChecksumCRC64NVME,
				ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256,
			})
			mu.Unlock()
		}()
		return true
	}

	// Each round uploads the part in hand and reads the next; a short read is the last part.
	buf := first
	for num := int32(1); ; num++ {
		if num > maxParts {
			fail(fmt.Errorf("s3 lake %s: put %s: the object needs more than %d parts of %d bytes; raise the part size", s.url, key, maxParts, s.partSize))
			break
		}
		if !upload(num, buf) {
			break
		}
		next := make([]byte, s.partSize)
		n, err := io.ReadFull(r, next)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			fail(fmt.Errorf("s3 lake %s: put %s: reading the source: %w", s.url, key, err))
			break
		}
		buf = next[:n]
	}
	wg.Wait()
	if firstErr != nil {
		return abort(firstErr)
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(k), UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(s.wrap("put (complete)", key, err))
	}
	return nil
}

// PutIfAbsent implements lake.Storage with PutObject and If-None-Match: *.
//
// It retries transient failures itself, with the SDK's retries off: if an attempt whose
// outcome is unknown (a timeout, a 5xx) did land, the retry sees 412, and only then is the
// stored object compared with data — equal bytes mean the write was ours. S3's 409
// ConditionalRequestConflict (a concurrent conditional write in flight) is retried too.
func (s *Storage) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	ambiguous := false
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err = s.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(k),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
			IfNoneMatch: aws.String("*"),
		}, func(o *awss3.Options) { o.Retryer = aws.NopRetryer{} })
		if err == nil {
			return nil
		}
		if statusOf(err) == http.StatusPreconditionFailed || hasCode(err, "PreconditionFailed") {
			if ambiguous {
				if got, gerr := lake.ReadAll(ctx, s, key); gerr == nil && bytes.Equal(got, data) {
					return nil
				}
			}
			return fmt.Errorf("s3 lake %s: %s: %w", s.url, key, lake.ErrExists)
		}
		conflict := statusOf(err) == http.StatusConflict || hasCode(err, "ConditionalRequestConflict")
		transient := isTransient(err)
		if (!conflict && !transient) || attempt == 5 || ctx.Err() != nil {
			return s.wrap("put-if-absent", key, err)
		}
		if transient {
			ambiguous = true
		}
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
	k, err := s.objectKey(key)
	if err != nil {
		return lake.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		return lake.ObjectInfo{}, s.wrap("stat", key, err)
	}
	info := lake.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength)}
	if out.LastModified != nil {
		info.ModTime = *out.LastModified
	}
	return info, nil
}

// List implements lake.Storage.
func (s *Storage) List(ctx context.Context, prefix string) ([]lake.ObjectInfo, error) {
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)}
	if s.pageSize > 0 {
		in.MaxKeys = aws.Int32(s.pageSize)
	}
	var out []lake.ObjectInfo
	pager := awss3.NewListObjectsV2Paginator(s.client, in)
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 lake %s: list %q: %w", s.url, prefix, describe(err))
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || strings.HasSuffix(key, "/") {
				continue // a console-made "folder" marker is not an object
			}
			info := lake.ObjectInfo{Key: key, Size: aws.ToInt64(o.Size)}
			if o.LastModified != nil {
				info.ModTime = *o.LastModified
			}
			out = append(out, info)
		}
	}
	// S3 lists in UTF-8 byte order; sort anyway so no S3-compatible store can break it.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements lake.Storage.
func (s *Storage) Delete(ctx context.Context, key string) error {
	k, err := s.objectKey(key)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil && !isNotFound(err) {
		return s.wrap("delete", key, err)
	}
	return nil
}

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func hasCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	if hasCode(err, "NoSuchBucket") {
		return false
	}
	return hasCode(err, "NoSuchKey", "NotFound") || statusOf(err) == http.StatusNotFound
}

// wrap names the storage, operation and key, and maps a missing object to lake.ErrNotExist.
func (s *Storage) wrap(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3 lake %s: %s: %w", s.url, key, lake.ErrNotExist)
	}
	return fmt.Errorf("s3 lake %s: %s %s: %w", s.url, op, key, describe(err))
}

// serviceError keeps the SDK error for errors.As but prints a short line with a hint.
type serviceError struct {
	msg string
	err error
}

func (e *serviceError) Error() string { return e.msg }
func (e *serviceError) Unwrap() error { return e.err }

func describe(err error) error {
	st := statusOf(err)
	var ae smithy.APIError
	if st == 0 || !errors.As(err, &ae) {
		return err
	}
	msg := fmt.Sprintf("HTTP %d %s", st, ae.ErrorCode())
	if m := ae.ErrorMessage(); m != "" {
		msg += ": " + m
	}
	switch {
	case st == http.StatusForbidden || hasCode(err, "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
		msg += " (check the credentials and the bucket policy)"
	case st == http.StatusMovedPermanently || hasCode(err, "PermanentRedirect", "AuthorizationHeaderMalformed"):
		msg += " (the bucket is in another region: set the region or AWS_REGION)"
	case hasCode(err, "NoSuchBucket"):
		msg += " (create the bucket, or fix the bucket name in the lake URL)"
	}
	return &serviceError{msg: msg, err: err}
}

var _ lake.Storage = (*Storage)(nil)
