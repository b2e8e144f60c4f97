package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

func startModule(t testing.TB, opts ...sqlite.Option) (*Module, es.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := New()
	reg, err := es.NewRegistry(m.Messages()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, estest.NewHost("catalog", st, reg)); err != nil {
		t.Fatal(err)
	}
	return m, st
}

func mustCategory(t testing.TB, m *Module, name, parent string) CategoryView {
	t.Helper()
	c, _, err := m.CreateCategory(context.Background(), CreateCategoryV1{Name: name, ParentID: parent})
	if err != nil {
		t.Fatalf("create category %q: %v", name, err)
	}
	return c
}

func TestCatalogService(t *testing.T) {
	ctx := context.Background()
	m, st := startModule(t)

	shoes := mustCategory(t, m, "Shoes", "")
	if shoes.Depth != 1 || shoes.ParentID != nil {
		t.Fatalf("root = %+v", shoes)
	}
	boots := mustCategory(t, m, "Boots", shoes.CategoryID)
	hiking := mustCategory(t, m, "Hiking boots", boots.CategoryID)
	if boots.Depth != 2 || hiking.Depth != 3 || *hiking.ParentID != boots.CategoryID {
		t.Fatalf("boots = %+v, hiking = %+v", boots, hiking)
	}
	for _, tc := range []struct {
		req  CreateCategoryV1
		code string
	}{
		{CreateCategoryV1{Name: "Too deep", ParentID: hiking.CategoryID}, CodeDepthExceeded},
		{CreateCategoryV1{Name: "Orphan", ParentID: acme.NewID()}, CodeParentNotFound},
		{CreateCategoryV1{Name: "Orphan", ParentID: "not-a-uuid"}, CodeParentNotFound},
		{CreateCategoryV1{Name: "sHOES"}, CodeCategoryNameTaken},
		{CreateCategoryV1{Name: "boots", ParentID: shoes.CategoryID}, CodeCategoryNameTaken},
		{CreateCategoryV1{Name: ""}, acme.CodeValidationFailed},
	} {
		if _, _, err := m.CreateCategory(ctx, tc.req); acme.ErrorCode(err) != tc.code {
			t.Errorf("CreateCategory(%+v) = %v, want %s", tc.req, err, tc.code)
		}
	}
	list, total, err := m.Categories(ctx, 1, 20)
	if err != nil || total != 3 || len(list) != 3 || list[0].Name != "Shoes" || list[2].Name != "Hiking boots" {
		t.Fatalf("categories = %+v, %d, %v", list, total, err)
	}

	p, pos, err := m.CreateProduct(ctx, CreateProductV1{Name: "Trail boot", Description: "Waterproof", Price: acme.Money{Amount: 12999, Currency: "EUR"},
		CategoryID: hiking.CategoryID, InitialStock: 12})
	if err != nil {
		t.Fatal(err)
	}
	if pos < 1 || !p.Active || p.Name != "Trail boot" || p.Price.Amount != 12999 || len(p.Variants) != 0 || p.CreatedAt.IsZero() || !p.UpdatedAt.Equal(p.CreatedAt) {
		t.Fatalf("created = %+v (pos %d)", p, pos)
	}
	evs, _ := st.ReadStream(ctx, productStream(p.ProductID), es.StreamQuery{})
	created, _ := ProductCreated.Decode(evs[0])
	if created.InitialStock != 12 || created.CategoryID != hiking.CategoryID {
		t.Fatalf("ProductCreated = %+v", created)
	}
	if _, _, err := m.CreateProduct(ctx, CreateProductV1{Name: "X", Price: acme.Money{Amount: 1, Currency: "EUR"}, CategoryID: acme.NewID()}); acme.ErrorCode(err) != CodeCategoryNotFound {
		t.Fatalf("unknown category: %v", err)
	}

	name := "Trail boot II"
	p2, _, err := m.UpdateProduct(ctx, UpdateProductV1{ProductID: p.ProductID, Name: &name, CategoryID: &boots.CategoryID})
	if err != nil || p2.Name != name || p2.CategoryID != boots.CategoryID || p2.Description != "Waterproof" {
		t.Fatalf("updated = %+v, %v", p2, err)
	}
	evs, _ = st.ReadStream(ctx, productStream(p.ProductID), es.StreamQuery{})
	upd, _ := ProductUpdated.Decode(evs[len(evs)-1])
	if fmt.Sprint(upd.UpdatedFields) != "[name categoryId]" || upd.Price.Amount != 12999 {
		t.Fatalf("ProductUpdated = %+v", upd)
	}
	bad := acme.NewID()
	if _, _, err := m.UpdateProduct(ctx, UpdateProductV1{ProductID: p.ProductID, CategoryID: &bad}); acme.ErrorCode(err) != CodeCategoryNotFound {
		t.Fatalf("update to unknown category: %v", err)
	}
	if _, _, err := m.UpdateProduct(ctx, UpdateProductV1{ProductID: acme.NewID(), Name: &name}); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("update unknown product: %v", err)
	}

	p3, _, err := m.UpdateProductPrice(ctx, UpdateProductPriceV1{ProductID: p.ProductID, Price: acme.Money{Amount: 9999, Currency: "EUR"}})
	if err != nil || p3.Price.Amount != 9999 {
		t.Fatalf("price = %+v, %v", p3, err)
	}

	v, _, err := m.AddProductVariant(ctx, AddProductVariantV1{ProductID: p.ProductID, SKU: "TB-42", Size: "42", Color: "brown"})
	if err != nil || v.PriceModifier != (acme.Money{Currency: "EUR"}) || v.SKU != "TB-42" {
		t.Fatalf("variant = %+v, %v", v, err)
	}
	other, _, _ := m.CreateProduct(ctx, CreateProductV1{Name: "Sandal", Price: acme.Money{Amount: 500, Currency: "EUR"}, CategoryID: shoes.CategoryID})
	if _, _, err := m.AddProductVariant(ctx, AddProductVariantV1{ProductID: other.ProductID, SKU: "tb-42", Size: "42"}); acme.ErrorCode(err) != CodeDuplicateSKU {
		t.Fatalf("duplicate SKU across products: %v", err)
	}
	got, err := m.Product(ctx, p.ProductID)
	if err != nil || len(got.Variants) != 1 || got.Variants[0].VariantID != v.VariantID || got.Variants[0].Color != "brown" {
		t.Fatalf("product = %+v, %v", got, err)
	}

	d, _, err := m.DeactivateProduct(ctx, DeactivateProductV1{ProductID: p.ProductID})
	if err != nil || d.Active {
		t.Fatalf("deactivated = %+v, %v", d, err)
	}
	if _, _, err := m.DeactivateProduct(ctx, DeactivateProductV1{ProductID: p.ProductID}); acme.ErrorCode(err) != CodeAlreadyInactive {
		t.Fatalf("deactivate twice: %v", err)
	}
	if got, err := m.Product(ctx, p.ProductID); err != nil || got.Active {
		t.Fatalf("inactive product read = %+v, %v", got, err)
	}
	if _, err := m.Product(ctx, acme.NewID()); acme.ErrorCode(err) != acme.CodeNotFound {
		t.Fatalf("unknown product: %v", err)
	}
}

