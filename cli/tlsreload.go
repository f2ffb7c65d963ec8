package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// certReloader serves the TLS certificate of --tls-cert and --tls-key and
// reads them again on SIGHUP, so that a renewed certificate needs no
// restart. A pair that does not load keeps the one in use.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func loadCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the pair again; on error the served certificate stays.
func (c *certReloader) reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate: %w (check --tls-cert and --tls-key: both PEM, the key matching the certificate)", err)
	}
	c.cert.Store(&cert)
	return nil
}

// getCertificate is the tls.Config's GetCertificate.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// watchSIGHUP reloads the pair on each SIGHUP until ctx is done, and logs
// the outcome. SIGHUP is caught from the moment it returns.
func (c *certReloader) watchSIGHUP(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := c.reload(); err != nil {
					log.Error("TLS certificate not reloaded; still serving the previous one", "err", err.Error())
					continue
				}
				log.Info("TLS certificate reloaded", "cert", c.certFile)
			}
		}
	}()
}
