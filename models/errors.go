package models

import "errors"

// Errors the package's functions wrap, so callers can tell a bad input from
// an unreachable embedding server with errors.Is.
var (
	// ErrInvalid marks input a model cannot use: empty training data,
	// mismatched lengths, NaN features, out-of-range options.
	ErrInvalid = errors.New("invalid input")
	// ErrDimension marks a vector whose length is not the one expected.
	ErrDimension = errors.New("wrong vector dimension")
	// ErrUnavailable marks an embedding server that kept failing after all
	// retries.
	ErrUnavailable = errors.New("embedding server unavailable")
)
