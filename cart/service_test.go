package cart

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
)

func TestCartService(t *testing.T) {
	m, h, clock := startCart(t)
	ctx := context.Background()
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "cat", "initialStock": 4})
	h.deliver(t, "ProductCreated", map[string]any{"productId": pB, "name": "Polo", "price": usdMap(2000), "categoryId": "polo", "initialStock": 0})
	h.deliver(t, "ProductVariantAdded", map[string]any{"productId": pB, "variantId": vM, "size": "M", "color": "Red", "priceModifier": usdMap(250), "initialStock": 2})

	if _, _, err := m.AddItem(ctx, cust, pB, "", 1); acme.ErrorCode(err) != CodeVariantRequired {
		t.Fatalf("no variant: %v", err)
	}
	v, _, err := m.AddItem(ctx, cust, pB, vM, 2)
	if err != nil || v.Items[0].Name != "Polo (M / Red)" || v.Items[0].UnitPrice != usd(2250) {
		t.Fatalf("variant: %+v %v", v, err)
	}
	// Inventory levels replace the initial stock; an older level never
	// overwrites a newer one.
	newer := h.deliver(t, "InventoryRestocked", map[string]any{"productId": pA, "levels": []any{map[string]any{"productId": pA, "variantId": "", "available": 9}}})
	older := newer
	older.ID, older.Position = acme.NewID(), newer.Position-1
	older.Data = []byte(`{"levels":[{"productId":"` + pA + `","variantId":"","available":1}]}`)
	h.redeliver(t, older)
	if _, _, err := m.AddItem(ctx, cust, pA, "", 9); err != nil {
		t.Fatalf("9 of 9 available: %v", err)
	}
	h.deliver(t, "OutOfStock", map[string]any{"productId": pA, "variantId": ""})
	if _, _, err := m.UpdateQuantity(ctx, cust, pA, "", false, 10); acme.ErrorCode(err) != CodeInsufficientStock {
		t.Fatalf("after OutOfStock: %v", err)
	}
	// A price change shows in the cart at once (and in a variant's price), and
	// is what checkout freezes.
	h.deliver(t, "ProductUpdated", map[string]any{"productId": pB, "name": "Polo", "price": usdMap(3000), "categoryId": "polo"})
	if v, err := m.Cart(ctx, cust); err != nil || v.Items[0].UnitPrice != usd(3250) || v.Items[0].LineTotal != usd(6500) || v.Subtotal != usd(15500) || v.Total != usd(15500) {
		t.Fatalf("cart after a price change: %+v %v", v, err)
	}
	// A promotion on the polo category, applied, then checkout.
	h.deliver(t, "PromotionCreated", map[string]any{"promotionId": "pr1", "code": "Polo10", "kind": "percentage", "percent": 10,
		"productIds": []string{}, "categoryIds": []string{"polo"}, "endsAt": clock.t.Add(time.Hour)})
	v, _, err = m.ApplyPromotionCode(ctx, cust, "polo10")
	// 10 % of the polo line at its current price 2 × 3250.
	if err != nil || v.Discount != usd(650) || v.Total != usd(14850) || *v.PromotionCode != "Polo10" {
		t.Fatalf("promotion: %+v %v", v, err)
	}
	co, _, err := m.Checkout(ctx, cust, Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "de"}, PaymentMethod{Type: "card", Token: "tok_visa"})
	if err != nil || co.Status != StatusPending {
		t.Fatalf("checkout: %+v %v", co, err)
	}
	r, err := m.CheckoutRequest(ctx, cust, false, co.CheckoutID)
	if err != nil || r.Status != StatusPending {
		t.Fatalf("request: %+v %v", r, err)
	}
	if _, err := m.CheckoutRequest(ctx, "someone-else", false, co.CheckoutID); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("other customer: %v", err)
	}
	evs, _ := h.Store().ReadStream(ctx, streamID(cust), es0())
	checked, err := CartCheckedOut.Decode(evs[len(evs)-2])
	if err != nil {
		t.Fatal(err)
	}
	// Frozen: polo at the new price 3250, shirt 9 × 1000; 10 % of 6500.
	if checked.Subtotal != usd(15500) || checked.Discount != usd(650) || checked.Total != usd(14850) || checked.ShippingAddress.Country != "DE" {
		t.Fatalf("CartCheckedOut %+v", checked)
	}
	if v, _ := m.Cart(ctx, cust); len(v.Items) != 0 || v.CartID == checked.CartID {
		t.Fatalf("cart after checkout %+v", v)
	}

	// The customer adds something, then the checkout fails: the lines come back,
	// merged.
	h.deliver(t, "InventoryRestocked", map[string]any{"levels": []any{map[string]any{"productId": pA, "variantId": "", "available": 20}}})
	if _, _, err := m.AddItem(ctx, cust, pA, "", 1); err != nil {
		t.Fatal(err)
	}
	failed := h.deliver(t, "CheckoutFailed", map[string]any{"checkoutId": co.CheckoutID, "cartId": checked.CartID, "customerId": cust, "reason": "insufficient_stock"})
	h.redeliver(t, failed)                                                                                                     // a duplicate delivery changes nothing
	h.deliver(t, "CheckoutFailed", map[string]any{"checkoutId": co.CheckoutID, "customerId": cust, "reason": "payment_error"}) // a second verdict is ignored
	r, _ = m.CheckoutRequest(ctx, cust, false, co.CheckoutID)
	if r.Status != StatusFailed || *r.FailureReason != "insufficient_stock" || r.OrderID != nil {
		t.Fatalf("failed request %+v", r)
	}
	v, _ = m.Cart(ctx, cust)
	if len(v.Items) != 2 || v.Items[0].ProductID != pA || v.Items[0].Quantity != 10 || v.Items[1].Quantity != 2 || v.PromotionCode == nil {
		t.Fatalf("restored cart %+v", v)
	}
	// COMPLETED after FAILED is ignored; a completed one keeps its order id.
	h.deliver(t, "CheckoutCompleted", map[string]any{"checkoutId": co.CheckoutID, "orderId": "o1"})
	if r, _ = m.CheckoutRequest(ctx, cust, false, co.CheckoutID); r.Status != StatusFailed {
		t.Fatalf("%+v", r)
	}
	co2, _, err := m.Checkout(ctx, cust, Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}, PaymentMethod{Type: "card", Token: "tok_visa"})
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(t, "CheckoutCompleted", map[string]any{"checkoutId": co2.CheckoutID, "orderId": "o2"})
	if r, _ = m.CheckoutRequest(ctx, cust, true, co2.CheckoutID); r.Status != StatusCompleted || *r.OrderID != "o2" {
		t.Fatalf("%+v", r)
	}
	// Deactivated products are no longer sold, and a line in the cart says so.
	if v, _, err := m.AddItem(ctx, cust, pA, "", 1); err != nil || v.Items[0].Problem != "" {
		t.Fatalf("add: %+v %v", v, err)
	}
	h.deliver(t, "ProductDeactivated", map[string]any{"productId": pA})
	if _, _, err := m.AddItem(ctx, cust, pA, "", 1); acme.ErrorCode(err) != CodeProductNotFound {
		t.Fatalf("inactive: %v", err)
	}
	if v, err := m.Cart(ctx, cust); err != nil || len(v.Items) != 1 || v.Items[0].Problem != CodeProductNotFound {
		t.Fatalf("the cart does not flag the line no longer sold: %+v %v", v, err)
	}
}

