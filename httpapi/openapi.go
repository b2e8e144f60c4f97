package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/invopop/jsonschema"
)

// OpenAPIInfo is the info object of the OpenAPI document.
type OpenAPIInfo struct {
	Title       string
	Version     string
	Description string
}

// openAPIDescription documents the conventions and the decisions taken where
// the contract is silent.
const openAPIDescription = `The public HTTP API of Acme Commerce.

Conventions: JSON in and out (camelCase); money is {"amount": <minor units>, "currency": "<ISO 4217>"}; times are RFC 3339 UTC; lists are {items, total, page, pageSize} (page 1-based, pageSize default 20, max 100).

Errors are RFC 9457 application/problem+json {type, title, status, detail, code[, errors]} with a stable code. Decisions where the contract is silent:
- A token that is not valid (malformed, unknown, expired or signed out) is 401 unauthorized on a route that needs one; a route anonymous callers may use (sign in, register, the catalog, search, the documents) serves such a request as anonymous, as the contract asks a token only "where one is needed".
- variantId is null, not "", where there is no variant: the lines of a cart, an order or a picking job of a product without variants, and a stock level of a product's own stock.
- Ids are lower-case UUIDs, and an id sent in a path, a query or a body is matched without regard to case (RFC 9562): an id in upper or mixed case names the same thing.
- An unknown path is 404 not_found, a known path with another method is 405 method_not_allowed (with Allow), both as problem+json.
- Idempotency-Key (1-255 characters, else 422 validation_failed) is scoped to the caller (the customer, the admin, or all anonymous callers together) and to the method, path and body (compared as JSON values: whitespace and the order of keys do not matter): a repeat returns the stored status, Location, Acme-Position and body with Idempotent-Replayed: true; another request under the same key is 422 idempotency_key_reused; a repeat while the first is still running waits for it (then 409 conflict after 10 s). 5xx responses are not stored, nor answers with Retry-After (409 conflict: the command lost every retry against concurrent changes of the same thing, and nothing was changed; 503 stale_read_model), so a key may be retried after them. Keys are kept 24 hours.
- Acme-Min-Position must be a token this API issued (else 400 bad_request); routes whose read models are updated in the same transaction as the write answer at once, the others wait up to 5 s, then 503 stale_read_model.
- Every response carries X-Correlation-Id (the client's, if it sent a valid one, else a generated one); it is recorded in the metadata of every event the request causes.
- Before the server is ready and while it stops, API routes answer 503 with code unavailable.`

// OpenAPI returns the OpenAPI 3.1 document of every registered route.
func (a *API) OpenAPI(info OpenAPIInfo) map[string]any {
	g := newSchemaGen()
	problem := g.ref(Problem{})
	paths := map[string]map[string]any{}
	for _, rt := range a.routes {
		method, p, _ := strings.Cut(rt.Pattern, " ")
		p = openAPIPath(p)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(method)] = g.operation(rt, method, p, problem)
	}
	if info.Title == "" {
		info.Title = "Acme Commerce API"
	}
	if info.Version == "" {
		info.Version = "1.0.0"
	}
	if info.Description == "" {
		info.Description = openAPIDescription
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": info.Title, "version": info.Version, "description": info.Description},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "A customer's session token (POST /api/v1/sessions) or the admin token (ACME_ADMIN_TOKEN)."},
			},
		},
	}
}

// HandleOpenAPI registers GET /api/v1/openapi.json (anyone). The document is
// built on the first request, when every route is registered.
func (a *API) HandleOpenAPI(info OpenAPIInfo) {
	var (
		once sync.Once
		doc  []byte
	)
	a.Handle("GET /api/v1/openapi.json", Anonymous, func(w http.ResponseWriter, r *http.Request) error {
		once.Do(func() { doc, _ = json.Marshal(a.OpenAPI(info)) })
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(doc)
		return err
	}, Summary("The OpenAPI 3.1 document of this API."), Returns(200, map[string]any{}))
}