// race runs n copies of f at once and counts the outcomes by error code ("" = ok).
func race(t *testing.T, n int, f func(i int) error) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := f(i)
			code := acme.ErrorCode(err)
			if err != nil && code == "" {
				code = "unexpected: " + err.Error()
			}
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

func TestConcurrentDuplicateCategoryNames(t *testing.T) {
	m, st := startModule(t)
	root := mustCategory(t, m, "Root", "")
	counts := race(t, 20, func(i int) error {
		name, parent := "Clearance", ""
		if i%2 == 1 {
			name, parent = "CLEARANCE", root.CategoryID
		}
		_, _, err := m.CreateCategory(context.Background(), CreateCategoryV1{Name: name, ParentID: parent})
		return err
	})
	if counts[""] != 1 || counts[CodeCategoryNameTaken] != 19 {
		t.Fatalf("outcomes = %v, want 1 ok and 19 category_name_taken", counts)
	}
	var rows int
	_ = st.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM catalog_categories`).Scan(&rows)
	if rows != 2 {
		t.Fatalf("categories = %d, want 2", rows)
	}
}

func TestConcurrentDuplicateSKUs(t *testing.T) {
	ctx := context.Background()
	m, st := startModule(t)
	c := mustCategory(t, m, "Root", "")
	var products []string
	for i := range 4 {
		p, _, err := m.CreateProduct(ctx, CreateProductV1{Name: fmt.Sprint("P", i), Price: acme.Money{Amount: 100, Currency: "USD"}, CategoryID: c.CategoryID})
		if err != nil {
			t.Fatal(err)
		}
		products = append(products, p.ProductID)
	}
	counts := race(t, 20, func(i int) error {
		_, _, err := m.AddProductVariant(ctx, AddProductVariantV1{ProductID: products[i%4], SKU: "SKU-RACE", Size: fmt.Sprint(i)})
		return err
	})
	if counts[""] != 1 || counts[CodeDuplicateSKU] != 19 {
		t.Fatalf("outcomes = %v, want 1 ok and 19 duplicate_sku", counts)
	}
	var rows int
	_ = st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_variants`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("variants = %d, want 1", rows)
	}
}
