package workflow

import (
	"context"
	"net"
	"net/http"
	"time"
)

// stallConn fails a read or a write that moves no bytes for after: each
// one gets a fresh deadline, so a slow but moving transfer goes on and a
// quiet peer (one that stops reading, or never answers) ends it with a
// timeout. For clients whose request bodies another layer reads (the S3
// SDK's multipart uploader), where a body reader cannot see the network.
type stallConn struct {
	net.Conn
	after time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.after))
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.after))
	return c.Conn.Write(p)
}

// stallDialer wraps a transport's dial so that its connections are
// stallConns. An idle pooled connection times out too; the transport then
// drops it and dials anew.
func stallDialer(tr *http.Transport, after time.Duration) {
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, after: after}, nil
	}
}
