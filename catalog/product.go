package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"acme"
	"acme/es"
)

// Error codes of this context (mapped in httpapi's status table).
const (
	CodeCategoryNameTaken = "category_name_taken"
	CodeDepthExceeded     = "depth_exceeded"
	CodeParentNotFound    = "parent_not_found"
	CodeInvalidPrice      = "invalid_price"
	CodeInvalidName       = "invalid_name"
	CodeCategoryNotFound  = "category_not_found"
	CodeDuplicateSKU      = "duplicate_sku"
	CodeNoAttribute       = "no_attribute"
	CodeAlreadyInactive   = "already_inactive"
)

// Limits of free-text fields.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 10000
	MaxSKULength         = 64
	MaxAttributeLength   = 50
)

// Product is the state of a product stream.
type Product struct {
	ID          string
	Name        string
	Description string
	Price       acme.Money
	CategoryID  string
	Active      bool
	Variants    []Variant
}

// Variant is a size/color variant of a product.
type Variant struct {
	ID            string
	SKU           string
	Size          string
	Color         string
	PriceModifier acme.Money
}

// The product decider's commands. Ids, times and facts from other streams
// (whether a category exists) are filled in by the service.
type (
	createProduct struct {
		ProductID      string
		Name           string
		Description    string
		Price          acme.Money
		CategoryID     string
		CategoryExists bool
		InitialStock   int64
		At             time.Time
	}
	updateProduct struct {
		Name           *string
		Description    *string
		CategoryID     *string
		CategoryExists bool // of *CategoryID
		At             time.Time
	}
	updateProductPrice struct {
		Price acme.Money
		At    time.Time
	}
	addProductVariant struct {
		VariantID     string
		SKU           string
		Size          string
		Color         string
		PriceModifier *acme.Money // nil: zero in the product's currency
		InitialStock  *int64      // nil: 0
		At            time.Time
	}
	deactivateProduct struct{ At time.Time }
)

var productDecider = es.Decider[Product, any]{
	Decide: decideProduct,
	Evolve: evolveProduct,
}

func decideProduct(s Product, cmd any) ([]any, error) {
	if c, ok := cmd.(createProduct); ok {
		if s.ID != "" {
			return nil, acme.Errorf(acme.CodeConflict, "product %s exists", s.ID)
		}
		return createProductEvents(c)
	}
	if s.ID == "" {
		return nil, acme.Errorf(acme.CodeNotFound, "product not found")
	}
	switch c := cmd.(type) {
	case updateProduct:
		return updateProductEvents(s, c)
	case updateProductPrice:
		if err := checkPrice(c.Price); err != nil {
			return nil, err
		}
		for _, v := range s.Variants {
			if err := checkModifier(c.Price, v.PriceModifier); err != nil {
				return nil, acme.Errorf(CodeInvalidPrice, "variant %s: %s", v.SKU, err.(*acme.Error).Message)
			}
		}
		if c.Price == s.Price {
			return nil, nil
		}
		return []any{updated(s, []string{FieldPrice}, func(e *ProductUpdatedV1) { e.Price = c.Price }, c.At)}, nil
	case addProductVariant:
		return addVariantEvents(s, c)
	case deactivateProduct:
		if !s.Active {
			return nil, acme.Errorf(CodeAlreadyInactive, "the product is already inactive")
		}
		return []any{ProductDeactivatedV1{ProductID: s.ID, DeactivatedAt: c.At}}, nil
	}
	return nil, acme.Errorf(acme.CodeInternal, "unknown product command %T", cmd)
}

func createProductEvents(c createProduct) ([]any, error) {
	name := strings.TrimSpace(c.Name)
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := checkPrice(c.Price); err != nil {
		return nil, err
	}
	var fields []acme.FieldError
	if c.InitialStock < 0 || c.InitialStock > MaxInitialStock {
		fields = append(fields, acme.FieldError{Field: "initialStock", Message: fmt.Sprintf("must be from 0 to %d", MaxInitialStock)})
	}
	if !validDescription(c.Description) {
		fields = append(fields, acme.FieldError{Field: "description", Message: "must be at most 10000 characters, without control characters other than line breaks and tabs"})
	}
	if len(fields) > 0 {
		return nil, acme.Invalid(fields...)
	}
	if !c.CategoryExists {
		return nil, acme.Errorf(CodeCategoryNotFound, "category %q does not exist", c.CategoryID)
	}
	return []any{ProductCreatedV1{ProductID: c.ProductID, Name: name, Description: c.Description, Price: c.Price,
		CategoryID: c.CategoryID, InitialStock: c.InitialStock, CreatedAt: c.At}}, nil
}

