package search

import (
	"net/http"

	"acme/httpapi"
)

// Routes registers GET /api/v1/products (the Search Products query).
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("GET /api/v1/products", httpapi.Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		q, err := ParseQuery(r.URL.Query())
		if err != nil {
			return err
		}
		list, err := m.svc.Search(r.Context(), q)
		if err != nil {
			return err
		}
		return httpapi.JSON(w, http.StatusOK, list)
	}, httpapi.Summary("Search Products: ?q= full text (case- and accent-insensitive: \"creme\" finds \"Crème\"; stemmed, prefix and one-typo tolerant) over name and description; "+
		"a word the catalog contains as typed is matched as typed (stem or prefix), a word it does not contain also within one typo; "+
		"categoryId (includes sub-categories); minPrice/maxPrice in minor units; sort relevance (default with q) | price_asc | price_desc | newest (default without q) | rating "+
		"(products of equal price are in no particular order); page, pageSize: paging reaches the first 10,000 results (a page past them is "+
		"422 validation_failed; narrow the query instead). Deactivated products never appear."),
		httpapi.Returns(http.StatusOK, httpapi.List[Summary]{}), httpapi.Reads(ConsumerName, RatingAggregator, InventoryCommands),
		httpapi.Query("q", "string", "Words to find in name and description (at most 200 characters)."),
		httpapi.QueryFormat("categoryId", "string", "uuid", "A category; its sub-categories are included."),
		httpapi.Query("minPrice", "integer", "Lowest price, in minor units (inclusive); a non-negative integer (one past any price matches nothing)."),
		httpapi.Query("maxPrice", "integer", "Highest price, in minor units (inclusive); a non-negative integer (one past any price, however large, is no bound)."),
		httpapi.Query("sort", "string", "relevance (default with q), price_asc, price_desc, newest (default without q) or rating."))
}
