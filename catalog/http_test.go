package catalog_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"acme/acmetest"
)

type money = map[string]any

func usd(n int64) money { return money{"amount": n, "currency": "USD"} }

// TestCatalogHTTP covers every row of the contract's "Catalog" section (except
// the search, GET /api/v1/products), success and each failure code, in both modes.
func TestCatalogHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		_, custTok := s.RegisterCustomer(t)
		unknown := "0190f0a4-0000-7000-8000-000000000000"

		// POST /api/v1/categories
		r := s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Apparel"}).Want(t, 201)
		apparel := r.Str("categoryId")
		if r.Str("name") != "Apparel" || r.Map()["depth"] != 1.0 || r.Map()["parentId"] != nil || len(apparel) != 36 {
			t.Fatalf("root category: %s", r.Body)
		}
		if r.Header.Get("Acme-Position") == "" {
			t.Fatal("no Acme-Position")
		}
		r = s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Shirts", "parentId": apparel}).Want(t, 201)
		shirts := r.Str("categoryId")
		if r.Map()["depth"] != 2.0 || r.Str("parentId") != apparel {
			t.Fatalf("child category: %s", r.Body)
		}
		r = s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Polo shirts", "parentId": shirts}).Want(t, 201)
		polo := r.Str("categoryId")
		if r.Map()["depth"] != 3.0 {
			t.Fatalf("depth-3 category: %s", r.Body)
		}
		s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Too deep", "parentId": polo}).WantError(t, 422, "depth_exceeded")
		s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Orphan", "parentId": unknown}).WantError(t, 422, "parent_not_found")
		s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "aPPAREL", "parentId": shirts}).WantError(t, 409, "category_name_taken")
		s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": ""}).WantError(t, 422, "validation_failed")
		s.Do(t, "POST", "/api/v1/categories", "", map[string]any{"name": "Anon"}).WantError(t, 401, "unauthorized")
		s.Do(t, "POST", "/api/v1/categories", custTok, map[string]any{"name": "Cust"}).WantError(t, 403, "forbidden")

		// GET /api/v1/categories (anyone)
		r = s.Do(t, "GET", "/api/v1/categories", "", nil).Want(t, 200)
		if items := r.Items(); len(items) != 3 || r.Map()["total"] != 3.0 || r.Map()["page"] != 1.0 || r.Map()["pageSize"] != 20.0 || items[0]["name"] != "Apparel" {
			t.Fatalf("category list: %s", r.Body)
		}
		r = s.Do(t, "GET", "/api/v1/categories?page=2&pageSize=2", "", nil).Want(t, 200)
		if items := r.Items(); len(items) != 1 || items[0]["name"] != "Polo shirts" {
			t.Fatalf("category page 2: %s", r.Body)
		}
		s.Do(t, "GET", "/api/v1/categories?pageSize=101", "", nil).WantError(t, 422, "validation_failed")

		// GET /api/v1/categories/{id}: the Location of a created category
		r = s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Shoes"}).Want(t, 201)
		loc := r.Header.Get("Location")
		if loc != "/api/v1/categories/"+r.Str("categoryId") {
			t.Fatalf("Location %q for %s", loc, r.Body)
		}
		if g := s.Do(t, "GET", loc, "", nil).Want(t, 200); g.Str("name") != "Shoes" || g.Map()["depth"] != 1.0 || g.Map()["parentId"] != nil {
			t.Fatalf("GET %s: %s", loc, g.Body)
		}
		if g := s.Do(t, "GET", "/api/v1/categories/"+polo, "", nil).Want(t, 200); g.Str("parentId") != shirts || g.Map()["depth"] != 3.0 {
			t.Fatalf("GET polo: %s", g.Body)
		}
		s.Do(t, "GET", "/api/v1/categories/"+unknown, "", nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/categories/nope", "", nil).WantError(t, 404, "not_found")

		// POST /api/v1/products
		create := func(token string, body map[string]any) *acmetest.Response {
			return s.Do(t, "POST", "/api/v1/products", token, body)
		}
		product := func(mod func(map[string]any)) map[string]any {
			b := map[string]any{"name": "Oxford shirt", "description": "Cotton, button-down", "price": usd(4999), "categoryId": shirts, "initialStock": 10}
			if mod != nil {
				mod(b)
			}
			return b
		}
		r = create(admin, product(nil)).Want(t, 201)
		pid := r.Str("productId")
		p := r.Map()
		if p["name"] != "Oxford shirt" || p["description"] != "Cotton, button-down" || p["categoryId"] != shirts || p["active"] != true ||
			fmt.Sprint(p["price"]) != "map[amount:4999 currency:USD]" || fmt.Sprint(p["variants"]) != "[]" || p["createdAt"] == nil || p["updatedAt"] == nil {
			t.Fatalf("created product: %s", r.Body)
		}
		for _, tc := range []struct {
			name   string
			mod    func(map[string]any)
			status int
			code   string
		}{
			{"price 0", func(b map[string]any) { b["price"] = usd(0) }, 422, "invalid_price"},
			{"unknown currency", func(b map[string]any) { b["price"] = money{"amount": 100, "currency": "ZZZ"} }, 422, "invalid_price"},
			{"no price", func(b map[string]any) { delete(b, "price") }, 422, "invalid_price"},
			{"empty name", func(b map[string]any) { b["name"] = "" }, 422, "invalid_name"},
			{"name 201", func(b map[string]any) { b["name"] = strings.Repeat("n", 201) }, 422, "invalid_name"},
			{"unknown category", func(b map[string]any) { b["categoryId"] = unknown }, 422, "category_not_found"},
			{"negative stock", func(b map[string]any) { b["initialStock"] = -1 }, 422, "validation_failed"},
			{"stock above the restock bound", func(b map[string]any) { b["initialStock"] = 1_000_000_001 }, 422, "validation_failed"},
			{"price above the bound", func(b map[string]any) { b["price"] = usd(1_000_000_000_001) }, 422, "invalid_price"},
			{"price near int64 max", func(b map[string]any) { b["price"] = usd(9223372036854775807) }, 422, "invalid_price"},
			{"fractional price", func(b map[string]any) { b["price"] = money{"amount": 1.5, "currency": "USD"} }, 400, "bad_request"},
		} {
			t.Run(tc.name, func(t *testing.T) { create(admin, product(tc.mod)).WantError(t, tc.status, tc.code) })
		}
		create("", product(nil)).WantError(t, 401, "unauthorized")
		create(custTok, product(nil)).WantError(t, 403, "forbidden")

		// GET /api/v1/products/{id} (anyone)
		r = s.Do(t, "GET", "/api/v1/products/"+pid, "", nil).Want(t, 200)
		if r.Str("productId") != pid || r.Str("name") != "Oxford shirt" {
			t.Fatalf("get product: %s", r.Body)
		}
		// UUIDs compare without regard to case (RFC 9562)
		if r := s.Do(t, "GET", "/api/v1/products/"+strings.ToUpper(pid), "", nil).Want(t, 200); r.Str("productId") != pid {
			t.Fatalf("get product by its id in upper case: %s", r.Body)
		}
		s.Do(t, "GET", "/api/v1/products/"+unknown, "", nil).WantError(t, 404, "not_found")
		s.Do(t, "GET", "/api/v1/products/nope", "", nil).WantError(t, 404, "not_found")

		// PATCH /api/v1/products/{id}
		r = s.Do(t, "PATCH", "/api/v1/products/"+pid, admin, map[string]any{"name": "Oxford shirt, slim", "categoryId": polo}).Want(t, 200)
		if r.Str("name") != "Oxford shirt, slim" || r.Str("categoryId") != polo || r.Str("description") != "Cotton, button-down" || r.Str("updatedAt") == r.Str("createdAt") {
			t.Fatalf("patched: %s", r.Body)
		}
		s.Do(t, "PATCH", "/api/v1/products/"+pid, admin, map[string]any{"name": " "}).WantError(t, 422, "invalid_name")
		s.Do(t, "PATCH", "/api/v1/products/"+pid, admin, map[string]any{"categoryId": unknown}).WantError(t, 422, "category_not_found")
		s.Do(t, "PATCH", "/api/v1/products/"+unknown, admin, map[string]any{"name": "x"}).WantError(t, 404, "not_found")
		s.Do(t, "PATCH", "/api/v1/products/"+pid, admin, map[string]any{"price": usd(1)}).WantError(t, 400, "bad_request")
		s.Do(t, "PATCH", "/api/v1/products/"+pid, custTok, map[string]any{"name": "x"}).WantError(t, 403, "forbidden")

		// PUT /api/v1/products/{id}/price
		r = s.Do(t, "PUT", "/api/v1/products/"+pid+"/price", admin, map[string]any{"price": usd(3999)}).Want(t, 200)
		if fmt.Sprint(r.Map()["price"]) != "map[amount:3999 currency:USD]" {
			t.Fatalf("repriced: %s", r.Body)
		}
		s.Do(t, "PUT", "/api/v1/products/"+pid+"/price", admin, map[string]any{"price": usd(0)}).WantError(t, 422, "invalid_price")
		s.Do(t, "PUT", "/api/v1/products/"+pid+"/price", admin, map[string]any{"price": money{"amount": 10, "currency": "usd"}}).WantError(t, 422, "invalid_price")
		s.Do(t, "PUT", "/api/v1/products/"+unknown+"/price", admin, map[string]any{"price": usd(10)}).WantError(t, 404, "not_found")
		s.Do(t, "PUT", "/api/v1/products/"+pid+"/price", "", map[string]any{"price": usd(10)}).WantError(t, 401, "unauthorized")

		// POST /api/v1/products/{id}/variants
		r = s.Do(t, "POST", "/api/v1/products/"+pid+"/variants", admin, map[string]any{"sku": "OX-M-BLUE", "size": "M", "color": "blue",
			"priceModifier": usd(-500), "initialStock": 4}).Want(t, 201)
		vid := r.Str("variantId")
		if len(vid) != 36 || r.Str("sku") != "OX-M-BLUE" || r.Str("size") != "M" || r.Str("color") != "blue" || fmt.Sprint(r.Map()["priceModifier"]) != "map[amount:-500 currency:USD]" {
			t.Fatalf("variant: %s", r.Body)
		}
		if loc := r.Header.Get("Location"); loc != "/api/v1/products/"+pid { // the product lists its variants
			t.Fatalf("variant Location %q", loc)
		}
		other := create(admin, product(func(b map[string]any) { b["name"] = "Chino" })).Want(t, 201).Str("productId")
		s.Do(t, "POST", "/api/v1/products/"+other+"/variants", admin, map[string]any{"sku": "ox-m-blue", "size": "L"}).WantError(t, 409, "duplicate_sku")
		s.Do(t, "POST", "/api/v1/products/"+other+"/variants", admin, map[string]any{"sku": "CH-1"}).WantError(t, 422, "no_attribute")
		s.Do(t, "POST", "/api/v1/products/"+other+"/variants", admin, map[string]any{"sku": "CH-4", "size": "XL", "initialStock": 1_000_000_001}).WantError(t, 422, "validation_failed")
		s.Do(t, "POST", "/api/v1/products/"+other+"/variants", admin, map[string]any{"sku": "CH-5", "size": "XL",
			"priceModifier": usd(1_000_000_000_000)}).WantError(t, 422, "invalid_price")
		s.Do(t, "POST", "/api/v1/products/"+unknown+"/variants", admin, map[string]any{"sku": "CH-2", "size": "S"}).WantError(t, 404, "not_found")
		s.Do(t, "POST", "/api/v1/products/"+other+"/variants", custTok, map[string]any{"sku": "CH-3", "size": "S"}).WantError(t, 403, "forbidden")
		r = s.Do(t, "GET", "/api/v1/products/"+pid, "", nil).Want(t, 200)
		vs, _ := r.Map()["variants"].([]any)
		if len(vs) != 1 || fmt.Sprint(vs[0]) != fmt.Sprintf("map[color:blue priceModifier:map[amount:-500 currency:USD] size:M sku:OX-M-BLUE variantId:%s]", vid) {
			t.Fatalf("product variants: %s", r.Body)
		}

		// POST /api/v1/products/{id}/deactivate
		r = s.Do(t, "POST", "/api/v1/products/"+pid+"/deactivate", admin, nil).Want(t, 200)
		if r.Map()["active"] != false || r.Str("productId") != pid {
			t.Fatalf("deactivated: %s", r.Body)
		}
		s.Do(t, "POST", "/api/v1/products/"+pid+"/deactivate", admin, nil).WantError(t, 409, "already_inactive")
		s.Do(t, "POST", "/api/v1/products/"+unknown+"/deactivate", admin, nil).WantError(t, 404, "not_found")
		s.Do(t, "POST", "/api/v1/products/"+other+"/deactivate", custTok, nil).WantError(t, 403, "forbidden")
		// Deactivated products stay readable by id, with active: false.
		if r := s.Do(t, "GET", "/api/v1/products/"+pid, "", nil).Want(t, 200); r.Map()["active"] != false {
			t.Fatalf("inactive product: %s", r.Body)
		}
	})
}

