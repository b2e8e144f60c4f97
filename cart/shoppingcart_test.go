package cart

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"acme"
)

var (
	t0   = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	usd  = func(n int64) acme.Money { return acme.Money{Amount: n, Currency: "USD"} }
	cust = "c0000000-0000-7000-8000-000000000001"
	pA   = "a0000000-0000-7000-8000-000000000001"
	pB   = "b0000000-0000-7000-8000-000000000001"
	vM   = "e0000000-0000-7000-8000-00000000000m"
	cid0 = CartID(cust, 0)
	cid1 = CartID(cust, 1)

	shirt   = Product{Found: true, Active: true, Name: "Shirt", Price: usd(1999), CategoryID: "cat", Available: 5}
	poloM   = Product{Found: true, Active: true, HasVariants: true, VariantFound: true, Name: "Polo (M)", Price: usd(2500), Available: 3}
	addedA2 = ItemAddedToCartV1{CartID: cid0, CustomerID: cust, ProductID: pA, Name: "Shirt", Quantity: 2, UnitPrice: usd(1999), AddedAt: t0}
	addedBM = ItemAddedToCartV1{CartID: cid0, CustomerID: cust, ProductID: pB, VariantID: vM, Name: "Polo (M)", Quantity: 1, UnitPrice: usd(2500), AddedAt: t0}
	addedBL = ItemAddedToCartV1{CartID: cid0, CustomerID: cust, ProductID: pB, VariantID: "v-l", Name: "Polo (L)", Quantity: 1, UnitPrice: usd(2500), AddedAt: t0}
	addr    = Address{Name: "Ada", Line1: "1 St", City: "London", PostalCode: "N1", Country: "GB"}
	visa    = PaymentMethod{Type: "card", Token: "tok_visa"}
)

func givenCart(events ...any) Cart {
	var c Cart
	for _, e := range events {
		c = evolve(c, e)
	}
	return c
}

func code(err error) string { return acme.ErrorCode(err) }

