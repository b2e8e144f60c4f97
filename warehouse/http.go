package warehouse

import (
	"net/http"
	"strings"

	"acme"
	"acme/httpapi"
)

// Routes registers the Warehouse section of the contract (admin).
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("GET /api/v1/warehouse/picking-jobs", httpapi.Admin, m.list,
		httpapi.Query("status", "string", "OPEN, PICKED, PACKED (or SHIPPED, CANCELLED), in any case; none: the jobs not cancelled."),
		httpapi.QueryFormat("orderId", "string", "uuid", "The job of one order."),
		httpapi.Summary("Picking jobs, newest first (as orders are). Without ?status= every job not cancelled (OPEN, PICKED, PACKED, and SHIPPED: an admin shipped its order before it was packed, so it is closed and refuses pick and pack with 409 invalid_transition; a packed job stays PACKED when its order ships); ?status=CANCELLED lists the jobs cancelled with their order; ?orderId= finds an order's job. Honours Acme-Min-Position: jobs are opened, cancelled and closed from ordering's events."),
		httpapi.Returns(200, httpapi.List[View]{}), httpapi.Reads(owner+".orders"))
	api.Handle("POST /api/v1/warehouse/picking-jobs/{id}/pick", httpapi.Admin, m.transition(func(r *http.Request) any { return Pick{At: m.clock.Now().UTC()} }),
		httpapi.Summary("Mark an OPEN job's items picked (PICKED)."), httpapi.Returns(200, View{}), httpapi.NoBody())
	api.Handle("POST /api/v1/warehouse/picking-jobs/{id}/pack", httpapi.Admin, m.transition(func(r *http.Request) any { return Pack{At: m.clock.Now().UTC()} }),
		httpapi.Summary("Mark a PICKED job packed (PACKED): OrderPacked and OrderReadyForShipping; the order becomes ready for shipping."),
		httpapi.Returns(200, View{}), httpapi.NoBody())
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	status := strings.ToUpper(r.URL.Query().Get("status")) // the statuses are upper case; pending is PENDING
	switch status {
	case "", StatusOpen, StatusPicked, StatusPacked, StatusShipped, StatusCancelled:
	default:
		return acme.Invalid(acme.FieldError{Field: "status", Message: "must be OPEN, PICKED, PACKED, SHIPPED or CANCELLED"})
	}
	orderID := acme.NormalizeID(r.URL.Query().Get("orderId"))
	if orderID != "" && !acme.ValidID(orderID) {
		return acme.Invalid(acme.FieldError{Field: "orderId", Message: "must be an order id (a UUID)"})
	}
	items, total, err := m.List(r.Context(), status, orderID, page, size)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, 200, httpapi.List[View]{Items: items, Total: total, Page: page, PageSize: size})
}

func (m *Module) transition(cmd func(*http.Request) any) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		res, err := m.Execute(r.Context(), r.PathValue("id"), cmd(r))
		if err != nil {
			return err
		}
		httpapi.SetPosition(w, owner, res.Position)
		return httpapi.JSON(w, 200, ViewOf(res.State, res.Version))
	}
}
