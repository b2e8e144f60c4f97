package loadgen_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"acme/acmetest"
	"acme/loadgen"
)

// TestRunEmbedded runs the load generator briefly against an in-process
// embedded server and checks that the summary's counts add up.
func TestRunEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("load run skipped in -short")
	}
	s := acmetest.Start(t, acmetest.Embedded)
	var progress bytes.Buffer
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Server: s.URL, AdminToken: s.AdminToken,
		Customers: 4, Products: 3, Duration: 2 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.Print(&out)
	t.Logf("%s%s", progress.String(), out.String())

	if res.Accepted == 0 || res.Completed == 0 {
		t.Fatalf("no checkout completed: %+v", res)
	}
	if got := res.Completed + res.Failed + res.Unfinished + res.Abandoned; got != res.Accepted {
		t.Errorf("accepted %d != completed %d + failed %d + unfinished %d + abandoned %d", res.Accepted, res.Completed, res.Failed, res.Unfinished, res.Abandoned)
	}
	if res.Failed != 0 || res.Unfinished != 0 || res.Abandoned != 0 || res.IterationErrors != 0 {
		t.Errorf("a clean run has no failure: %+v", res)
	}
	if res.Iterations != res.Accepted+res.IterationErrors {
		t.Errorf("loops %d != accepted %d + errors %d", res.Iterations, res.Accepted, res.IterationErrors)
	}
	if res.WindowCompleted != res.Completed || int64(res.Completion.Count) != res.Completed {
		t.Errorf("no warm-up: window completed %d, latency samples %d, completed %d", res.WindowCompleted, res.Completion.Count, res.Completed)
	}
	if res.Window < 2*time.Second-50*time.Millisecond || res.Window > 2*time.Second+50*time.Millisecond {
		t.Errorf("window %s, want about 2s", res.Window)
	}
	if want := float64(res.WindowCompleted) / res.Window.Seconds(); res.Throughput != want {
		t.Errorf("throughput %v, want %v", res.Throughput, want)
	}
	// the consumers' state was read after the run, and they caught up
	if res.Behind == nil || res.CaughtUpAfter < 0 || !strings.Contains(out.String(), "consumers ") {
		t.Errorf("consumers after the run: behind %v, caught up after %s", res.Behind, res.CaughtUpAfter)
	}
	l := res.Completion
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("completion percentiles out of order: %+v", l)
	}
	calls := map[string]loadgen.Call{}
	for _, c := range res.Calls {
		calls[c.Kind] = c
		if c.Errors != 0 {
			t.Errorf("%s: %d errors", c.Kind, c.Errors)
		}
	}
	// Every accepted checkout was one checkout call, after one add and one
	// browse, and was polled at least once.
	if n := calls[loadgen.KindCheckout].Latency.Count; int64(n) != res.Accepted {
		t.Errorf("checkout calls %d, accepted %d", n, res.Accepted)
	}
	if n := calls[loadgen.KindAddToCart].Latency.Count; int64(n) < res.Accepted {
		t.Errorf("add calls %d < accepted %d", n, res.Accepted)
	}
	if n := calls[loadgen.KindPoll].Latency.Count; int64(n) < res.Completed {
		t.Errorf("polls %d < completed %d", n, res.Completed)
	}
	if calls[loadgen.KindRegister].Latency.Count != 4 || calls[loadgen.KindLogin].Latency.Count != 4 || calls[loadgen.KindCreateProduct].Latency.Count != 3 {
		t.Errorf("setup calls: %+v", res.Calls)
	}
	if !strings.Contains(progress.String(), "completed") {
		t.Errorf("no progress line: %q", progress.String())
	}
	if !strings.Contains(out.String(), "throughput:") || !strings.Contains(out.String(), "checkout completion") {
		t.Errorf("summary: %s", out.String())
	}
}

// TestRateAndCount: a paced run with a count bound starts exactly that many
// checkouts.
func TestRateAndCount(t *testing.T) {
	if testing.Short() {
		t.Skip("load run skipped in -short")
	}
	s := acmetest.Start(t, acmetest.Embedded)
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Server: s.URL, AdminToken: s.AdminToken,
		Customers: 3, Products: 2, Duration: 10 * time.Second, Rate: 20, MaxCheckouts: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 10 || res.Accepted != 10 || res.Completed != 10 {
		t.Fatalf("max 10 checkouts: %+v", res)
	}
	// 10 slots at 20/s take at least 450 ms.
	if res.Window < 450*time.Millisecond {
		t.Errorf("paced run ended after %s", res.Window)
	}
}

func TestRefusesRemote(t *testing.T) {
	for _, u := range []string{"http://example.com:8080", "http://10.0.0.1:8080", "http://[2001:db8::1]:80"} {
		_, err := loadgen.Run(context.Background(), loadgen.Config{Server: u, AdminToken: "x"})
		if err == nil || !strings.Contains(err.Error(), "allow-remote") {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, h := range []string{"127.0.0.1", "localhost", "::1", "127.0.0.2"} {
		if !loadgen.IsLoopback(h) {
			t.Errorf("%s is loopback", h)
		}
	}
	if _, err := loadgen.Run(context.Background(), loadgen.Config{Server: "http://127.0.0.1:1", AdminToken: "x", Customers: -1}); err == nil {
		t.Error("negative customers accepted")
	}
	if _, err := loadgen.Run(context.Background(), loadgen.Config{Server: "http://127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "ACME_ADMIN_TOKEN") {
		t.Errorf("no token: %v", err)
	}
}
