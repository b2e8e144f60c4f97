package cart

import (
	"context"
	"net/http"

	"acme"
	"acme/httpapi"
)

// Request bodies.
type (
	addItemRequest struct {
		ProductID string `json:"productId"`
		VariantID string `json:"variantId,omitempty"`
		Quantity  *int64 `json:"quantity"`
	}
	updateItemRequest struct {
		Quantity  *int64  `json:"quantity"`
		VariantID *string `json:"variantId,omitempty"`
	}
	promotionCodeRequest struct {
		Code string `json:"code"`
	}
	checkoutRequest struct {
		ShippingAddress *Address       `json:"shippingAddress"`
		PaymentMethod   *PaymentMethod `json:"paymentMethod"`
	}
)

// Read models of the cart that commands consult (consumer names).
var (
	// inventory.commands: with the token of an order's cancellation, adding
	// waits for the release it runs (then for cart.inventory to apply it)
	readsAdd   = []string{"cart.catalog", "cart.inventory", "inventory.commands"}
	readsCode  = []string{"cart.catalog", "cart.promotions"}
	readsCheck = []string{"cart.catalog", "cart.promotions"}
)

// awaitReads honours Acme-Min-Position on a cart command: the command's checks
// read the cart's asynchronous read models of other contexts, so a client that
// just created a product or a promotion (and got its Acme-Position) can make
// the cart see it first. Waits up to 5 s, then 503 stale_read_model.
func (m *Module) awaitReads(r *http.Request, reads []string) error {
	if m.api == nil {
		return nil
	}
	return m.api.AwaitMinPosition(r, reads...)
}

// withCatchUp runs a cart command; when it is refused on what the cart's read
// models of other contexts say (a product or variant not known, no stock, a
// promotion code not known), it lets the read model concerned catch up with
// what its source context has committed and runs the command again (a
// product, a restock or a promotion created just before, without
// Acme-Min-Position, is then seen), or answers 503 stale_read_model when the
// read model did not catch up in time (httpapi.API.CatchUp). Each source is
// caught up at most once: a product created and restocked just before can
// be refused as not found, then, once catalog's events are in, as out of
// stock, which inventory's events may answer.
func (m *Module) withCatchUp(r *http.Request, productID string, run func() (CartView, int64, error)) (CartView, int64, error) {
	caughtUp := map[string]bool{}
	for {
		v, pos, err := run()
		if err == nil || m.api == nil {
			return v, pos, err
		}
		source, read := catchUpFor(err, productID)
		if source == "" || caughtUp[source] {
			return v, pos, err
		}
		caughtUp[source] = true
		again, cerr := m.api.CatchUp(r.Context(), source, "cart."+read)
		if cerr != nil {
			return CartView{}, 0, cerr
		}
		if !again {
			return v, pos, err
		}
	}
}

// catchUpFor names the source context and the cart's read model of it that
// could change the answer err ("" when none could).
func catchUpFor(err error, productID string) (source, read string) {
	switch acme.ErrorCode(err) {
	case CodeProductNotFound:
		if !acme.ValidID(productID) {
			return "", "" // not an id we issue: nothing to wait for
		}
		return "catalog", consumerCatalog
	case CodeOutOfStock, CodeInsufficientStock:
		return "inventory", consumerInventory
	case CodeInvalidPromotionCode:
		return "promotions", consumerPromotions
	}
	return "", ""
}