var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// openAPIPath turns a ServeMux path into an OpenAPI path template.
func openAPIPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return wildcard.ReplaceAllString(p, "{$1}")
}

func (g *schemaGen) operation(rt Route, method, p string, problem map[string]any) map[string]any {
	op := map[string]any{
		"summary":     firstLine(rt.Summary),
		"operationId": operationID(method, p),
		"tags":        []string{tagOf(p)},
	}
	if d := rt.Summary; strings.Contains(d, "\n") || len(d) > 80 {
		op["description"] = d
	}
	var params []any
	for _, m := range wildcard.FindAllStringSubmatch(p, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	query := rt.Query
	if isList(rt.Response) {
		query = append(query,
			QueryParam{Name: "page", Type: "integer", Description: "1-based page (default 1)."},
			QueryParam{Name: "pageSize", Type: "integer", Description: fmt.Sprintf("Items per page, 1 to %d (default %d).", MaxPageSize, DefaultPageSize)})
	}
	for _, q := range query {
		schema := map[string]any{"type": q.Type}
		if q.Format != "" {
			schema["format"] = q.Format
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "required": false, "description": q.Description, "schema": schema})
	}
	if !rt.Raw {
		params = append(params, map[string]any{"name": "X-Correlation-Id", "in": "header", "required": false,
			"description": "Correlation id recorded in the metadata of the events this request causes (1-128 visible ASCII characters).",
			"schema":      map[string]any{"type": "string", "maxLength": 128}})
	}
	if method == http.MethodPost && !rt.Raw {
		params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "required": false,
			"description": "Makes the request safe to repeat: the same caller, key and body get the original response and no second effect. " +
				"The same key with another body is 422 idempotency_key_reused; an empty key, one over 255 characters or the header twice is " +
				"422 validation_failed (field Idempotency-Key), like any other field out of its range.",
			"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": 255}})
	}
	if method == http.MethodGet && !rt.Raw {
		desc := "A consistency token (Acme-Position of an earlier write). The read models of this route are updated in the write's transaction, so it answers at once."
		if len(rt.Reads) > 0 {
			desc = "A consistency token (Acme-Position of an earlier write): answer only once the read models (" + strings.Join(rt.Reads, ", ") + ") reflect it; waits up to 5 s, then 503 stale_read_model."
		}
		params = append(params, map[string]any{"name": "Acme-Min-Position", "in": "header", "required": false,
			"description": desc, "schema": map[string]any{"type": "string"}})
	}
	if method != http.MethodGet && len(rt.CommandReads) > 0 {
		params = append(params, map[string]any{"name": "Acme-Min-Position", "in": "header", "required": false,
			"description": "A consistency token (Acme-Position of an earlier write, e.g. a product's creation): the command's checks run only once " +
				"the read models (" + strings.Join(rt.CommandReads, ", ") + ") reflect it; waits up to 5 s, then 503 stale_read_model.",
			"schema": map[string]any{"type": "string"}})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	switch rt.Role {
	case Anonymous:
		if !rt.Raw {
			op["security"] = []any{map[string]any{}, map[string]any{"bearer": []string{}}}
		} else {
			op["security"] = []any{}
		}
	case Customer:
		op["security"] = []any{map[string]any{"bearer": []string{}}}
		op["x-acme-role"] = "customer"
	case Admin:
		op["security"] = []any{map[string]any{"bearer": []string{}}}
		op["x-acme-role"] = "admin"
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{"required": !rt.OptionalBody, "content": map[string]any{
			"application/json": map[string]any{"schema": g.ref(rt.Request)}}}
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	success := map[string]any{"description": http.StatusText(status)}
	switch {
	case rt.Raw:
		ct := rt.ContentType
		if ct == "" {
			ct = "text/plain"
		}
		success["content"] = map[string]any{ct: map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.Response != nil && status != http.StatusNoContent:
		success["content"] = map[string]any{"application/json": map[string]any{"schema": g.ref(rt.Response)}}
	}
	if method != http.MethodGet && !rt.Raw {
		success["headers"] = map[string]any{"Acme-Position": map[string]any{
			"description": "Consistency token of the write; send it as Acme-Min-Position on later reads.",
			"schema":      map[string]any{"type": "string"}}}
	}
	responses := map[string]any{strconv.Itoa(status): success}
	if !rt.Raw {
		errResp := func(code int, desc string) {
			responses[strconv.Itoa(code)] = map[string]any{"description": desc,
				"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}}
		}
		errResp(400, "bad_request: malformed JSON, unknown fields, wrong types, or a malformed header")
		errResp(401, "unauthorized: a token is needed, or the one sent is not valid")
		if rt.Role > Anonymous {
			errResp(403, "forbidden: the caller's role may not do this")
		}
		if strings.Contains(p, "{") {
			errResp(404, "not_found (or a more specific *_not_found code)")
		}
		if method != http.MethodGet {
			errResp(409, "a conflict with the current state (code says which)")
			errResp(413, "payload_too_large: the body is over 1 MiB")
			errResp(415, "unsupported_content_encoding: the body has a Content-Encoding (bodies are read uncompressed only; the answer says Accept-Encoding: identity)")
			errResp(422, "validation_failed (with errors[]), idempotency_key_reused, or a rule of this route (code says which)")
		} else if len(query) > 0 {
			errResp(422, "validation_failed (with errors[]): a query parameter out of its range or not one of its values")
		}
		for code, desc := range rt.Fails {
			errResp(code, desc)
		}
		errResp(500, "internal: an unexpected error")
		if len(rt.Reads) > 0 || len(rt.CommandReads) > 0 {
			errResp(503, "stale_read_model: the read models did not reach Acme-Min-Position in 5 s")
		}
	}
	op["responses"] = responses
	return op
}

// firstLine is the summary of an operation: the first sentence of its
// documentation (the whole text goes into the description).
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func operationID(method, p string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.Split(strings.TrimPrefix(p, "/api/v1"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.NewReplacer("-", "", "_", "", ".", "").Replace(part)
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func tagOf(p string) string {
	rest := strings.TrimPrefix(p, "/api/v1/")
	if rest == p {
		return "operations"
	}
	tag, _, _ := strings.Cut(rest, "/")
	return tag
}

// schemaGen turns sample Go values into JSON Schemas (invopop/jsonschema)
// collected as OpenAPI components.
type schemaGen struct {
	r    *jsonschema.Reflector
	defs map[string]any
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func newSchemaGen() *schemaGen {
	return &schemaGen{
		defs: map[string]any{},
		r: &jsonschema.Reflector{
			Anonymous:                 true,
			AllowAdditionalProperties: true,
			Namer:                     SchemaName,
		},
	}
}

// SchemaName is the component name of a Go type: "<package>.<Type>".
func SchemaName(t reflect.Type) string {
	name := t.Name()
	if pkg := t.PkgPath(); pkg != "" {
		name = path.Base(pkg) + "." + name
	}
	name = strings.NewReplacer("acme/", "").Replace(name)
	return strings.Trim(unsafeName.ReplaceAllString(name, "_"), "_")
}

// isList reports whether v is a List[T] (a paged response).
func isList(v any) bool {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Struct {
		return false
	}
	_, items := t.FieldByName("Items")
	_, page := t.FieldByName("Page")
	_, size := t.FieldByName("PageSize")
	return items && page && size
}

// ref returns the schema of v's type, with named types as component references.
func (g *schemaGen) ref(v any) map[string]any {
	s := g.r.Reflect(v)
	b, err := json.Marshal(s)
	if err != nil {
		return map[string]any{}
	}
	b = bytes.ReplaceAll(b, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`))
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{}
	}
	if defs, ok := m["$defs"].(map[string]any); ok {
		for k, d := range defs {
			g.defs[k] = d
		}
	}
	delete(m, "$defs")
	delete(m, "$schema")
	delete(m, "$id")
	return m
}

// sortedPaths is for tests: every path template in the document.
func sortedPaths(doc map[string]any) []string {
	var out []string
	for p := range doc["paths"].(map[string]map[string]any) {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
