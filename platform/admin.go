package platform

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

// ReadModel is one line of GET /api/v1/admin/projections (a projection over a
// context's own log) or of GET /api/v1/admin/consumers (a bus-fed read model
// or process).
type ReadModel struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`     // "projection" or "consumer"
	Position int64  `json:"position"` // projection: log position applied; consumer of one context's messages: that log's position applied through (0 for several: see Positions)
	// Positions (consumers): per source context, the highest position of
	// its log the consumer has applied (the same from every process, kept
	// across restarts; written each second).
	Positions map[string]int64 `json:"positions,omitempty"`
	Lag       int64            `json:"lag"`    // projection: log entries not applied; consumer: messages pending or unacknowledged
	Status    string           `json:"status"` // running, rebuilding, failing, stopped
	LastError string           `json:"lastError,omitempty"`
}

// DeadLetterView is one line of GET /api/v1/admin/dead-letters.
type DeadLetterView struct {
	ID          string    `json:"id"`
	Consumer    string    `json:"consumer"`
	MessageType string    `json:"messageType"`
	MessageID   string    `json:"messageId"`
	Error       string    `json:"error"`
	Deliveries  int       `json:"deliveries"`
	DeadAt      time.Time `json:"deadAt"`
}

// StreamEvent is one event of GET /api/v1/admin/streams/{streamId}/events.
type StreamEvent struct {
	EventID       string          `json:"eventId"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	Version       int64           `json:"version"`
	Position      int64           `json:"position"`
	RecordedAt    time.Time       `json:"recordedAt"`
	Data          json.RawMessage `json:"data"`
	Metadata      EventMetadata   `json:"metadata"`
}

// EventMetadata is an event's metadata as the admin API shows it.
type EventMetadata struct {
	CorrelationID string `json:"correlationId"`
	CausationID   string `json:"causationId"`
	Actor         string `json:"actor"`
}

type items[T any] struct {
	Items []T `json:"items"`
}

type accepted struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Routes adds the admin routes of the messaging runtime.
func (p *Platform) Routes(api *httpapi.API) {
	api.Handle("GET /api/v1/admin/projections", httpapi.Admin, p.getProjections,
		httpapi.Summary("List the projections (read models rebuilt from a context's own log; each can be rebuilt) with position, lag, status and last error. search.index (the full-text index) reports its own change counter: position is the last change of the search tables it indexed, lag the changes not indexed yet. Read models fed by the bus are consumers: GET /api/v1/admin/consumers"),
		httpapi.Returns(200, items[ReadModel]{}))
	api.Handle("GET /api/v1/admin/consumers", httpapi.Admin, p.getConsumers,
		httpapi.Summary("List the bus consumers (exactly-once handlers and bus-fed read models) with, per source context, the highest position of its log applied (positions; position is that figure when there is one source context, 0 for several), pending messages (lag), status and last error. Positions are kept in the context's store (written each second, never moved back): every process answers alike, and a restart keeps them."),
		httpapi.Returns(200, items[ReadModel]{}))
	api.Handle("POST /api/v1/admin/projections/{name}/rebuild", httpapi.Admin, p.postRebuild,
		httpapi.Summary("Rebuild a projection from the log beside the live one, then swap (reads keep being served)"),
		httpapi.Returns(202, accepted{}), httpapi.NoBody())
	api.Handle("GET /api/v1/admin/dead-letters", httpapi.Admin, p.getDeadLetters,
		httpapi.Summary("List the dead-lettered messages"),
		httpapi.Returns(200, httpapi.List[DeadLetterView]{}))
	api.Handle("POST /api/v1/admin/dead-letters/{id}/retry", httpapi.Admin, p.postRetry,
		httpapi.Summary("Apply a dead-lettered message once more through its consumer: 202 {status: applied} (it leaves the list) or "+
			"{status: failed, error} (it stays, under the same id, with the new error); 404 for an unknown id or one already applied; "+
			"409 conflict while another retry of the same dead letter runs, in any process (its effects, an email say, happen once)."),
		httpapi.Returns(202, accepted{}), httpapi.NoBody())
	api.Handle("GET /api/v1/admin/streams/{streamId}/events", httpapi.Admin, p.getStreamEvents,
		httpapi.Summary("The events of a stream, from whichever context's store holds it. streamId is the stream's id or a bare aggregate id, which finds the stream whose id ends with -<id> (the first context in start order when several do: a customer id finds the cart's stream before the customer's). "+
			"Streams: customer-<customerId>; category-<categoryId>, product-<productId>; stock-<productId> and stock-<productId>-<variantId> (inventory), "+
			"reservation-<checkoutId>; cart-<customerId> (every cart of the customer in turn: a cartId is derived from it); promotion-<code, lower case>; "+
			"checkout-<checkoutId> (the saga); payment-<paymentId>; order-<orderId>; picking-job-<jobId>; review-<reviewId>, rating-<productId>; "+
			"notification-<notificationId>. Uniqueness claims (email-, sku-, category-name-, reviewer-) hold no business facts."),
		httpapi.Returns(200, items[StreamEvent]{}))
}

