package ordering

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"acme"
	"acme/es"
	"acme/httpapi"
)

// CancelRequest is the body of POST /api/v1/orders/{id}/cancel. It is
// optional: no body, {} or a blank reason cancels with CUSTOMER_REQUESTED.
type CancelRequest struct {
	Reason string `json:"reason,omitzero"`
}

// ShipRequest is the body of POST /api/v1/orders/{id}/ship.
type ShipRequest struct {
	TrackingNumber string `json:"trackingNumber"`
	Carrier        string `json:"carrier"`
}

// DeliverRequest is the body of POST /api/v1/orders/{id}/deliver.
type DeliverRequest struct {
	TrackingNumber string `json:"trackingNumber"`
}

// HistoryItem is one entry of an order's history.
type HistoryItem struct {
	Version int64     `json:"version"`
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	At      time.Time `json:"at"`
}

// History is the body of GET /api/v1/orders/{id}/history.
type History struct {
	Items []HistoryItem `json:"items"`
}

// orderReads are the consumers that change an order after its own commands:
// a capture or refund (payments), ready for shipping (warehouse). With
// Acme-Min-Position a read of orders waits for them.
var orderReads = []string{owner + ".payments", owner + ".warehouse"}

// Routes registers the Orders section of the contract.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("GET /api/v1/orders", httpapi.Customer, m.list,
		httpapi.Query("status", "string", "PENDING, CONFIRMED, SHIPPED, DELIVERED or CANCELLED, in any case."),
		httpapi.QueryFormat("customerId", "string", "uuid", "Admin: one customer's orders (a customer may give only their own id)."),
		httpapi.Summary("The caller's orders, newest first (admin: every order; filters ?status= and ?customerId=)."),
		httpapi.Returns(200, httpapi.List[View]{}), httpapi.Reads(orderReads...))
	api.Handle("GET /api/v1/orders/{id}", httpapi.Customer, m.get,
		httpapi.QueryFormat("asOf", "string", "date-time", "The order as it was at this time (RFC 3339)."),
		httpapi.Query("version", "integer", "The order as it was at this version (1 = created)."),
		httpapi.Summary("One order; with ?asOf= (RFC 3339) or ?version= the order as it was then, rebuilt from its events. "+
			"404 when the order did not exist yet at asOf, or has no such version (a version past its latest). With both, both bound it: "+
			"the order at the earlier of the two. asOf reads the times GET /api/v1/orders/{id}/history shows: at an entry's at the "+
			"order includes that event, before it not (so asOf=placedAt is the order as created when placedAt was taken within a second "+
			"before the creation was recorded, as it is unless the server stalls)."),
		httpapi.Returns(200, View{}), httpapi.Reads(orderReads...))
	api.Handle("GET /api/v1/orders/{id}/history", httpapi.Customer, m.history,
		httpapi.Summary("Every event of an order, oldest first, with the status after it and at, the time it took effect: the time "+
			"the event carries (placedAt, the order's updatedAt after it) when that was taken within a second before the event was "+
			"recorded, else the time it was recorded; never earlier than the entry before. ?asOf= reads the same times."),
		httpapi.Returns(200, History{}))
	api.Handle("POST /api/v1/orders/{id}/cancel", httpapi.Customer, m.cancel,
		httpapi.Summary("Cancel a PENDING or CONFIRMED order (owner or admin): stock released, payment voided or refunded in full."),
		httpapi.OptionalBody(CancelRequest{}), httpapi.Returns(200, View{}))
	api.Handle("POST /api/v1/orders/{id}/ship", httpapi.Admin, m.ship,
		httpapi.Summary("Ship a CONFIRMED order; its reserved stock is deducted."),
		httpapi.Body(ShipRequest{}), httpapi.Returns(200, View{}))
	api.Handle("POST /api/v1/orders/{id}/deliver", httpapi.Admin, m.deliver,
		httpapi.Summary("Record the delivery of a SHIPPED order; the tracking number must match."),
		httpapi.Body(DeliverRequest{}), httpapi.Returns(200, View{}))
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	c := httpapi.CallerFrom(r.Context())
	q := ListQuery{Page: page, Size: size, Status: strings.ToUpper(r.URL.Query().Get("status"))}
	var fields []acme.FieldError
	if q.Status != "" && !validStatus(q.Status) {
		fields = append(fields, acme.FieldError{Field: "status", Message: "must be PENDING, CONFIRMED, SHIPPED, DELIVERED or CANCELLED"})
	}
	customerID := acme.NormalizeID(r.URL.Query().Get("customerId"))
	if customerID != "" && !acme.ValidID(customerID) {
		fields = append(fields, acme.FieldError{Field: "customerId", Message: "must be a customer id (a UUID)"})
	}
	if len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	if c.Role == httpapi.Admin {
		q.CustomerID = customerID
	} else {
		q.CustomerID = c.CustomerID
		// a customer may filter on themselves only; another id matches nothing of theirs
		if customerID != "" && customerID != c.CustomerID {
			return httpapi.JSON(w, 200, httpapi.List[View]{Items: []View{}, Page: page, PageSize: size})
		}
	}
	items, total, err := m.List(r.Context(), q)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, 200, httpapi.List[View]{Items: items, Total: total, Page: page, PageSize: size})
}

