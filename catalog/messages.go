package catalog

import (
	"time"

	"acme"
	"acme/es"
)

// CategoryCreatedV1 is the payload of CategoryCreated.
type CategoryCreatedV1 struct {
	CategoryID string    `json:"categoryId"`
	Name       string    `json:"name"`
	ParentID   string    `json:"parentId"` // "" for a root
	Depth      int       `json:"depth"`    // a root has depth 1
	CreatedAt  time.Time `json:"createdAt"`
}

// CategoryNameReservedV1 is the only event of a category-name reservation stream
// ("category-name-<sha256(lower(name))>").
type CategoryNameReservedV1 struct {
	CategoryID string `json:"categoryId"`
}

// ProductCreatedV1 is the payload of ProductCreated. InitialStock is how
// inventory learns the product's first stock level.
type ProductCreatedV1 struct {
	ProductID    string     `json:"productId"`
	Name         string     `json:"name"`
	Description  string     `json:"description"`
	Price        acme.Money `json:"price"`
	CategoryID   string     `json:"categoryId"`
	InitialStock int64      `json:"initialStock"`
	CreatedAt    time.Time  `json:"createdAt"`
}

// Fields a ProductUpdated may name in UpdatedFields.
const (
	FieldName        = "name"
	FieldDescription = "description"
	FieldCategoryID  = "categoryId"
	FieldPrice       = "price"
)

// ProductUpdatedV1 is the payload of ProductUpdated: the fields that changed and
// always the full current values of the four updatable fields.
type ProductUpdatedV1 struct {
	ProductID     string     `json:"productId"`
	UpdatedFields []string   `json:"updatedFields"`
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	CategoryID    string     `json:"categoryId"`
	Price         acme.Money `json:"price"`
	UpdatedAt     time.Time  `json:"updatedAt"`
}

// ProductVariantAddedV1 is the payload of ProductVariantAdded. InitialStock is
// the variant's first stock level in inventory.
type ProductVariantAddedV1 struct {
	ProductID     string     `json:"productId"`
	VariantID     string     `json:"variantId"`
	SKU           string     `json:"sku"`
	Size          string     `json:"size"`
	Color         string     `json:"color"`
	PriceModifier acme.Money `json:"priceModifier"`
	InitialStock  int64      `json:"initialStock"`
	AddedAt       time.Time  `json:"addedAt"`
}

// ProductDeactivatedV1 is the payload of ProductDeactivated.
type ProductDeactivatedV1 struct {
	ProductID     string    `json:"productId"`
	DeactivatedAt time.Time `json:"deactivatedAt"`
}

// SKUReservedV1 is the only event of a SKU reservation stream ("sku-<sha256(upper(sku))>").
type SKUReservedV1 struct {
	ProductID string `json:"productId"`
	VariantID string `json:"variantId"`
}

// Commands and the query as clients send them (HTTP); declared for the catalog
// endpoint, handled in-process, never stored.
type (
	CreateCategoryV1 struct {
		Name     string `json:"name"`
		ParentID string `json:"parentId,omitempty"`
	}
	CreateProductV1 struct {
		Name         string     `json:"name"`
		Description  string     `json:"description,omitzero"` // optional: ""
		Price        acme.Money `json:"price"`
		CategoryID   string     `json:"categoryId"`
		InitialStock int64      `json:"initialStock,omitzero"` // optional: 0
	}
	UpdateProductV1 struct {
		ProductID   string  `json:"productId"`
		Name        *string `json:"name,omitempty"`
		Description *string `json:"description,omitempty"`
		CategoryID  *string `json:"categoryId,omitempty"`
	}
	UpdateProductPriceV1 struct {
		ProductID string     `json:"productId"`
		Price     acme.Money `json:"price"`
	}
	AddProductVariantV1 struct {
		ProductID     string      `json:"productId"`
		SKU           string      `json:"sku"`
		Size          string      `json:"size,omitempty"`
		Color         string      `json:"color,omitempty"`
		PriceModifier *acme.Money `json:"priceModifier,omitempty"`
		InitialStock  *int64      `json:"initialStock,omitempty"`
	}
	DeactivateProductV1 struct {
		ProductID string `json:"productId"`
	}
	GetProductV1 struct {
		ProductID string `json:"productId"`
	}
	ListCategoriesV1 struct {
		Page     int `json:"page,omitempty"`
		PageSize int `json:"pageSize,omitempty"`
	}
	GetCategoryV1 struct {
		CategoryID string `json:"categoryId"`
	}
)

