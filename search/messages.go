package search

import (
	"acme"
	"acme/es"
)

const owner = "search"

// SearchProductsV1 is the Search Products query (GET /api/v1/products).
type SearchProductsV1 struct {
	Q          string `json:"q,omitempty"`
	CategoryID string `json:"categoryId,omitempty"`
	MinPrice   *int64 `json:"minPrice,omitempty"`
	MaxPrice   *int64 `json:"maxPrice,omitempty"`
	Sort       string `json:"sort,omitempty"` // relevance | price_asc | price_desc | newest | rating
	Page       int    `json:"page,omitempty"`
	PageSize   int    `json:"pageSize,omitempty"`
}

// Summary is one product in the search results.
type Summary struct {
	ProductID     string     `json:"productId"`
	Name          string     `json:"name"`
	Price         acme.Money `json:"price"`
	CategoryID    string     `json:"categoryId"`
	AverageRating float64    `json:"averageRating"`
	ReviewCount   int64      `json:"reviewCount"`
	InStock       bool       `json:"inStock"`
}

// SearchProducts is the query search serves.
var SearchProducts = es.Define[SearchProductsV1](es.MessageSpec{Name: "SearchProducts", Kind: es.KindQuery, Owner: owner,
	Producers: []string{"web"}, Consumers: []string{owner},
	Summary: "Search Products: full text over name and description, category (with sub-categories), price range, sort and pages."})
