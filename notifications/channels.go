package notifications

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Email is one message to send, with a text and an HTML part.
type Email struct {
	ID      string // the notification id; also the Message-ID
	From    string
	To      string
	Subject string
	Text    string
	HTML    string
	Date    time.Time
}

// Mailer delivers email. Send must be safe to repeat with the same Email.ID.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// buildMessage renders e as a MIME message (multipart/alternative: text, HTML).
func buildMessage(e Email) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(e.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", e.From, err)
	}
	if err := m.To(e.To); err != nil {
		return nil, fmt.Errorf("to %q: %w", e.To, err)
	}
	m.Subject(e.Subject)
	m.SetMessageIDWithValue(e.ID + "@acme.notifications")
	m.SetDateWithValue(e.Date)
	m.SetBodyString(mail.TypeTextPlain, e.Text)
	m.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	return m, nil
}

// EMLMailer writes each email as <dir>/<id>.eml: the embedded default. Writing
// the same notification again replaces its file (atomic rename), never adds one.
type EMLMailer struct{ Dir string }

// Send implements Mailer.
func (m EMLMailer) Send(_ context.Context, e Email) error {
	msg, err := buildMessage(e)
	if err != nil {
		return err
	}
	// Rendered in memory first: go-mail writes header by header, and each
	// would be a system call on the file.
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return err
	}
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(m.Dir, ".tmp-*.eml")
	if err != nil {
		return err
	}
	// No fsync: like the embedded stores (synchronous=NORMAL), a written file
	// survives a crash of the process, and the rename shows it whole or not
	// at all. The fsync was a sixth of the notifications' CPU.
	_, err = tmp.Write(b.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(m.Dir, e.ID+".eml"))
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // the temporary file is left only on a failure
	}
	return err
}

// SMTPConfig configures SMTPMailer.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // with Password: SMTP AUTH (PLAIN/LOGIN, auto-discovered)
	Password string
	StartTLS bool // require STARTTLS (otherwise opportunistic)
}

// SMTPMailer sends through an SMTP server with go-mail.
type SMTPMailer struct{ cfg SMTPConfig }

// NewSMTPMailer returns a mailer for cfg.
func NewSMTPMailer(cfg SMTPConfig) *SMTPMailer { return &SMTPMailer{cfg: cfg} }

// Send implements Mailer.
func (s *SMTPMailer) Send(ctx context.Context, e Email) error {
	msg, err := buildMessage(e)
	if err != nil {
		return err
	}
	policy := mail.TLSOpportunistic
	if s.cfg.StartTLS {
		policy = mail.TLSMandatory
	}
	opts := []mail.Option{mail.WithPort(s.cfg.Port), mail.WithTLSPolicy(policy), mail.WithTimeout(10 * time.Second)}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	c, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	return nil
}

// Webhook posts a JSON payload to a URL (the SMS gateway and Slack channels).
type Webhook struct {
	URL    string
	Client *http.Client
}

// Post sends payload; any status other than 2xx is an error (retried).
func (w Webhook) Post(ctx context.Context, idempotencyKey string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey)
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %d", w.URL, resp.StatusCode)
	}
	return nil
}
