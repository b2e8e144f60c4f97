package inventory

import (
	"net/http"

	"acme"
	"acme/httpapi"
)

// RestockRequest is the body of POST /api/v1/inventory/{productId}/restock.
type RestockRequest struct {
	Quantity  int64  `json:"quantity"`
	VariantID string `json:"variantId,omitempty"`
}

// DecodeRestock reads and validates a restock body (400 malformed, 422 invalid_quantity).
func DecodeRestock(r *http.Request) (RestockRequest, error) {
	var req RestockRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return req, err
	}
	if req.Quantity < 1 || req.Quantity > MaxRestock {
		return req, acme.Errorf(CodeInvalidQuantity, "quantity must be an integer from 1 to %d", MaxRestock)
	}
	req.VariantID = acme.NormalizeID(req.VariantID)
	if len(req.VariantID) > 100 {
		return req, acme.Invalid(acme.FieldError{Field: "variantId", Message: "at most 100 characters"})
	}
	return req, nil
}

// Routes registers inventory's HTTP routes.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("POST /api/v1/inventory/{productId}/restock", httpapi.Admin, func(w http.ResponseWriter, r *http.Request) error {
		req, err := DecodeRestock(r)
		if err != nil {
			return err
		}
		// The products come from catalog's events: honour Acme-Min-Position,
		// and before answering product_not_found let the read model catch up
		// with what catalog has committed (a product created just before).
		if err := api.AwaitMinPosition(r, ConsumerCatalog); err != nil {
			return err
		}
		restock := func() (Level, int64, error) {
			return m.svc.Restock(r.Context(), r.PathValue("productId"), req.VariantID, req.Quantity)
		}
		l, pos, err := restock()
		if acme.ErrorCode(err) == CodeProductNotFound {
			again, cerr := api.CatchUp(r.Context(), "catalog", ConsumerCatalog)
			if cerr != nil {
				return cerr
			}
			if again {
				l, pos, err = restock()
			}
		}
		if err != nil {
			return err
		}
		httpapi.SetPosition(w, owner, pos)
		return httpapi.JSON(w, http.StatusOK, l.View())
	}, httpapi.Summary("Restock a product, or one variant of a product with variants (RestockInventory → InventoryRestocked). 422 variant_required when the product has variants and no variantId is given. "+
		"Products and variants come from catalog's events: the command honours Acme-Min-Position (e.g. a product's creation), and a product or variant "+
		"not known yet is looked up again once inventory has caught up with what catalog has committed (up to 1 s) before 404 product_not_found "+
		"(503 stale_read_model when it has not caught up by then)."),
		httpapi.Body(RestockRequest{}), httpapi.Returns(http.StatusOK, LevelView{}), httpapi.CommandReads(ConsumerCatalog))

	api.Handle("GET /api/v1/inventory/{productId}", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		l, err := m.svc.Level(r.Context(), r.PathValue("productId"), acme.NormalizeID(r.URL.Query().Get("variantId")))
		if err != nil {
			return err
		}
		return httpapi.JSON(w, http.StatusOK, l.View())
	}, httpapi.Summary("Get Stock Level of a product or variant; for a product with variants and no variantId, the sum over its variants "+
		"(stock is per variant for a product that has them: what it held before its first variant is not counted). "+
		"404 product_not_found for an unknown product or variant (as restock answers). Honours Acme-Min-Position, including the stock commands a write sent: after shipping or cancelling an order, "+
		"the token of that answer waits for the deduction or release."),
		httpapi.Returns(http.StatusOK, LevelView{}), httpapi.Reads(ConsumerCatalog, ConsumerCommands),
		httpapi.QueryFormat("variantId", "string", "uuid", "One variant's stock item."))
}

// LevelView is a stock level as the API shows it: variantId is null for a
// product's own stock (a product without variants, or the sum over them).
type LevelView struct {
	ProductID string             `json:"productId"`
	VariantID httpapi.OptionalID `json:"variantId"`
	OnHand    int64              `json:"onHand"`
	Reserved  int64              `json:"reserved"`
	Available int64              `json:"available"`
}

// View returns l as the API shows it.
func (l Level) View() LevelView {
	return LevelView{ProductID: l.ProductID, VariantID: httpapi.OptionalID(l.VariantID), OnHand: l.OnHand, Reserved: l.Reserved, Available: l.Available}
}
