package cart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"acme"
	"acme/es"
	"acme/httpapi"
)

func streamID(customerID string) string { return "cart-" + customerID }

func (m *Module) now() time.Time { return m.clock.Now().UTC().Truncate(time.Microsecond) }

// CartView is the cart as the API shows it.
type CartView struct {
	CartID        string     `json:"cartId"`
	CustomerID    string     `json:"customerId"`
	Items         []LineView `json:"items"`
	Subtotal      acme.Money `json:"subtotal"`
	Discount      acme.Money `json:"discount"`
	Total         acme.Money `json:"total"`
	PromotionCode *string    `json:"promotionCode,omitempty"`
}

// LineView is a cart line as the API shows it: variantId is null for a
// product without variants.
type LineView struct {
	ProductID string             `json:"productId"`
	VariantID httpapi.OptionalID `json:"variantId"`
	Name      string             `json:"name"`
	Quantity  int64              `json:"quantity"`
	UnitPrice acme.Money         `json:"unitPrice"`
	LineTotal acme.Money         `json:"lineTotal"`
	// Problem says why the line would not go through checkout as it is
	// (product_not_found, variant_required, currency_mismatch,
	// invalid_quantity, out_of_stock, insufficient_stock); absent when
	// nothing is known against it.
	Problem string `json:"problem,omitempty"`
}

// CheckoutView is a checkout request as the API shows it.
type CheckoutView struct {
	CheckoutID    string  `json:"checkoutId"`
	Status        string  `json:"status"`
	OrderID       *string `json:"orderId,omitempty"`
	FailureReason *string `json:"failureReason,omitempty"`
}

// view renders c: the discount of its code is computed now, over the current
// lines (a code that no longer applies shows a discount of 0).
func (m *Module) view(ctx context.Context, customerID string, c Cart) (CartView, error) {
	// The cart shows what checkout will charge: each line's current name and
	// price from the cart's read model of the catalog (a line whose product or
	// variant it no longer knows keeps what it was added with).
	cur := c.Currency() // the currency the lines were added in, as adding checks
	if cur == "" {
		cur = m.currency
	}
	c.Lines = cloneLines(c.Lines)
	problems := make([]string, len(c.Lines))
	for i, l := range c.Lines {
		p, err := m.lookup(ctx, l.ProductID, l.VariantID)
		if err != nil {
			return CartView{}, err
		}
		if p.Found && (l.VariantID == "" || p.VariantFound) {
			c.Lines[i].Name, c.Lines[i].UnitPrice = p.Name, p.Price
		}
		problems[i] = LineProblem(l, p)
	}
	totals, sub, money := priceLines(c.Lines, cur)
	v := CartView{CartID: c.ID(customerID), CustomerID: customerID, Items: []LineView{}, Subtotal: sub}
	chargeable := true // checkout would take the cart's money as it is
	for i, l := range c.Lines {
		if money[i] != "" {
			chargeable = false
			if problems[i] == "" || problems[i] == CodeOutOfStock || problems[i] == CodeInsufficientStock {
				problems[i] = money[i] // what blocks checkout comes before a stock hint
			}
		}
		v.Items = append(v.Items, LineView{ProductID: l.ProductID, VariantID: httpapi.OptionalID(l.VariantID), Name: l.Name,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: totals[i], Problem: problems[i]})
	}
	v.Discount = acme.Money{Currency: v.Subtotal.Currency}
	if c.PromotionCode != "" {
		code := c.PromotionCode
		v.PromotionCode = &code
	}
	if c.PromotionCode != "" && chargeable {
		p, err := m.promotion(ctx, c.PromotionCode)
		if err != nil {
			return v, err
		}
		if p != nil {
			cats, err := m.categories(ctx, c.Lines)
			if err != nil {
				return v, err
			}
			if d, err := CalculateDiscount(*p, discountLines(c.Lines, func(id string) []string { return cats[id] }), v.Subtotal, m.now()); err == nil {
				v.Discount = d
			}
		}
	}
	v.Total = acme.Money{Amount: v.Subtotal.Amount - v.Discount.Amount, Currency: v.Subtotal.Currency}
	return v, nil
}

