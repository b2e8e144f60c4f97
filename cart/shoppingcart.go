package cart

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"acme"
	"acme/es"
)

// Error codes of the cart (statuses in httpapi's table).
const (
	CodeProductNotFound   = "product_not_found"
	CodeItemNotInCart     = "item_not_in_cart"
	CodeOutOfStock        = "out_of_stock"
	CodeInsufficientStock = "insufficient_stock"
	CodeCartEmpty         = "cart_empty"
	CodeVariantRequired   = "variant_required"
	CodeInvalidQuantity   = "invalid_quantity"
	CodeInvalidAddress    = "invalid_address"
	// CodeCurrencyMismatch is a line's problem when its product is now
	// priced in another currency than the cart's first line: a cart is paid
	// in one currency, so checkout refuses it until the line goes.
	CodeCurrencyMismatch = "currency_mismatch"
)

// Cart is the state of a customer's cart stream ("cart-<customerId>"). The
// stream outlives carts: each checkout clears the cart and the next item starts
// a new generation, whose cartId is derived from the customer and the
// generation (so even an empty cart has a stable id).
type Cart struct {
	CustomerID    string `json:"customerId"`
	Generation    int    `json:"generation"`
	Lines         []Line `json:"lines"`
	PromotionCode string `json:"promotionCode"`
	PromotionID   string `json:"promotionId"`
}

var cartNamespace = uuid.MustParse("6f0c5d0e-4c55-4a8e-9a59-0d3c2b9f7a11")

// CartID is the id of the customer's cart of generation gen (UUIDv5).
func CartID(customerID string, gen int) string {
	return uuid.NewSHA1(cartNamespace, fmt.Appendf(nil, "%s/%d", customerID, gen)).String()
}

// ID is the current cart's id.
func (c Cart) ID(customerID string) string { return CartID(customerID, c.Generation) }

func (c Cart) find(productID, variantID string, variantGiven bool) int {
	if variantGiven {
		for i, l := range c.Lines {
			if l.ProductID == productID && l.VariantID == variantID {
				return i
			}
		}
		return -1
	}
	// No variant given: the product's line if it has exactly one.
	found := -1
	for i, l := range c.Lines {
		if l.ProductID == productID {
			if found >= 0 {
				return -2 // ambiguous
			}
			found = i
		}
	}
	return found
}

// Currency is the cart's currency ("" while empty).
func (c Cart) Currency() string {
	if len(c.Lines) == 0 {
		return ""
	}
	return c.Lines[0].UnitPrice.Currency
}

// lineAmount is quantity units of unitPrice, and whether that stays within
// acme.MaxAmount. A price raised since the line was added can take it past
// that bound, even past int64: the amount is then saturated at MaxInt64.
func lineAmount(unitPrice, quantity int64) (int64, bool) {
	if unitPrice > 0 && quantity > acme.MaxAmount/unitPrice {
		if quantity > math.MaxInt64/unitPrice {
			return math.MaxInt64, false
		}
		return unitPrice * quantity, false
	}
	return unitPrice * quantity, true
}

// priceLines totals lines at their unit prices, as checkout would charge
// them: each line's total, the subtotal in the cart's currency cur (its
// first line's as added: the currency adding checks), and each line's money
// problem:
// currency_mismatch for a line priced in another currency (left out of the
// subtotal), invalid_quantity for a line past acme.MaxAmount on its own or,
// when none is, for the line that takes the subtotal past it (the subtotal
// then saturates instead of wrapping).
func priceLines(lines []Line, cur string) (totals []acme.Money, sub acme.Money, problems []string) {
	sub = acme.Money{Currency: cur}
	totals, problems = make([]acme.Money, len(lines)), make([]string, len(lines))
	over := false // a line is already flagged for the bound
	for i, l := range lines {
		amt, ok := lineAmount(l.UnitPrice.Amount, l.Quantity)
		totals[i] = acme.Money{Amount: amt, Currency: l.UnitPrice.Currency}
		switch {
		case l.UnitPrice.Currency != cur:
			problems[i] = CodeCurrencyMismatch
			continue
		case !ok || (!over && sub.Amount > acme.MaxAmount-amt):
			problems[i], over = CodeInvalidQuantity, true
		}
		if amt > 0 && sub.Amount > math.MaxInt64-amt {
			sub.Amount = math.MaxInt64
		} else {
			sub.Amount += amt
		}
	}
	return totals, sub, problems
}