func updateProductEvents(s Product, c updateProduct) ([]any, error) {
	var changed []string
	next := s
	if c.Name != nil {
		name := strings.TrimSpace(*c.Name)
		if err := checkName(name); err != nil {
			return nil, err
		}
		if name != s.Name {
			next.Name = name
			changed = append(changed, FieldName)
		}
	}
	if c.Description != nil {
		if !validDescription(*c.Description) {
			return nil, acme.Invalid(acme.FieldError{Field: "description", Message: "must be at most 10000 characters, without control characters other than line breaks and tabs"})
		}
		if *c.Description != s.Description {
			next.Description = *c.Description
			changed = append(changed, FieldDescription)
		}
	}
	if c.CategoryID != nil && *c.CategoryID != s.CategoryID {
		if !c.CategoryExists {
			return nil, acme.Errorf(CodeCategoryNotFound, "category %q does not exist", *c.CategoryID)
		}
		next.CategoryID = *c.CategoryID
		changed = append(changed, FieldCategoryID)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return []any{updated(next, changed, nil, c.At)}, nil
}

func addVariantEvents(s Product, c addProductVariant) ([]any, error) {
	sku := strings.TrimSpace(c.SKU)
	size, color := strings.TrimSpace(c.Size), strings.TrimSpace(c.Color)
	var fields []acme.FieldError
	if n := utf8.RuneCountInString(sku); n < 1 || n > MaxSKULength || !utf8.ValidString(sku) || acme.HasControl(sku) {
		fields = append(fields, acme.FieldError{Field: "sku", Message: "must be 1 to 64 characters, without control characters"})
	}
	if utf8.RuneCountInString(size) > MaxAttributeLength || acme.HasControl(size) {
		fields = append(fields, acme.FieldError{Field: "size", Message: "must be at most 50 characters, without control characters"})
	}
	if utf8.RuneCountInString(color) > MaxAttributeLength || acme.HasControl(color) {
		fields = append(fields, acme.FieldError{Field: "color", Message: "must be at most 50 characters, without control characters"})
	}
	var stock int64
	if c.InitialStock != nil {
		stock = *c.InitialStock
		if stock < 0 || stock > MaxInitialStock {
			fields = append(fields, acme.FieldError{Field: "initialStock", Message: fmt.Sprintf("must be from 0 to %d", MaxInitialStock)})
		}
	}
	if len(fields) > 0 {
		return nil, acme.Invalid(fields...)
	}
	if size == "" && color == "" {
		return nil, acme.Errorf(CodeNoAttribute, "a variant needs a size or a color")
	}
	mod := acme.Money{Currency: s.Price.Currency}
	if c.PriceModifier != nil {
		mod = *c.PriceModifier
	}
	if err := checkModifier(s.Price, mod); err != nil {
		return nil, err
	}
	key := skuKey(sku)
	if slices.ContainsFunc(s.Variants, func(v Variant) bool { return skuKey(v.SKU) == key }) {
		return nil, acme.Errorf(CodeDuplicateSKU, "SKU %q is already used", sku)
	}
	return []any{ProductVariantAddedV1{ProductID: s.ID, VariantID: c.VariantID, SKU: sku, Size: size, Color: color,
		PriceModifier: mod, InitialStock: stock, AddedAt: c.At}}, nil
}

// updated builds a ProductUpdated with the full current values of s.
func updated(s Product, fields []string, set func(*ProductUpdatedV1), at time.Time) ProductUpdatedV1 {
	e := ProductUpdatedV1{ProductID: s.ID, UpdatedFields: fields, Name: s.Name, Description: s.Description,
		CategoryID: s.CategoryID, Price: s.Price, UpdatedAt: at}
	if set != nil {
		set(&e)
	}
	return e
}

func evolveProduct(s Product, e any) Product {
	switch e := e.(type) {
	case ProductCreatedV1:
		s = Product{ID: e.ProductID, Name: e.Name, Description: e.Description, Price: e.Price, CategoryID: e.CategoryID, Active: true}
	case ProductUpdatedV1:
		s.Name, s.Description, s.CategoryID, s.Price = e.Name, e.Description, e.CategoryID, e.Price
	case ProductVariantAddedV1:
		s.Variants = append(slices.Clip(s.Variants), Variant{ID: e.VariantID, SKU: e.SKU, Size: e.Size, Color: e.Color, PriceModifier: e.PriceModifier})
	case ProductDeactivatedV1:
		s.Active = false
	}
	return s
}

func checkName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameLength || !utf8.ValidString(name) || acme.HasControl(name) || acme.Blank(name) {
		return acme.Errorf(CodeInvalidName, "the name must be 1 to %d characters", MaxNameLength)
	}
	return nil
}

func validDescription(d string) bool {
	return utf8.ValidString(d) && utf8.RuneCountInString(d) <= MaxDescriptionLength &&
		!acme.HasControlInText(d)
}

// MaxInitialStock bounds initialStock, as inventory bounds a restock.
const MaxInitialStock = 1_000_000_000

// checkPrice: at least one minor unit of an ISO 4217 currency.
func checkPrice(p acme.Money) error {
	if !acme.ValidCurrency(p.Currency) {
		return acme.Errorf(CodeInvalidPrice, "currency %q is not an ISO 4217 code", p.Currency)
	}
	if p.Amount < 1 || p.Amount > acme.MaxPrice {
		return acme.Errorf(CodeInvalidPrice, "the price must be from 1 to %d minor units", int64(acme.MaxPrice))
	}
	return nil
}

// checkModifier: a variant's modifier is in the product's currency and leaves
// the variant's price (price + modifier) at one minor unit or more.
func checkModifier(price, mod acme.Money) error {
	if mod.Currency != price.Currency {
		return acme.Errorf(CodeInvalidPrice, "the price modifier must be in the product's currency %s", price.Currency)
	}
	if mod.Amount < -acme.MaxPrice || mod.Amount > acme.MaxPrice || price.Amount+mod.Amount < 1 || price.Amount+mod.Amount > acme.MaxPrice {
		return acme.Errorf(CodeInvalidPrice, "price plus modifier must be from 1 to %d minor units", int64(acme.MaxPrice))
	}
	return nil
}

// skuKey is the uniqueness key of a SKU: SKUs are compared case-insensitively.
func skuKey(sku string) string { return strings.ToUpper(strings.TrimSpace(sku)) }