// ReadModels returns the state of every projection and consumer of the process.
func (p *Platform) ReadModels(ctx context.Context) []ReadModel {
	p.mu.Lock()
	hosts := make([]*host, 0, len(p.order))
	for _, n := range p.order {
		hosts = append(hosts, p.hosts[n])
	}
	p.mu.Unlock()
	out := []ReadModel{}
	for _, h := range hosts {
		head, _ := h.store.Head(ctx)
		stored, err := h.storedPositions(ctx)
		if err != nil {
			stored = nil // this process's own figures only
		}
		for _, x := range h.projections {
			pos := x.position.Load()
			rm := ReadModel{Name: x.p.Name, Kind: "projection", Position: pos, Lag: max(head-pos, 0),
				Status: x.status.Load().(string), LastError: x.lastError()}
			if x.p.Progress != nil {
				if p, lag, err := x.p.Progress(ctx); err == nil {
					rm.Position, rm.Lag = p, max(lag, 0)
				}
			}
			out = append(out, rm)
		}
		for _, c := range h.consumers {
			rm := ReadModel{Name: c.full, Kind: "consumer", Positions: c.positionsOf(stored[c.full]),
				Status: c.status.Load().(string), LastError: c.lastError()}
			if len(rm.Positions) == 1 { // one source context (a command's are its senders)
				for _, pos := range rm.Positions {
					rm.Position = pos
				}
			}
			if c.sub != nil {
				if n, err := c.sub.Pending(ctx); err == nil {
					rm.Lag = n
				}
			}
			if rm.LastError != "" && rm.Status == "running" {
				rm.Status = "failing"
			}
			out = append(out, rm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *Platform) getProjections(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, 200, items[ReadModel]{Items: p.readModelsOfKind(r.Context(), "projection")})
}

func (p *Platform) getConsumers(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, 200, items[ReadModel]{Items: p.readModelsOfKind(r.Context(), "consumer")})
}

func (p *Platform) readModelsOfKind(ctx context.Context, kind string) []ReadModel {
	out := []ReadModel{}
	for _, rm := range p.ReadModels(ctx) {
		if rm.Kind == kind {
			out = append(out, rm)
		}
	}
	return out
}

// Rebuild asks the runner of the named projection to rebuild it
// (asynchronously). The request is stored, so the process that runs the
// projection (it holds the lease) rebuilds it whichever process was asked.
func (p *Platform) Rebuild(ctx context.Context, name string) error {
	var found *projection
	p.mu.Lock()
	for _, n := range p.order {
		for _, x := range p.hosts[n].projections {
			if x.p.Name == name {
				found = x
			}
		}
	}
	p.mu.Unlock()
	if found == nil {
		return acme.Errorf(acme.CodeNotFound, "no projection named %q (bus consumers are not rebuilt from a log: GET /api/v1/admin/consumers)", name)
	}
	if _, err := found.h.store.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
		return bumpCheckpoint(ctx, tx, rebuildRequested(name))
	}}); err != nil {
		return fmt.Errorf("request rebuild of %s: %w", name, err)
	}
	if found.leader.Load() {
		found.status.Store("rebuilding")
		found.requestRebuild() // at once here; another process's runner finds the request within a second
	}
	return nil
}

