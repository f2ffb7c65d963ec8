// Command bench-ceiling is the yardstick of scripts/bench-server: the
// smallest useful Go net/http server. It reads each request body and answers
// a fixed JSON body (the same bytes capship serve answers in the benchmark),
// so the gap between the two is what capship's decoding, decision, logging
// and routing cost.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback; port 0 picks one, printed as {\"url\": …} on stdout)")
	bodyFile := flag.String("body", "", "file with the JSON answer")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-ceiling:", err)
		os.Exit(1)
	}
	length := strconv.Itoa(len(body))
	http.HandleFunc("POST /updates", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		w.Write(body)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-ceiling:", err)
		os.Exit(1)
	}
	fmt.Printf("{\"url\":\"http://%s\"}\n", ln.Addr())
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ceiling:", err)
		os.Exit(1)
	}
}
