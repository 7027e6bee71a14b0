// Package models holds omnitriage's learned models as plain Go: text
// embedders (a deterministic local one and an OpenAI-compatible client),
// the kNN vote classifier and its in-memory index, logistic-regression risk
// models with calibration, and the metrics used to evaluate all of them.
//
// The package never touches the database and makes no HTTP calls except
// through the OpenAI-compatible embedding client. It imports nothing else
// from omnitriage, so triage code and the eval commands share exactly the
// same arithmetic.
package models