func (p *Platform) postRebuild(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := p.Rebuild(r.Context(), name); err != nil {
		return err
	}
	p.setHead(w, r, name)
	return httpapi.JSON(w, http.StatusAccepted, accepted{Name: name, Status: "rebuilding"})
}

// setHead sets Acme-Position to the log head of the context that holds the
// projection or consumer name: an admin command stores no event of its own,
// but every 2xx command response carries a token.
func (p *Platform) setHead(w http.ResponseWriter, r *http.Request, name string) {
	var h *host
	p.mu.Lock()
	for _, n := range p.order {
		for _, x := range p.hosts[n].projections {
			if x.p.Name == name {
				h = p.hosts[n]
			}
		}
		for _, c := range p.hosts[n].consumers {
			if c.full == name {
				h = p.hosts[n]
			}
		}
	}
	p.mu.Unlock()
	if h == nil {
		return
	}
	if head, err := h.store.Head(r.Context()); err == nil {
		w.Header().Set("Acme-Position", httpapi.Position{h.name: head}.String())
	}
}

// getDeadLetters lists the dead letters, oldest first, in the contract's list
// envelope (?page=&pageSize=).
func (p *Platform) getDeadLetters(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	dls, err := p.cfg.Bus.DeadLetters(r.Context(), 0)
	if err != nil {
		return err
	}
	from, to := httpapi.Window(len(dls), page, size)
	out := make([]DeadLetterView, 0, to-from)
	for _, d := range dls[from:to] {
		out = append(out, DeadLetterView{ID: d.ID, Consumer: d.Consumer, MessageType: d.Message.Type,
			MessageID: d.Message.ID, Error: d.Error, Deliveries: d.Deliveries, DeadAt: d.DeadAt})
	}
	return httpapi.JSON(w, 200, httpapi.List[DeadLetterView]{Items: out, Total: len(dls), Page: page, PageSize: size})
}

// RetryDeadLetter applies dead letter id once more through its consumer's
// handler path (inbox included, so a message applied meanwhile is not applied
// twice). On success the dead letter is removed; on failure it stays, with the
// new error. The consumer must run in this process.
//
// Retries of one dead letter run one at a time, in a process and across
// processes (a bus lease): a second one while the first runs is 409 conflict
// (both would run the handler, and its effects outside the store, such as an
// email, would happen twice); one after it finds the dead letter gone (404)
// or, if it failed again, retries it again.
func (p *Platform) RetryDeadLetter(ctx context.Context, id string) error {
	_, err := p.retryDeadLetter(ctx, id)
	return err
}

// retryDeadLetter is RetryDeadLetter; it also returns the dead letter's
// consumer once the letter was found.
func (p *Platform) retryDeadLetter(ctx context.Context, id string) (string, error) {
	busy := acme.Errorf(acme.CodeConflict, "dead letter %q is being retried; look at the list again shortly", id)
	notFound := acme.Errorf(acme.CodeNotFound, "no dead letter %q", id)
	if _, taken := p.retrying.LoadOrStore(id, true); taken {
		return "", busy
	}
	defer p.retrying.Delete(id)
	if dl, err := p.deadLetter(ctx, id); err != nil || dl == nil {
		return "", cmp.Or(err, error(notFound)) // 404 for an unknown id, before its name is used as a lease key
	}
	lease := "dead-letter-retry." + id
	if ok, err := p.cfg.Bus.Lease(ctx, lease, p.cfg.Holder, handleTimeout+commitTimeout+time.Minute); err != nil || !ok {
		return "", cmp.Or(err, error(busy)) // busy: another process retries it
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = p.cfg.Bus.ReleaseLease(rctx, lease, p.cfg.Holder)
	}()
	dl, err := p.deadLetter(ctx, id) // again: another process's retry may have settled it
	if err != nil || dl == nil {
		return "", cmp.Or(err, error(notFound))
	}
	c := p.consumer(dl.Consumer)
	if c == nil {
		return dl.Consumer, acme.Errorf(acme.CodeConflict, "consumer %s does not run in this process", dl.Consumer)
	}
	// The dead letter's bookkeeping below is done even if the client gave up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if aerr := c.apply(ctx, dl.Message); aerr != nil {
		c.setErr(aerr.Error())
		// Keep it listed, under its id, with the new error: re-store it,
		// then drop the older copy.
		nd := *dl
		nd.DeadAt, nd.Error, nd.Deliveries = time.Time{}, aerr.Error(), dl.Deliveries+1
		if err := p.cfg.Bus.DeadLetter(rctx, nd); err != nil {
			return dl.Consumer, err
		}
		if err := p.cfg.Bus.RemoveDeadLetter(rctx, id); err != nil {
			p.log.Error("dead letter stored again; its older copy stays listed", "id", id, "err", err)
		}
		return dl.Consumer, fmt.Errorf("%w: %w", errRetryFailed, aerr)
	}
	c.applied.Add(1)
	c.setErr("")
	p.progress.signal()
	for { // every copy under the id goes (one left by a crash in a failed retry too)
		err := p.cfg.Bus.RemoveDeadLetter(rctx, id)
		if errors.Is(err, es.ErrNotFound) {
			return dl.Consumer, nil
		}
		if err != nil {
			return dl.Consumer, err
		}
	}
}

