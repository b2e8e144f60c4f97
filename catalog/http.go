package catalog

import (
	"net/http"

	"acme"
	"acme/httpapi"
)

// Request bodies (the product id comes from the path).
type (
	updateProductRequest struct { // every field optional (omitempty: not required in the OpenAPI schema)
		Name        *string `json:"name,omitempty"`
		Description *string `json:"description,omitempty"`
		CategoryID  *string `json:"categoryId,omitempty"`
	}
	priceRequest struct {
		Price *acme.Money `json:"price"`
	}
	variantRequest struct {
		SKU           string      `json:"sku"`
		Size          string      `json:"size,omitempty"`
		Color         string      `json:"color,omitempty"`
		PriceModifier *acme.Money `json:"priceModifier,omitempty"`
		InitialStock  *int64      `json:"initialStock,omitempty"`
	}
)

// Routes registers the catalog routes (GET /api/v1/products, the search, is the
// search context's).
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("POST /api/v1/categories", httpapi.Admin, m.handleCreateCategory,
		httpapi.Summary("Create a category (CreateCategory). parentId optional; a root has depth 1. 409 category_name_taken "+
			"(unique across the catalog, case-insensitive); 422 depth_exceeded (deeper than 3); 422 parent_not_found."),
		httpapi.Body(CreateCategoryV1{}), httpapi.Returns(http.StatusCreated, CategoryView{}))
	api.Handle("GET /api/v1/categories", httpapi.Anonymous, m.handleListCategories,
		httpapi.Summary("List categories (ordered by depth, then name; parentId null for roots); ?page=&pageSize=."),
		httpapi.Returns(http.StatusOK, httpapi.List[CategoryView]{}))
	api.Handle("GET /api/v1/categories/{id}", httpapi.Anonymous, m.handleGetCategory,
		httpapi.Summary("Get a category (the Location of a created one); 404 not_found."),
		httpapi.Returns(http.StatusOK, CategoryView{}))
	api.Handle("POST /api/v1/products", httpapi.Admin, m.handleCreateProduct,
		httpapi.Summary("Create an active product (CreateProduct); initialStock reaches inventory through ProductCreated. "+
			"422 invalid_price, invalid_name, category_not_found, validation_failed (initialStock < 0)."),
		httpapi.Body(CreateProductV1{}), httpapi.Returns(http.StatusCreated, ProductView{}))
	api.Handle("GET /api/v1/products/{id}", httpapi.Anonymous, m.handleGetProduct,
		httpapi.Summary("Get a product with its variants (GetProduct). Deactivated products are still readable by id, with active: false. 404 when unknown."),
		httpapi.Returns(http.StatusOK, ProductView{}))
	api.Handle("PATCH /api/v1/products/{id}", httpapi.Admin, m.handleUpdateProduct,
		httpapi.Summary("Change a product's name, description or category (UpdateProduct → ProductUpdated with updatedFields); "+
			"fields left out stay; no change, no event. 422 invalid_name, category_not_found; 404."),
		httpapi.Body(updateProductRequest{}), httpapi.Returns(http.StatusOK, ProductView{}))
	api.Handle("PUT /api/v1/products/{id}/price", httpapi.Admin, m.handleUpdatePrice,
		httpapi.Summary("Change a product's price (UpdateProductPrice → ProductUpdated). 422 invalid_price (also when a variant's "+
			"modifier would be in another currency or bring its price below 1 minor unit); 404."),
		httpapi.Body(priceRequest{}), httpapi.Returns(http.StatusOK, ProductView{}))
	api.Handle("POST /api/v1/products/{id}/variants", httpapi.Admin, m.handleAddVariant,
		httpapi.Summary("Add a variant (AddProductVariant); priceModifier defaults to 0 in the product's currency, initialStock to 0. "+
			"409 duplicate_sku (across all products, case-insensitive); 422 no_attribute; 422 invalid_price; 404. "+
			"The first variant makes the product's stock per variant: units stocked for the product itself before are no longer "+
			"sold or counted (orders already holding them still ship), so give each variant its initialStock or restock it."),
		httpapi.Body(variantRequest{}), httpapi.Returns(http.StatusCreated, VariantView{}))
	api.Handle("POST /api/v1/products/{id}/deactivate", httpapi.Admin, m.handleDeactivate,
		httpapi.Summary("Deactivate a product (DeactivateProduct): 200 with active: false. 409 already_inactive; 404."),
		httpapi.Returns(http.StatusOK, ProductView{}), httpapi.NoBody())
}