// Subtotal sums the lines (in currency def when the cart is empty).
func (c Cart) Subtotal(def string) acme.Money {
	cur := c.Currency()
	if cur == "" {
		cur = def
	}
	_, s, _ := priceLines(c.Lines, cur)
	return s
}

// fits reports whether the cart's subtotal stays within acme.MaxAmount with
// the line of (productID, variantID) at quantity units of unitPrice.
// (Restored lines are not checked as they come back: any line may be past
// the bound on its own.)
func (c Cart) fits(productID, variantID string, unitPrice, quantity int64) bool {
	sum, ok := lineAmount(unitPrice, quantity)
	if !ok {
		return false
	}
	for _, l := range c.Lines {
		if l.ProductID != productID || l.VariantID != variantID {
			amt, ok := lineAmount(l.UnitPrice.Amount, l.Quantity)
			if !ok || sum > acme.MaxAmount-amt {
				return false
			}
			sum += amt
		}
	}
	return true
}

// Product is what the cart's read models know of a product variant, looked up
// by the service before deciding (the decider does no I/O).
type Product struct {
	Found        bool // the product is known
	Active       bool
	HasVariants  bool
	VariantFound bool // VariantID names one of the product's variants
	Name         string
	Price        acme.Money // product price + variant priceModifier
	CategoryID   string
	Categories   []string // CategoryID and the categories above it (set for checkout; nil: CategoryID alone)
	Available    int64    // units available in inventory
}

// Commands of the cart decider.
type (
	addItem struct {
		CustomerID, ProductID, VariantID string
		Quantity                         int64
		Product                          Product
		At                               time.Time
	}
	updateQuantity struct {
		CustomerID, ProductID, VariantID string
		VariantGiven                     bool
		Quantity                         int64
		Product                          Product // of the line's variant (looked up after resolving it)
		At                               time.Time
	}
	removeItem struct {
		CustomerID, ProductID, VariantID string
		VariantGiven                     bool
		At                               time.Time
	}
	applyCode struct {
		CustomerID string
		Code       string
		Promotion  *Promotion          // nil: unknown code
		Categories map[string][]string // productId → its category and those above it, for the cart's lines
		At         time.Time
	}
	removeCode struct {
		CustomerID string
		At         time.Time
	}
	checkoutCart struct {
		CustomerID string
		CheckoutID string
		Address    Address
		Method     PaymentMethod
		Products   map[string]Product // lineKey → current product view, for every line
		Promotion  *Promotion         // the applied code's promotion (nil: none or unknown now)
		At         time.Time
	}
	restoreCart struct {
		CustomerID    string
		CheckoutID    string
		Items         []Line
		PromotionCode string
		Reason        string
		At            time.Time
	}
)

func lineKey(productID, variantID string) string { return productID + "/" + variantID }

// errStaleLookup: the state changed between the service's lookup and the
// decision (a line without a product view); the service looks up again.
var errStaleLookup = errors.New("cart: lines changed since the lookup")

// Decider is the cart aggregate.
var Decider = es.Decider[Cart, any]{Decide: decide, Evolve: evolve}

