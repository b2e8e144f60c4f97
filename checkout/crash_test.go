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
)

// proc is the acme binary running as a subprocess.
type proc struct {
	cmd    *exec.Cmd
	base   string
	token  string
	stderr *bytes.Buffer
}

func startBinary(t *testing.T, bin, dataDir, token string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	// Long step deadlines: this test is about resuming after a crash, and a
	// loaded machine must not turn a slow step into a timeout.
	cmd.Env = append(os.Environ(), "ACME_ADMIN_TOKEN="+token, "ACME_SAGA_STEP_TIMEOUT=5m")
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
	bin := filepath.Join(t.TempDir(), "acme")
	if out, err := exec.Command("go", "build", "-o", bin, "acme/cmd/acme").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	const token = "crash-test-admin-token"
	p := startBinary(t, bin, dataDir, token)

	cat := p.must(t, 201, "POST", "/api/v1/categories", token, map[string]any{"name": "Lamps"})["categoryId"].(string)
	const stock = 100
	product := p.must(t, 201, "POST", "/api/v1/products", token, map[string]any{"name": "Lamp", "description": "d",
		"price": usd(1500), "categoryId": cat, "initialStock": stock})["productId"].(string)

	const n = 20
	toks := make([]string, n)
	for i := range n {
		email := fmt.Sprintf("crash-%d-%d@example.com", i, time.Now().UnixNano())
		p.must(t, 201, "POST", "/api/v1/customers", "", map[string]any{"email": email, "password": "Harbour-Lights-2049", "name": "C"})
		toks[i] = p.must(t, 201, "POST", "/api/v1/sessions", "", map[string]any{"email": email, "password": "Harbour-Lights-2049"})["token"].(string)
	}
	qty := func(i int) int { return 1 + i%3 }
	card := func(i int) string {
		if i%5 == 4 {
			return "tok_chargeDeclined"
		}
		return "tok_visa"
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := range n {
		for {
			status, body := p.do(t, "POST", "/api/v1/cart/items", toks[i], map[string]any{"productId": product, "quantity": qty(i)})
			if status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("add to cart: %d %v", status, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// 20 concurrent checkouts; kill -9 as soon as they are accepted.
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = p.must(t, 202, "POST", "/api/v1/cart/checkout", toks[i], map[string]any{"shippingAddress": address,
				"paymentMethod": map[string]any{"type": "card", "token": card(i)}})["checkoutId"].(string)
		})
	}
	wg.Wait()
	// Kill once some sagas are under way (steps in flight), before they all end.
	var started, done map[string]any
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		_, started = p.do(t, "GET", "/api/v1/admin/sagas", token, nil)
		if started["total"].(float64) >= 5 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, done = p.do(t, "GET", "/api/v1/admin/sagas?status=COMPLETED", token, nil)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = p.cmd.Process.Wait()
	t.Logf("killed with %v sagas started, %v completed, of %d checkouts", started["total"], done["total"], n)

	p = startBinary(t, bin, dataDir, token)
	completed, reserved := 0, 0
	for i := range n {
		var out map[string]any
		end := time.Now().Add(60 * time.Second)
		for {
			out = p.must(t, 200, "GET", "/api/v1/checkouts/"+ids[i], toks[i], nil)
			if out["status"] != "PENDING" {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("checkout %d still PENDING after the restart; saga %v", i, p.must(t, 200, "GET", "/api/v1/admin/sagas?status=RUNNING", token, nil))
			}
			time.Sleep(50 * time.Millisecond)
		}
		switch {
		case out["status"] == "COMPLETED" && card(i) == "tok_visa":
			completed++
			reserved += qty(i)
		case out["status"] == "FAILED" && card(i) != "tok_visa" && out["failureReason"] == "payment_declined":
		default:
			var trail []string
			for _, e := range items(p.must(t, 200, "GET", "/api/v1/admin/streams/checkout-"+ids[i]+"/events", token, nil)) {
				trail = append(trail, fmt.Sprintf("%v@%v %v", e["type"], e["recordedAt"], e["data"]))
			}
			t.Errorf("checkout %d (%s): %v; saga:\n%s", i, card(i), out, strings.Join(trail, "\n"))
		}
	}
	if want := n - n/5; completed != want {
		t.Fatalf("completed %d, want %d", completed, want)
	}
	if r := p.must(t, 200, "GET", "/api/v1/admin/sagas?status=RUNNING", token, nil); r["total"] != 0.0 {
		t.Fatalf("running sagas after the end: %v", r)
	}

	// confirmed orders = completed checkouts
	end := time.Now().Add(20 * time.Second)
	for {
		r := p.must(t, 200, "GET", "/api/v1/orders?status=CONFIRMED", token, nil)
		all := p.must(t, 200, "GET", "/api/v1/orders", token, nil)
		if r["total"] == float64(completed) && all["total"] == float64(completed) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("confirmed orders %v (all %v), want %d", r["total"], all["total"], completed)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// each payment captured once (its stream has one PaymentSucceeded)
	for i := range n {
		var paymentID string
		for _, e := range items(p.must(t, 200, "GET", "/api/v1/admin/streams/checkout-"+ids[i]+"/events", token, nil)) {
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
		if want := map[bool]int{true: 1, false: 0}[card(i) == "tok_visa"]; captures != want {
			t.Errorf("checkout %d: payment %s captured %d times, want %d", i, paymentID, captures, want)
		}
	}

	// stock: the completed checkouts hold their units, nothing else
	end = time.Now().Add(20 * time.Second)
	for {
		s := p.must(t, 200, "GET", "/api/v1/inventory/"+product, "", nil)
		if s["onHand"] == float64(stock) && s["reserved"] == float64(reserved) && s["available"] == float64(stock-reserved) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("stock %v, want onHand %d reserved %d", s, stock, reserved)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
