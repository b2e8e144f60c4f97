package checkout_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"acme/acmetest"
	"acme/testenv"
)

// proc is the acme binary running as a subprocess.
type proc struct {
	cmd    *exec.Cmd
	base   string
	token  string
	stderr *bytes.Buffer
}

func startBinary(t *testing.T, bin, dataDir, token string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	// Long step deadlines: this test is about resuming after a crash, and a
	// loaded machine must not turn a slow step into a timeout.
	cmd.Env = append(append(os.Environ(), "ACME_ADMIN_TOKEN="+token, "ACME_SAGA_STEP_TIMEOUT=5m"), env...)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
				urlc <- strings.Fields(u)[0]
			}
		}
	}()
	p := &proc{cmd: cmd, token: token, stderr: &stderr}
	select {
	case p.base = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatalf("no 'listening on' line; stderr:\n%s", stderr.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v; stderr:\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do sends a request; it returns the status and the decoded JSON body.
func (p *proc) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (p *proc) must(t *testing.T, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	status, m := p.do(t, method, path, token, body)
	if status != want {
		t.Fatalf("%s %s: %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

func items(m map[string]any) []map[string]any {
	arr, _ := m["items"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		out = append(out, v.(map[string]any))
	}
	return out
}

// TestCrashMidCheckout runs the binary as a subprocess, starts 20 concurrent
// checkouts, kills it with SIGKILL mid-flight and restarts it on the same data
// directory: every checkout ends COMPLETED or FAILED, confirmed orders equal
// completed checkouts, each payment is captured once, the stock is consistent.
func TestCrashMidCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	const token = "crash-test-admin-token"
	p := startBinary(t, bin, dataDir, token)
	c := startCheckouts(t, []*proc{p}, token)
	killMidFlight(t, p, p, token)
	p = startBinary(t, bin, dataDir, token)
	c.verify(t, p, 60*time.Second)
}

// TestCrashOfOneOfTwoProcesses: two processes of one server-mode deployment
// (PostgreSQL, NATS, Redis) share 20 concurrent checkouts; one is killed with
// SIGKILL mid-flight and not restarted. The other finishes every checkout
// (the dead one's unacknowledged messages come back to it after the
// consumers' ack wait, 30 s), with the same guarantees as a restart.
func TestCrashOfOneOfTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if !testenv.ServerMode(t) {
		t.Skip("needs PostgreSQL, NATS and Redis (see the log above)")
	}
	bin := buildBinary(t)
	env := acmetest.ServerEnv(t)
	const token = "crash-two-admin-token"
	a := startBinary(t, bin, t.TempDir(), token, env...)
	b := startBinary(t, bin, t.TempDir(), token, env...)
	c := startCheckouts(t, []*proc{a, b}, token)
	killMidFlight(t, a, b, token)
	c.verify(t, b, 120*time.Second)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "acme")
	if out, err := exec.Command("go", "build", "-o", bin, "acme/cmd/acme").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashRun is 20 checkouts of one product: every fifth card is declined,
// customer i buys 1 + i%3 units.
type crashRun struct {
	token, product string
	ids, toks      []string
}

const crashStock, crashCheckouts = 100, 20

func crashQty(i int) int { return 1 + i%3 }

func crashCard(i int) string {
	if i%5 == 4 {
		return "tok_chargeDeclined"
	}
	return "tok_visa"
}

// startCheckouts creates the product and the customers and starts the 20
// checkouts at once, each request going to procs[i % len(procs)] (the
// customer registers on one process and shops on the next).
func startCheckouts(t *testing.T, procs []*proc, token string) *crashRun {
	t.Helper()
	p := procs[0]
	on := func(i int) *proc { return procs[i%len(procs)] }
	cat := p.must(t, 201, "POST", "/api/v1/categories", token, map[string]any{"name": "Lamps"})["categoryId"].(string)
	product := on(1).must(t, 201, "POST", "/api/v1/products", token, map[string]any{"name": "Lamp", "description": "d",
		"price": usd(1500), "categoryId": cat, "initialStock": crashStock})["productId"].(string)

	r := &crashRun{token: token, product: product, ids: make([]string, crashCheckouts), toks: make([]string, crashCheckouts)}
	for i := range crashCheckouts {
		email := fmt.Sprintf("crash-%d-%d@example.com", i, time.Now().UnixNano())
		on(i).must(t, 201, "POST", "/api/v1/customers", "", map[string]any{"email": email, "password": "Harbour-Lights-2049", "name": "C"})
		r.toks[i] = on(i+1).must(t, 201, "POST", "/api/v1/sessions", "", map[string]any{"email": email, "password": "Harbour-Lights-2049"})["token"].(string)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := range crashCheckouts {
		for {
			status, body := on(i+1).do(t, "POST", "/api/v1/cart/items", r.toks[i], map[string]any{"productId": product, "quantity": crashQty(i)})
			if status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("add to cart: %d %v", status, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for i := range crashCheckouts {
		wg.Go(func() {
			r.ids[i] = on(i).must(t, 202, "POST", "/api/v1/cart/checkout", r.toks[i], map[string]any{"shippingAddress": address,
				"paymentMethod": map[string]any{"type": "card", "token": crashCard(i)}})["checkoutId"].(string)
		})
	}
	wg.Wait()
	return r
}

// killMidFlight kills victim with SIGKILL once some sagas are under way
// (steps in flight), before they all end; observer reports the sagas.
func killMidFlight(t *testing.T, victim, observer *proc, token string) {
	t.Helper()
	var started, done map[string]any
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		_, started = observer.do(t, "GET", "/api/v1/admin/sagas", token, nil)
		if started["total"].(float64) >= 5 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, done = observer.do(t, "GET", "/api/v1/admin/sagas?status=COMPLETED", token, nil)
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = victim.cmd.Process.Wait()
	t.Logf("killed with %v sagas started, %v completed, of %d checkouts", started["total"], done["total"], crashCheckouts)
}

// verify checks, through p, that every checkout ended (within wait) COMPLETED
// or FAILED as its card says, confirmed orders equal completed checkouts,
// each payment was captured once, and the stock holds the completed units.
func (r *crashRun) verify(t *testing.T, p *proc, wait time.Duration) {
	t.Helper()
	token, n := r.token, crashCheckouts
	completed, reserved := 0, 0
	end := time.Now().Add(wait)
	for i := range n {
		var out map[string]any
		for {
			out = p.must(t, 200, "GET", "/api/v1/checkouts/"+r.ids[i]+"?wait=5", r.toks[i], nil)
			if out["status"] != "PENDING" {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("checkout %d still PENDING; saga %v", i, p.must(t, 200, "GET", "/api/v1/admin/sagas?status=RUNNING", token, nil))
			}
		}
		switch {
		case out["status"] == "COMPLETED" && crashCard(i) == "tok_visa":
			completed++
			reserved += crashQty(i)
		case out["status"] == "FAILED" && crashCard(i) != "tok_visa" && out["failureReason"] == "payment_declined":
		default:
			var trail []string
			for _, e := range items(p.must(t, 200, "GET", "/api/v1/admin/streams/checkout-"+r.ids[i]+"/events", token, nil)) {
				trail = append(trail, fmt.Sprintf("%v@%v %v", e["type"], e["recordedAt"], e["data"]))
			}
			t.Errorf("checkout %d (%s): %v; saga:\n%s", i, crashCard(i), out, strings.Join(trail, "\n"))
		}
	}
	if want := n - n/5; completed != want {
		t.Fatalf("completed %d, want %d", completed, want)
	}
	if s := p.must(t, 200, "GET", "/api/v1/admin/sagas?status=RUNNING", token, nil); s["total"] != 0.0 {
		t.Fatalf("running sagas after the end: %v", s)
	}

	// confirmed orders = completed checkouts
	end = time.Now().Add(20 * time.Second)
	for {
		c := p.must(t, 200, "GET", "/api/v1/orders?status=CONFIRMED", token, nil)
		all := p.must(t, 200, "GET", "/api/v1/orders", token, nil)
		if c["total"] == float64(completed) && all["total"] == float64(completed) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("confirmed orders %v (all %v), want %d", c["total"], all["total"], completed)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// each payment captured once (its stream has one PaymentSucceeded)
	for i := range n {
		var paymentID string
		for _, e := range items(p.must(t, 200, "GET", "/api/v1/admin/streams/checkout-"+r.ids[i]+"/events", token, nil)) {
			if d, _ := e["data"].(map[string]any); e["type"] == "StepStarted" && d["paymentId"] != nil {
				paymentID = d["paymentId"].(string)
			}
		}
		if paymentID == "" {
			t.Fatalf("checkout %d: no payment started", i)
		}
		captures := 0
		for _, e := range items(p.must(t, 200, "GET", "/api/v1/admin/streams/payment-"+paymentID+"/events", token, nil)) {
			if e["type"] == "PaymentSucceeded" {
				captures++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[crashCard(i) == "tok_visa"]; captures != want {
			t.Errorf("checkout %d: payment %s captured %d times, want %d", i, paymentID, captures, want)
		}
	}

	// stock: the completed checkouts hold their units, nothing else
	end = time.Now().Add(20 * time.Second)
	for {
		s := p.must(t, 200, "GET", "/api/v1/inventory/"+r.product, "", nil)
		if s["onHand"] == float64(crashStock) && s["reserved"] == float64(reserved) && s["available"] == float64(crashStock-reserved) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("stock %v, want onHand %d reserved %d", s, crashStock, reserved)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