func decide(c Cart, cmd any) ([]any, error) {
	switch cmd := cmd.(type) {
	case addItem:
		return decideAdd(c, cmd)
	case updateQuantity:
		return decideUpdate(c, cmd)
	case removeItem:
		i := c.find(cmd.ProductID, cmd.VariantID, cmd.VariantGiven)
		if i < 0 {
			return nil, notInCart(i)
		}
		l := c.Lines[i]
		return []any{ItemRemovedFromCartV1{CartID: c.ID(cmd.CustomerID), ProductID: l.ProductID, VariantID: l.VariantID, RemovedAt: cmd.At}}, nil
	case applyCode:
		return decideApplyCode(c, cmd)
	case removeCode:
		if c.PromotionCode == "" {
			return nil, nil // nothing applied: already as asked
		}
		return []any{PromotionCodeRemovedV1{CartID: c.ID(cmd.CustomerID), CustomerID: cmd.CustomerID, Code: c.PromotionCode, RemovedAt: cmd.At}}, nil
	case checkoutCart:
		return decideCheckout(c, cmd)
	case restoreCart:
		if len(cmd.Items) == 0 {
			return nil, nil
		}
		code := cmd.PromotionCode
		if c.PromotionCode != "" {
			code = "" // the customer chose another code since
		}
		return []any{CartRestoredV1{CartID: c.ID(cmd.CustomerID), CustomerID: cmd.CustomerID, CheckoutID: cmd.CheckoutID,
			Items: cmd.Items, PromotionCode: code, Reason: cmd.Reason, RestoredAt: cmd.At}}, nil
	}
	return nil, fmt.Errorf("cart: unknown command %T", cmd)
}

func notInCart(i int) error {
	if i == -2 {
		return acme.Errorf(CodeVariantRequired, "the cart has several variants of this product: give variantId")
	}
	return acme.Errorf(CodeItemNotInCart, "the item is not in the cart")
}

func checkProduct(p Product, variantID string) error {
	switch {
	case !p.Found || !p.Active:
		return acme.Errorf(CodeProductNotFound, "no product is sold with this id")
	case variantID == "" && p.HasVariants:
		return acme.Errorf(CodeVariantRequired, "the product has variants: give variantId")
	case variantID != "" && !p.VariantFound:
		return acme.Errorf(CodeProductNotFound, "the product has no variant %s", variantID)
	}
	return nil
}

func decideAdd(c Cart, cmd addItem) ([]any, error) {
	if cmd.Quantity < 1 {
		return nil, acme.Errorf(CodeInvalidQuantity, "quantity must be at least 1")
	}
	if err := checkProduct(cmd.Product, cmd.VariantID); err != nil {
		return nil, err
	}
	if cur := c.Currency(); cur != "" && cur != cmd.Product.Price.Currency {
		return nil, acme.Invalid(acme.FieldError{Field: "productId",
			Message: fmt.Sprintf("the product is priced in %s and the cart in %s: one currency per cart", cmd.Product.Price.Currency, cur)})
	}
	var inCart int64
	if i := c.find(cmd.ProductID, cmd.VariantID, true); i >= 0 {
		inCart = c.Lines[i].Quantity
	}
	switch {
	case cmd.Product.Available <= 0:
		return nil, acme.Errorf(CodeOutOfStock, "the product is out of stock")
	case cmd.Quantity > cmd.Product.Available-inCart: // inCart+cmd.Quantity could overflow
		return nil, acme.Errorf(CodeInsufficientStock, "only %d available (%d already in the cart)", cmd.Product.Available, inCart)
	case !c.fits(cmd.ProductID, cmd.VariantID, cmd.Product.Price.Amount, inCart+cmd.Quantity):
		return nil, acme.Errorf(CodeInvalidQuantity, "the cart's subtotal would exceed %d minor units", int64(acme.MaxAmount))
	}
	return []any{ItemAddedToCartV1{CartID: c.ID(cmd.CustomerID), CustomerID: cmd.CustomerID, ProductID: cmd.ProductID,
		VariantID: cmd.VariantID, Name: cmd.Product.Name, Quantity: cmd.Quantity, UnitPrice: cmd.Product.Price, AddedAt: cmd.At}}, nil
}

