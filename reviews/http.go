package reviews

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"

	"acme"
	"acme/httpapi"
)

type submitRequest struct {
	Rating json.RawMessage `json:"rating"`
	Title  string          `json:"title"`
	Body   string          `json:"body"`
}

type flagRequest struct {
	Reason string `json:"reason"`
	Notes  string `json:"notes,omitempty"`
}

type rejectRequest struct {
	Reason string `json:"reason,omitempty"`
}

type productReviews struct {
	ProductID     string       `json:"productId"`
	AverageRating float64      `json:"averageRating"`
	ReviewCount   int          `json:"reviewCount"`
	Items         []ReviewView `json:"items"`
	Total         int          `json:"total"`
	Page          int          `json:"page"`
	PageSize      int          `json:"pageSize"`
}

type flagged struct {
	ReviewID string `json:"reviewId"`
	Status   string `json:"status"`
}

type voted struct {
	ReviewID     string `json:"reviewId"`
	HelpfulCount int    `json:"helpfulCount"`
}

var flagReasons = map[string]bool{"spam": true, "abuse": true, "off_topic": true, "inappropriate": true, "other": true}
var rejectReasons = map[string]bool{"spam": true, "abuse": true, "off_topic": true, "policy_violation": true}

// parseRating accepts only a JSON integer from 1 to 5. As in JSON Schema, a
// number with a zero fraction (4.0, 4e0) is that integer; 4.5 is not.
func parseRating(raw json.RawMessage) (int, bool) {
	var n json.Number
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if len(raw) == 0 || raw[0] == '"' || d.Decode(&n) != nil {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < 1 || f > 5 {
		return 0, false
	}
	return int(f), true
}

func validateText(title, body string) error {
	var fields []acme.FieldError
	if n := utf8.RuneCountInString(strings.TrimSpace(title)); n < 1 || utf8.RuneCountInString(title) > 120 || acme.Blank(title) {
		fields = append(fields, acme.FieldError{Field: "title", Message: "must be 1 to 120 characters"})
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(body)); n < 1 || utf8.RuneCountInString(body) > 5000 || acme.Blank(body) {
		fields = append(fields, acme.FieldError{Field: "body", Message: "must be 1 to 5000 characters"})
	}
	if len(fields) == 0 && acme.HasControl(title) {
		fields = append(fields, acme.FieldError{Field: "title", Message: "must not contain control characters (line breaks, NUL)"})
	}
	if len(fields) == 0 && acme.HasControlInText(body) {
		fields = append(fields, acme.FieldError{Field: "body", Message: "must not contain control characters other than line breaks and tabs"})
	}
	if len(fields) > 0 {
		return acme.Invalid(fields...)
	}
	return nil
}

// Routes implements the Reviews section of the HTTP contract.
func (m *Module) Routes(api *httpapi.API) {
	m.api = api
	api.Handle("POST /api/v1/products/{id}/reviews", httpapi.Customer, m.handleSubmit,
		httpapi.Summary("Submit a review (one per customer and product); 201 with Location: /api/v1/reviews/{reviewId}. Honours Acme-Min-Position for the product and the customer's deliveries; without it, a product not known yet, or a customer without a delivered order of the product, is looked again once those read models have caught up with what catalog and ordering have committed (up to 1 s; 503 stale_read_model when they have not by then). A rating that is not a number is 400 bad_request (a wrong type), a number other than an integer 1-5 is 422 invalid_rating (as in JSON Schema, 4.0 is the integer 4; 4.5 is refused). A review with a link (a URL with any scheme followed by //; mailto:, javascript:…, data:type/, tel:/sms: with a number, magnet:?; an HTML anchor; www.; an IPv4 address or localhost with a port or path; a punycode label xn--; or a host name in any script ending in a common top-level domain such as bit.ly, shop.example.de, магазин.com or пример.рф) or a word from the moderation list is held for moderation (PENDING_MODERATION); any other is published at once. The text is read as it shows: compatible forms (fullwidth letters) as the plain ones, invisible characters (zero-width spaces, soft hyphens) dropped, an ideographic full stop between lower-case ASCII letters as a dot, and a word that mixes Latin with Cyrillic or Greek letters also matches with the look-alikes read as Latin and its accents dropped (a word of one script, such as the French hâte, is read as written). verifiedPurchase is true when the customer has a delivered order with the product."),
		httpapi.Body(submitRequest{}), httpapi.Returns(http.StatusCreated, Submitted{}),
		httpapi.CommandReads(owner+"."+consumerProducts, owner+"."+consumerDeliveries))
	api.Handle("GET /api/v1/products/{id}/reviews", httpapi.Anonymous, m.handleList,
		httpapi.Summary("Published reviews of a product, newest first, paged, with averageRating (two decimals) and reviewCount from the rating cache."),
		httpapi.Returns(http.StatusOK, productReviews{}),
		httpapi.Reads(owner+"."+consumerProducts, owner+"."+consumerAggregator, projectionCache))
	api.Handle("GET /api/v1/reviews/{id}", httpapi.Anonymous, m.handleGet,
		httpapi.Summary("One review: published reviews for anyone; the author and admins also see it in any status."),
		httpapi.Returns(http.StatusOK, ReviewView{}))
	api.Handle("POST /api/v1/reviews/{id}/flag", httpapi.Customer, m.handleFlag,
		httpapi.Summary("Flag a published review (reason: spam, abuse, off_topic, inappropriate or other; any other text is recorded as other). Three flags from different customers take it back to moderation. 409 already_flagged (by this customer). The author may flag their own review (the contract lists no refusal for it)."),
		httpapi.Body(flagRequest{}), httpapi.Returns(http.StatusAccepted, flagged{}))
	api.Handle("POST /api/v1/reviews/{id}/helpful", httpapi.Customer, m.handleHelpful,
		httpapi.Summary("Mark a published review helpful (once per customer; 409 already_voted; 403 forbidden for the review's author)."),
		httpapi.Returns(http.StatusOK, voted{}), httpapi.NoBody())
	api.Handle("POST /api/v1/reviews/{id}/approve", httpapi.Admin, m.handleApprove,
		httpapi.Summary("Publish a review held for moderation."), httpapi.Returns(http.StatusOK, ReviewView{}), httpapi.NoBody())
	api.Handle("POST /api/v1/reviews/{id}/reject", httpapi.Admin, m.handleReject,
		httpapi.Summary("Reject a review held for moderation (optional body {reason}: spam, abuse, off_topic, policy_violation)."),
		httpapi.Body(rejectRequest{}), httpapi.Returns(http.StatusOK, ReviewView{}))
	api.Handle("GET /api/v1/admin/reviews", httpapi.Admin, m.handleQueue,
		httpapi.Query("status", "string", "The moderation status to list (see the description), in any case."),
		httpapi.Summary("Reviews by status (default PENDING_MODERATION: the moderation queue), newest first."),
		httpapi.Returns(http.StatusOK, httpapi.List[ReviewView]{}))
}

// decodeSubmit reads and validates a review submission body.
func decodeSubmit(r *http.Request) (rating int, title, body string, err error) {
	var req submitRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return 0, "", "", err
	}
	if raw := bytes.TrimSpace(req.Rating); len(raw) > 0 && raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') && string(raw) != "null" {
		// a string, a boolean, an object or an array: a wrong type, as for any field
		return 0, "", "", acme.Errorf(acme.CodeBadRequest, "rating must be a number")
	}
	rating, ok := parseRating(req.Rating)
	if !ok {
		return 0, "", "", acme.Errorf("invalid_rating", "rating must be an integer from 1 to 5")
	}
	if err := validateText(req.Title, req.Body); err != nil {
		return 0, "", "", err
	}
	return rating, req.Title, req.Body, nil
}

