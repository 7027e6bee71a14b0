package triage

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration"
)

// ExceptionRequest is the one request shape of an exception an outside
// system reports, on POST /v1/exceptions and, with a mode, on POST
// /v1/recommendations: the exception in the canonical model and,
// optionally, what omnitriage does not know about its order.
type ExceptionRequest struct {
	Exception orchestration.Exception `json:"exception"`
	Context   *RecommendContext       `json:"context,omitempty"`
}

// exceptionRequest is the request's exception part, for the decoder.
func (r *ExceptionRequest) exceptionRequest() *ExceptionRequest { return r }

// exceptionRequester is a request body holding an ExceptionRequest.
type exceptionRequester interface{ exceptionRequest() *ExceptionRequest }

// legacyReport is the form POST /v1/exceptions took before ExceptionRequest:
// the exception's fields at the top level, beside context. It is still
// accepted there.
type legacyReport struct {
	orchestration.Exception
	Context *RecommendContext `json:"context,omitempty"`
}

// validate names each bad field: the exception's under "exception." (at the
// top level when flat, for the legacy form), the context's under
// "context.".
func (r *ExceptionRequest) validate(v *derrors.ValidationError, flat bool) {
	prefix := "exception."
	if flat {
		prefix = ""
	}
	if err := r.Exception.Validate(); err != nil {
		var ve *derrors.ValidationError
		if !errors.As(err, &ve) {
			v.Add(prefix+"(exception)", "%s", err)
		} else {
			for _, f := range ve.Fields {
				v.Add(prefix+f.Field, "%s", f.Reason)
			}
		}
	}
	if r.Context != nil {
		r.Context.validate(v, "context.")
	}
}

// decodeExceptionRequest is the one decoder of a reported exception: it
// reads body into dst ({"exception": …, "context": …} and the route's own
// fields); validate then checks the exception part. With legacy, a body
// without "exception" is read in the legacy form of POST /v1/exceptions,
// the exception's fields at the top level, and flat says so.
func decodeExceptionRequest(body []byte, dst exceptionRequester, legacy bool) (flat bool, err error) {
	if legacy && isLegacyReport(body) {
		var old legacyReport
		if err := web.DecodeBytes(body, &old); err != nil {
			return true, unembed(err, "Exception.")
		}
		req := dst.exceptionRequest()
		req.Exception, req.Context = old.Exception, old.Context
		return true, nil
	}
	if err := web.DecodeBytes(body, dst); err != nil {
		return false, unembed(err, "ExceptionRequest.")
	}
	return false, nil
}

// isLegacyReport reports whether body is a JSON object without the
// "exception" member; anything else is read as an ExceptionRequest, whose
// decoder explains what is wrong with it.
func isLegacyReport(body []byte) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) && !bytes.Contains(body, []byte(`"exception"`))
	}
	_, nested := top["exception"]
	return !nested
}