func decideUpdate(c Cart, cmd updateQuantity) ([]any, error) {
	if cmd.Quantity < 0 {
		return nil, acme.Errorf(CodeInvalidQuantity, "quantity must be 0 (remove) or more")
	}
	i := c.find(cmd.ProductID, cmd.VariantID, cmd.VariantGiven)
	if i < 0 {
		return nil, notInCart(i)
	}
	l := c.Lines[i]
	id := c.ID(cmd.CustomerID)
	switch {
	case cmd.Quantity == 0:
		return []any{ItemRemovedFromCartV1{CartID: id, ProductID: l.ProductID, VariantID: l.VariantID, RemovedAt: cmd.At}}, nil
	case cmd.Quantity == l.Quantity:
		return nil, nil
	case cmd.Quantity > l.Quantity && (!cmd.Product.Found || !cmd.Product.Active):
		// Lowering is always allowed; raising needs a product still sold.
		return nil, acme.Errorf(CodeProductNotFound, "the product is no longer sold")
	case cmd.Quantity > l.Quantity && cmd.Quantity > cmd.Product.Available:
		// Lowering a quantity is always allowed; raising it needs the stock.
		if cmd.Product.Available <= 0 {
			return nil, acme.Errorf(CodeInsufficientStock, "the product is out of stock")
		}
		return nil, acme.Errorf(CodeInsufficientStock, "only %d available", cmd.Product.Available)
	case cmd.Quantity > l.Quantity && !c.fits(l.ProductID, l.VariantID, l.UnitPrice.Amount, cmd.Quantity):
		return nil, acme.Errorf(CodeInvalidQuantity, "the cart's subtotal would exceed %d minor units", int64(acme.MaxAmount))
	}
	return []any{CartQuantityUpdatedV1{CartID: id, ProductID: l.ProductID, VariantID: l.VariantID,
		PreviousQuantity: l.Quantity, NewQuantity: cmd.Quantity, UpdatedAt: cmd.At}}, nil
}

// discountLines returns the cart's lines for CalculateDiscount.
func discountLines(lines []Line, categories func(productID string) []string) []DiscountLine {
	out := make([]DiscountLine, 0, len(lines))
	for _, l := range lines {
		amt, _ := lineAmount(l.UnitPrice.Amount, l.Quantity) // saturated past int64
		out = append(out, DiscountLine{ProductID: l.ProductID, Categories: categories(l.ProductID),
			LineTotal: acme.Money{Amount: amt, Currency: l.UnitPrice.Currency}})
	}
	return out
}

func decideApplyCode(c Cart, cmd applyCode) ([]any, error) {
	if cmd.Promotion == nil {
		return nil, acme.Errorf(CodeInvalidPromotionCode, "unknown promotion code")
	}
	p := *cmd.Promotion
	sub := c.Subtotal("")
	d, err := CalculateDiscount(p, discountLines(c.Lines, func(id string) []string { return cmd.Categories[id] }), sub, cmd.At)
	if err != nil {
		return nil, err
	}
	id := c.ID(cmd.CustomerID)
	return []any{
		PromotionCodeAppliedV1{CartID: id, CustomerID: cmd.CustomerID, Code: p.Code, PromotionID: p.PromotionID, AppliedAt: cmd.At},
		DiscountCalculatedV1{CartID: id, CustomerID: cmd.CustomerID, Discount: d.Amount, Currency: d.Currency,
			AppliedPromotions: []string{p.PromotionID}, PromotionCode: p.Code, OccurredAt: cmd.At},
	}, nil
}