func TestCartDecider(t *testing.T) {

	checkedOut := CartCheckedOutV1{CartID: cid0, CheckoutID: "co1", CustomerID: cust,
		Items:    []Line{{ProductID: pA, Name: "Shirt", Quantity: 2, UnitPrice: usd(1999), LineTotal: usd(3998)}},
		Subtotal: usd(3998), Discount: usd(0), Total: usd(3998), Currency: "USD", ShippingAddress: addr, PaymentMethod: visa, CheckedOutAt: t0}
	tests := []struct {
		name  string
		given []any
		when  any
		then  []any
		code  string
	}{
		{"add to an empty cart", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 2, Product: shirt, At: t0}, []any{addedA2}, ""},
		{"add more of the same line", []any{addedA2}, addItem{CustomerID: cust, ProductID: pA, Quantity: 3, Product: shirt, At: t0},
			[]any{ItemAddedToCartV1{CartID: cid0, CustomerID: cust, ProductID: pA, Name: "Shirt", Quantity: 3, UnitPrice: usd(1999), AddedAt: t0}}, ""},
		{"quantity counts what is in the cart", []any{addedA2}, addItem{CustomerID: cust, ProductID: pA, Quantity: 4, Product: shirt, At: t0}, nil, CodeInsufficientStock},
		{"more than available", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 6, Product: shirt, At: t0}, nil, CodeInsufficientStock},
		{"a quantity that would overflow with what is in the cart", []any{addedA2}, addItem{CustomerID: cust, ProductID: pA, Quantity: math.MaxInt64, Product: shirt, At: t0}, nil, CodeInsufficientStock},
		{"none available", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 1, Product: with(shirt, func(p *Product) { p.Available = 0 })}, nil, CodeOutOfStock},
		{"quantity 0", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 0, Product: shirt}, nil, CodeInvalidQuantity},
		{"subtotal above the bound", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 1001,
			Product: with(shirt, func(p *Product) { p.Price.Amount, p.Available = acme.MaxPrice, 5000 })}, nil, CodeInvalidQuantity},
		{"subtotal above the bound with the other lines", []any{addedA2}, addItem{CustomerID: cust, ProductID: pB, VariantID: vM, Quantity: 1000,
			Product: with(poloM, func(p *Product) { p.Price.Amount, p.Available = acme.MaxPrice, 5000 })}, nil, CodeInvalidQuantity},
		{"update above the bound", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: acme.MaxAmount/1999 + 1,
			Product: with(shirt, func(p *Product) { p.Available = acme.MaxAmount })}, nil, CodeInvalidQuantity},
		{"unknown product", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 1}, nil, CodeProductNotFound},
		{"inactive product", nil, addItem{CustomerID: cust, ProductID: pA, Quantity: 1, Product: with(shirt, func(p *Product) { p.Active = false })}, nil, CodeProductNotFound},
		{"variant required", nil, addItem{CustomerID: cust, ProductID: pB, Quantity: 1, Product: with(poloM, func(p *Product) { p.VariantFound = false })}, nil, CodeVariantRequired},
		{"unknown variant", nil, addItem{CustomerID: cust, ProductID: pB, VariantID: "zz", Quantity: 1, Product: with(poloM, func(p *Product) { p.VariantFound = false })}, nil, CodeProductNotFound},
		{"one currency per cart", []any{addedA2}, addItem{CustomerID: cust, ProductID: pB, VariantID: vM, Quantity: 1,
			Product: with(poloM, func(p *Product) { p.Price.Currency = "EUR" })}, nil, acme.CodeValidationFailed},
		{"variant line", []any{addedA2}, addItem{CustomerID: cust, ProductID: pB, VariantID: vM, Quantity: 1, Product: poloM, At: t0}, []any{addedBM}, ""},
		{"update quantity", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: 5, Product: shirt, At: t0},
			[]any{CartQuantityUpdatedV1{CartID: cid0, ProductID: pA, PreviousQuantity: 2, NewQuantity: 5, UpdatedAt: t0}}, ""},
		{"raising an inactive product's line", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: 3,
			Product: with(shirt, func(p *Product) { p.Active = false })}, nil, CodeProductNotFound},
		{"update above available", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: 6, Product: shirt}, nil, CodeInsufficientStock},
		{"lowering needs no stock", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: 1, At: t0},
			[]any{CartQuantityUpdatedV1{CartID: cid0, ProductID: pA, PreviousQuantity: 2, NewQuantity: 1, UpdatedAt: t0}}, ""},
		{"update to the same quantity", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: 2, Product: shirt}, nil, ""},
		{"update to 0 removes", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: 0, At: t0},
			[]any{ItemRemovedFromCartV1{CartID: cid0, ProductID: pA, RemovedAt: t0}}, ""},
		{"update negative", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pA, Quantity: -1}, nil, CodeInvalidQuantity},
		{"update a missing item", []any{addedA2}, updateQuantity{CustomerID: cust, ProductID: pB, Quantity: 1}, nil, CodeItemNotInCart},
		{"update the wrong variant", []any{addedBM}, updateQuantity{CustomerID: cust, ProductID: pB, VariantID: "x", VariantGiven: true, Quantity: 1}, nil, CodeItemNotInCart},
		{"remove", []any{addedA2, addedBM}, removeItem{CustomerID: cust, ProductID: pB, At: t0},
			[]any{ItemRemovedFromCartV1{CartID: cid0, ProductID: pB, VariantID: vM, RemovedAt: t0}}, ""},
		{"remove the promotion code", []any{addedA2, PromotionCodeAppliedV1{CartID: cid0, Code: "TEN", PromotionID: "p1"}},
			removeCode{CustomerID: cust, At: t0}, []any{PromotionCodeRemovedV1{CartID: cid0, CustomerID: cust, Code: "TEN", RemovedAt: t0}}, ""},
		{"remove a promotion code when none is applied", []any{addedA2}, removeCode{CustomerID: cust, At: t0}, nil, ""},
		{"remove a missing item", nil, removeItem{CustomerID: cust, ProductID: pA}, nil, CodeItemNotInCart},
		{"update without a variant when the cart has two", []any{addedBM, addedBL}, updateQuantity{CustomerID: cust, ProductID: pB, Quantity: 1}, nil, CodeVariantRequired},
		{"remove without a variant when the cart has two", []any{addedBM, addedBL}, removeItem{CustomerID: cust, ProductID: pB}, nil, CodeVariantRequired},
		{"checkout freezes current prices", []any{addedA2}, checkoutCart{CustomerID: cust, CheckoutID: "co1", Address: addr, Method: visa,
			Products: map[string]Product{lineKey(pA, ""): shirt}, At: t0}, []any{checkedOut, CartClearedV1{CartID: cid0, CustomerID: cust, ClearedAt: t0}}, ""},
		{"checkout an empty cart", nil, checkoutCart{CustomerID: cust, CheckoutID: "co1", Address: addr, Method: visa}, nil, CodeCartEmpty},
		{"checkout without country", []any{addedA2}, checkoutCart{CustomerID: cust, Address: func() Address { a := addr; a.Country = "UK"; return a }(), Method: visa}, nil, CodeInvalidAddress},
		{"checkout with a line break in the address", []any{addedA2}, checkoutCart{CustomerID: cust, Address: func() Address { a := addr; a.Line1 = "1 Main St\r\nBcc: x@example.com"; return a }(), Method: visa}, nil, CodeInvalidAddress},
		{"checkout with cash", []any{addedA2}, checkoutCart{CustomerID: cust, Address: addr, Method: PaymentMethod{Type: "cash", Token: "x"}}, nil, acme.CodeValidationFailed},
		{"checkout a product no longer sold", []any{addedA2}, checkoutCart{CustomerID: cust, CheckoutID: "co1", Address: addr, Method: visa,
			Products: map[string]Product{lineKey(pA, ""): with(shirt, func(p *Product) { p.Active = false })}}, nil, CodeProductNotFound},
		{"checkout a line whose product has variants since", []any{addedA2}, checkoutCart{CustomerID: cust, CheckoutID: "co1", Address: addr, Method: visa,
			Products: map[string]Product{lineKey(pA, ""): with(shirt, func(p *Product) { p.HasVariants = true })}}, nil, CodeVariantRequired},
		{"restore into the next cart", []any{addedA2, checkedOut, CartClearedV1{CartID: cid0, CustomerID: cust}},
			restoreCart{CustomerID: cust, CheckoutID: "co1", Items: checkedOut.Items, PromotionCode: "TEN", Reason: "payment_declined", At: t0},
			[]any{CartRestoredV1{CartID: cid1, CustomerID: cust, CheckoutID: "co1", Items: checkedOut.Items, PromotionCode: "TEN", Reason: "payment_declined", RestoredAt: t0}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decide(givenCart(tt.given...), tt.when)
			if code(err) != tt.code || (tt.code == "" && err != nil) {
				t.Fatalf("err = %v, want code %q", err, tt.code)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events:\n got %#v\nwant %#v", got, tt.then)
			}
		})
	}
}

