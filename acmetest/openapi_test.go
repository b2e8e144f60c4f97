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