// Routes registers the cart routes. Commands accept Acme-Min-Position too
// (see awaitReads), and look again after a catch-up before refusing on what
// another context's events say (withCatchUp).
func (m *Module) Routes(api *httpapi.API) {
	m.api = api
	api.Handle("GET /api/v1/cart", httpapi.Customer, m.handleGetCart,
		httpapi.Summary("The caller's cart (an empty cart has items [] and amounts 0 in USD). The discount is recomputed at every read. "+
			"A line that would not go through checkout as it is carries problem: product_not_found (no longer sold), "+
			"variant_required (the product has variants since), currency_mismatch (the product is now priced in another currency "+
			"than the cart's lines were added in; the line is left out of the subtotal). While a line shows currency_mismatch or "+
			"invalid_quantity the discount shows 0 (the code stays), invalid_quantity (a price rise took the subtotal "+
			"past 10^15 minor units; amounts past int64 saturate, never wrap), out_of_stock or insufficient_stock "+
			"(a hint from the cart's stock levels: the reservation at checkout decides)."),
		httpapi.Returns(http.StatusOK, CartView{}), httpapi.Reads("cart.catalog", "cart.promotions"))
	api.Handle("POST /api/v1/cart/items", httpapi.Customer, m.handleAddItem,
		httpapi.Summary("Add units of a product (AddItemToCart → ItemAddedToCart). "+
			"409 out_of_stock (available 0); 409 insufficient_stock (quantity plus what the cart holds above available); "+
			"422 variant_required; 422 invalid_quantity (< 1); 404 product_not_found (unknown, inactive, or an unknown variantId); "+
			"422 validation_failed (productId or quantity missing, or priced in another currency than the cart). With Acme-Min-Position (e.g. of the "+
			"product's creation) the cart's catalog and stock read models catch up first; without it, before answering product_not_found, "+
			"out_of_stock or insufficient_stock the read model concerned catches up with what catalog or inventory has committed (up to 1 s) "+
			"and the command is tried again, each read model caught up at most once (503 stale_read_model when it has not caught up by then, or when that cannot be checked)."),
		httpapi.Body(addItemRequest{}), httpapi.Returns(http.StatusOK, CartView{}), httpapi.CommandReads(readsAdd...),
		httpapi.Fails(http.StatusNotFound, "product_not_found: the product is unknown or inactive, or the variantId is not one of its variants"))
	api.Handle("PUT /api/v1/cart/items/{productId}", httpapi.Customer, m.handleUpdateItem,
		httpapi.Summary("Set a line's quantity (UpdateCartQuantity → CartQuantityUpdated); 0 removes the line. variantId picks the line "+
			"(optional when the product has one line in the cart; 422 variant_required when it has several). 409 insufficient_stock; "+
			"404 item_not_in_cart; 404 product_not_found "+
			"(raising the quantity of a product no longer sold; lowering is always allowed); 422 invalid_quantity (< 0, or a subtotal "+
			"above 10^15 minor units)."),
		httpapi.Body(updateItemRequest{}), httpapi.Returns(http.StatusOK, CartView{}), httpapi.CommandReads(readsAdd...))
	api.Handle("DELETE /api/v1/cart/items/{productId}", httpapi.Customer, m.handleRemoveItem,
		httpapi.QueryFormat("variantId", "string", "uuid", "The line's variant (when the product has several lines)."),
		httpapi.Summary("Remove a line (RemoveItemFromCart → ItemRemovedFromCart); ?variantId= picks the line (422 variant_required "+
			"without it when the product has several lines). 404 item_not_in_cart."),
		httpapi.Returns(http.StatusOK, CartView{}), httpapi.NoBody())
	api.Handle("POST /api/v1/cart/promotion-code", httpapi.Customer, m.handlePromotionCode,
		httpapi.Summary("Apply a promotion code, case-insensitive (PromotionCodeApplied + DiscountCalculated). 422 invalid_promotion_code "+
			"(empty, unknown, not started, expired, minimum subtotal not met, no item in scope)."),
		httpapi.Body(promotionCodeRequest{}), httpapi.Returns(http.StatusOK, CartView{}), httpapi.CommandReads(readsCode...))
	api.Handle("DELETE /api/v1/cart/promotion-code", httpapi.Customer, m.handleRemovePromotionCode,
		httpapi.Summary("Take the applied promotion code off the cart (RemovePromotionCode → PromotionCodeRemoved): 200 with the cart, "+
			"its discount 0 and no promotionCode. Idempotent: with no code applied the cart is answered unchanged."),
		httpapi.Returns(http.StatusOK, CartView{}), httpapi.NoBody())
	api.Handle("POST /api/v1/cart/checkout", httpapi.Customer, m.handleCheckout,
		httpapi.Summary("Check out (CheckoutCart → CartCheckedOut + CartCleared): prices frozen, cart emptied, the checkout saga starts. "+
			"202 with Location: /api/v1/checkouts/{checkoutId}. 422 invalid_address (name, line1, city, postalCode required; country "+
			"ISO 3166-1 alpha-2, read case-insensitively and kept upper case: \"gb\" is GB); 422 validation_failed (paymentMethod must be {type: card, token}); 409 cart_empty; "+
			"404 product_not_found (a line no longer sold); 422 variant_required (a line without a variant whose product has "+
			"variants since it was added: remove it and add a variant); 422 validation_failed (items: lines priced in two currencies); "+
			"422 invalid_quantity (at today's prices the subtotal would exceed 10^15 minor units)."),
		httpapi.Body(checkoutRequest{}), httpapi.Returns(http.StatusAccepted, CheckoutView{}), httpapi.CommandReads(readsCheck...),
		httpapi.Fails(http.StatusNotFound, "product_not_found: a line's product is no longer sold (remove it from the cart)"))
	api.Handle("GET /api/v1/checkouts/{id}", httpapi.Customer, m.handleGetCheckout,
		httpapi.Query("wait", "string", "Long poll: while PENDING, wait up to this long (seconds, 0-30, or a duration such as 5s or 1500ms) for the checkout to end."),
		httpapi.Summary("A checkout request of the caller (admin: any): PENDING from the checkout, then COMPLETED with orderId or FAILED "+
			"with failureReason (insufficient_stock, payment_declined, payment_error; the cart is restored) and, when the order had been "+
			"created before the failure (a failed capture or confirmation), its orderId (the order is CANCELLED). 404 for others' checkouts. "+
			"?wait=N (whole seconds, 0-30; an addition to the contract) long-polls: while the checkout is PENDING the answer waits up to "+
			"N seconds for it to complete or fail, then gives the status as it is (still 200 PENDING on timeout); 422 validation_failed "+
			"for another wait."),
		httpapi.Returns(http.StatusOK, CheckoutView{}), httpapi.Reads("cart.checkouts"))
}

