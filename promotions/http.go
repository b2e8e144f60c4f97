package promotions

import (
	"bytes"
	"encoding/json"
	"net/http"

	"acme"
	"acme/httpapi"
)

// createRequest is the body of POST /api/v1/promotions.
type createRequest struct {
	Code        string          `json:"code"`
	Kind        string          `json:"kind"`
	Value       json.RawMessage `json:"value"`
	MinSubtotal *acme.Money     `json:"minSubtotal,omitempty"`
	ProductIDs  []string        `json:"productIds,omitempty"`
	CategoryIDs []string        `json:"categoryIds,omitempty"`
	StartsAt    *string         `json:"startsAt,omitempty"`
	EndsAt      *string         `json:"endsAt,omitempty"`
}

// Routes registers the promotions routes.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("POST /api/v1/promotions", httpapi.Admin, m.handleCreate,
		httpapi.Summary("Create a promotion code (CreatePromotion → PromotionCreated). kind percentage: value is a number of percent "+
			"(0 < value <= 100, two decimals at most; rounded half-up to the minor unit when applied); kind fixed: value is Money, "+
			"capped at the in-scope subtotal. minSubtotal is compared with the cart subtotal; productIds/categoryIds limit the "+
			"scope (a category covers its sub-categories; both empty: whole cart); valid from startsAt (inclusive) to endsAt (exclusive). 409 promotion_code_taken "+
			"(case-insensitive); 422 validation_failed (also a number given for kind fixed, or money for kind percentage); 400 bad_request for a "+
			"value that is neither a number nor an object (a wrong type)."),
		httpapi.Body(CreatePromotionV1{}), httpapi.Returns(http.StatusCreated, PromotionView{}))
	api.Handle("GET /api/v1/promotions", httpapi.Admin, m.handleList,
		httpapi.Summary("List promotions, oldest first; ?page=&pageSize=."),
		httpapi.Returns(http.StatusOK, httpapi.List[PromotionView]{}))
	api.Handle("GET /api/v1/promotions/{id}", httpapi.Admin, m.handleGet,
		httpapi.Summary("Get a promotion by promotionId (the Location of a created one); 404 not_found."),
		httpapi.Returns(http.StatusOK, PromotionView{}))
}

func (m *Module) handleGet(w http.ResponseWriter, r *http.Request) error {
	v, err := m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	// value's type follows kind: a number of percent, or money. A value that
	// is neither (a string, a boolean, an array) is a wrong type (400), as for
	// any field; a fixed value given as an object is money, whose fields are
	// held to the body's rules (wrong types, unknown or mis-cased fields: 400);
	// a missing value, a number or money given for the other kind, and the
	// value's range are judged by Validate (422 validation_failed).
	v := bytes.TrimSpace(req.Value)
	if len(v) > 0 && string(v) != "null" && v[0] != '{' && v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return acme.Errorf(acme.CodeBadRequest, "value must be a number of percent or money {amount, currency}")
	}
	if req.Kind == KindFixed && len(v) > 0 && v[0] == '{' {
		var money acme.Money
		if err := httpapi.DecodeBytes(v, &money); err != nil {
			return err
		}
	}
	for _, ids := range [][]string{req.ProductIDs, req.CategoryIDs} {
		for i := range ids {
			ids[i] = acme.NormalizeID(ids[i])
		}
	}
	view, pos, err := m.Create(r.Context(), CreatePromotionV1{Code: req.Code, Kind: req.Kind, MinSubtotal: req.MinSubtotal,
		ProductIDs: req.ProductIDs, CategoryIDs: req.CategoryIDs, StartsAt: req.StartsAt, EndsAt: req.EndsAt}, req.Value)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "promotions", pos)
	w.Header().Set("Location", "/api/v1/promotions/"+view.PromotionID)
	return httpapi.JSON(w, http.StatusCreated, view)
}

func (m *Module) handleList(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	items, total, err := m.List(r.Context(), page, size)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.List[PromotionView]{Items: items, Total: total, Page: page, PageSize: size})
}