func es0() es.StreamQuery { return es.StreamQuery{} }

// A promotion scoped to a category covers the products of its
// sub-categories: in the cart's view, when applied, and frozen at checkout.
func TestCategoryPromotionCoversSubCategories(t *testing.T) {
	m, h, clock := startCart(t)
	ctx := context.Background()
	h.deliver(t, "CategoryCreated", map[string]any{"categoryId": "root", "name": "Clothing", "parentId": ""})
	h.deliver(t, "CategoryCreated", map[string]any{"categoryId": "child", "name": "Shirts", "parentId": "root"})
	h.deliver(t, "CategoryCreated", map[string]any{"categoryId": "other", "name": "Garden", "parentId": ""})
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "child", "initialStock": 4})
	h.deliver(t, "ProductCreated", map[string]any{"productId": pB, "name": "Rake", "price": usdMap(3000), "categoryId": "other", "initialStock": 4})
	h.deliver(t, "PromotionCreated", map[string]any{"promotionId": "pr1", "code": "CLOTHES10", "kind": "percentage", "percent": 10,
		"productIds": []string{}, "categoryIds": []string{"root"}, "endsAt": clock.t.Add(time.Hour)})
	if _, _, err := m.AddItem(ctx, cust, pA, "", 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AddItem(ctx, cust, pB, "", 1); err != nil {
		t.Fatal(err)
	}
	v, _, err := m.ApplyPromotionCode(ctx, cust, "clothes10")
	if err != nil || v.Discount != usd(200) || v.Total != usd(4800) {
		t.Fatalf("applied: %+v %v", v, err)
	}
	if v, err := m.Cart(ctx, cust); err != nil || v.Discount != usd(200) {
		t.Fatalf("view: %+v %v", v, err)
	}
	co, _, err := m.Checkout(ctx, cust, Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}, PaymentMethod{Type: "card", Token: "tok_visa"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := h.Store().ReadStream(ctx, streamID(cust), es0())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == "CartCheckedOut" {
			var c CartCheckedOutV1
			if err := json.Unmarshal(e.Data, &c); err != nil || c.CheckoutID != co.CheckoutID || c.Discount != usd(200) || c.Total != usd(4800) {
				t.Fatalf("checked out: %+v %v", c, err)
			}
			return
		}
	}
	t.Fatal("no CartCheckedOut")
}

