package httpapi_test

import (
	"encoding/json"

	"acme/httpapi"
	"testing"
)

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	api, _ := newAPI(t)
	api.HandleOpenAPI(httpapiInfo)
	doc := api.OpenAPI(httpapiInfo)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Security    []map[string][]string `json:"security"`
			Parameters  []struct{ Name, In string }
			RequestBody *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", d.OpenAPI)
	}
	want := map[string]string{
		"/api/v1/things":       "post",
		"/api/v1/things/{id}":  "get",
		"/api/v1/admin/boom":   "get",
		"/api/v1/fail":         "post",
		"/api/v1/openapi.json": "get",
	}
	n := 0
	for p, ops := range d.Paths {
		n += len(ops)
		if _, ok := ops[want[p]]; !ok {
			t.Errorf("path %s: operations %v, want %s", p, ops, want[p])
		}
	}
	if n != len(api.Routes()) || n != len(want) {
		t.Fatalf("%d operations, %d routes, want %d", n, len(api.Routes()), len(want))
	}
	post := d.Paths["/api/v1/things"]["post"]
	if post.RequestBody == nil || post.RequestBody.Content["application/json"].Schema["$ref"] == nil {
		t.Fatalf("POST /api/v1/things has no request schema")
	}
	if _, ok := post.Responses["201"]; !ok {
		t.Fatalf("POST /api/v1/things lacks its 201: %v", post.Responses)
	}
	if len(post.Security) != 1 || post.Security[0]["bearer"] == nil {
		t.Fatalf("customer route security %v", post.Security)
	}
	get := d.Paths["/api/v1/things/{id}"]["get"]
	var pathParam, minPos bool
	for _, p := range get.Parameters {
		pathParam = pathParam || (p.Name == "id" && p.In == "path")
		minPos = minPos || p.Name == "Acme-Min-Position"
	}
	if !pathParam || !minPos {
		t.Fatalf("GET /api/v1/things/{id} parameters %v", get.Parameters)
	}
	if _, ok := get.Responses["503"]; !ok {
		t.Fatal("a route with read models documents no 503")
	}
	for _, name := range []string{"httpapi.Problem", "httpapi_test.createReq", "httpapi_test.createResp"} {
		if _, ok := d.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing; have %v", name, d.Components.Schemas)
		}
	}
}

var httpapiInfo = httpapi.OpenAPIInfo{Title: "test", Version: "0"}
