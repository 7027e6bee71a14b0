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
	"net/url"
	"slices"
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

// H adapts a Handler into an http.HandlerFunc. Before the handler runs, its
// path and query parameters are checked against the text rules (CheckParams),
// so no handler sees a NUL or invalid UTF-8 in a parameter.
func (e Errors) H(h Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := CheckParams(r); err != nil {
			e.Render(w, r, err)
			return
		}
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
		if status == http.StatusConflict {
			p.Detail = "the request conflicts with what is stored; see fields"
		}
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
// the context added on the way up, Go call frames or the kind's own suffix.
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
	return derrors.Plain(src)
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

// DecodeBytes is Decode for a body already read. Before decoding, every
// string in the body is checked against the text rules (see text.go), so
// text is never silently rewritten; a decode error names the field by its
// JSON path (lines[0].qty) in plain words.
func DecodeBytes(body []byte, v any) error {
	if field, problem := scanBody(body); field != "" {
		return invalidField(field, "%s", problem)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(body, v, err)
	}
	if dec.More() {
		return invalidField("(body)", "has data after the JSON value; send one JSON object")
	}
	return nil
}

func describeJSONError(body []byte, v any, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return invalidField("(body)", "is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidField("(body)", "ends before the JSON value does; send one complete JSON object")
	case errors.As(err, &se):
		line, col := lineCol(body, se.Offset)
		return invalidField("(body)", "is not valid JSON at line %d, column %d: %s",
			line, col, strings.TrimPrefix(se.Error(), "json: "))
	}
	if located := locateDecodeError(body, v); located != nil {
		return located
	}
	return invalidField("(body)", "does not fit this request; see the API's documentation for its fields")
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(body []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(body)))
	line, col := 1, 1
	for _, c := range body[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// CheckParams checks the request's route parameters and query parameters
// (names and values) against the text rules, and refuses a query string
// that does not parse. The error names the parameter.
func CheckParams(r *http.Request) error {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		for i, name := range rc.URLParams.Keys {
			if i < len(rc.URLParams.Values) && name != "*" {
				if err := CheckText(name, rc.URLParams.Values[i], false); err != nil {
					return err
				}
			}
		}
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return invalidField("(query)", "is not a valid query string: percent-encode each name and value")
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if p := textProblem(name, false); p != "" {
			return invalidField("(query)", "a parameter name %s", p)
		}
		for _, val := range q[name] {
			if err := CheckText(name, val, false); err != nil {
				return err
			}
		}
	}
	return nil
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
	if len(key) > 255 || textProblem(key, false) != "" {
		ve := &derrors.ValidationError{}
		ve.Add("Idempotency-Key", "at most 255 printable characters")
		return "", ve
	}
	return key, nil
}

// CheckForm checks a form post's fields by the text rules (CheckText):
// every name and value must be valid UTF-8 without control characters; the
// values of FreeTextFields may carry tab and line breaks. It parses the form
// (r.ParseForm) and is a no-op for requests without a form body. Pages call
// it before reading the form, so bad text is a 422 naming the field and
// never reaches the database.
func CheckForm(r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return invalidField("(form)", "is not a valid form: percent-encode each name and value")
	}
	names := make([]string, 0, len(r.PostForm))
	for name := range r.PostForm {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if p := textProblem(name, false); p != "" {
			return invalidField("(form)", "a field name %s", p)
		}
		free := slices.Contains(FreeTextFields, name)
		for _, val := range r.PostForm[name] {
			if err := CheckText(name, val, free); err != nil {
				return err
			}
		}
	}
	return nil
}
