package notifications

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"acme"
	"acme/es"
	"acme/httpapi"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures the channels.
type Config struct {
	Mailer          Mailer // required: EMLMailer (embedded default) or SMTPMailer
	From            string // sender address (default "Acme <no-reply@acme.test>")
	OpsEmail        string // where operational alerts go (default "ops@acme.test")
	OpsPhone        string // SMS recipient of operational alerts (with SMSWebhookURL)
	SMSWebhookURL   string // SMS gateway; empty disables SMS
	SlackWebhookURL string // Slack incoming webhook; empty disables Slack
	BaseURL         string // public URL for links (default "http://127.0.0.1:8080")
	HTTPClient      *http.Client
	Clock           acme.Clock
}

// Module is the notifications bounded context.
type Module struct {
	cfg   Config
	store es.Store
	host  es.Host
}

// New returns the notifications context.
func New(cfg Config) *Module {
	if cfg.From == "" {
		cfg.From = "Acme <no-reply@acme.test>"
	}
	if cfg.OpsEmail == "" {
		cfg.OpsEmail = "ops@acme.test"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://127.0.0.1:8080"
	}
	if cfg.Clock == nil {
		cfg.Clock = acme.SystemClock{}
	}
	return &Module{cfg: cfg}
}

// Name implements es.Module.
func (m *Module) Name() string { return owner }

const consumerFacts = "facts"

// Start implements es.Module.
func (m *Module) Start(ctx context.Context, h es.Host) error {
	if m.cfg.Mailer == nil {
		return errors.New("notifications: no mailer configured")
	}
	m.host, m.store = h, h.Store()
	if err := es.MigrateDir(ctx, m.store, owner, migrations, "migrations"); err != nil {
		return fmt.Errorf("notifications: migrate: %w", err)
	}
	h.Consume(consumerFacts, []string{"CustomerRegistered", "VerificationEmailRequested", "ProductCreated", "ProductUpdated",
		"OrderCreated", "OrderConfirmed", "OrderShipped", "OrderDelivered", "OrderCancelled", "OutOfStock"}, m.onFact)
	return nil
}

// The facts as this context reads them (tolerant readers).
type (
	customerFact struct {
		CustomerID        string `json:"customerId"`
		Email             string `json:"email"`
		Name              string `json:"name"`
		VerificationToken string `json:"verificationToken"`
	}
	productFact struct {
		ProductID string `json:"productId"`
		Name      string `json:"name"`
	}
	orderFact struct {
		OrderID    string `json:"orderId"`
		CustomerID string `json:"customerId"`
		LineItems  []struct {
			Name      string     `json:"name"`
			Quantity  int        `json:"quantity"`
			LineTotal acme.Money `json:"lineTotal"`
		} `json:"lineItems"`
		TotalAmount    acme.Money `json:"totalAmount"`
		TrackingNumber string     `json:"trackingNumber"`
		Carrier        string     `json:"carrier"`
		Reason         string     `json:"reason"`
	}
	stockFact struct {
		ProductID string `json:"productId"`
		VariantID string `json:"variantId"`
	}
)

