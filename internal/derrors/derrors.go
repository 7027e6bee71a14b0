// Package derrors defines the few kinds of error omnitriage distinguishes, and
// the one table that maps each kind to an HTTP status.
//
// Store and service code wraps its errors with one of these sentinels
// (fmt.Errorf("…: %w", derrors.NotFound)); the web layer asks errors.Is and
// renders the matching status. Anything else is an internal error.
package derrors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The error kinds. Wrap them with %w; compare with errors.Is.
var (
	// Invalid means the caller sent something malformed or out of range.
	Invalid = errors.New("invalid")
	// NotFound means the thing asked for does not exist.
	NotFound = errors.New("not found")
	// Conflict means the request clashes with the current state
	// (a duplicate, a stale version, a reused idempotency key).
	Conflict = errors.New("conflict")
	// Unauthorized means no valid credentials were presented.
	Unauthorized = errors.New("unauthorized")
	// Forbidden means the credentials are valid but lack the right.
	Forbidden = errors.New("forbidden")
	// Unavailable means a dependency is down; the caller may retry.
	Unavailable = errors.New("unavailable")
	// TooLarge means the request body exceeds the limit.
	TooLarge = errors.New("too large")
	// MethodNotAllowed means the route exists but not for this method.
	MethodNotAllowed = errors.New("method not allowed")
)

// kinds is the one table from error kind to HTTP status, in match order.
var kinds = []struct {
	err    error
	status int
}{
	{Invalid, http.StatusUnprocessableEntity},
	{NotFound, http.StatusNotFound},
	{Conflict, http.StatusConflict},
	{Unauthorized, http.StatusUnauthorized},
	{Forbidden, http.StatusForbidden},
	{Unavailable, http.StatusServiceUnavailable},
	{TooLarge, http.StatusRequestEntityTooLarge},
	{MethodNotAllowed, http.StatusMethodNotAllowed},
	// A request that ran out of time: the client may retry.
	{context.DeadlineExceeded, http.StatusServiceUnavailable},
}

// Status returns the HTTP status for err: the status of the first kind it
// wraps, or 500 for anything else.
func Status(err error) int {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// Wrap adds context to *errp when it is non-nil, keeping the chain for
// errors.Is. Use it deferred at the top of a function:
//
//	defer derrors.Wrap(&err, "GetOrder(ctx, %q)", id)
//
// The context is for logs: Plain leaves it out of what a person is shown.
func Wrap(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = &frame{context: fmt.Sprintf(format, args...), err: *errp}
	}
}

// Frame returns err with the call's context added, as Wrap does; nil for nil.
func Frame(err error, format string, args ...any) error {
	Wrap(&err, format, args...)
	return err
}

// frame is an error with the context of the call it passed through (a Go
// function and its arguments), which logs show and people are not shown.
type frame struct {
	context string
	err     error
}

func (f *frame) Error() string { return f.context + ": " + f.err.Error() }
func (f *frame) Unwrap() error { return f.err }

// Plain is err as a person should read it: the messages of its chain without
// the call context Wrap added (no Go function names) and without the kind's
// own word at the end ("…: not found").
func Plain(err error) string {
	if err == nil {
		return ""
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	if msg := plain(err); msg != "" {
		return msg
	}
	for _, k := range kinds { // nothing but call frames around a kind
		if errors.Is(err, k.err) {
			return k.err.Error()
		}
	}
	return "error"
}

func plain(err error) string {
	if f, ok := err.(*frame); ok {
		return plain(f.err)
	}
	for _, k := range kinds {
		if err == k.err {
			return ""
		}
	}
	inner := errors.Unwrap(err)
	if inner == nil {
		return err.Error()
	}
	msg, innerMsg := err.Error(), inner.Error()
	prefix, ok := strings.CutSuffix(msg, ": "+innerMsg)
	if !ok {
		return msg
	}
	if rest := plain(inner); rest != "" {
		return prefix + ": " + rest
	}
	return prefix
}

// FieldError names one bad field of a request and says what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ValidationError collects the bad fields of one request. It wraps Invalid,
// or Kind when set (e.g. Conflict for a field that clashes with what is
// stored).
type ValidationError struct {
	Fields []FieldError
	Kind   error
}

// Add records a bad field.
func (v *ValidationError) Add(field, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Err returns v when it holds any field, else nil.
func (v *ValidationError) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

// Error lists the bad fields.
func (v *ValidationError) Error() string {
	if len(v.Fields) == 1 {
		return fmt.Sprintf("invalid %s: %s", v.Fields[0].Field, v.Fields[0].Reason)
	}
	return fmt.Sprintf("%d invalid fields, first %s: %s", len(v.Fields), v.Fields[0].Field, v.Fields[0].Reason)
}

// Unwrap makes a ValidationError an Invalid error, or its Kind.
func (v *ValidationError) Unwrap() error {
	if v.Kind != nil {
		return v.Kind
	}
	return Invalid
}
