package main

import (
	"context"
	"strings"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// initReview builds the review pages over the app's services. Their routes
// are mounted on the main router, outside /v1, so BASE_URL's case links
// (/review/cases/{id}) land on them.
func (a *app) initReview(ctx context.Context, tri *triage.Service) error {
	rev, err := review.New(ctx, review.Config{
		Pool: a.pool, Triage: tri, Orch: a.orch, Log: a.log, BaseURL: a.cfg.BaseURL, Clusters: a.clusters,
		Policy: func() *rules.Policy { return a.policy },
		Secure: strings.HasPrefix(a.cfg.BaseURL, "https://"),
	})
	if err != nil {
		return err
	}
	a.review = rev
	return nil
}
