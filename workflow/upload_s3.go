package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3MetaSHA256 is the object metadata (x-amz-meta-capship-sha256) holding
// the hex SHA-256 of an uploaded object, so a second upload can skip it.
const s3MetaSHA256 = "capship-sha256"

// S3Options say where S3Store uploads. Credentials come from the SDK's
// standard chain: the environment (AWS_ACCESS_KEY_ID, …), the shared
// config and credentials files, AWS_PROFILE.
type S3Options struct {
	Bucket    string
	Prefix    string // key prefix inside the bucket, without slashes at the ends
	Endpoint  string // of an S3-compatible service (R2, MinIO, …); empty for AWS
	Region    string // empty: the SDK's (AWS_REGION, the profile), else us-east-1 with an Endpoint
	PathStyle bool   // endpoint/bucket/key rather than bucket.endpoint/key
	// PublicBase is the URL devices reach the bucket's root at (a CDN in
	// front of it, a public domain); empty to derive it from the endpoint.
	PublicBase  string
	PartSize    int64 // multipart part size and threshold; default 16 MiB, at least 5 MiB
	PartsAtOnce int   // parts of one object sent at once; default 4
	Attempts    int   // tries of one request for transient errors; default 5
	// HTTPClient sends the requests; nil for the SDK's default, whose
	// connections fail a read or write that moves nothing for 30 seconds
	// (ErrStalled). One that has WithTransportOptions
	// (awshttp.BuildableClient) keeps AWS_CA_BUNDLE working.
	HTTPClient aws.HTTPClient

	stallAfter time.Duration // 0 is 30 s; tests make it short
}

// ErrWrongRegion means a bucket lives in another region than the one the
// requests were signed for.
var ErrWrongRegion = errors.New("wrong region")

// ErrNoRegion means no region was given for AWS S3, nor configured.
var ErrNoRegion = errors.New("no region")

// ErrNoCredentials means the SDK's standard chain found no credentials:
// no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, no profile, no role.
var ErrNoCredentials = errors.New("no S3 credentials found")

// ParseS3URL splits s3://BUCKET/PREFIX.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" {
		return "", "", fmt.Errorf("%w: %q is not s3://BUCKET or s3://BUCKET/PREFIX", ErrBadURL, raw)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// S3Store uploads to an S3-compatible bucket. Make one with NewS3Store.
type S3Store struct {
	opt      S3Options
	client   *s3.Client
	uploader *manager.Uploader
	public   string // base URL of the bucket's root for devices
}

// NewS3Store loads the credentials and returns a store for opt.Bucket.
func NewS3Store(ctx context.Context, opt S3Options) (*S3Store, error) {
	if opt.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	opt.Prefix = strings.Trim(opt.Prefix, "/")
	if opt.PartSize <= 0 {
		opt.PartSize = 16 << 20
	}
	opt.PartSize = max(opt.PartSize, manager.MinUploadPartSize)
	if opt.PartsAtOnce <= 0 {
		opt.PartsAtOnce = 4
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 5
	}
	load := []func(*config.LoadOptions) error{
		config.WithRetryMaxAttempts(opt.Attempts),
	}
	if opt.HTTPClient == nil {
		after := cmp.Or(opt.stallAfter, defaultStallTimeout)
		opt.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { stallDialer(tr, after) })
	}
	load = append(load, config.WithHTTPClient(opt.HTTPClient))
	if opt.Region != "" {
		load = append(load, config.WithRegion(opt.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w (check AWS_PROFILE and ~/.aws/config)", err)
	}
	if cfg.Region == "" {
		if opt.Endpoint == "" {
			return nil, fmt.Errorf("s3: %w: give the bucket's region, or set AWS_REGION", ErrNoRegion)
		}
		cfg.Region = "us-east-1" // what most S3-compatible services accept
	}
	opt.Region = cfg.Region
	public, err := s3PublicBase(opt)
	if err != nil {
		return nil, err
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("s3: %w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials", ErrNoCredentials)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("s3: %w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials (%v)", ErrNoCredentials, err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opt.Endpoint != "" {
			o.BaseEndpoint = aws.String(opt.Endpoint)
		}
		o.UsePathStyle = opt.PathStyle
		o.HTTPClient = countingDoer{o.HTTPClient}
	})
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = opt.PartSize
		u.Concurrency = opt.PartsAtOnce
	})
	return &S3Store{opt: opt, client: client, uploader: up, public: public}, nil
}

// s3PublicBase is the URL of the bucket's root: PublicBase, else the
// endpoint's path-style or virtual-hosted form, else AWS's.
func s3PublicBase(opt S3Options) (string, error) {
	if opt.PublicBase != "" {
		return strings.TrimRight(strings.TrimSpace(opt.PublicBase), "/"), nil
	}
	if opt.Endpoint == "" && opt.PathStyle {
		return fmt.Sprintf("https://s3.%s.amazonaws.com/%s", opt.Region, opt.Bucket), nil
	}
	if opt.Endpoint == "" {
		return fmt.Sprintf("https://%s.s3.%s.amazonaws.com", opt.Bucket, opt.Region), nil
	}
	u, err := url.Parse(strings.TrimRight(opt.Endpoint, "/"))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("s3: endpoint %q: %w: give its address, e.g. https://ACCOUNT.r2.cloudflarestorage.com", opt.Endpoint, ErrBadURL)
	}
	if opt.PathStyle {
		return u.String() + "/" + opt.Bucket, nil
	}
	u.Host = opt.Bucket + "." + u.Host
	return u.String(), nil
}

