package main

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.0 description of the HTTP API, written by hand.
// openapi_test.go checks it is valid, names every /v1 route the router
// serves, and matches what the real handlers answer.
//
//go:embed openapi.json
var openAPIDoc []byte

// handleOpenAPI serves the OpenAPI document. It needs no key: the document
// says how to get one.
func (a *app) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPIDoc)
}