func (m *Module) categories(ctx context.Context, lines []Line) (map[string][]string, error) {
	cats := map[string][]string{}
	for _, l := range lines {
		if _, ok := cats[l.ProductID]; ok {
			continue
		}
		p, err := m.lookup(ctx, l.ProductID, "")
		if err != nil {
			return nil, err
		}
		path, err := m.categoryPath(ctx, p.CategoryID)
		if err != nil {
			return nil, err
		}
		cats[l.ProductID] = path
	}
	return cats, nil
}

// categoryPath is category id and the categories above it (as far as the
// cart's read model of the tree knows them; the catalog's depth is 3).
func (m *Module) categoryPath(ctx context.Context, id string) ([]string, error) {
	var path []string
	for id != "" && len(path) < 10 && !slices.Contains(path, id) {
		path = append(path, id)
		var parent string
		err := m.h.Store().DB().QueryRowContext(ctx, `SELECT parent_id FROM cart_categories WHERE category_id = $1`, id).Scan(&parent)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cart: read category: %w", err)
		}
		id = parent
	}
	return path, nil
}

// Cart returns the customer's current cart.
func (m *Module) Cart(ctx context.Context, customerID string) (CartView, error) {
	cur, err := m.carts.Load(ctx, streamID(customerID), es.StreamQuery{})
	if err != nil {
		return CartView{}, err
	}
	return m.view(ctx, customerID, cur.State)
}

func (m *Module) handled(ctx context.Context, customerID string, h es.Handled[Cart], err error) (CartView, int64, error) {
	if err != nil {
		return CartView{}, 0, err
	}
	v, err := m.view(ctx, customerID, h.State)
	pos := h.Position
	if pos == 0 && err == nil {
		// The command changed nothing (e.g. the same quantity again): the token
		// is then the cart log's head, so the response still carries one.
		pos, err = m.h.Store().Head(ctx)
	}
	return v, pos, err
}

// AddItem adds quantity units of a product (variant) to the customer's cart.
func (m *Module) AddItem(ctx context.Context, customerID, productID, variantID string, quantity int64) (CartView, int64, error) {
	p, err := m.lookup(ctx, productID, variantID)
	if err != nil {
		return CartView{}, 0, err
	}
	h, err := m.carts.Handle(ctx, streamID(customerID), addItem{CustomerID: customerID, ProductID: productID, VariantID: variantID,
		Quantity: quantity, Product: p, At: m.now()})
	return m.handled(ctx, customerID, h, err)
}

// UpdateQuantity sets a line's quantity (0 removes it).
func (m *Module) UpdateQuantity(ctx context.Context, customerID, productID, variantID string, variantGiven bool, quantity int64) (CartView, int64, error) {
	cur, err := m.carts.Load(ctx, streamID(customerID), es.StreamQuery{})
	if err != nil {
		return CartView{}, 0, err
	}
	var p Product
	if i := cur.State.find(productID, variantID, variantGiven); i >= 0 {
		if p, err = m.lookup(ctx, productID, cur.State.Lines[i].VariantID); err != nil {
			return CartView{}, 0, err
		}
	}
	h, err := m.carts.Handle(ctx, streamID(customerID), updateQuantity{CustomerID: customerID, ProductID: productID,
		VariantID: variantID, VariantGiven: variantGiven, Quantity: quantity, Product: p, At: m.now()})
	return m.handled(ctx, customerID, h, err)
}

// RemoveItem removes a line.
func (m *Module) RemoveItem(ctx context.Context, customerID, productID, variantID string, variantGiven bool) (CartView, int64, error) {
	h, err := m.carts.Handle(ctx, streamID(customerID), removeItem{CustomerID: customerID, ProductID: productID,
		VariantID: variantID, VariantGiven: variantGiven, At: m.now()})
	return m.handled(ctx, customerID, h, err)
}