// decodeFlag reads and validates a flag body.
func decodeFlag(r *http.Request) (flagRequest, error) {
	var req flagRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return req, err
	}
	// The contract's body is a free-text {reason}: a known reason is kept, any
	// other text is recorded as "other".
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return req, acme.Invalid(acme.FieldError{Field: "reason", Message: "is required"})
	case flagReasons[strings.ToLower(reason)]:
		req.Reason = strings.ToLower(reason)
	default:
		req.Reason = "other"
	}
	if utf8.RuneCountInString(req.Notes) > 1000 {
		return req, acme.Invalid(acme.FieldError{Field: "notes", Message: "must be at most 1000 characters"})
	}
	if acme.HasControlInText(req.Notes) {
		return req, acme.Invalid(acme.FieldError{Field: "notes", Message: "must not contain control characters other than line breaks and tabs"})
	}
	return req, nil
}

// customerOnly refuses callers without a customer session (the admin): the
// contract gives reviews, flags and votes to customers.
func customerOnly(r *http.Request) error {
	if httpapi.CallerFrom(r.Context()).CustomerID == "" {
		return acme.Errorf(acme.CodeForbidden, "only a signed-in customer may do this")
	}
	return nil
}

func (m *Module) handleSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := customerOnly(r); err != nil {
		return err
	}
	rating, title, body, err := decodeSubmit(r)
	if err != nil {
		return err
	}
	productID := r.PathValue("id")
	if !acme.ValidID(productID) {
		return acme.Errorf(acme.CodeNotFound, "product not found")
	}
	if err := m.awaitCommandReads(r, owner+"."+consumerProducts, owner+"."+consumerDeliveries); err != nil {
		return err
	}
	s, err := m.Submit(r.Context(), httpapi.CallerFrom(r.Context()).CustomerID, productID, rating, title, body)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, owner, s.position)
	w.Header().Set("Location", "/api/v1/reviews/"+s.ReviewID)
	return httpapi.JSON(w, http.StatusCreated, s)
}

