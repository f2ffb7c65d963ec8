package workflow

import (
	"context"
	"fmt"
	"net/http"
)

// UploadTarget names where Upload sends a bundle: the storage of a capship
// server (Server with Token) or an S3-compatible bucket (S3 with its
// options). The command line fills it from 'bundle upload' flags, the
// wizard from its Upload step; Open makes the ObjectStore for both.
type UploadTarget struct {
	Server string // base URL of 'capship serve --storage'
	Token  string // its admin token
	// S3 is s3://BUCKET/PREFIX; the fields below go with it.
	S3         string
	Endpoint   string // of an S3-compatible service; empty for AWS
	Region     string
	PathStyle  bool
	PublicBase string // the URL devices reach the bucket's root at, when not the endpoint
	// HTTPClient talks to Server; nil for a default. (S3 requests go
	// through the SDK's own client.)
	HTTPClient *http.Client
}

// Open returns the store t names. Errors: ErrBadURL for a server or
// bucket address that cannot be used, ErrNoCredentials when no S3
// credentials are configured, ErrNoRegion.
func (t UploadTarget) Open(ctx context.Context) (ObjectStore, error) {
	if t.S3 == "" {
		st, err := NewCapshipStore(t.Server, t.Token, t.HTTPClient)
		if err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
		return st, nil
	}
	bucket, prefix, err := ParseS3URL(t.S3)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	st, err := NewS3Store(ctx, S3Options{Bucket: bucket, Prefix: prefix, Endpoint: t.Endpoint,
		Region: t.Region, PathStyle: t.PathStyle, PublicBase: t.PublicBase})
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	return st, nil
}