// ApplyPromotionCode applies a promotion code to the cart (422
// invalid_promotion_code when it does not apply).
func (m *Module) ApplyPromotionCode(ctx context.Context, customerID, code string) (CartView, int64, error) {
	if strings.TrimSpace(code) == "" {
		// the contract's one refusal of this route: an empty code is not a valid one
		return CartView{}, 0, acme.Errorf(CodeInvalidPromotionCode, "a promotion code is required")
	}
	p, err := m.promotion(ctx, code)
	if err != nil {
		return CartView{}, 0, err
	}
	cur, err := m.carts.Load(ctx, streamID(customerID), es.StreamQuery{})
	if err != nil {
		return CartView{}, 0, err
	}
	cats, err := m.categories(ctx, cur.State.Lines)
	if err != nil {
		return CartView{}, 0, err
	}
	h, err := m.carts.Handle(ctx, streamID(customerID), applyCode{CustomerID: customerID, Code: code, Promotion: p, Categories: cats, At: m.now()})
	return m.handled(ctx, customerID, h, err)
}

// RemovePromotionCode takes the applied promotion code off the customer's
// cart; with none applied it changes nothing.
func (m *Module) RemovePromotionCode(ctx context.Context, customerID string) (CartView, int64, error) {
	h, err := m.carts.Handle(ctx, streamID(customerID), removeCode{CustomerID: customerID, At: m.now()})
	return m.handled(ctx, customerID, h, err)
}

// Checkout checks the customer's cart out: CartCheckedOut (prices frozen) and
// CartCleared, and a PENDING checkout request, in one commit.
func (m *Module) Checkout(ctx context.Context, customerID string, addr Address, method PaymentMethod) (CheckoutView, int64, error) {
	addr.Country = strings.ToUpper(strings.TrimSpace(addr.Country))
	if err := ValidateCheckout(addr, method); err != nil {
		return CheckoutView{}, 0, err
	}
	cmd := checkoutCart{CustomerID: customerID, CheckoutID: m.h.NewID(), Address: addr, Method: method, At: m.now()}
	for attempt := 0; ; attempt++ {
		cur, err := m.carts.Load(ctx, streamID(customerID), es.StreamQuery{})
		if err != nil {
			return CheckoutView{}, 0, err
		}
		cmd.Products = map[string]Product{}
		for _, l := range cur.State.Lines {
			p, err := m.lookup(ctx, l.ProductID, l.VariantID)
			if err != nil {
				return CheckoutView{}, 0, err
			}
			if cur.State.PromotionCode != "" {
				if p.Categories, err = m.categoryPath(ctx, p.CategoryID); err != nil {
					return CheckoutView{}, 0, err
				}
			}
			cmd.Products[lineKey(l.ProductID, l.VariantID)] = p
		}
		cmd.Promotion = nil
		if cur.State.PromotionCode != "" {
			if cmd.Promotion, err = m.promotion(ctx, cur.State.PromotionCode); err != nil {
				return CheckoutView{}, 0, err
			}
		}
		h, err := m.carts.Handle(ctx, streamID(customerID), cmd)
		if errors.Is(err, errStaleLookup) && attempt < 5 {
			continue
		}
		if err != nil {
			return CheckoutView{}, 0, err
		}
		return CheckoutView{CheckoutID: cmd.CheckoutID, Status: StatusPending}, h.Position, nil
	}
}

// CheckoutRequest returns a checkout request of the customer (admin: any).
func (m *Module) CheckoutRequest(ctx context.Context, customerID string, admin bool, id string) (CheckoutView, error) {
	notFound := acme.Errorf(acme.CodeNotFound, "no such checkout")
	if !acme.ValidID(id) {
		return CheckoutView{}, notFound
	}
	r, ok, err := m.checkoutRow(ctx, m.h.Store().DB(), id)
	if err != nil {
		return CheckoutView{}, err
	}
	if !ok || (!admin && r.CustomerID != customerID) {
		return CheckoutView{}, notFound
	}
	v := CheckoutView{CheckoutID: r.CheckoutID, Status: r.Status}
	if r.OrderID != "" {
		v.OrderID = &r.OrderID
	}
	if r.FailureReason != "" {
		v.FailureReason = &r.FailureReason
	}
	return v, nil
}
