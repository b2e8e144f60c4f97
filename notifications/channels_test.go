package notifications

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// testSMTP is an SMTP server run by the test: it keeps every message it accepts.
type testSMTP struct {
	mu   sync.Mutex
	msgs []received
}

type received struct {
	from string
	to   []string
	data []byte
}

type smtpSession struct {
	srv *testSMTP
	cur received
}

func (b *testSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: b}, nil }
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.cur = received{} }
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T) (*testSMTP, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &testSMTP{}
	s := smtp.NewServer(backend)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return backend, l.Addr().(*net.TCPAddr).Port
}

func testEmail() Email {
	return Email{ID: "0190c5b2-1111-7000-8000-000000000001", From: "Acme <no-reply@acme.test>", To: "ada@example.com",
		Subject: "Your order 42 has shipped", Text: "Hello Ada,\nyour order is on its way.\n",
		HTML: "<p>Hello Ada,</p><p>your order is on its way.</p>", Date: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

// checkWellFormed parses raw as an RFC 5322 message and checks the headers and
// both MIME parts.
func checkWellFormed(t *testing.T, raw []byte, e Email) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	h := msg.Header
	if got := h.Get("Subject"); got != e.Subject {
		t.Errorf("Subject = %q; want %q", got, e.Subject)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != e.To {
		t.Errorf("To = %v (%v); want %s", to, err, e.To)
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "no-reply@acme.test" {
		t.Errorf("From = %v (%v)", from, err)
	}
	if got := h.Get("Message-Id"); !strings.Contains(got, e.ID) {
		t.Errorf("Message-ID = %q; want it to carry the notification id", got)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v); want multipart/alternative", h.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading MIME parts: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p) // NextPart decodes quoted-printable
		parts[ct] = string(b)
	}
	if !strings.Contains(parts["text/plain"], "your order is on its way") {
		t.Errorf("text part = %q", parts["text/plain"])
	}
	if !strings.Contains(parts["text/html"], "<p>your order is on its way.</p>") {
		t.Errorf("html part = %q", parts["text/html"])
	}
}

func TestSMTPMailerSendsAWellFormedMessage(t *testing.T) {
	srv, port := startSMTP(t)
	e := testEmail()
	if err := NewSMTPMailer(SMTPConfig{Host: "127.0.0.1", Port: port}).Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.msgs) != 1 {
		t.Fatalf("server received %d messages; want 1", len(srv.msgs))
	}
	got := srv.msgs[0]
	if got.from != "no-reply@acme.test" || len(got.to) != 1 || got.to[0] != e.To {
		t.Fatalf("envelope from %q to %v", got.from, got.to)
	}
	checkWellFormed(t, got.data, e)
}

func TestEMLMailerWritesOneFilePerNotification(t *testing.T) {
	dir := t.TempDir()
	m := EMLMailer{Dir: dir}
	e := testEmail()
	for range 3 { // redeliveries of the same notification
		if err := m.Send(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 || filepath.Base(files[0]) != e.ID+".eml" {
		t.Fatalf("files = %v; want exactly %s.eml", files, e.ID)
	}
	raw, _ := os.ReadFile(files[0])
	checkWellFormed(t, raw, e)
}

func TestEveryKindRenders(t *testing.T) {
	d := data{Name: "Ada", OrderID: "o-1", Total: "19.99 USD", Carrier: "UPS", TrackingNumber: "1Z",
		ProductID: "p-1", ProductName: "Lamp", VerificationURL: "http://x/verify-email?token=t",
		Items: []line{{Name: "Lamp", Quantity: 1, LineTotal: "19.99 USD"}}}
	for kind := range kinds {
		s, text, html, err := render(kind, d)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if s == "" || strings.TrimSpace(text) == "" || !strings.Contains(html, "<html>") {
			t.Errorf("%s rendered subject %q text %q html %q", kind, s, text, html)
		}
		if strings.Contains(s+text+html, "<no value>") {
			t.Errorf("%s has a missing value: %s\n%s", kind, s, text)
		}
	}
	_, text, _, _ := render(KindCustomerRegistered, d)
	if !strings.Contains(text, d.VerificationURL) {
		t.Errorf("registration mail lacks the verification link: %s", text)
	}
}

func TestNotificationIDIsPerFactAndChannel(t *testing.T) {
	a, b := notificationID("fact-1", ChannelEmail), notificationID("fact-1", ChannelEmail)
	if a != b {
		t.Fatal("the same fact and channel must give the same id")
	}
	if a == notificationID("fact-1", ChannelSlack) || a == notificationID("fact-2", ChannelEmail) {
		t.Fatal("different facts or channels must give different ids")
	}
}
