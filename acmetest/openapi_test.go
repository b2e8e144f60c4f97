package acmetest_test

import (
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"acme/acmetest"
)

var param = regexp.MustCompile(`\{[^}]+\}`)

// TestOpenAPIMatchesRoutes: the served document and the registered routes
// never disagree: every route is documented with its method, and every
// documented operation reaches exactly that route of the mux.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := acmetest.Start(t, acmetest.Embedded)
	r := s.Do(t, "GET", "/api/v1/openapi.json", "", nil).Want(t, 200)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	r.Decode(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	api := s.App.API()
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			method := strings.ToUpper(m)
			documented[method+" "+p] = true
			req := httptest.NewRequest(method, param.ReplaceAllString(p, "x"), nil)
			_, pattern := api.Mux().Handler(req)
			if pattern == "" {
				t.Errorf("documented %s %s reaches no route", method, p)
				continue
			}
			if want := method + " " + p; normalize(pattern) != want {
				t.Errorf("documented %s reaches route %q", want, pattern)
			}
		}
	}
	if len(api.Routes()) < 5 {
		t.Fatalf("only %d routes registered", len(api.Routes()))
	}
	for _, rt := range api.Routes() {
		if !documented[normalize(rt.Pattern)] {
			t.Errorf("route %s is not in the OpenAPI document", rt.Pattern)
		}
	}
	if len(documented) != len(api.Routes()) {
		t.Errorf("%d documented operations, %d routes", len(documented), len(api.Routes()))
	}
	// every schema reference resolves
	refs := regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(r.Body), -1)
	for _, m := range refs {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("dangling $ref %s", m[1])
		}
	}
}

// normalize turns a ServeMux pattern into "METHOD /path/{param}".
func normalize(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

// TestNoUndocumentedMuxRoutes: routes registered on the raw mux (bypassing
// API.Handle / API.HandleHTTP, which document them) would escape the test
// above, so no package does that.
func TestNoUndocumentedMuxRoutes(t *testing.T) {
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if regexp.MustCompile(`\.Mux\(\)\.Handle(Func)?\(`).Match(b) {
			t.Errorf("%s registers a route on the raw mux: use api.Handle or api.HandleHTTP so it is documented", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIOptionalFields: a body field the server accepts missing is not
// listed as required (a client generated from the document would otherwise
// send what it need not, or refuse a valid request).
func TestOpenAPIOptionalFields(t *testing.T) {
	s := acmetest.Start(t, acmetest.Embedded)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	s.Do(t, "GET", "/api/v1/openapi.json", "", nil).Want(t, 200).Decode(t, &doc)
	type schema struct {
		Ref        string                     `json:"$ref"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"` // a property's schema may be true
	}
	resolve := func(s schema) schema {
		if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
			var r schema
			if err := json.Unmarshal(doc.Components.Schemas[name], &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		return s
	}
	for _, c := range []struct{ method, path, field string }{
		{"post", "/api/v1/cart/checkout", "shippingAddress.line2"},
		{"post", "/api/v1/cart/items", "variantId"},
		{"post", "/api/v1/products", "description"},
		{"post", "/api/v1/products", "initialStock"},
		{"post", "/api/v1/products/{id}/variants", "initialStock"},
		{"post", "/api/v1/orders/{id}/cancel", "reason"},
		{"post", "/api/v1/categories", "parentId"},
		{"post", "/api/v1/promotions", "minSubtotal"},
	} {
		var op struct {
			RequestBody struct {
				Content map[string]struct{ Schema schema } `json:"content"`
			} `json:"requestBody"`
		}
		if err := json.Unmarshal(doc.Paths[c.path][c.method], &op); err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		sc := resolve(op.RequestBody.Content["application/json"].Schema)
		parts := strings.Split(c.field, ".")
		for _, p := range parts[:len(parts)-1] {
			var inner schema
			if err := json.Unmarshal(sc.Properties[p], &inner); err != nil {
				t.Fatalf("%s %s: %s: %v", c.method, c.path, p, err)
			}
			sc = resolve(inner)
		}
		last := parts[len(parts)-1]
		if _, ok := sc.Properties[last]; !ok {
			t.Errorf("%s %s: no property %s", c.method, c.path, c.field)
		}
		for _, r := range sc.Required {
			if r == last {
				t.Errorf("%s %s: %s is listed as required, and the server accepts it missing", c.method, c.path, c.field)
			}
		}
	}
}