func TestCartCheckoutWithPromotion(t *testing.T) {
	c := givenCart(addedA2, PromotionCodeAppliedV1{Code: "TEN", PromotionID: "p1"})
	ten := &Promotion{PromotionID: "p1", Code: "TEN", Kind: "percentage", PercentBP: 1000}
	got, err := decide(c, checkoutCart{CustomerID: cust, CheckoutID: "co", Address: addr, Method: visa,
		Products: map[string]Product{lineKey(pA, ""): with2(shirt, 2000)}, Promotion: ten, At: t0})
	if err != nil {
		t.Fatal(err)
	}
	co := got[0].(CartCheckedOutV1)
	// The line's price is the catalog's current one (2000, not 1999 from when it was added).
	if co.Subtotal != usd(4000) || co.Discount != usd(400) || co.Total != usd(3600) || co.PromotionCode != "TEN" || co.Items[0].UnitPrice != usd(2000) {
		t.Fatalf("checked out %+v", co)
	}
	// An expired code gives no discount at checkout.
	old := *ten
	old.EndsAt = t0.Add(-time.Hour)
	got, _ = decide(c, checkoutCart{CustomerID: cust, CheckoutID: "co", Address: addr, Method: visa,
		Products: map[string]Product{lineKey(pA, ""): shirt}, Promotion: &old, At: t0})
	if co := got[0].(CartCheckedOutV1); co.Discount != usd(0) || co.PromotionCode != "" || co.Total != usd(3998) {
		t.Fatalf("expired code: %+v", co)
	}
	// A line the lookup did not see: the service looks again.
	if _, err := decide(c, checkoutCart{CustomerID: cust, Address: addr, Method: visa, Products: map[string]Product{}}); !errors.Is(err, errStaleLookup) {
		t.Fatalf("err = %v", err)
	}
}

func with2(p Product, price int64) Product { p.Price = usd(price); return p }

func with(p Product, f func(*Product)) Product { f(&p); return p }