var (
	spec = func(name string, kind es.Kind, consumers []string, summary string) es.MessageSpec {
		s := es.MessageSpec{Name: name, Kind: kind, Version: "1.0.0", Owner: "catalog", Consumers: consumers, Summary: summary}
		switch kind {
		case es.KindEvent:
			s.Producers = []string{"catalog"}
		case es.KindCommand: // sent over HTTP by an admin, handled here
			s.Producers, s.Consumers = []string{"admin"}, []string{"catalog"}
		case es.KindQuery: // asked over HTTP by anyone
			s.Producers, s.Consumers = []string{"storefront", "admin"}, []string{"catalog"}
		}
		return s
	}

	CategoryCreated = es.Define[CategoryCreatedV1](spec("CategoryCreated", es.KindEvent, []string{"search"},
		"A category was added to the catalog (names unique case-insensitively; depth <= 3, a root has depth 1)."))
	CategoryNameReserved = es.Define[CategoryNameReservedV1](spec("CategoryNameReserved", es.KindEvent, nil,
		"A category name (normalised, hashed in the stream id) was claimed; makes name uniqueness race-free."))
	ProductCreated = es.Define[ProductCreatedV1](spec("ProductCreated", es.KindEvent, []string{"search", "inventory", "cart", "reviews"},
		"A product was added to the catalog, active; initialStock is its first stock level."))
	ProductUpdated = es.Define[ProductUpdatedV1](spec("ProductUpdated", es.KindEvent, []string{"search", "cart"},
		"A product's name, description, category or price changed; carries updatedFields and the full current values."))
	ProductVariantAdded = es.Define[ProductVariantAddedV1](spec("ProductVariantAdded", es.KindEvent, []string{"inventory", "cart", "search"},
		"A size/color variant with a SKU unique across the catalog was added to a product; initialStock is its first stock level."))
	ProductDeactivated = es.Define[ProductDeactivatedV1](spec("ProductDeactivated", es.KindEvent, []string{"search", "cart", "inventory", "reviews"},
		"A product was deactivated (soft delete): no longer sold or listed."))
	SKUReserved = es.Define[SKUReservedV1](spec("SKUReserved", es.KindEvent, nil,
		"A SKU (normalised, hashed in the stream id) was claimed by a variant; makes SKU uniqueness race-free."))

	CreateCategory = es.Define[CreateCategoryV1](spec("CreateCategory", es.KindCommand, nil,
		"Add a category (POST /api/v1/categories, admin)."))
	CreateProduct = es.Define[CreateProductV1](spec("CreateProduct", es.KindCommand, nil,
		"Add a product (POST /api/v1/products, admin)."))
	UpdateProduct = es.Define[UpdateProductV1](spec("UpdateProduct", es.KindCommand, nil,
		"Change a product's name, description or category (PATCH /api/v1/products/{id}, admin)."))
	UpdateProductPrice = es.Define[UpdateProductPriceV1](spec("UpdateProductPrice", es.KindCommand, nil,
		"Change a product's price (PUT /api/v1/products/{id}/price, admin)."))
	AddProductVariant = es.Define[AddProductVariantV1](spec("AddProductVariant", es.KindCommand, nil,
		"Add a size/color variant (POST /api/v1/products/{id}/variants, admin)."))
	DeactivateProduct = es.Define[DeactivateProductV1](spec("DeactivateProduct", es.KindCommand, nil,
		"Deactivate a product (POST /api/v1/products/{id}/deactivate, admin)."))
	GetProduct = es.Define[GetProductV1](spec("GetProduct", es.KindQuery, nil,
		"Fetch one product with its variants (GET /api/v1/products/{id}, anyone; deactivated products too, with active=false)."))
	ListCategories = es.Define[ListCategoriesV1](spec("ListCategories", es.KindQuery, nil,
		"The categories, by depth then name (GET /api/v1/categories, anyone)."))
	GetCategory = es.Define[GetCategoryV1](spec("GetCategory", es.KindQuery, nil,
		"One category (GET /api/v1/categories/{id}, anyone)."))
)

func messages() []es.MessageType {
	return []es.MessageType{CategoryCreated, CategoryNameReserved, ProductCreated, ProductUpdated, ProductVariantAdded,
		ProductDeactivated, SKUReserved, CreateCategory, CreateProduct, UpdateProduct, UpdateProductPrice,
		AddProductVariant, DeactivateProduct, GetProduct, ListCategories, GetCategory}
}
