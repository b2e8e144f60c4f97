package promotions

import (
	"time"

	"acme"
	"acme/es"
)

// PromotionCreatedV1: a promotion code exists. Percentage promotions carry
// percent (10 = 10 %, up to two decimals), fixed ones amount. Scope: productIds
// or categoryIds (both empty: the whole cart). startsAt/endsAt (and minSubtotal) absent: open (none).
type PromotionCreatedV1 struct {
	PromotionID string      `json:"promotionId"`
	Code        string      `json:"code"`
	Kind        string      `json:"kind"`
	Percent     *float64    `json:"percent,omitempty"`
	Amount      *acme.Money `json:"amount,omitempty"`
	MinSubtotal *acme.Money `json:"minSubtotal,omitempty"`
	ProductIDs  []string    `json:"productIds"`
	CategoryIDs []string    `json:"categoryIds"`
	StartsAt    *time.Time  `json:"startsAt,omitempty"`
	EndsAt      *time.Time  `json:"endsAt,omitempty"`
	CreatedAt   time.Time   `json:"createdAt"`
}

// CreatePromotionV1 is the command as the admin sends it (value: a number of
// percent for kind percentage, Money for kind fixed).
type CreatePromotionV1 struct {
	Code        string      `json:"code"`
	Kind        string      `json:"kind"`
	Value       any         `json:"value"`
	MinSubtotal *acme.Money `json:"minSubtotal,omitempty"`
	ProductIDs  []string    `json:"productIds,omitempty"`
	CategoryIDs []string    `json:"categoryIds,omitempty"`
	StartsAt    *string     `json:"startsAt,omitempty"`
	EndsAt      *string     `json:"endsAt,omitempty"`
}

// CalculateDiscountV1 is the CalculateDiscount query (catalog schema): the
// discount a promotion code gives a cart.
type CalculateDiscountV1 struct {
	Request struct {
		CartID        string `json:"cartId"`
		CustomerID    string `json:"customerId"`
		Subtotal      int64  `json:"subtotal"`
		Currency      string `json:"currency"`
		PromotionCode string `json:"promotionCode"`
	} `json:"request"`
	Response struct {
		Discount          int64    `json:"discount"`
		AppliedPromotions []string `json:"appliedPromotions"`
	} `json:"response"`
}

// ListPromotionsV1 and GetPromotionV1 are the admin's queries (GET
// /api/v1/promotions, GET /api/v1/promotions/{id}).
type (
	ListPromotionsV1 struct {
		Page     int `json:"page,omitempty"`
		PageSize int `json:"pageSize,omitempty"`
	}
	GetPromotionV1 struct {
		PromotionID string `json:"promotionId"`
	}
)

// The messages promotions owns.
var (
	PromotionCreated = es.Define[PromotionCreatedV1](es.MessageSpec{Name: "PromotionCreated", Kind: es.KindEvent, Owner: "promotions",
		Producers: []string{"promotions"}, Consumers: []string{"cart"},
		Summary: "A promotion code was created (percentage or fixed, minimum subtotal, product/category scope, validity window)."})
	CreatePromotion = es.Define[CreatePromotionV1](es.MessageSpec{Name: "CreatePromotion", Kind: es.KindCommand, Owner: "promotions",
		Producers: []string{"admin"}, Consumers: []string{"promotions"}, Summary: "Create a promotion code (POST /api/v1/promotions, admin); codes are unique, case-insensitive."})
	ListPromotions = es.Define[ListPromotionsV1](es.MessageSpec{Name: "ListPromotions", Kind: es.KindQuery, Owner: "promotions",
		Producers: []string{"admin"}, Consumers: []string{"promotions"}, Summary: "The promotions, oldest first (GET /api/v1/promotions, admin)."})
	GetPromotion = es.Define[GetPromotionV1](es.MessageSpec{Name: "GetPromotion", Kind: es.KindQuery, Owner: "promotions",
		Producers: []string{"admin"}, Consumers: []string{"promotions"}, Summary: "One promotion by id (GET /api/v1/promotions/{id}, admin)."})
	CalculateDiscount = es.Define[CalculateDiscountV1](es.MessageSpec{Name: "CalculateDiscount", Kind: es.KindQuery, Owner: "promotions",
		Producers: []string{"cart"}, Consumers: []string{"cart"},
		Summary: "The discount a promotion code gives a cart: percentage of the in-scope lines' subtotal rounded half-up, or a fixed " +
			"amount capped at it. Served in-process by the cart over its read model of promotions (PromotionCreated); the cart " +
			"records the answer as its DiscountCalculated event."})
)

func messages() []es.MessageType {
	return []es.MessageType{PromotionCreated, CreatePromotion, ListPromotions, GetPromotion, CalculateDiscount}
}