// The inventory consumer applies a batch of levels in one commit: the latest
// level of each item wins, whatever order the batch holds them in, as when
// they are applied one at a time.
func TestInventoryLevelsBatch(t *testing.T) {
	m, h, _ := startCart(t)
	ctx := context.Background()
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "cat", "initialStock": 4})
	h.deliver(t, "ProductCreated", map[string]any{"productId": pB, "name": "Polo", "price": usdMap(2000), "categoryId": "cat", "initialStock": 4})
	level := func(pos int64, productID string, available int64) es.Message {
		msg := estest.Message(t, "InventoryReserved", "", map[string]any{"checkoutId": acme.NewID(),
			"levels": []any{map[string]any{"productId": productID, "variantId": "", "available": available}}})
		msg.Position = pos
		return msg
	}
	// pA: 7 then 2 (the later wins); pB: its later level (6) comes first in
	// the batch, a stale one (1) after it.
	batch := []es.Message{level(10, pA, 7), level(12, pB, 6), level(11, pA, 2), level(9, pB, 1)}
	c, err := m.onInventory(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range batch {
		c.InboxIDs = append(c.InboxIDs, "cart."+consumerInventory+"/"+msg.ID)
	}
	if _, err := h.Store().Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		productID string
		available int64
	}{{pA, 2}, {pB, 6}} {
		p, err := m.lookup(ctx, want.productID, "")
		if err != nil || p.Available != want.available {
			t.Fatalf("%s: available %d (%v), want %d", want.productID, p.Available, err, want.available)
		}
	}
}