var errRetryFailed = errors.New("retry failed")

// deadLetter returns dead letter id, nil when there is none.
func (p *Platform) deadLetter(ctx context.Context, id string) (*es.DeadLetter, error) {
	dls, err := p.cfg.Bus.DeadLetters(ctx, 0)
	if err != nil {
		return nil, err
	}
	for i := range dls {
		if dls[i].ID == id {
			return &dls[i], nil
		}
	}
	return nil, nil
}

func (p *Platform) postRetry(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	consumer, err := p.retryDeadLetter(r.Context(), id)
	if err == nil || errors.Is(err, errRetryFailed) {
		p.setHead(w, r, consumer)
	}
	if errors.Is(err, errRetryFailed) {
		// Accepted and attempted; it failed again and stays in the list.
		return httpapi.JSON(w, http.StatusAccepted, accepted{ID: id, Status: "failed", Error: err.Error()})
	}
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusAccepted, accepted{ID: id, Status: "applied"})
}

func (p *Platform) consumer(full string) *consumer {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.order {
		for _, c := range p.hosts[n].consumers {
			if c.full == full {
				return c
			}
		}
	}
	return nil
}

// StreamEvents returns the events of streamID from whichever context's store has it.
func (p *Platform) StreamEvents(ctx context.Context, streamID string) ([]es.Event, error) {
	p.mu.Lock()
	hosts := make([]*host, 0, len(p.order))
	for _, n := range p.order {
		hosts = append(hosts, p.hosts[n])
	}
	p.mu.Unlock()
	for _, h := range hosts {
		evs, err := h.store.ReadStream(ctx, streamID, es.StreamQuery{})
		if err != nil {
			return nil, fmt.Errorf("read %s in %s: %w", streamID, h.name, err)
		}
		if len(evs) > 0 {
			return evs, nil
		}
	}
	// A bare aggregate id: the stream whose id ends with "-<id>".
	if !acme.ValidID(streamID) {
		return nil, nil
	}
	for _, h := range hosts {
		table := "events"
		if h.store.Dialect() == "postgres" {
			table = "es_events"
		}
		var full string
		err := h.store.DB().QueryRowContext(ctx, `SELECT stream_id FROM `+table+` WHERE stream_id LIKE $1 ORDER BY position LIMIT 1`, "%-"+streamID).Scan(&full)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find stream %s in %s: %w", streamID, h.name, err)
		}
		return h.store.ReadStream(ctx, full, es.StreamQuery{})
	}
	return nil, nil
}

func (p *Platform) getStreamEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("streamId")
	evs, err := p.StreamEvents(r.Context(), id)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return acme.Errorf(acme.CodeNotFound, "no stream %q", id)
	}
	out := make([]StreamEvent, len(evs))
	for i, e := range evs {
		data := e.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		out[i] = StreamEvent{EventID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, Version: e.Version,
			Position: e.Position, RecordedAt: e.RecordedAt.UTC(), Data: data,
			Metadata: EventMetadata{CorrelationID: e.Metadata.CorrelationID, CausationID: e.Metadata.CausationID, Actor: e.Metadata.Actor}}
	}
	return httpapi.JSON(w, 200, items[StreamEvent]{Items: out})
}