func TestCartEvolve(t *testing.T) {
	c := givenCart(addedA2, addedBM, PromotionCodeAppliedV1{Code: "TEN"})
	if c.Subtotal("USD") != usd(6498) || c.PromotionCode != "TEN" || c.ID(cust) != cid0 {
		t.Fatalf("cart %+v", c)
	}
	if c := evolve(c, PromotionCodeRemovedV1{Code: "TEN"}); c.PromotionCode != "" || c.PromotionID != "" || len(c.Lines) != 2 {
		t.Fatalf("after removing the code %+v", c)
	}
	c = evolve(c, CartClearedV1{})
	if len(c.Lines) != 0 || c.PromotionCode != "" || c.ID(cust) != cid1 || c.Subtotal("USD") != usd(0) {
		t.Fatalf("after clear %+v", c)
	}
	// Restored lines merge with what was added since.
	c = evolve(c, ItemAddedToCartV1{CustomerID: cust, ProductID: pA, Name: "Shirt", Quantity: 1, UnitPrice: usd(1999)})
	c = evolve(c, CartRestoredV1{CustomerID: cust, Items: []Line{{ProductID: pA, Name: "Shirt", Quantity: 2, UnitPrice: usd(1999)},
		{ProductID: pB, VariantID: vM, Name: "Polo (M)", Quantity: 1, UnitPrice: usd(2500)}}, PromotionCode: "TEN"})
	if len(c.Lines) != 2 || c.Lines[0].Quantity != 3 || c.Lines[1].VariantID != vM || c.PromotionCode != "TEN" {
		t.Fatalf("after restore %+v", c)
	}
	// Removing the last line drops the code.
	c = evolve(evolve(c, ItemRemovedFromCartV1{ProductID: pA}), ItemRemovedFromCartV1{ProductID: pB, VariantID: vM})
	if len(c.Lines) != 0 || c.PromotionCode != "" {
		t.Fatalf("after removing all %+v", c)
	}
	if CartID(cust, 0) == CartID(cust, 1) || CartID(cust, 0) != CartID(cust, 0) || !acme.ValidID(CartID(cust, 7)) {
		t.Fatal("cart ids are not stable per generation")
	}
}

func TestValidateCheckout(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Address, *PaymentMethod)
		code string
	}{
		{func(*Address, *PaymentMethod) {}, ""},
		{func(a *Address, _ *PaymentMethod) { a.Line2 = "" }, ""},
		{func(a *Address, _ *PaymentMethod) { a.Country = "gb" }, CodeInvalidAddress}, // the service upper-cases first
		{func(a *Address, _ *PaymentMethod) { a.Country = "ZZ" }, CodeInvalidAddress},
		{func(a *Address, _ *PaymentMethod) { a.Name = "" }, CodeInvalidAddress},
		{func(a *Address, _ *PaymentMethod) { a.PostalCode = "  " }, CodeInvalidAddress},
		{func(_ *Address, m *PaymentMethod) { m.Type = "Card" }, acme.CodeValidationFailed},
		{func(_ *Address, m *PaymentMethod) { m.Token = "" }, acme.CodeValidationFailed},
	} {
		a, m := addr, visa
		tc.mod(&a, &m)
		if got := code(ValidateCheckout(a, m)); got != tc.code {
			t.Errorf("%+v %+v: code %q, want %q", a, m, got, tc.code)
		}
	}
	if !ValidCountry("US") || !ValidCountry("DE") || ValidCountry("UK") || len(countries) != 249 {
		t.Fatal("country list")
	}
}

func TestLineProblem(t *testing.T) {
	line := Line{ProductID: pA, Quantity: 3}
	for _, c := range []struct {
		name string
		l    Line
		p    Product
		want string
	}{
		{"sellable", line, shirt, ""},
		{"no longer sold", line, with(shirt, func(p *Product) { p.Active = false }), CodeProductNotFound},
		{"unknown product", line, Product{}, CodeProductNotFound},
		{"variant gone", Line{ProductID: pB, VariantID: "zz", Quantity: 1}, with(poloM, func(p *Product) { p.VariantFound = false }), CodeProductNotFound},
		{"variants since", line, with(shirt, func(p *Product) { p.HasVariants = true }), CodeVariantRequired},
		{"out of stock", line, with(shirt, func(p *Product) { p.Available = 0 }), CodeOutOfStock},
		{"fewer available than in the cart", line, with(shirt, func(p *Product) { p.Available = 2 }), CodeInsufficientStock},
	} {
		if got := LineProblem(c.l, c.p); got != c.want {
			t.Errorf("%s: LineProblem = %q, want %q", c.name, got, c.want)
		}
	}
}