// TestConcurrentDuplicatesHTTP: concurrent duplicate category names and SKUs
// give exactly one success each.
func TestConcurrentDuplicatesHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		root := s.Do(t, "POST", "/api/v1/categories", s.AdminToken, map[string]any{"name": "Root"}).Want(t, 201).Str("categoryId")
		var products []string
		for i := range 3 {
			products = append(products, s.Do(t, "POST", "/api/v1/products", s.AdminToken, map[string]any{"name": fmt.Sprint("P", i),
				"description": "", "price": usd(100), "categoryId": root, "initialStock": 0}).Want(t, 201).Str("productId"))
		}
		const n = 12
		outcomes := func(f func(i int) *acmetest.Response) map[string]int {
			var mu sync.Mutex
			out := map[string]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r := f(i)
					mu.Lock()
					out[fmt.Sprint(r.Status, r.Code())]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			return out
		}
		got := outcomes(func(i int) *acmetest.Response {
			name := []string{"Sale", "SALE", "sale"}[i%3]
			return s.Do(t, "POST", "/api/v1/categories", s.AdminToken, map[string]any{"name": name})
		})
		if got["201"] != 1 || got["409category_name_taken"] != n-1 {
			t.Fatalf("category outcomes %v", got)
		}
		got = outcomes(func(i int) *acmetest.Response {
			return s.Do(t, "POST", "/api/v1/products/"+products[i%3]+"/variants", s.AdminToken, map[string]any{"sku": "DUP-1", "size": fmt.Sprint(i)})
		})
		if got["201"] != 1 || got["409duplicate_sku"] != n-1 {
			t.Fatalf("SKU outcomes %v", got)
		}
	})
}