// onFact turns one fact into its notifications and sends those not sent yet.
func (m *Module) onFact(ctx context.Context, msg es.Message) (es.Commit, error) {
	var (
		d          data
		customerID string
		to         []channelTo
		after      func(ctx context.Context, tx es.SQL, _ []es.Event) error
	)
	kind := kindOf[msg.Type]
	switch msg.Type {
	case "ProductCreated", "ProductUpdated":
		var p productFact
		if err := es.DecodeData(msg, &p); err != nil {
			return es.Commit{}, err
		}
		return es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO notifications_products (product_id, name) VALUES ($1, $2)
				ON CONFLICT (product_id) DO UPDATE SET name = excluded.name`, p.ProductID, p.Name)
			return err
		}}, nil
	case "CustomerRegistered", "VerificationEmailRequested": // a new link has the same fields
		var c customerFact
		if err := es.DecodeData(msg, &c); err != nil {
			return es.Commit{}, err
		}
		customerID = c.CustomerID
		d = data{Name: c.Name, Email: c.Email,
			VerificationURL: strings.TrimRight(m.cfg.BaseURL, "/") + "/verify-email?token=" + c.VerificationToken}
		to = []channelTo{{ChannelEmail, c.Email}}
		if msg.Type == "CustomerRegistered" {
			after = func(ctx context.Context, tx es.SQL, _ []es.Event) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO notifications_customers (customer_id, email, name) VALUES ($1, $2, $3)
				ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, name = excluded.name`, c.CustomerID, c.Email, c.Name)
				return err
			}
		}
	case "OutOfStock":
		var s stockFact
		if err := es.DecodeData(msg, &s); err != nil {
			return es.Commit{}, err
		}
		d = data{ProductID: s.ProductID, VariantID: s.VariantID, ProductName: m.productName(ctx, s.ProductID)}
		to = []channelTo{{ChannelEmail, m.cfg.OpsEmail}}
		if m.cfg.SlackWebhookURL != "" {
			to = append(to, channelTo{ChannelSlack, "slack"})
		}
		if m.cfg.SMSWebhookURL != "" && m.cfg.OpsPhone != "" {
			to = append(to, channelTo{ChannelSMS, m.cfg.OpsPhone})
		}
	default: // the order facts
		var o orderFact
		if err := es.DecodeData(msg, &o); err != nil {
			return es.Commit{}, err
		}
		email, name, err := m.customer(ctx, o.CustomerID)
		if err != nil {
			return es.Commit{}, err // not known yet (or a store error): retried
		}
		customerID = o.CustomerID
		d = data{Name: name, Email: email, OrderID: o.OrderID, Total: money(o.TotalAmount),
			Carrier: o.Carrier, TrackingNumber: o.TrackingNumber, Reason: o.Reason}
		for _, li := range o.LineItems {
			d.Items = append(d.Items, line{Name: li.Name, Quantity: li.Quantity, LineTotal: money(li.LineTotal)})
		}
		to = []channelTo{{ChannelEmail, email}}
	}
	if kind == "" {
		return es.Commit{}, nil
	}
	subject, text, html, err := render(kind, d)
	if err != nil {
		return es.Commit{}, es.Permanent(fmt.Errorf("render %s: %w", kind, err))
	}
	// Each send is recorded before the next channel's (a failure of a later
	// channel does not resend this one); the last record is the fact's own
	// commit, with its inbox id: one commit for a one-channel fact.
	last := es.Commit{Apply: after}
	for i, ct := range to {
		n := Message{ID: notificationID(msg.ID, ct.channel), Kind: kind, Channel: ct.channel, To: ct.to,
			Subject: subject, Text: text, HTML: html, CustomerID: customerID}
		record, err := m.deliver(ctx, msg, n)
		if err != nil {
			return es.Commit{}, err
		}
		if i == len(to)-1 {
			last = es.Join(record, last)
			break
		}
		if len(record.Appends) > 0 {
			if _, err := m.store.Commit(ctx, record); err != nil && !errors.Is(err, es.ErrConcurrency) {
				return es.Commit{}, err // ErrConcurrency: another process recorded the same notification
			}
		}
	}
	return last, nil
}

type channelTo struct{ channel, to string }

