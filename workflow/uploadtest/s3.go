// Package uploadtest reaches the S3-protocol server scripts/test starts
// (versitygw on loopback) for the upload tests of workflow and cli.
package uploadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Server is the server scripts/test starts, from CAPSHIP_TEST_S3_*.
type S3Server struct {
	Endpoint, Access, Secret string
}

// S3 returns the server and points the SDK's standard credential chain at
// it through the environment (nothing of the user's ~/.aws is read).
// Without it the test skips, or fails under CAPSHIP_TEST_STRICT=1.
func S3(t *testing.T) S3Server {
	t.Helper()
	s := S3Server{os.Getenv("CAPSHIP_TEST_S3_ENDPOINT"), os.Getenv("CAPSHIP_TEST_S3_ACCESS_KEY"), os.Getenv("CAPSHIP_TEST_S3_SECRET_KEY")}
	if s.Endpoint == "" || s.Access == "" || s.Secret == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("no S3 server: CAPSHIP_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY are unset (scripts/test starts one)")
		}
		t.Skip("no S3 server: run scripts/test, which starts one")
	}
	s.UseCredentials(t, s.Secret)
	return s
}

// UseCredentials puts the access key and secret in the environment the
// SDK's standard chain reads, for the rest of the test.
func (s S3Server) UseCredentials(t *testing.T, secret string) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", s.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "")
}

// UseUser puts the keys of the server's second account in the
// environment, for the rest of the test: an account of the "user" role
// that the root account's buckets refuse (403 AccessDenied), as a bucket
// whose policy does not let the uploader in.
func (s S3Server) UseUser(t *testing.T) {
	t.Helper()
	access, secret := os.Getenv("CAPSHIP_TEST_S3_USER_ACCESS_KEY"), os.Getenv("CAPSHIP_TEST_S3_USER_SECRET_KEY")
	if access == "" || secret == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("no second S3 account: CAPSHIP_TEST_S3_USER_ACCESS_KEY and _USER_SECRET_KEY are unset (scripts/test makes one)")
		}
		t.Skip("no second S3 account: run scripts/test, which makes one")
	}
	S3Server{Endpoint: s.Endpoint, Access: access}.UseCredentials(t, secret)
}

// Client is an SDK client of the server with the root account's keys.
func (s S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.Access, s.Secret, ""),
	})
}

// NewBucket creates a bucket of the test's own, readable by anyone
// (devices download without credentials), deleted with what it holds at
// the end, and returns its name.
func (s S3Server) NewBucket(t *testing.T) string {
	t.Helper()
	c := s.Client()
	b := make([]byte, 6)
	rand.Read(b)
	name := "capship-test-" + hex.EncodeToString(b)
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, name)
	if _, err := c.PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{Bucket: &name, Policy: &policy}); err != nil {
		t.Fatalf("make the bucket public: %v", err)
	}
	t.Cleanup(func() { deleteBucket(c, name) })
	return name
}

// deleteBucket deletes the bucket and everything in it.
func deleteBucket(c *s3.Client, name string) {
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &name})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, o := range page.Contents {
			c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: o.Key})
		}
	}
	c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name})
}