func (m *Module) handleCreateCategory(w http.ResponseWriter, r *http.Request) error {
	var req CreateCategoryV1
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	req.ParentID = acme.NormalizeID(req.ParentID)
	c, pos, err := m.CreateCategory(r.Context(), req)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "catalog", pos)
	w.Header().Set("Location", "/api/v1/categories/"+c.CategoryID)
	return httpapi.JSON(w, http.StatusCreated, c)
}

func (m *Module) handleGetCategory(w http.ResponseWriter, r *http.Request) error {
	c, err := m.Category(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, c)
}

func (m *Module) handleListCategories(w http.ResponseWriter, r *http.Request) error {
	page, size, err := httpapi.Paging(r)
	if err != nil {
		return err
	}
	items, total, err := m.Categories(r.Context(), page, size)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.List[CategoryView]{Items: items, Total: total, Page: page, PageSize: size})
}

func (m *Module) handleCreateProduct(w http.ResponseWriter, r *http.Request) error {
	var req CreateProductV1
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	req.CategoryID = acme.NormalizeID(req.CategoryID)
	p, pos, err := m.CreateProduct(r.Context(), req)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "catalog", pos)
	w.Header().Set("Location", "/api/v1/products/"+p.ProductID)
	return httpapi.JSON(w, http.StatusCreated, p)
}

func (m *Module) handleGetProduct(w http.ResponseWriter, r *http.Request) error {
	p, err := m.Product(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, p)
}

func (m *Module) writeProduct(w http.ResponseWriter, r *http.Request, p ProductView, pos int64, err error) error {
	if err != nil {
		return err
	}
	if pos == 0 && m.h != nil {
		// The command changed nothing (e.g. an empty PATCH): the token is the
		// catalog log's head, so the response still carries one.
		pos, _ = m.h.Store().Head(r.Context())
	}
	if pos > 0 {
		httpapi.SetPosition(w, "catalog", pos)
	}
	return httpapi.JSON(w, http.StatusOK, p)
}

func (m *Module) handleUpdateProduct(w http.ResponseWriter, r *http.Request) error {
	var req updateProductRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if req.CategoryID != nil {
		id := acme.NormalizeID(*req.CategoryID)
		req.CategoryID = &id
	}
	p, pos, err := m.UpdateProduct(r.Context(), UpdateProductV1{ProductID: r.PathValue("id"), Name: req.Name,
		Description: req.Description, CategoryID: req.CategoryID})
	return m.writeProduct(w, r, p, pos, err)
}

func (m *Module) handleUpdatePrice(w http.ResponseWriter, r *http.Request) error {
	var req priceRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if req.Price == nil {
		return acme.Errorf(CodeInvalidPrice, "price is required")
	}
	p, pos, err := m.UpdateProductPrice(r.Context(), UpdateProductPriceV1{ProductID: r.PathValue("id"), Price: *req.Price})
	return m.writeProduct(w, r, p, pos, err)
}

func (m *Module) handleAddVariant(w http.ResponseWriter, r *http.Request) error {
	var req variantRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	v, pos, err := m.AddProductVariant(r.Context(), AddProductVariantV1{ProductID: r.PathValue("id"), SKU: req.SKU,
		Size: req.Size, Color: req.Color, PriceModifier: req.PriceModifier, InitialStock: req.InitialStock})
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "catalog", pos)
	w.Header().Set("Location", "/api/v1/products/"+v.ProductID) // the product shows its variants
	return httpapi.JSON(w, http.StatusCreated, v)
}

func (m *Module) handleDeactivate(w http.ResponseWriter, r *http.Request) error {
	p, pos, err := m.DeactivateProduct(r.Context(), DeactivateProductV1{ProductID: r.PathValue("id")})
	return m.writeProduct(w, r, p, pos, err)
}
