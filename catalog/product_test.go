package catalog

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"acme"
)

var (
	t0  = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	t1  = t0.Add(time.Hour)
	usd = func(n int64) acme.Money { return acme.Money{Amount: n, Currency: "USD"} }
	ptr = func(s string) *string { return &s }
)

func checkDecision(t *testing.T, got []any, err error, want []any, wantCode string) {
	t.Helper()
	if wantCode != "" {
		if code := acme.ErrorCode(err); code != wantCode {
			t.Fatalf("error code = %q (%v), want %q", code, err, wantCode)
		}
		if len(got) != 0 {
			t.Fatalf("events = %v on error", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %#v\nwant %#v", got, want)
	}
}

func TestCategoryDecider(t *testing.T) {
	root := Category{ID: "r", Name: "Root", Depth: 1}
	mid := Category{ID: "m", Name: "Mid", ParentID: "r", Depth: 2}
	leaf := Category{ID: "l", Name: "Leaf", ParentID: "m", Depth: 3}
	tests := []struct {
		name     string
		given    []any
		when     createCategory
		then     []any
		wantCode string
	}{
		{name: "root has depth 1", when: createCategory{CategoryID: "c", Name: " Shoes ", At: t0},
			then: []any{CategoryCreatedV1{CategoryID: "c", Name: "Shoes", Depth: 1, CreatedAt: t0}}},
		{name: "child of root has depth 2", when: createCategory{CategoryID: "c", Name: "Boots", ParentID: "r", Parent: root, At: t0},
			then: []any{CategoryCreatedV1{CategoryID: "c", Name: "Boots", ParentID: "r", Depth: 2, CreatedAt: t0}}},
		{name: "depth 3 allowed", when: createCategory{CategoryID: "c", Name: "Hiking", ParentID: "m", Parent: mid, At: t0},
			then: []any{CategoryCreatedV1{CategoryID: "c", Name: "Hiking", ParentID: "m", Depth: 3, CreatedAt: t0}}},
		{name: "depth 4 exceeded", when: createCategory{CategoryID: "c", Name: "Deep", ParentID: "l", Parent: leaf, At: t0}, wantCode: CodeDepthExceeded},
		{name: "parent not found", when: createCategory{CategoryID: "c", Name: "Orphan", ParentID: "nope", At: t0}, wantCode: CodeParentNotFound},
		{name: "empty name", when: createCategory{CategoryID: "c", Name: "  ", At: t0}, wantCode: acme.CodeValidationFailed},
		{name: "name too long", when: createCategory{CategoryID: "c", Name: strings.Repeat("x", 101), At: t0}, wantCode: acme.CodeValidationFailed},
		{name: "already exists", given: []any{CategoryCreatedV1{CategoryID: "c", Name: "Shoes", Depth: 1}},
			when: createCategory{CategoryID: "c", Name: "Shoes", At: t0}, wantCode: acme.CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Category
			for _, e := range tt.given {
				s = categoryDecider.Evolve(s, e)
			}
			got, err := categoryDecider.Decide(s, tt.when)
			checkDecision(t, got, err, tt.then, tt.wantCode)
		})
	}
}

func TestClaimDeciders(t *testing.T) {
	tests := []struct {
		name     string
		decider  func() ([]any, error)
		then     []any
		wantCode string
	}{
		{name: "free category name", decider: func() ([]any, error) { return categoryNameDecider.Decide(Claim{}, claim{Holder: "c2"}) },
			then: []any{CategoryNameReservedV1{CategoryID: "c2"}}},
		{name: "category name taken", decider: func() ([]any, error) {
			s := categoryNameDecider.Evolve(Claim{}, CategoryNameReservedV1{CategoryID: "c1"})
			return categoryNameDecider.Decide(s, claim{Holder: "c2"})
		}, wantCode: CodeCategoryNameTaken},
		{name: "free SKU", decider: func() ([]any, error) { return skuDecider.Decide(Claim{}, claim{Holder: "p2", VariantID: "v2"}) },
			then: []any{SKUReservedV1{ProductID: "p2", VariantID: "v2"}}},
		{name: "SKU taken by another product", decider: func() ([]any, error) {
			s := skuDecider.Evolve(Claim{}, SKUReservedV1{ProductID: "p1", VariantID: "v1"})
			return skuDecider.Decide(s, claim{Holder: "p2", VariantID: "v2"})
		}, wantCode: CodeDuplicateSKU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.decider()
			checkDecision(t, got, err, tt.then, tt.wantCode)
		})
	}
	if categoryNameStream("Shoes") != categoryNameStream(" sHOES") || skuStream("ab-1") != skuStream("AB-1") {
		t.Fatal("reservation keys are case-sensitive")
	}
}