// awaitCommandReads lets a command honour Acme-Min-Position for the read
// models it checks (the product exists; the customer's deliveries), so a client
// that just created a product or received an order sees it here too.
func (m *Module) awaitCommandReads(r *http.Request, reads ...string) error {
	if m.api == nil {
		return nil
	}
	return m.api.AwaitMinPosition(r, reads...)
}

func (m *Module) handleList(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	productID := r.PathValue("id")
	exists, _, err := m.product(r.Context(), productID)
	if err != nil {
		return err
	}
	if !exists {
		return acme.Errorf(acme.CodeNotFound, "product not found")
	}
	items, err := m.pageReviews(r.Context(), `product_id = $1 AND status = $2`, []any{productID, StatusPublished}, page, size)
	if err != nil {
		return err
	}
	total, err := m.publishedCount(r.Context(), productID)
	if err != nil {
		return err
	}
	rt, err := m.rating(r.Context(), productID)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, productReviews{ProductID: productID, AverageRating: rt.AverageRating,
		ReviewCount: rt.ReviewCount, Items: items, Total: total, Page: page, PageSize: size})
}

func (m *Module) handleGet(w http.ResponseWriter, r *http.Request) error {
	v, ok, err := m.review(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c := httpapi.CallerFrom(r.Context())
	if !ok || (v.Status != StatusPublished && c.Role != httpapi.Admin && c.CustomerID != v.CustomerID) {
		return notFound()
	}
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleFlag(w http.ResponseWriter, r *http.Request) error {
	if err := customerOnly(r); err != nil {
		return err
	}
	req, err := decodeFlag(r)
	if err != nil {
		return err
	}
	c := httpapi.CallerFrom(r.Context())
	v, pos, err := m.act(r.Context(), r.PathValue("id"), flagReview{By: c.CustomerID, Reason: req.Reason, At: m.clock.Now().Format(timeFormat)})
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, owner, pos)
	return httpapi.JSON(w, http.StatusAccepted, flagged{ReviewID: v.ReviewID, Status: v.Status})
}

func (m *Module) handleHelpful(w http.ResponseWriter, r *http.Request) error {
	if err := customerOnly(r); err != nil {
		return err
	}
	c := httpapi.CallerFrom(r.Context())
	v, pos, err := m.act(r.Context(), r.PathValue("id"), voteHelpful{By: c.CustomerID, At: m.clock.Now().Format(timeFormat)})
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, owner, pos)
	return httpapi.JSON(w, http.StatusOK, voted{ReviewID: v.ReviewID, HelpfulCount: v.HelpfulCount})
}

func (m *Module) handleApprove(w http.ResponseWriter, r *http.Request) error {
	v, pos, err := m.act(r.Context(), r.PathValue("id"), approveReview{At: m.clock.Now().Format(timeFormat)})
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, owner, pos)
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleReject(w http.ResponseWriter, r *http.Request) error {
	var req rejectRequest
	if r.ContentLength != 0 {
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
	}
	if req.Reason != "" && !rejectReasons[req.Reason] {
		return acme.Invalid(acme.FieldError{Field: "reason", Message: "must be one of spam, abuse, off_topic, policy_violation"})
	}
	v, pos, err := m.act(r.Context(), r.PathValue("id"), rejectReview{Reason: req.Reason, At: m.clock.Now().Format(timeFormat)})
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, owner, pos)
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleQueue(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	status := strings.ToUpper(r.URL.Query().Get("status")) // the statuses are upper case; pending is PENDING
	if status == "" {
		status = StatusPending
	}
	if status != StatusPending && status != StatusPublished && status != StatusRejected {
		return acme.Invalid(acme.FieldError{Field: "status", Message: "must be PENDING_MODERATION, PUBLISHED or REJECTED"})
	}
	items, total, err := m.listReviews(r.Context(), `status = $1`, []any{status}, page, size)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.List[ReviewView]{Items: items, Total: total, Page: page, PageSize: size})
}