// ValidateCheckout checks the shipping address and the payment method.
func ValidateCheckout(a Address, m PaymentMethod) error {
	var addr []acme.FieldError
	line := func(field, v string, required bool) {
		msg := ""
		switch {
		case required && acme.Blank(v):
			msg = "is required"
		case len(v) > 200:
			msg = "is longer than 200 characters"
		case acme.HasControl(v):
			msg = "must not contain control characters (line breaks, NUL)"
		}
		if msg != "" {
			addr = append(addr, acme.FieldError{Field: "shippingAddress." + field, Message: msg})
		}
	}
	line("name", a.Name, true)
	line("line1", a.Line1, true)
	line("city", a.City, true)
	line("postalCode", a.PostalCode, true)
	line("line2", a.Line2, false)
	if !ValidCountry(a.Country) {
		addr = append(addr, acme.FieldError{Field: "shippingAddress.country", Message: "must be an ISO 3166-1 alpha-2 code (e.g. US, DE)"})
	}
	if len(addr) > 0 {
		return &acme.Error{Code: CodeInvalidAddress, Message: "the shipping address is not valid", Fields: addr}
	}
	var pm []acme.FieldError
	if m.Type != "card" {
		pm = append(pm, acme.FieldError{Field: "paymentMethod.type", Message: `must be "card"`})
	}
	if strings.TrimSpace(m.Token) == "" || len(m.Token) > 255 || acme.HasControl(m.Token) {
		pm = append(pm, acme.FieldError{Field: "paymentMethod.token", Message: "is required (1-255 characters, no control characters)"})
	}
	if len(pm) > 0 {
		return acme.Invalid(pm...)
	}
	return nil
}

// unsellable is the code checkout refuses line l with, given its product p
// now: product_not_found (the product or variant is no longer sold) or
// variant_required (variants were added since: stock is now kept per
// variant, so the line's product-level units can no longer be reserved);
// "" when it can be checked out.
func unsellable(l Line, p Product) string {
	switch {
	case !p.Found || !p.Active || (l.VariantID != "" && !p.VariantFound):
		return CodeProductNotFound
	case l.VariantID == "" && p.HasVariants:
		return CodeVariantRequired
	}
	return ""
}

// LineProblem is what the cart shows on a line that would not go through
// checkout as it is: unsellable's code, else out_of_stock or
// insufficient_stock when the cart's stock levels show fewer units available
// than the line's quantity (a hint: the reservation at checkout decides).
func LineProblem(l Line, p Product) string {
	if code := unsellable(l, p); code != "" {
		return code
	}
	switch {
	case p.Available <= 0:
		return CodeOutOfStock
	case p.Available < l.Quantity:
		return CodeInsufficientStock
	}
	return ""
}

func decideCheckout(c Cart, cmd checkoutCart) ([]any, error) {
	if err := ValidateCheckout(cmd.Address, cmd.Method); err != nil {
		return nil, err
	}
	if len(c.Lines) == 0 {
		return nil, acme.Errorf(CodeCartEmpty, "the cart is empty")
	}
	// Freeze the prices: the lines at the catalog's current price.
	lines := make([]Line, 0, len(c.Lines))
	for _, l := range c.Lines {
		p, ok := cmd.Products[lineKey(l.ProductID, l.VariantID)]
		if !ok {
			return nil, errStaleLookup
		}
		switch unsellable(l, p) {
		case CodeProductNotFound:
			return nil, acme.Errorf(CodeProductNotFound, "%s is no longer sold: remove it from the cart", l.Name)
		case CodeVariantRequired:
			return nil, acme.Errorf(CodeVariantRequired, "%s now comes in variants: remove it and add the variant you want", l.Name)
		}
		lines = append(lines, Line{ProductID: l.ProductID, VariantID: l.VariantID, Name: p.Name, Quantity: l.Quantity, UnitPrice: p.Price})
	}
	totals, sub, problems := priceLines(lines, c.Currency())
	for i := range lines {
		switch problems[i] {
		case CodeCurrencyMismatch:
			return nil, acme.Invalid(acme.FieldError{Field: "items", Message: "the cart's products are priced in more than one currency"})
		case CodeInvalidQuantity:
			return nil, acme.Errorf(CodeInvalidQuantity, "at today's prices the cart's subtotal would exceed %d minor units: lower a quantity", int64(acme.MaxAmount))
		}
		lines[i].LineTotal = totals[i]
	}
	cur := sub.Currency
	discount, code := acme.Money{Currency: cur}, ""
	if c.PromotionCode != "" && cmd.Promotion != nil {
		cats := func(id string) []string {
			for _, l := range lines {
				if l.ProductID == id {
					p := cmd.Products[lineKey(l.ProductID, l.VariantID)]
					if p.Categories == nil {
						return []string{p.CategoryID}
					}
					return p.Categories
				}
			}
			return nil
		}
		// A code that no longer applies (expired since) gives no discount; the
		// checkout goes on at the full price.
		if d, err := CalculateDiscount(*cmd.Promotion, discountLines(lines, cats), sub, cmd.At); err == nil {
			discount, code = d, cmd.Promotion.Code
		}
	}
	id := c.ID(cmd.CustomerID)
	return []any{
		CartCheckedOutV1{CartID: id, CheckoutID: cmd.CheckoutID, CustomerID: cmd.CustomerID, Items: lines,
			Subtotal: sub, Discount: discount, Total: acme.Money{Amount: sub.Amount - discount.Amount, Currency: cur},
			Currency: cur, PromotionCode: code, ShippingAddress: cmd.Address, PaymentMethod: cmd.Method, CheckedOutAt: cmd.At},
		CartClearedV1{CartID: id, CustomerID: cmd.CustomerID, ClearedAt: cmd.At},
	}, nil
}