// Describe is s3://BUCKET/PREFIX.
func (s *S3Store) Describe() string {
	return strings.TrimSuffix("s3://"+s.opt.Bucket+"/"+s.opt.Prefix, "/")
}

// PublicURL is the public base "/" the object's key in the bucket.
func (s *S3Store) PublicURL(key string) (string, bool) {
	return s.public + "/" + joinKey(s.opt.Prefix, key), true
}

// Retryable is false: the SDK already retried transient errors (dropped
// connections, 5xx, throttling), request by request and part by part.
func (s *S3Store) Retryable(error) bool { return false }

// Stat reads the object's size and the SHA-256 its metadata holds.
func (s *S3Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.opt.Bucket, Key: aws.String(joinKey(s.opt.Prefix, key))})
	if err != nil {
		var nf *types.NotFound
		var re *awshttp.ResponseError
		if errors.As(err, &nf) || errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return ObjectInfo{}, ErrObjectMissing
		}
		// S3 answers a HEAD of a missing key 403 to credentials without
		// s3:ListBucket: let the PUT say whether they may write.
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden {
			return ObjectInfo{}, ErrObjectMissing
		}
		return ObjectInfo{}, s.explain(err)
	}
	return ObjectInfo{Size: aws.ToInt64(out.ContentLength), SHA256: strings.ToLower(out.Metadata[s3MetaSHA256])}, nil
}

// Put uploads the object, in parts when it is larger than PartSize.
func (s *S3Store) Put(ctx context.Context, o UploadObject, body io.ReadSeeker, sent func(int64)) error {
	_, err := s.uploader.Upload(context.WithValue(ctx, sentKey{}, sent), &s3.PutObjectInput{
		Bucket:        &s.opt.Bucket,
		Key:           aws.String(joinKey(s.opt.Prefix, o.Key)),
		Body:          body,
		ContentLength: aws.Int64(o.Size),
		ContentType:   aws.String("application/octet-stream"),
		// The key names the content: it never changes.
		CacheControl: aws.String("public, max-age=31536000, immutable"),
		Metadata:     map[string]string{s3MetaSHA256: o.SHA256},
	})
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// explain turns the SDK's error into one a person can act on.
func (s *S3Store) explain(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, msg := "", ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	what := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", status, code))
	if msg != "" && msg != code {
		what += ": " + msg
	}
	switch {
	case code == "SignatureDoesNotMatch":
		return fmt.Errorf("%w: the signature was refused (%s): the secret key does not belong to the access key; check AWS_SECRET_ACCESS_KEY or the profile's credentials", ErrAccessDenied, what)
	case code == "InvalidAccessKeyId":
		return fmt.Errorf("%w: the access key is unknown there (%s): check AWS_ACCESS_KEY_ID or the profile, and the endpoint", ErrAccessDenied, what)
	case code == "NoSuchBucket":
		return fmt.Errorf("the bucket does not exist (%s): create it, or check the bucket name and the endpoint", what)
	case status == http.StatusForbidden || status == http.StatusUnauthorized || code == "AccessDenied":
		return fmt.Errorf("%w: the bucket refused the request (%s): check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE), that they may s3:PutObject and s3:GetObject there, and the bucket policy", ErrAccessDenied, what)
	case status == http.StatusMovedPermanently || code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed":
		return fmt.Errorf("%w: the bucket is in another region (%s)", ErrWrongRegion, what)
	}
	if status != 0 {
		return errors.New(what)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: nothing moved for %v (%w): try again, or check the endpoint and the network", ErrStalled, cmp.Or(s.opt.stallAfter, defaultStallTimeout), err)
	}
	return fmt.Errorf("%w (check the endpoint and that it is reachable from here)", err)
}

// sentKey carries a Put's progress callback down to countingDoer.
type sentKey struct{}

// countingDoer counts the request body bytes it sends into the callback
// of the request's context, and takes them back when the request fails
// (the SDK then retries it).
type countingDoer struct {
	next aws.HTTPClient
}

func (d countingDoer) Do(req *http.Request) (*http.Response, error) {
	sent, _ := req.Context().Value(sentKey{}).(func(int64))
	// PutObject and UploadPart send the object's bytes, with PUT; the
	// multipart calls around them send XML.
	if sent == nil || req.Method != http.MethodPut || req.Body == nil || req.Body == http.NoBody {
		return d.next.Do(req)
	}
	// An aws-chunked body carries chunk framing: count the payload only.
	limit := req.ContentLength
	if v, err := strconv.ParseInt(req.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64); err == nil {
		limit = v
	}
	var n atomic.Int64
	req.Body = readCloser{&countingReader{r: req.Body, sent: func(k int64) {
		if k = min(k, limit-n.Load()); k > 0 {
			n.Add(k)
			sent(k)
		}
	}}, req.Body}
	resp, err := d.next.Do(req)
	if err != nil || resp.StatusCode >= 300 {
		sent(-n.Swap(0))
	}
	return resp, err
}

type readCloser struct {
	io.Reader
	io.Closer
}