// visible loads order id as of q and checks the caller may see it (404 otherwise).
func (m *Module) visible(ctx context.Context, id string, q es.StreamQuery) (es.Loaded[Order], error) {
	if !acme.ValidID(id) {
		return es.Loaded[Order]{}, notFound()
	}
	l, err := m.Load(ctx, id, q)
	if err != nil {
		return l, err
	}
	c := httpapi.CallerFrom(ctx)
	if l.Version == 0 || l.State.Status == "" || (c.Role != httpapi.Admin && l.State.CustomerID != c.CustomerID) {
		return l, notFound()
	}
	return l, nil
}

// temporalQuery reads ?version= into q and ?asOf= (nil when not given:
// the zero time is a valid asOf, before any order).
func temporalQuery(r *http.Request) (q es.StreamQuery, asOf *time.Time, err error) {
	var fields []acme.FieldError
	if s := r.URL.Query().Get("asOf"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			fields = append(fields, acme.FieldError{Field: "asOf", Message: "must be an RFC 3339 time"})
		}
		t = t.UTC()
		asOf = &t
	}
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			fields = append(fields, acme.FieldError{Field: "version", Message: "must be an integer >= 1"})
		}
		q.ToVersion = n
	}
	if len(fields) > 0 {
		return q, nil, acme.Invalid(fields...)
	}
	return q, asOf, nil
}

func (m *Module) get(w http.ResponseWriter, r *http.Request) error {
	q, asOf, err := temporalQuery(r)
	if err != nil {
		return err
	}
	if asOf != nil {
		v, err := m.asOfVersion(r.Context(), r.PathValue("id"), *asOf)
		if err != nil {
			return err
		}
		if v == 0 {
			return notFound()
		}
		if q.ToVersion == 0 || v < q.ToVersion {
			q.ToVersion = v
		}
	}
	l, err := m.visible(r.Context(), r.PathValue("id"), q)
	if err != nil {
		return err
	}
	if q.ToVersion > l.Version && asOf == nil {
		return acme.Errorf(acme.CodeNotFound, "the order has no version %d (it is at version %d)", q.ToVersion, l.Version)
	}
	return httpapi.JSON(w, 200, ViewOf(l.State, l.Version))
}

// timeline is the order's history: each event with the status after it and
// the time it took effect. That time is the one the event carries (placedAt,
// confirmedAt, ...: the order's updatedAt) when it was taken just before
// the event was recorded (under a second), else the time it was recorded;
// never earlier than the previous entry's. ?asOf= reads the same timeline,
// so asOf set to a time the API showed (an entry's at, placedAt, updatedAt)
// includes that change, and a time just before it does not.
func (m *Module) timeline(ctx context.Context, id string) ([]HistoryItem, error) {
	events, err := m.h.Store().ReadStream(ctx, streamID(id), es.StreamQuery{})
	if err != nil {
		return nil, err
	}
	var o Order
	var last time.Time
	out := make([]HistoryItem, 0, len(events))
	for _, e := range events {
		v, err := m.h.Registry().Decode(e)
		if err != nil {
			return nil, err
		}
		o = evolve(o, v)
		at := e.RecordedAt.UTC()
		if d := at.Sub(o.UpdatedAt); !o.UpdatedAt.IsZero() && d > 0 && d < time.Second {
			at = o.UpdatedAt.UTC()
		}
		if at.Before(last) {
			at = last
		}
		last = at
		out = append(out, HistoryItem{Version: e.Version, Type: e.Type, Status: o.Status, At: at})
	}
	return out, nil
}

