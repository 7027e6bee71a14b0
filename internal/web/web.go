// Package web is the HTTP plumbing every package's handlers share: handlers
// that return errors, problem+json rendering, JSON decoding with limits,
// request logging and metrics.
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Problem is an RFC 9457 problem document. Fields names each bad field of an
// invalid request.
type Problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail,omitempty"`
	Instance  string               `json:"instance,omitempty"`
	RequestID string               `json:"request_id,omitempty"`
	Fields    []derrors.FieldError `json:"fields,omitempty"`
}

// Handler is an http.Handler that returns its error for Serve to render.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Errors renders handler errors as problem+json, logging internal ones.
type Errors struct {
	Log *slog.Logger
}

// H adapts a Handler into an http.HandlerFunc.
func (e Errors) H(h Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			e.Render(w, r, err)
		}
	}
}

// Render writes err as a problem document. Internal errors are logged with
// the request id and shown to the client only as a generic message.
func (e Errors) Render(w http.ResponseWriter, r *http.Request, err error) {
	status := derrors.Status(err)
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Instance:  r.URL.Path,
		RequestID: middleware.GetReqID(r.Context()),
	}
	var ve *derrors.ValidationError
	switch {
	case errors.As(err, &ve):
		p.Detail = "the request has invalid fields; see fields"
		p.Fields = ve.Fields
	case status == http.StatusInternalServerError:
		p.Detail = "internal error; quote the request id when reporting it"
		if e.Log != nil {
			e.Log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", p.RequestID,
				"method", r.Method, "path", r.URL.Path)
		}
	default:
		p.Detail = publicMessage(err)
	}
	WriteProblem(w, p)
}

// sentinels are the error kinds, whose text is not shown to clients.
var sentinels = []error{derrors.Invalid, derrors.NotFound, derrors.Conflict, derrors.Unauthorized,
	derrors.Forbidden, derrors.Unavailable, derrors.TooLarge, derrors.MethodNotAllowed, context.DeadlineExceeded}

// PublicMessage is what a person or client is told of a 4xx error; see
// publicMessage. The review pages show it on their error pages.
func PublicMessage(err error) string { return publicMessage(err) }

// publicMessage is what a client is told of a 4xx error: the message of the
// error that wrapped the kind where it arose (e.g. "no order 42"), without
// the call chain added on the way up or the kind's own suffix.
func publicMessage(err error) string {
	src := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		inner := errors.Unwrap(e)
		for _, s := range sentinels {
			if inner == s {
				src = e
			}
		}
		if e == context.DeadlineExceeded {
			return "the request took too long; retry"
		}
	}
	msg := src.Error()
	for _, s := range sentinels {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	return msg
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// JSON writes v as a JSON response with the given status.
func JSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// Decode reads one JSON value from r's body into v, refusing unknown fields,
// trailing data and bodies over max bytes. Its errors wrap derrors.Invalid
// (or derrors.TooLarge) and say where the body is wrong.
func Decode(r *http.Request, max int64, v any) error {
	body, err := ReadBody(r, max)
	if err != nil {
		return err
	}
	return DecodeBytes(body, v)
}

// ReadBody reads r's JSON body, refusing other content types and bodies over max bytes.
func ReadBody(r *http.Request, max int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("Content-Type must be application/json, not %q: %w", ct, derrors.Invalid)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("request body over %d bytes: %w", max, derrors.TooLarge)
		}
		return nil, fmt.Errorf("reading request body: %w", derrors.Invalid)
	}
	return body, nil
}

// DecodeBytes is Decode for a body already read.
func DecodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(body, err)
	}
	if dec.More() {
		return fmt.Errorf("body has data after the JSON value: %w", derrors.Invalid)
	}
	return nil
}

func describeJSONError(body []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("body is empty; send a JSON object: %w", derrors.Invalid)
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d: %s: %w", se.Offset, se.Error(), derrors.Invalid)
	case errors.As(err, &te):
		ve := &derrors.ValidationError{}
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		ve.Add(field, "must be %s, not JSON %s", te.Type.String(), te.Value)
		return ve
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		ve := &derrors.ValidationError{}
		ve.Add(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		return ve
	default:
		return fmt.Errorf("malformed JSON: %s: %w", err.Error(), derrors.Invalid)
	}
}

// PathUUID reads the UUID in the route parameter name; anything else is a
// not-found, as no such resource can exist.
func PathUUID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s %q is not a UUID: %w", name, chi.URLParam(r, name), derrors.NotFound)
	}
	return id, nil
}

// IdempotencyKey reads the Idempotency-Key header. It returns "" when there
// is none, and refuses a key over 255 bytes or with line breaks.
func IdempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsAny(key, "\r\n") {
		ve := &derrors.ValidationError{}
		ve.Add("Idempotency-Key", "at most 255 printable characters")
		return "", ve
	}
	return key, nil
}
