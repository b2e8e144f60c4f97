package cart

import (
	"time"

	"acme"
	"acme/es"
)

// Line is one line of a cart or a checkout: quantity units of a product variant
// at unitPrice (lineTotal = unitPrice × quantity).
type Line struct {
	ProductID string     `json:"productId"`
	VariantID string     `json:"variantId"`
	Name      string     `json:"name"`
	Quantity  int64      `json:"quantity"`
	UnitPrice acme.Money `json:"unitPrice"`
	LineTotal acme.Money `json:"lineTotal"`
}

// Address is a shipping address. Country is an ISO 3166-1 alpha-2 code;
// checkout reads it case-insensitively and records it upper case.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitzero"` // optional
	City       string `json:"city"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
}

// PaymentMethod is how the customer pays: {type: "card", token}.
type PaymentMethod struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// Events of the cart stream ("cart-<customerId>").
type (
	// ItemAddedToCartV1: quantity units were added (to a new or an existing line);
	// unitPrice and name are the line's current ones.
	ItemAddedToCartV1 struct {
		CartID     string     `json:"cartId"`
		CustomerID string     `json:"customerId"`
		ProductID  string     `json:"productId"`
		VariantID  string     `json:"variantId"`
		Name       string     `json:"name"`
		Quantity   int64      `json:"quantity"`
		UnitPrice  acme.Money `json:"unitPrice"`
		AddedAt    time.Time  `json:"addedAt"`
	}
	// CartQuantityUpdatedV1: a line's quantity was set.
	CartQuantityUpdatedV1 struct {
		CartID           string    `json:"cartId"`
		ProductID        string    `json:"productId"`
		VariantID        string    `json:"variantId"`
		PreviousQuantity int64     `json:"previousQuantity"`
		NewQuantity      int64     `json:"newQuantity"`
		UpdatedAt        time.Time `json:"updatedAt"`
	}
	// ItemRemovedFromCartV1: a line was removed.
	ItemRemovedFromCartV1 struct {
		CartID    string    `json:"cartId"`
		ProductID string    `json:"productId"`
		VariantID string    `json:"variantId"`
		RemovedAt time.Time `json:"removedAt"`
	}
	// PromotionCodeAppliedV1: the customer entered a promotion code that applied.
	PromotionCodeAppliedV1 struct {
		CartID      string    `json:"cartId"`
		CustomerID  string    `json:"customerId"`
		Code        string    `json:"code"`
		PromotionID string    `json:"promotionId"`
		AppliedAt   time.Time `json:"appliedAt"`
	}
	// PromotionCodeRemovedV1: the customer took the applied code off the cart.
	PromotionCodeRemovedV1 struct {
		CartID     string    `json:"cartId"`
		CustomerID string    `json:"customerId"`
		Code       string    `json:"code"`
		RemovedAt  time.Time `json:"removedAt"`
	}
	// DiscountCalculatedV1 (catalog schema): the discount a promotion code gave
	// the cart when it was applied.
	DiscountCalculatedV1 struct {
		CartID            string    `json:"cartId"`
		CustomerID        string    `json:"customerId"`
		Discount          int64     `json:"discount"`
		Currency          string    `json:"currency"`
		AppliedPromotions []string  `json:"appliedPromotions"`
		PromotionCode     string    `json:"promotionCode"`
		OccurredAt        time.Time `json:"occurredAt"`
	}
	// CartCheckedOutV1: the cart was checked out with frozen prices; the checkout
	// saga starts from it.
	CartCheckedOutV1 struct {
		CartID          string        `json:"cartId"`
		CheckoutID      string        `json:"checkoutId"`
		CustomerID      string        `json:"customerId"`
		Items           []Line        `json:"items"`
		Subtotal        acme.Money    `json:"subtotal"`
		Discount        acme.Money    `json:"discount"`
		Total           acme.Money    `json:"total"`
		Currency        string        `json:"currency"`
		PromotionCode   string        `json:"promotionCode"`
		ShippingAddress Address       `json:"shippingAddress"`
		PaymentMethod   PaymentMethod `json:"paymentMethod"`
		CheckedOutAt    time.Time     `json:"checkedOutAt"`
	}
	// CartClearedV1: every item left the cart (it was checked out); the next
	// item starts a new cart (a new cartId).
	CartClearedV1 struct {
		CartID     string    `json:"cartId"`
		CustomerID string    `json:"customerId"`
		ClearedAt  time.Time `json:"clearedAt"`
	}
	// CartRestoredV1: a failed checkout's lines (and promotion code) came back
	// into the customer's cart, merged with what was added since.
	CartRestoredV1 struct {
		CartID        string    `json:"cartId"`
		CustomerID    string    `json:"customerId"`
		CheckoutID    string    `json:"checkoutId"`
		Items         []Line    `json:"items"`
		PromotionCode string    `json:"promotionCode"`
		Reason        string    `json:"reason"`
		RestoredAt    time.Time `json:"restoredAt"`
	}
)

// Commands as clients send them (HTTP, the customer from the session); declared
// for the message catalog, handled in-process.
type (
	AddItemToCartV1 struct {
		CustomerID string `json:"customerId"`
		ProductID  string `json:"productId"`
		VariantID  string `json:"variantId"`
		Quantity   int64  `json:"quantity"`
	}
	UpdateCartQuantityV1 struct {
		CustomerID  string `json:"customerId"`
		ProductID   string `json:"productId"`
		VariantID   string `json:"variantId"`
		NewQuantity int64  `json:"newQuantity"`
	}
	RemoveItemFromCartV1 struct {
		CustomerID string `json:"customerId"`
		ProductID  string `json:"productId"`
		VariantID  string `json:"variantId"`
	}
	CheckoutCartV1 struct {
		CustomerID      string        `json:"customerId"`
		ShippingAddress Address       `json:"shippingAddress"`
		PaymentMethod   PaymentMethod `json:"paymentMethod"`
	}
	ApplyPromotionCodeV1 struct {
		CustomerID string `json:"customerId"`
		Code       string `json:"code"`
	}
	RemovePromotionCodeV1 struct {
		CustomerID string `json:"customerId"`
	}
	GetCartV1 struct {
		CustomerID string `json:"customerId"`
	}
	GetCheckoutV1 struct {
		CheckoutID string `json:"checkoutId"`
		Wait       string `json:"wait,omitempty"`
	}
)

func spec(name string, kind es.Kind, consumers []string, summary string) es.MessageSpec {
	s := es.MessageSpec{Name: name, Kind: kind, Version: "1.0.0", Owner: "cart", Producers: []string{"cart"},
		Consumers: consumers, Summary: summary}
	if kind == es.KindCommand { // sent over HTTP by the customer, handled here
		s.Producers, s.Consumers = []string{"storefront"}, []string{"cart"}
	}
	return s
}

// querySpec declares a query of the storefront that the cart answers.
func querySpec(name, summary string) es.MessageSpec {
	return es.MessageSpec{Name: name, Kind: es.KindQuery, Version: "1.0.0", Owner: "cart",
		Producers: []string{"storefront"}, Consumers: []string{"cart"}, Summary: summary}
}

// The messages the cart owns.
var (
	ItemAddedToCart = es.Define[ItemAddedToCartV1](spec("ItemAddedToCart", es.KindEvent, nil,
		"Units of a product variant were added to a customer's cart at the current price."))
	CartQuantityUpdated = es.Define[CartQuantityUpdatedV1](spec("CartQuantityUpdated", es.KindEvent, nil,
		"A cart line's quantity was changed."))
	ItemRemovedFromCart = es.Define[ItemRemovedFromCartV1](spec("ItemRemovedFromCart", es.KindEvent, nil,
		"A line was removed from a cart."))
	PromotionCodeApplied = es.Define[PromotionCodeAppliedV1](spec("PromotionCodeApplied", es.KindEvent, nil,
		"A valid promotion code was applied to a cart (replacing any earlier one)."))
	PromotionCodeRemoved = es.Define[PromotionCodeRemovedV1](spec("PromotionCodeRemoved", es.KindEvent, nil,
		"The applied promotion code was taken off a cart; its lines no longer get a discount."))
	DiscountCalculated = es.Define[DiscountCalculatedV1](spec("DiscountCalculated", es.KindEvent, nil,
		"The discount a promotion gave a cart, computed by the CalculateDiscount rules over the cart's read model of promotions."))
	CartCheckedOut = es.Define[CartCheckedOutV1](spec("CartCheckedOut", es.KindEvent, []string{"checkout"},
		"A cart was checked out with frozen prices, totals, shipping address and payment method; starts the checkout saga."))
	CartCleared = es.Define[CartClearedV1](spec("CartCleared", es.KindEvent, nil,
		"All items left a cart (checkout); the next item starts a new cart."))
	CartRestored = es.Define[CartRestoredV1](spec("CartRestored", es.KindEvent, nil,
		"A failed checkout's lines came back into the customer's cart so they can fix it and retry."))

	AddItemToCart = es.Define[AddItemToCartV1](spec("AddItemToCart", es.KindCommand, nil,
		"Add units of a product (variant) to the caller's cart (POST /api/v1/cart/items)."))
	UpdateCartQuantity = es.Define[UpdateCartQuantityV1](spec("UpdateCartQuantity", es.KindCommand, nil,
		"Set a cart line's quantity; 0 removes it (PUT /api/v1/cart/items/{productId})."))
	RemoveItemFromCart = es.Define[RemoveItemFromCartV1](spec("RemoveItemFromCart", es.KindCommand, nil,
		"Remove a line from the cart (DELETE /api/v1/cart/items/{productId})."))
	CheckoutCart = es.Define[CheckoutCartV1](spec("CheckoutCart", es.KindCommand, nil,
		"Check out the caller's cart (POST /api/v1/cart/checkout) → CartCheckedOut + CartCleared."))
	ApplyPromotionCode = es.Define[ApplyPromotionCodeV1](spec("ApplyPromotionCode", es.KindCommand, nil,
		"Apply a promotion code to the caller's cart (POST /api/v1/cart/promotion-code) → PromotionCodeApplied, DiscountCalculated."))
	RemovePromotionCode = es.Define[RemovePromotionCodeV1](spec("RemovePromotionCode", es.KindCommand, nil,
		"Take the applied promotion code off the caller's cart (DELETE /api/v1/cart/promotion-code) → PromotionCodeRemoved."))
	GetCart     = es.Define[GetCartV1](querySpec("GetCart", "The caller's cart with its lines, totals and discount (GET /api/v1/cart)."))
	GetCheckout = es.Define[GetCheckoutV1](querySpec("GetCheckout",
		"A checkout's status, order id or failure reason (GET /api/v1/checkouts/{id}; ?wait long-polls while PENDING)."))
)

func messages() []es.MessageType {
	return []es.MessageType{ItemAddedToCart, CartQuantityUpdated, ItemRemovedFromCart, PromotionCodeApplied,
		PromotionCodeRemoved, DiscountCalculated, CartCheckedOut, CartCleared, CartRestored,
		AddItemToCart, UpdateCartQuantity, RemoveItemFromCart, CheckoutCart, ApplyPromotionCode, RemovePromotionCode,
		GetCart, GetCheckout}
}
