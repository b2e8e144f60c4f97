package app

import (
	"acme/httpapi"
	"acme/msgschema"
)

// registerDocs registers the documents: the message catalog and the OpenAPI
// document (built on first request, so it lists every route).
func registerDocs(a *App) {
	msgschema.Routes(a.api, a.registry)
	a.api.HandleOpenAPI(httpapi.OpenAPIInfo{Title: "Acme Commerce API", Version: a.cfg.Version})
}
