package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a new self-signed certificate for name and its key.
func writeCert(t *testing.T, certFile, keyFile, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func servedName(t *testing.T, c *certReloader) string {
	t.Helper()
	cert, err := c.getCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// SIGHUP swaps in the renewed certificate; a broken pair keeps the old one
// and is logged.
func TestServeReloadsCertificateOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "old.example")
	c, err := loadCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.watchSIGHUP(ctx, slog.New(slog.NewTextHandler(logs, nil)))

	hupUntil := func(ok func() bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s; log:\n%s", what, logs)
			}
			syscall.Kill(os.Getpid(), syscall.SIGHUP)
			time.Sleep(50 * time.Millisecond)
		}
	}
	writeCert(t, certFile, keyFile, "new.example")
	hupUntil(func() bool { return servedName(t, c) == "new.example" }, "renewed certificate not served after SIGHUP")
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Fatalf("reload not logged:\n%s", logs)
	}

	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	hupUntil(func() bool { return strings.Contains(logs.String(), "not reloaded") }, "broken pair not logged")
	if got := servedName(t, c); got != "new.example" {
		t.Fatalf("after a broken pair the server serves %q, want the previous new.example", got)
	}
}

// capship serve, end to end: after SIGHUP, new TLS connections get the
// renewed certificate.
func TestServeTLSReloadEndToEnd(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "old.example")
	outR, outW := io.Pipe()
	var errBuf lockedBuffer
	s := IO{In: strings.NewReader(""), Out: outW, Err: &errBuf, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "r.db"), "--json",
			"--tls-cert", certFile, "--tls-key", keyFile}, s)
		outW.Close()
	}()
	defer func() { cancel(); <-code }()
	var ready struct{ URL string }
	if err := json.NewDecoder(outR).Decode(&ready); err != nil || !strings.HasPrefix(ready.URL, "https://") {
		t.Fatalf("serve --json printed %+v (%v); stderr:\n%s", ready, err, errBuf.String())
	}
	go io.Copy(io.Discard, outR)
	served := func() string {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(ready.URL, "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "old.example" {
		t.Fatalf("serves %q, want old.example", got)
	}
	writeCert(t, certFile, keyFile, "new.example")
	for deadline := time.Now().Add(5 * time.Second); served() != "new.example"; {
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served after SIGHUP; stderr:\n%s", errBuf.String())
		}
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(50 * time.Millisecond)
	}
}
