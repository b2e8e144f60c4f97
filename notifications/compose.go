package notifications

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"text/template"

	"github.com/google/uuid"

	"acme"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textTemplates = template.Must(template.ParseFS(templateFS, "templates/email.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/email.html.tmpl"))
	subjects      = map[string]*template.Template{}
)

func init() {
	for kind, s := range map[string]string{
		KindCustomerRegistered: "Welcome to Acme, please confirm your email",
		KindEmailVerification:  "Confirm your email address",
		KindOrderPlaced:        "We received your order {{.OrderID}}",
		KindOrderConfirmed:     "Your order {{.OrderID}} is confirmed",
		KindOrderShipped:       "Your order {{.OrderID}} has shipped",
		KindOrderDelivered:     "Your order {{.OrderID}} was delivered",
		KindOrderCancelled:     "Your order {{.OrderID}} was cancelled",
		KindOutOfStock:         "Out of stock: {{.ProductName}}",
	} {
		subjects[kind] = template.Must(template.New(kind).Parse(s))
	}
}

// Notification kinds (the contract's list, and email_verification: a new
// verification link a customer asked for).
const (
	KindCustomerRegistered = "customer_registered"
	KindEmailVerification  = "email_verification"
	KindOrderPlaced        = "order_placed"
	KindOrderConfirmed     = "order_confirmed"
	KindOrderShipped       = "order_shipped"
	KindOrderDelivered     = "order_delivered"
	KindOrderCancelled     = "order_cancelled"
	KindOutOfStock         = "out_of_stock"
)

// Channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelSlack = "slack"
)

// kindOf maps a fact's message name to the notification kind it triggers.
var kindOf = map[string]string{
	"CustomerRegistered":         KindCustomerRegistered,
	"VerificationEmailRequested": KindEmailVerification,
	"OrderCreated":               KindOrderPlaced,
	"OrderPlaced":                KindOrderPlaced,
	"OrderConfirmed":             KindOrderConfirmed,
	"OrderShipped":               KindOrderShipped,
	"OrderDelivered":             KindOrderDelivered,
	"OrderCancelled":             KindOrderCancelled,
	"OutOfStock":                 KindOutOfStock,
}

// line is one order line as the templates show it.
type line struct {
	Name      string
	Quantity  int
	LineTotal string
}

// data is what the templates see.
type data struct {
	Name, Email, VerificationURL              string
	OrderID, Total, Carrier, TrackingNumber   string
	Reason, ProductID, ProductName, VariantID string
	Items                                     []line
}

// Message is one rendered notification for one channel.
type Message struct {
	ID, Kind, Channel, To, Subject, Text, HTML string
	CustomerID                                 string
}

// notificationID is derived from the fact and the channel, so the same fact
// delivered again yields the same id (sent once per fact).
func notificationID(factID, channel string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("acme.notification/"+factID+"/"+channel)).String()
}

// render fills the subject, text and HTML of kind with d.
func render(kind string, d data) (subject, text, html string, err error) {
	var s, t, h bytes.Buffer
	if err = subjects[kind].Execute(&s, d); err != nil {
		return
	}
	if err = textTemplates.ExecuteTemplate(&t, kind, d); err != nil {
		return
	}
	if err = htmlTemplates.ExecuteTemplate(&h, kind, d); err != nil {
		return
	}
	var page bytes.Buffer
	if err = htmlTemplates.ExecuteTemplate(&page, "layout", struct{ Body htmltemplate.HTML }{htmltemplate.HTML(h.String())}); err != nil {
		return
	}
	return s.String(), t.String(), page.String(), nil
}

func money(m acme.Money) string { return m.String() }