// deliver sends n unless it was sent before, and returns the commit that
// records it (none when it was sent before). Whoever stores that commit makes
// the notification sent once: a redelivered fact finds its stream and sends
// nothing; a commit that fails with ErrConcurrency lost to another process
// that recorded the same notification.
func (m *Module) deliver(ctx context.Context, fact es.Message, n Message) (es.Commit, error) {
	stream := "notification-" + n.ID
	v, err := m.store.StreamVersion(ctx, stream)
	if err != nil {
		return es.Commit{}, err
	}
	if v > 0 {
		return es.Commit{}, nil // sent once already
	}
	if err := m.send(ctx, n); err != nil {
		m.recordFailure(ctx, n, err)
		return es.Commit{}, fmt.Errorf("send %s %s: %w", n.Kind, n.Channel, err)
	}
	now := m.cfg.Clock.Now().Format("2006-01-02T15:04:05.000000Z")
	sent := NotificationSentV1{NotificationID: n.ID, Kind: n.Kind, Channel: n.Channel, To: n.To, Subject: n.Subject,
		CustomerID: n.CustomerID, FactType: fact.Type, FactID: fact.ID, SentAt: now}
	return es.Commit{
		Appends: []es.Append{{StreamID: stream, StreamType: "notification", Expected: es.NoStream,
			Events: []es.Event{NotificationSent.New(m.host.NewID(), sent, es.MetadataFrom(ctx))}}},
		Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO notifications_sent
				(notification_id, kind, channel, recipient, subject, customer_id, status, last_error, sent_at)
				VALUES ($1, $2, $3, $4, $5, $6, 'SENT', '', $7)
				ON CONFLICT (notification_id) DO UPDATE SET status = 'SENT', last_error = '', sent_at = excluded.sent_at`,
				n.ID, n.Kind, n.Channel, n.To, n.Subject, n.CustomerID, now)
			return err
		}}, nil
}

func (m *Module) recordFailure(ctx context.Context, n Message, cause error) {
	now := m.cfg.Clock.Now().Format("2006-01-02T15:04:05.000000Z")
	_, err := m.store.DB().ExecContext(ctx, `INSERT INTO notifications_sent
		(notification_id, kind, channel, recipient, subject, customer_id, status, last_error, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'FAILED', $7, $8)
		ON CONFLICT (notification_id) DO UPDATE SET last_error = excluded.last_error
		WHERE notifications_sent.status <> 'SENT'`,
		n.ID, n.Kind, n.Channel, n.To, n.Subject, n.CustomerID, cause.Error(), now)
	if err != nil {
		slog.WarnContext(ctx, "notifications: recording a failed send", "err", err)
	}
}

func (m *Module) send(ctx context.Context, n Message) error {
	switch n.Channel {
	case ChannelEmail:
		return m.cfg.Mailer.Send(ctx, Email{ID: n.ID, From: m.cfg.From, To: n.To, Subject: n.Subject,
			Text: n.Text, HTML: n.HTML, Date: m.cfg.Clock.Now()})
	case ChannelSlack:
		return Webhook{URL: m.cfg.SlackWebhookURL, Client: m.cfg.HTTPClient}.Post(ctx, n.ID,
			map[string]string{"text": n.Subject + "\n" + n.Text})
	case ChannelSMS:
		return Webhook{URL: m.cfg.SMSWebhookURL, Client: m.cfg.HTTPClient}.Post(ctx, n.ID,
			map[string]string{"to": n.To, "body": n.Subject})
	}
	return es.Permanent(fmt.Errorf("unknown channel %q", n.Channel))
}

func (m *Module) customer(ctx context.Context, id string) (email, name string, err error) {
	err = m.store.DB().QueryRowContext(ctx, `SELECT email, name FROM notifications_customers WHERE customer_id = $1`, id).Scan(&email, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("customer %s not known yet", id)
	}
	return email, name, err
}

func (m *Module) productName(ctx context.Context, id string) string {
	var name string
	if err := m.store.DB().QueryRowContext(ctx, `SELECT name FROM notifications_products WHERE product_id = $1`, id).Scan(&name); err != nil {
		return id
	}
	return name
}

// View is a notification as the API lists it.
type View struct {
	NotificationID string  `json:"notificationId"`
	Kind           string  `json:"kind"`
	Channel        string  `json:"channel"`
	To             string  `json:"to"`
	Subject        string  `json:"subject"`
	CustomerID     string  `json:"customerId,omitempty"`
	SentAt         *string `json:"sentAt"` // null until sent (status FAILED)
	Status         string  `json:"status"`
	LastError      string  `json:"lastError,omitempty"`
}

// Routes implements the Notifications section of the HTTP contract.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("GET /api/v1/notifications", httpapi.Admin, m.handleList,
		httpapi.Summary("Notifications sent (status SENT) or failing and being retried (status FAILED, with lastError and sentAt null), newest first (a failing one by when it first failed); filter by customerId and kind."),
		httpapi.Returns(http.StatusOK, httpapi.List[View]{}), httpapi.Reads(owner+"."+consumerFacts),
		httpapi.QueryFormat("customerId", "string", "uuid", "A customer (anything but a customer id is 422 validation_failed)."),
		httpapi.Query("kind", "string", "customer_registered, email_verification (a new verification link the customer asked for), order_placed, order_confirmed, order_shipped, order_delivered, order_cancelled or out_of_stock (anything else is 422 validation_failed)."))
}

var kinds = map[string]bool{KindCustomerRegistered: true, KindEmailVerification: true, KindOrderPlaced: true, KindOrderConfirmed: true,
	KindOrderShipped: true, KindOrderDelivered: true, KindOrderCancelled: true, KindOutOfStock: true}

func (m *Module) handleList(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	where, args := []string{"1 = 1"}, []any{}
	if c := acme.NormalizeID(q.Get("customerId")); c != "" {
		if !acme.ValidID(c) {
			return acme.Invalid(acme.FieldError{Field: "customerId", Message: "must be a customer id (UUID)"})
		}
		args = append(args, c)
		where = append(where, "customer_id = $"+strconv.Itoa(len(args)))
	}
	if k := q.Get("kind"); k != "" {
		if !kinds[k] {
			return acme.Invalid(acme.FieldError{Field: "kind", Message: "unknown notification kind"})
		}
		args = append(args, k)
		where = append(where, "kind = $"+strconv.Itoa(len(args)))
	}
	cond := strings.Join(where, " AND ")
	db := m.store.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM notifications_sent WHERE `+cond, args...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT notification_id, kind, channel, recipient, subject, customer_id, sent_at, status, last_error
		FROM notifications_sent WHERE `+cond+` ORDER BY sent_at DESC, notification_id
		LIMIT $`+strconv.Itoa(len(args)+1)+` OFFSET $`+strconv.Itoa(len(args)+2), append(args, size, (page-1)*size)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []View{}
	for rows.Next() {
		var v View
		var at string // when sent; for a FAILED one, when it first failed (the list's order)
		if err := rows.Scan(&v.NotificationID, &v.Kind, &v.Channel, &v.To, &v.Subject, &v.CustomerID, &at, &v.Status, &v.LastError); err != nil {
			return err
		}
		if v.Status == "SENT" {
			v.SentAt = &at
		}
		items = append(items, v)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.List[View]{Items: items, Total: total, Page: page, PageSize: size})
}