func TestProductDecider(t *testing.T) {
	created := ProductCreatedV1{ProductID: "p", Name: "Boot", Description: "Warm", Price: usd(1999), CategoryID: "c", InitialStock: 5, CreatedAt: t0}
	variant := ProductVariantAddedV1{ProductID: "p", VariantID: "v1", SKU: "BOOT-42", Size: "42", PriceModifier: usd(0), AddedAt: t0}
	deactivated := ProductDeactivatedV1{ProductID: "p", DeactivatedAt: t1}
	create := func(mod func(*createProduct)) createProduct {
		c := createProduct{ProductID: "p", Name: "Boot", Description: "Warm", Price: usd(1999), CategoryID: "c", CategoryExists: true, InitialStock: 5, At: t0}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	stock := func(n int64) *int64 { return &n }
	money := func(m acme.Money) *acme.Money { return &m }
	tests := []struct {
		name     string
		given    []any
		when     any
		then     []any
		wantCode string
	}{
		// CreateProduct
		{name: "create", when: create(nil), then: []any{created}},
		{name: "create trims the name", when: create(func(c *createProduct) { c.Name = "  Boot " }), then: []any{created}},
		{name: "create twice", given: []any{created}, when: create(nil), wantCode: acme.CodeConflict},
		{name: "price 0", when: create(func(c *createProduct) { c.Price = usd(0) }), wantCode: CodeInvalidPrice},
		{name: "price negative", when: create(func(c *createProduct) { c.Price = usd(-5) }), wantCode: CodeInvalidPrice},
		{name: "price 1 minor unit ok", when: create(func(c *createProduct) { c.Price = usd(1) }),
			then: []any{ProductCreatedV1{ProductID: "p", Name: "Boot", Description: "Warm", Price: usd(1), CategoryID: "c", InitialStock: 5, CreatedAt: t0}}},
		{name: "unknown currency", when: create(func(c *createProduct) { c.Price = acme.Money{Amount: 100, Currency: "XYZ"} }), wantCode: CodeInvalidPrice},
		{name: "lower-case currency", when: create(func(c *createProduct) { c.Price = acme.Money{Amount: 100, Currency: "usd"} }), wantCode: CodeInvalidPrice},
		{name: "missing currency", when: create(func(c *createProduct) { c.Price = acme.Money{Amount: 100} }), wantCode: CodeInvalidPrice},
		{name: "empty name", when: create(func(c *createProduct) { c.Name = " " }), wantCode: CodeInvalidName},
		{name: "name 201 chars", when: create(func(c *createProduct) { c.Name = strings.Repeat("ß", 201) }), wantCode: CodeInvalidName},
		{name: "name with NUL", when: create(func(c *createProduct) { c.Name = "Bo\x00ot" }), wantCode: CodeInvalidName},
		{name: "description with NUL", when: create(func(c *createProduct) { c.Description = "a\x00b" }), wantCode: acme.CodeValidationFailed},
		{name: "category missing", when: create(func(c *createProduct) { c.CategoryExists = false }), wantCode: CodeCategoryNotFound},
		{name: "negative initial stock", when: create(func(c *createProduct) { c.InitialStock = -1 }), wantCode: acme.CodeValidationFailed},
		{name: "zero initial stock ok", when: create(func(c *createProduct) { c.InitialStock = 0 }),
			then: []any{ProductCreatedV1{ProductID: "p", Name: "Boot", Description: "Warm", Price: usd(1999), CategoryID: "c", CreatedAt: t0}}},

		// UpdateProduct
		{name: "update name", given: []any{created}, when: updateProduct{Name: ptr("Boot 2"), At: t1},
			then: []any{ProductUpdatedV1{ProductID: "p", UpdatedFields: []string{"name"}, Name: "Boot 2", Description: "Warm", CategoryID: "c", Price: usd(1999), UpdatedAt: t1}}},
		{name: "update all three", given: []any{created}, when: updateProduct{Name: ptr("B"), Description: ptr("D"), CategoryID: ptr("c2"), CategoryExists: true, At: t1},
			then: []any{ProductUpdatedV1{ProductID: "p", UpdatedFields: []string{"name", "description", "categoryId"}, Name: "B", Description: "D", CategoryID: "c2", Price: usd(1999), UpdatedAt: t1}}},
		{name: "update without change", given: []any{created}, when: updateProduct{Name: ptr("Boot"), Description: ptr("Warm"), CategoryID: ptr("c"), At: t1}},
		{name: "update invalid name", given: []any{created}, when: updateProduct{Name: ptr(""), At: t1}, wantCode: CodeInvalidName},
		{name: "update unknown category", given: []any{created}, when: updateProduct{CategoryID: ptr("c9"), At: t1}, wantCode: CodeCategoryNotFound},
		{name: "update unknown product", when: updateProduct{Name: ptr("x"), At: t1}, wantCode: acme.CodeNotFound},

		// UpdateProductPrice
		{name: "price change", given: []any{created}, when: updateProductPrice{Price: usd(2499), At: t1},
			then: []any{ProductUpdatedV1{ProductID: "p", UpdatedFields: []string{"price"}, Name: "Boot", Description: "Warm", CategoryID: "c", Price: usd(2499), UpdatedAt: t1}}},
		{name: "same price, no event", given: []any{created}, when: updateProductPrice{Price: usd(1999), At: t1}},
		{name: "price invalid", given: []any{created}, when: updateProductPrice{Price: usd(0), At: t1}, wantCode: CodeInvalidPrice},
		{name: "price unknown currency", given: []any{created}, when: updateProductPrice{Price: acme.Money{Amount: 10, Currency: "ABC"}, At: t1}, wantCode: CodeInvalidPrice},
		{name: "price below a variant's discount", given: []any{created, ProductVariantAddedV1{ProductID: "p", VariantID: "v1", SKU: "S", Size: "S", PriceModifier: usd(-500)}},
			when: updateProductPrice{Price: usd(400), At: t1}, wantCode: CodeInvalidPrice},
		{name: "currency change with variants", given: []any{created, variant}, when: updateProductPrice{Price: acme.Money{Amount: 10, Currency: "EUR"}, At: t1}, wantCode: CodeInvalidPrice},
		{name: "price of unknown product", when: updateProductPrice{Price: usd(5), At: t1}, wantCode: acme.CodeNotFound},

		// AddProductVariant
		{name: "add variant", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: " BOOT-42 ", Size: "42", At: t0}, then: []any{variant}},
		{name: "add variant with color, modifier and stock", given: []any{created},
			when: addProductVariant{VariantID: "v2", SKU: "BOOT-RED", Color: "red", PriceModifier: money(usd(-100)), InitialStock: stock(7), At: t0},
			then: []any{ProductVariantAddedV1{ProductID: "p", VariantID: "v2", SKU: "BOOT-RED", Color: "red", PriceModifier: usd(-100), InitialStock: 7, AddedAt: t0}}},
		{name: "no attribute", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: "X", At: t0}, wantCode: CodeNoAttribute},
		{name: "blank attributes", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: "X", Size: " ", Color: "", At: t0}, wantCode: CodeNoAttribute},
		{name: "duplicate SKU in the product", given: []any{created, variant}, when: addProductVariant{VariantID: "v2", SKU: "boot-42", Size: "43", At: t0}, wantCode: CodeDuplicateSKU},
		{name: "empty SKU", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: "", Size: "42", At: t0}, wantCode: acme.CodeValidationFailed},
		{name: "negative variant stock", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: "X", Size: "42", InitialStock: stock(-1), At: t0}, wantCode: acme.CodeValidationFailed},
		{name: "modifier in another currency", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: "X", Size: "42", PriceModifier: money(acme.Money{Amount: 1, Currency: "EUR"}), At: t0}, wantCode: CodeInvalidPrice},
		{name: "modifier below the price", given: []any{created}, when: addProductVariant{VariantID: "v1", SKU: "X", Size: "42", PriceModifier: money(usd(-1999)), At: t0}, wantCode: CodeInvalidPrice},
		{name: "variant of unknown product", when: addProductVariant{VariantID: "v1", SKU: "X", Size: "42", At: t0}, wantCode: acme.CodeNotFound},

		// DeactivateProduct
		{name: "deactivate", given: []any{created}, when: deactivateProduct{At: t1}, then: []any{deactivated}},
		{name: "deactivate twice", given: []any{created, deactivated}, when: deactivateProduct{At: t1}, wantCode: CodeAlreadyInactive},
		{name: "deactivate unknown", when: deactivateProduct{At: t1}, wantCode: acme.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Product
			for _, e := range tt.given {
				s = productDecider.Evolve(s, e)
			}
			got, err := productDecider.Decide(s, tt.when)
			checkDecision(t, got, err, tt.then, tt.wantCode)
		})
	}
}