// TestInitialStockReachesInventory: initialStock travels to inventory in
// ProductCreated / ProductVariantAdded (catalog never writes inventory's store).
func TestInitialStockReachesInventory(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		cat := s.Do(t, "POST", "/api/v1/categories", s.AdminToken, map[string]any{"name": "Stocked"}).Want(t, 201).Str("categoryId")
		pid := s.Do(t, "POST", "/api/v1/products", s.AdminToken, map[string]any{"name": "Mug", "description": "", "price": usd(900),
			"categoryId": cat, "initialStock": 7}).Want(t, 201).Str("productId")
		var last *acmetest.Response
		acmetest.Eventually(t, 15*time.Second, func() bool {
			last = s.Do(t, "GET", "/api/v1/inventory/"+pid, "", nil)
			return last.Status == 200 && last.Map()["onHand"] == 7.0
		})
		_ = last
	})
}

// TestCatalogDocumented: every catalog route is in the OpenAPI document and
// every catalog message in the message catalog.
func TestCatalogDocumented(t *testing.T) {
	s := acmetest.Start(t, acmetest.Embedded)
	r := s.Do(t, "GET", "/api/v1/openapi.json", "", nil).Want(t, 200)
	paths, _ := r.Map()["paths"].(map[string]any)
	for path, methods := range map[string][]string{
		"/api/v1/categories":               {"get", "post"},
		"/api/v1/products":                 {"post"},
		"/api/v1/products/{id}":            {"get", "patch"},
		"/api/v1/products/{id}/price":      {"put"},
		"/api/v1/products/{id}/variants":   {"post"},
		"/api/v1/products/{id}/deactivate": {"post"},
	} {
		ops, _ := paths[path].(map[string]any)
		for _, m := range methods {
			if _, ok := ops[m]; !ok {
				t.Errorf("OpenAPI lacks %s %s", m, path)
			}
		}
	}
	r = s.Do(t, "GET", "/api/v1/catalog", "", nil).Want(t, 200)
	have := map[string]string{}
	for _, it := range r.Items() {
		if it["owner"] == "catalog" {
			have[fmt.Sprint(it["name"])] = fmt.Sprint(it["kind"])
		}
	}
	for name, kind := range map[string]string{"CategoryCreated": "event", "ProductCreated": "event", "ProductUpdated": "event",
		"ProductVariantAdded": "event", "ProductDeactivated": "event", "CreateCategory": "command", "CreateProduct": "command",
		"UpdateProduct": "command", "UpdateProductPrice": "command", "AddProductVariant": "command", "DeactivateProduct": "command",
		"GetProduct": "query"} {
		if have[name] != kind {
			t.Errorf("message catalog: %s is %q, want a %s owned by catalog", name, have[name], kind)
		}
	}
}