// asOfVersion is the version order id had at asOf (0: it did not exist yet).
func (m *Module) asOfVersion(ctx context.Context, id string, asOf time.Time) (int64, error) {
	if !acme.ValidID(id) {
		return 0, nil
	}
	items, err := m.timeline(ctx, id)
	if err != nil {
		return 0, err
	}
	var version int64
	for _, it := range items {
		if it.At.After(asOf) {
			break
		}
		version = it.Version
	}
	return version, nil
}

func (m *Module) history(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := m.visible(ctx, id, es.StreamQuery{}); err != nil {
		return err
	}
	items, err := m.timeline(ctx, id)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, 200, History{Items: items})
}

func (m *Module) respond(w http.ResponseWriter, res Result) error {
	if res.Position > 0 {
		httpapi.SetPosition(w, owner, res.Position)
	}
	return httpapi.JSON(w, 200, ViewOf(res.Order, res.Version))
}

func (m *Module) cancel(w http.ResponseWriter, r *http.Request) error {
	var req CancelRequest
	if err := httpapi.DecodeOptional(r, &req); err != nil {
		return err
	}
	if fields := validateCancel(&req); len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	id := r.PathValue("id")
	if _, err := m.visible(r.Context(), id, es.StreamQuery{}); err != nil {
		return err
	}
	res, err := m.Execute(r.Context(), id, Cancel{Reason: req.Reason, At: m.now()})
	if err != nil {
		return err
	}
	return m.respond(w, res)
}

func required(fields []acme.FieldError, name, v string, max int) []acme.FieldError {
	switch n := utf8.RuneCountInString(strings.TrimSpace(v)); {
	case n == 0 || acme.Blank(v):
		return append(fields, acme.FieldError{Field: name, Message: "is required"})
	case n > max:
		return append(fields, acme.FieldError{Field: name, Message: "must be at most " + strconv.Itoa(max) + " characters"})
	case acme.HasControl(v):
		return append(fields, acme.FieldError{Field: name, Message: "must not contain control characters (line breaks, NUL)"})
	}
	return fields
}

func (m *Module) ship(w http.ResponseWriter, r *http.Request) error {
	var req ShipRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if fields := validateShip(req); len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	id := r.PathValue("id")
	if _, err := m.visible(r.Context(), id, es.StreamQuery{}); err != nil {
		return err
	}
	res, err := m.Execute(r.Context(), id, Ship{TrackingNumber: strings.TrimSpace(req.TrackingNumber), Carrier: strings.TrimSpace(req.Carrier), At: m.now()})
	if err != nil {
		return err
	}
	return m.respond(w, res)
}

func (m *Module) deliver(w http.ResponseWriter, r *http.Request) error {
	var req DeliverRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if fields := validateDeliver(req); len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	id := r.PathValue("id")
	if _, err := m.visible(r.Context(), id, es.StreamQuery{}); err != nil {
		return err
	}
	res, err := m.Execute(r.Context(), id, Deliver{TrackingNumber: strings.TrimSpace(req.TrackingNumber), At: m.now()})
	if err != nil {
		return err
	}
	return m.respond(w, res)
}

// decodeBody is httpapi.Decode (400 malformed, 413 too large).
func decodeBody(r *http.Request, v any) error { return httpapi.Decode(r, v) }

// validateCancel trims the reason (default CUSTOMER_REQUESTED; free text up to 500 characters).
func validateCancel(req *CancelRequest) []acme.FieldError {
	req.Reason = strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(req.Reason) > 500 {
		return []acme.FieldError{{Field: "reason", Message: "must be at most 500 characters"}}
	}
	if acme.HasControl(req.Reason) {
		return []acme.FieldError{{Field: "reason", Message: "must not contain control characters (line breaks, NUL)"}}
	}
	if req.Reason == "" {
		req.Reason = "CUSTOMER_REQUESTED"
	}
	return nil
}

func validateShip(req ShipRequest) []acme.FieldError {
	fields := required(nil, "trackingNumber", req.TrackingNumber, 100)
	return required(fields, "carrier", req.Carrier, 100)
}

func validateDeliver(req DeliverRequest) []acme.FieldError {
	return required(nil, "trackingNumber", req.TrackingNumber, 100)
}
