package main

import "github.com/omnitriage/omnitriage/internal/derrors"

// userMessage is err as the person at the terminal reads it: its messages
// without the Go call frames derrors.Wrap adds for logs (serve's log lines
// keep them).
func userMessage(err error) string { return derrors.Plain(err) }
