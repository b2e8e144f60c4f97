package notifications

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"acme/es"
	"acme/es/estest"
	"acme/httpapi"
	"acme/sqlite"
)

type countingMailer struct {
	mu   sync.Mutex
	sent map[string]int // by notification id
}

func (c *countingMailer) Send(_ context.Context, e Email) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[e.ID]++
	return nil
}

func (c *countingMailer) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[id]
}

// A fact sent on several channels records each send before the next channel's:
// a later channel that fails does not resend the earlier ones when the fact is
// delivered again, and the last send is recorded in the fact's own commit
// (with its inbox id), so a fact applied once sends nothing more.
func TestEachChannelIsSentOnce(t *testing.T) {
	var slackCalls atomic.Int32
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if slackCalls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway) // down the first time
		}
	}))
	t.Cleanup(slack.Close)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "notifications.db"), sqlite.WithExclusive())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mailer := &countingMailer{sent: map[string]int{}}
	m := New(Config{Mailer: mailer, SlackWebhookURL: slack.URL})
	reg, err := es.NewRegistry(m.Messages()...)
	if err != nil {
		t.Fatal(err)
	}
	h := estest.NewHost(owner, st, reg)
	if err := m.Start(ctx, h); err != nil {
		t.Fatal(err)
	}

	fact := estest.Message(t, "OutOfStock", "", map[string]any{"productId": "p-1"})
	email, slackID := notificationID(fact.ID, ChannelEmail), notificationID(fact.ID, ChannelSlack)
	if _, err := h.Apply(ctx, fact); err == nil {
		t.Fatal("the fact applied although Slack failed")
	}
	if mailer.count(email) != 1 || slackCalls.Load() != 1 {
		t.Fatalf("first delivery: %d emails, %d Slack calls", mailer.count(email), slackCalls.Load())
	}
	api := httpapi.New("admin-token-0123456789")
	m.Routes(api)
	listed := func(id string) map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/v1/notifications", nil)
		req.Header.Set("Authorization", "Bearer admin-token-0123456789")
		api.ServeHTTP(rec, req)
		var list struct{ Items []map[string]any }
		if err := json.Unmarshal(rec.Body.Bytes(), &list); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		for _, n := range list.Items {
			if n["notificationId"] == id {
				return n
			}
		}
		t.Fatalf("notification %s not listed: %s", id, rec.Body)
		return nil
	}
	if n := listed(slackID); n["status"] != "FAILED" || n["sentAt"] != nil || n["lastError"] == "" {
		t.Fatalf("a failing notification is listed as %v; want FAILED with lastError and sentAt null", n)
	}
	if applied, err := h.Apply(ctx, fact); err != nil || !applied {
		t.Fatalf("redelivery: applied %v, %v", applied, err)
	}
	if mailer.count(email) != 1 || slackCalls.Load() != 2 {
		t.Fatalf("redelivery resent: %d emails, %d Slack calls", mailer.count(email), slackCalls.Load())
	}
	for _, id := range []string{email, slackID} {
		if v, err := st.StreamVersion(ctx, "notification-"+id); err != nil || v != 1 {
			t.Fatalf("notification %s recorded at version %d (%v)", id, v, err)
		}
		if n := listed(id); n["status"] != "SENT" || n["sentAt"] == nil {
			t.Fatalf("a sent notification is listed as %v", n)
		}
	}
	if applied, err := h.Apply(ctx, fact); err != nil || applied || mailer.count(email) != 1 || slackCalls.Load() != 2 {
		t.Fatalf("a third delivery: applied %v (%v), %d emails, %d Slack calls", applied, err, mailer.count(email), slackCalls.Load())
	}

	// A one-channel fact: its send is recorded with the fact (one commit).
	reg2 := estest.Message(t, "CustomerRegistered", "", map[string]any{"customerId": "c-1", "email": "ada@example.com", "name": "Ada"})
	before, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := h.Apply(ctx, reg2); err != nil || !applied {
		t.Fatalf("registration: applied %v, %v", applied, err)
	}
	evs, err := st.ReadAll(ctx, before, 10)
	if err != nil || len(evs) != 1 || evs[0].Type != NotificationSent.Name() {
		t.Fatalf("registration stored %+v (%v); want one NotificationSent", evs, err)
	}
	if applied, _ := h.Apply(ctx, reg2); applied || mailer.count(notificationID(reg2.ID, ChannelEmail)) != 1 {
		t.Fatal("a redelivered registration was applied again")
	}
}