func evolve(c Cart, e any) Cart {
	switch e := e.(type) {
	case ItemAddedToCartV1:
		c.CustomerID = e.CustomerID
		c.Lines = addLine(c.Lines, Line{ProductID: e.ProductID, VariantID: e.VariantID, Name: e.Name, Quantity: e.Quantity, UnitPrice: e.UnitPrice})
	case CartQuantityUpdatedV1:
		c.Lines = cloneLines(c.Lines)
		if i := c.find(e.ProductID, e.VariantID, true); i >= 0 {
			c.Lines[i].Quantity = e.NewQuantity
			c.Lines[i].LineTotal = c.Lines[i].UnitPrice.Times(e.NewQuantity)
		}
	case ItemRemovedFromCartV1:
		if i := c.find(e.ProductID, e.VariantID, true); i >= 0 {
			c.Lines = append(cloneLines(c.Lines[:i]), c.Lines[i+1:]...)
		}
		if len(c.Lines) == 0 {
			c.PromotionCode, c.PromotionID = "", ""
		}
	case PromotionCodeAppliedV1:
		c.PromotionCode, c.PromotionID = e.Code, e.PromotionID
	case PromotionCodeRemovedV1:
		c.PromotionCode, c.PromotionID = "", ""
	case CartClearedV1:
		c.Generation++
		c.Lines, c.PromotionCode, c.PromotionID = nil, "", ""
	case CartRestoredV1:
		c.CustomerID = e.CustomerID
		for _, l := range e.Items {
			c.Lines = addLine(c.Lines, l)
		}
		if e.PromotionCode != "" {
			c.PromotionCode = e.PromotionCode
		}
	}
	return c
}

func cloneLines(ls []Line) []Line { return append([]Line(nil), ls...) }

// addLine adds l to lines: to the quantity of the same variant's line (whose
// name and price become l's), or as a new line.
func addLine(lines []Line, l Line) []Line {
	lines = cloneLines(lines)
	for i := range lines {
		if lines[i].ProductID == l.ProductID && lines[i].VariantID == l.VariantID {
			lines[i].Quantity += l.Quantity
			lines[i].Name, lines[i].UnitPrice = l.Name, l.UnitPrice
			lines[i].LineTotal = l.UnitPrice.Times(lines[i].Quantity)
			return lines
		}
	}
	l.LineTotal = l.UnitPrice.Times(l.Quantity)
	return append(lines, l)
}
