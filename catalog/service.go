package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"acme"
	"acme/es"
)

func categoryStream(id string) string { return "category-" + id }
func productStream(id string) string  { return "product-" + id }

func categoryNameStream(name string) string {
	sum := sha256.Sum256([]byte(nameKey(name)))
	return "category-name-" + hex.EncodeToString(sum[:])
}

func skuStream(sku string) string {
	sum := sha256.Sum256([]byte(skuKey(sku)))
	return "sku-" + hex.EncodeToString(sum[:])
}

// nameKey is the uniqueness key of a category name (case-insensitive).
func nameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

func (m *Module) now() time.Time { return m.clock.Now().UTC().Truncate(time.Microsecond) }

// CreateCategory creates a category; the outcome carries the new category and
// the log position.
func (m *Module) CreateCategory(ctx context.Context, req CreateCategoryV1) (CategoryView, int64, error) {
	if m.h == nil {
		return CategoryView{}, 0, errNotStarted
	}
	cmd := createCategory{CategoryID: m.h.NewID(), Name: req.Name, ParentID: strings.TrimSpace(req.ParentID), At: m.now()}
	var st Category
	var res es.Result
	err := es.RetryConflicts(ctx, es.ConflictRetries, func() error {
		cmd.Parent = Category{}
		if cmd.ParentID != "" && acme.ValidID(cmd.ParentID) {
			p, err := m.categories.Load(ctx, categoryStream(cmd.ParentID), es.StreamQuery{})
			if err != nil {
				return err
			}
			cmd.Parent = p.State
		}
		catApp, cat, err := m.categories.Decide(ctx, categoryStream(cmd.CategoryID), cmd)
		if err != nil {
			return err
		}
		st = cat
		nameApp, _, err := m.names.Decide(ctx, categoryNameStream(st.Name), claim{Holder: cmd.CategoryID})
		if err != nil {
			return err
		}
		res, err = m.h.Store().Commit(ctx, es.Commit{Appends: []es.Append{catApp, nameApp}, Apply: m.project})
		return err
	})
	if err != nil {
		return CategoryView{}, 0, err
	}
	return CategoryView{CategoryID: st.ID, Name: st.Name, ParentID: nullable(st.ParentID), Depth: st.Depth}, res.Position, nil
}

// categoryExists reports whether id names a category (categories are never deleted).
func (m *Module) categoryExists(ctx context.Context, id string) (bool, error) {
	if !acme.ValidID(id) {
		return false, nil
	}
	v, err := m.h.Store().StreamVersion(ctx, categoryStream(id))
	return v > 0, err
}

// productCommand runs cmd on product id and returns the product as the read
// model shows it after the command, with the log position of the write (0 when
// nothing changed).
func (m *Module) productCommand(ctx context.Context, id string, cmd any) (ProductView, int64, error) {
	if m.h == nil {
		return ProductView{}, 0, errNotStarted
	}
	if !acme.ValidID(id) {
		return ProductView{}, 0, acme.Errorf(acme.CodeNotFound, "product not found")
	}
	h, err := m.products.Handle(ctx, productStream(id), cmd)
	if err != nil {
		return ProductView{}, 0, err
	}
	v, err := m.Product(ctx, id)
	return v, h.Position, err
}

// CreateProduct creates an active product.
func (m *Module) CreateProduct(ctx context.Context, req CreateProductV1) (ProductView, int64, error) {
	if m.h == nil {
		return ProductView{}, 0, errNotStarted
	}
	exists, err := m.categoryExists(ctx, req.CategoryID)
	if err != nil {
		return ProductView{}, 0, err
	}
	id := m.h.NewID()
	return m.productCommand(ctx, id, createProduct{ProductID: id, Name: req.Name, Description: req.Description,
		Price: req.Price, CategoryID: req.CategoryID, CategoryExists: exists, InitialStock: req.InitialStock, At: m.now()})
}

// UpdateProduct changes the given fields of a product.
func (m *Module) UpdateProduct(ctx context.Context, req UpdateProductV1) (ProductView, int64, error) {
	if m.h == nil {
		return ProductView{}, 0, errNotStarted
	}
	cmd := updateProduct{Name: req.Name, Description: req.Description, CategoryID: req.CategoryID, At: m.now()}
	if req.CategoryID != nil {
		exists, err := m.categoryExists(ctx, *req.CategoryID)
		if err != nil {
			return ProductView{}, 0, err
		}
		cmd.CategoryExists = exists
	}
	return m.productCommand(ctx, req.ProductID, cmd)
}

// UpdateProductPrice changes a product's price.
func (m *Module) UpdateProductPrice(ctx context.Context, req UpdateProductPriceV1) (ProductView, int64, error) {
	return m.productCommand(ctx, req.ProductID, updateProductPrice{Price: req.Price, At: m.now()})
}

// DeactivateProduct deactivates a product.
func (m *Module) DeactivateProduct(ctx context.Context, req DeactivateProductV1) (ProductView, int64, error) {
	return m.productCommand(ctx, req.ProductID, deactivateProduct{At: m.now()})
}

// AddProductVariant adds a variant, claiming its SKU catalog-wide in the same commit.
func (m *Module) AddProductVariant(ctx context.Context, req AddProductVariantV1) (VariantView, int64, error) {
	if m.h == nil {
		return VariantView{}, 0, errNotStarted
	}
	if !acme.ValidID(req.ProductID) {
		return VariantView{}, 0, acme.Errorf(acme.CodeNotFound, "product not found")
	}
	cmd := addProductVariant{VariantID: m.h.NewID(), SKU: req.SKU, Size: req.Size, Color: req.Color,
		PriceModifier: req.PriceModifier, InitialStock: req.InitialStock, At: m.now()}
	var added ProductVariantAddedV1
	var res es.Result
	err := es.RetryConflicts(ctx, es.ConflictRetries, func() error {
		prodApp, _, err := m.products.Decide(ctx, productStream(req.ProductID), cmd)
		if err != nil {
			return err
		}
		if added, err = ProductVariantAdded.Decode(prodApp.Events[0]); err != nil {
			return err
		}
		skuApp, _, err := m.skus.Decide(ctx, skuStream(added.SKU), claim{Holder: req.ProductID, VariantID: added.VariantID})
		if err != nil {
			return err
		}
		res, err = m.h.Store().Commit(ctx, es.Commit{Appends: []es.Append{prodApp, skuApp}, Apply: m.project})
		return err
	})
	if err != nil {
		return VariantView{}, 0, err
	}
	return VariantView{ProductID: added.ProductID, VariantID: added.VariantID, SKU: added.SKU, Size: added.Size,
		Color: added.Color, PriceModifier: added.PriceModifier, InitialStock: added.InitialStock}, res.Position, nil
}