// customer returns the caller's customer id; the cart is a customer's thing.
func customer(ctx context.Context) (string, error) {
	c := httpapi.CallerFrom(ctx)
	if c.CustomerID == "" {
		return "", acme.Errorf(acme.CodeForbidden, "the cart belongs to a signed-in customer")
	}
	return c.CustomerID, nil
}

func (m *Module) respond(w http.ResponseWriter, v CartView, pos int64, err error) error {
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "cart", pos)
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleGetCart(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	v, err := m.Cart(r.Context(), id)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleAddItem(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	if err := m.awaitReads(r, readsAdd); err != nil {
		return err
	}
	var req addItemRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if req.ProductID == "" {
		return acme.Invalid(acme.FieldError{Field: "productId", Message: "is required"})
	}
	req.ProductID, req.VariantID = acme.NormalizeID(req.ProductID), acme.NormalizeID(req.VariantID)
	if req.Quantity == nil { // required by the contract (the catalog's schema would default it to 1)
		return acme.Invalid(acme.FieldError{Field: "quantity", Message: "is required"})
	}
	v, pos, err := m.withCatchUp(r, req.ProductID, func() (CartView, int64, error) {
		return m.AddItem(r.Context(), id, req.ProductID, req.VariantID, *req.Quantity)
	})
	return m.respond(w, v, pos, err)
}

func (m *Module) handleUpdateItem(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	if err := m.awaitReads(r, readsAdd); err != nil {
		return err
	}
	var req updateItemRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if req.Quantity == nil {
		return acme.Invalid(acme.FieldError{Field: "quantity", Message: "is required"})
	}
	variant, given := "", req.VariantID != nil
	if given {
		variant = acme.NormalizeID(*req.VariantID)
	}
	v, pos, err := m.withCatchUp(r, r.PathValue("productId"), func() (CartView, int64, error) {
		return m.UpdateQuantity(r.Context(), id, r.PathValue("productId"), variant, given, *req.Quantity)
	})
	return m.respond(w, v, pos, err)
}

func (m *Module) handleRemoveItem(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v, pos, err := m.RemoveItem(r.Context(), id, r.PathValue("productId"), acme.NormalizeID(q.Get("variantId")), q.Has("variantId"))
	return m.respond(w, v, pos, err)
}

func (m *Module) handlePromotionCode(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	if err := m.awaitReads(r, readsCode); err != nil {
		return err
	}
	var req promotionCodeRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	v, pos, err := m.withCatchUp(r, "", func() (CartView, int64, error) {
		return m.ApplyPromotionCode(r.Context(), id, req.Code)
	})
	return m.respond(w, v, pos, err)
}

func (m *Module) handleRemovePromotionCode(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	v, pos, err := m.RemovePromotionCode(r.Context(), id)
	return m.respond(w, v, pos, err)
}

func (m *Module) handleCheckout(w http.ResponseWriter, r *http.Request) error {
	id, err := customer(r.Context())
	if err != nil {
		return err
	}
	if err := m.awaitReads(r, readsCheck); err != nil {
		return err
	}
	var req checkoutRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if req.ShippingAddress == nil {
		return &acme.Error{Code: CodeInvalidAddress, Message: "the shipping address is required",
			Fields: []acme.FieldError{{Field: "shippingAddress", Message: "is required"}}}
	}
	if req.PaymentMethod == nil {
		return acme.Invalid(acme.FieldError{Field: "paymentMethod", Message: "is required"})
	}
	v, pos, err := m.Checkout(r.Context(), id, *req.ShippingAddress, *req.PaymentMethod)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "cart", pos)
	w.Header().Set("Location", "/api/v1/checkouts/"+v.CheckoutID)
	return httpapi.JSON(w, http.StatusAccepted, v)
}

func (m *Module) handleGetCheckout(w http.ResponseWriter, r *http.Request) error {
	c := httpapi.CallerFrom(r.Context())
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	v, err := m.awaitCheckout(r.Context(), c.CustomerID, c.Role == httpapi.Admin, r.PathValue("id"), wait)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, v)
}