// A price changed after a line was added can take the cart past the
// subtotal bound, even past int64, or into a second currency: the cart
// shows it on the line (never a wrapped or mixed total) and checkout
// refuses it until the customer fixes the line.
func TestRepricedCartNeverWrapsOrMixesCurrencies(t *testing.T) {
	m, h, clock := startCart(t)
	ctx := context.Background()
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Screw", "price": usdMap(1), "categoryId": "c", "initialStock": 1_000_000_000})
	h.deliver(t, "PromotionCreated", map[string]any{"promotionId": "pr1", "code": "TEN", "kind": "percentage", "percent": 10,
		"productIds": []string{}, "categoryIds": []string{}, "endsAt": clock.t.Add(time.Hour)})
	h.deliver(t, "ProductCreated", map[string]any{"productId": pB, "name": "Box", "price": usdMap(1000), "categoryId": "c", "initialStock": 5})
	if _, _, err := m.AddItem(ctx, cust, pA, "", 10_000_000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AddItem(ctx, cust, pB, "", 1); err != nil {
		t.Fatal(err)
	}
	if v, _, err := m.ApplyPromotionCode(ctx, cust, "TEN"); err != nil || v.Discount != usd(1_000_100) {
		t.Fatalf("promotion: %+v %v", v, err)
	}
	price := func(id string, amount int64, currency string) {
		h.deliver(t, "ProductUpdated", map[string]any{"productId": id, "name": "P", "price": map[string]any{"amount": amount, "currency": currency}, "categoryId": "c"})
	}
	addr, card := Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}, PaymentMethod{Type: "card", Token: "tok_visa"}
	for _, tc := range []struct {
		name         string
		priceA       int64
		wantLineA    int64
		wantSubtotal int64
	}{
		{"past int64", acme.MaxPrice, math.MaxInt64, math.MaxInt64},
		{"past the bound", 1_000_000_000, 10_000_000 * 1_000_000_000, 10_000_000*1_000_000_000 + 1000},
	} {
		price(pA, tc.priceA, "USD")
		v, err := m.Cart(ctx, cust)
		if err != nil || v.Items[0].Problem != CodeInvalidQuantity || v.Items[0].LineTotal.Amount != tc.wantLineA ||
			v.Subtotal.Amount != tc.wantSubtotal || v.Total.Amount != tc.wantSubtotal || v.Items[1].Problem != "" ||
			v.Discount.Amount != 0 || v.PromotionCode == nil || *v.PromotionCode != "TEN" {
			t.Fatalf("%s: cart %+v %v", tc.name, v, err)
		}
		if _, _, err := m.Checkout(ctx, cust, addr, card); acme.ErrorCode(err) != CodeInvalidQuantity {
			t.Fatalf("%s: checkout %v, want %s", tc.name, err, CodeInvalidQuantity)
		}
	}
	// The cart's currency is the one its lines were added in: the repriced
	// line is the one flagged, first or not.
	price(pA, 1, "EUR")
	v, err := m.Cart(ctx, cust)
	if err != nil || v.Items[0].Problem != CodeCurrencyMismatch || v.Items[1].Problem != "" || v.Subtotal != usd(1000) {
		t.Fatalf("the first line now priced in EUR: %+v %v", v, err)
	}
	price(pA, 1, "USD")
	price(pB, 1500, "EUR")
	v, err = m.Cart(ctx, cust)
	if err != nil || v.Items[0].Problem != "" || v.Items[1].Problem != CodeCurrencyMismatch ||
		v.Items[1].LineTotal != (acme.Money{Amount: 1500, Currency: "EUR"}) || v.Subtotal != usd(10_000_000) {
		t.Fatalf("a line now priced in EUR: %+v %v", v, err)
	}
	if _, _, err := m.Checkout(ctx, cust, addr, card); acme.ErrorCode(err) != acme.CodeValidationFailed {
		t.Fatalf("checkout of two currencies: %v", err)
	}
	if v, _ := m.Cart(ctx, cust); len(v.Items) != 2 {
		t.Fatalf("a refused checkout emptied the cart: %+v", v)
	}
	price(pB, 1000, "USD")
	if co, _, err := m.Checkout(ctx, cust, addr, card); err != nil || co.Status != StatusPending {
		t.Fatalf("checkout once fixed: %+v %v", co, err)
	}
}

// A checkout that failed after its order was created (the capture failed)
// names the order, cancelled with it.
func TestFailedCheckoutNamesItsCancelledOrder(t *testing.T) {
	m, h, _ := startCart(t)
	ctx := context.Background()
	h.deliver(t, "ProductCreated", map[string]any{"productId": pA, "name": "Shirt", "price": usdMap(1000), "categoryId": "c", "initialStock": 4})
	if _, _, err := m.AddItem(ctx, cust, pA, "", 1); err != nil {
		t.Fatal(err)
	}
	co, _, err := m.Checkout(ctx, cust, Address{Name: "A", Line1: "L", City: "C", PostalCode: "P", Country: "DE"}, PaymentMethod{Type: "card", Token: "tok_visa"})
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(t, "CheckoutFailed", map[string]any{"checkoutId": co.CheckoutID, "customerId": cust, "reason": "payment_error", "orderId": "o9"})
	r, err := m.CheckoutRequest(ctx, cust, false, co.CheckoutID)
	if err != nil || r.Status != StatusFailed || r.OrderID == nil || *r.OrderID != "o9" || *r.FailureReason != "payment_error" {
		t.Fatalf("failed checkout %+v %v", r, err)
	}
}
