package checkout

import (
	"net/http"
	"strings"

	"acme"
	"acme/httpapi"
)

// Routes registers GET /api/v1/admin/sagas.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("GET /api/v1/admin/sagas", httpapi.Admin, m.listSagas,
		httpapi.Query("status", "string", "RUNNING (or PENDING, the checkout's name for it), COMPLETED or FAILED, in any case."),
		httpapi.Summary("Checkout sagas, newest first, with their state (RUNNING, COMPLETED, FAILED; as both `status` and `state`), "+
			"step and deadline (null once ended); ?status= filters, PENDING meaning RUNNING as in GET /api/v1/checkouts/{id}."),
		httpapi.Returns(200, httpapi.List[SagaView]{}),
		// sagas start and move on from the bus: the Acme-Position of a
		// checkout (cart's) waits for its saga to be listed
		httpapi.Reads(owner+".start", owner+".replies"))
}

func (m *Module) listSagas(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	status := strings.ToUpper(r.URL.Query().Get("status")) // the statuses are upper case; pending is PENDING
	if status == "PENDING" {                               // a running saga is a PENDING checkout
		status = StatusRunning
	}
	switch status {
	case "", StatusRunning, StatusCompleted, StatusFailed:
	default:
		return acme.Invalid(acme.FieldError{Field: "status", Message: "must be RUNNING, COMPLETED or FAILED"})
	}
	items, total, err := m.ListSagas(r.Context(), status, page, size)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, 200, httpapi.List[SagaView]{Items: items, Total: total, Page: page, PageSize: size})
}
