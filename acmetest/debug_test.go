package acmetest_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"acme/acmetest"
	"acme/app"
)

// The profiler is served on its own address when asked for, and never on
// the API's.
func TestDebugListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := acmetest.Start(t, acmetest.Embedded, acmetest.WithConfig(func(c *app.Config) { c.DebugAddr = addr }))

	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), ".test") {
		t.Fatalf("profiler: %d %q", resp.StatusCode, b)
	}
	s.Do(t, "GET", "/debug/pprof/cmdline", "", nil).Want(t, http.StatusNotFound)
}
