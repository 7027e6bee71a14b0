package triage

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/jobs"
)

// EscalateArgs is the SLA job: escalate the review cases past their SLA
// and tell the webhook about them.
type EscalateArgs struct{}

// Kind names the job for River.
func (EscalateArgs) Kind() string { return "review_sla_escalate" }

// escalateBatch bounds the cases one run escalates and notifies; the next
// run goes on where it stopped.
const escalateBatch = 500

// EscalationConfig configures the SLA job.
type EscalationConfig struct {
	// Every is how often the leader runs it; 0 means every minute.
	Every time.Duration
	// WebhookURL, when set, is POSTed a JSON event for each escalated case,
	// signed like the adapters' requests (adapter.Sign) with Secret.
	WebhookURL string
	Secret     []byte
	// Client sends the webhook; nil means one with a 10 s timeout.
	Client *http.Client
}

// Escalator runs the SLA job on River's leader.
type Escalator struct {
	s   *Service
	cfg EscalationConfig
}

// NewEscalator returns the SLA job over s.
func NewEscalator(s *Service, cfg EscalationConfig) *Escalator {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Escalator{s: s, cfg: cfg}
}

// RegisterWorkers adds the SLA job's worker.
func (e *Escalator) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &escalateWorker{e: e})
}

// PeriodicJobs lists the job River's leader runs on a schedule: the SLA
// job, every Every and once at start.
func (e *Escalator) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		jobs.Periodic(jobs.Every(e.cfg.Every), EscalateArgs{}),
	}
}

type escalateWorker struct {
	river.WorkerDefaults[EscalateArgs]
	e *Escalator
}

// Work escalates and notifies.
func (w *escalateWorker) Work(ctx context.Context, job *river.Job[EscalateArgs]) error {
	n, err := w.e.s.EscalateOverdue(ctx, escalateBatch)
	if err != nil {
		return err
	}
	sent, err := w.e.Notify(ctx, escalateBatch)
	if n+sent > 0 {
		w.e.s.log.Info("sla job", "escalated", n, "notified", sent)
	}
	return err
}

// EscalateOverdue marks up to limit review cases past their SLA as
// escalated, which raises their priority in the queue. Each case is
// escalated once. It returns how many it escalated.
func (s *Service) EscalateOverdue(ctx context.Context, limit int) (n int, err error) {
	defer derrors.Wrap(&err, "EscalateOverdue")
	if err := s.syncQueueTargets(ctx); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE cases c SET escalation_level = c.escalation_level + 1, escalated_at = $1
		FROM (SELECT case_id FROM review_queue WHERE due_at < $1 AND escalation_level = 0 ORDER BY due_at LIMIT $2) d
		WHERE c.id = d.case_id AND c.status = 'queued_for_review' AND c.escalation_level = 0`, s.now(), limit)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// EscalationEvent is the webhook's body for an escalated case.
type EscalationEvent struct {
	Event       string    `json:"event"` // "case.overdue"
	CaseID      uuid.UUID `json:"case_id"`
	URL         string    `json:"url"`
	Kind        string    `json:"kind"`
	Severity    string    `json:"severity"`
	Cause       string    `json:"cause,omitempty"`
	EscalatedAt time.Time `json:"escalated_at"`
}

// Notify POSTs an EscalationEvent for each escalated case still waiting
// for a person that the webhook has not acknowledged yet (up to limit),
// and records each 2xx answer so a case is announced once. A refused or
// failed delivery is tried again on the next run, with the same
// Idempotency-Key. Without a webhook it does nothing.
func (e *Escalator) Notify(ctx context.Context, limit int) (sent int, err error) {
	defer derrors.Wrap(&err, "Escalator.Notify")
	if e.cfg.WebhookURL == "" {
		return 0, nil
	}
	s := e.s
	rows, err := s.pool.Query(ctx, `
		SELECT id, kind, severity, coalesce(cause, ''), escalated_at FROM cases
		WHERE status = 'queued_for_review' AND escalated_at IS NOT NULL AND escalation_notified_at IS NULL
		ORDER BY escalated_at, id LIMIT $1`, limit)
	if err != nil {
		return 0, err
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EscalationEvent, error) {
		ev := EscalationEvent{Event: "case.overdue"}
		err := r.Scan(&ev.CaseID, &ev.Kind, &ev.Severity, &ev.Cause, &ev.EscalatedAt)
		ev.URL = s.CaseURL(ev.CaseID)
		return ev, err
	})
	if err != nil {
		return 0, err
	}
	var firstErr error
	for _, ev := range events {
		if err := e.post(ctx, ev); err != nil {
			s.log.Warn("sla webhook", "case", ev.CaseID, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if _, err := s.pool.Exec(ctx, `UPDATE cases SET escalation_notified_at = $2 WHERE id = $1`, ev.CaseID, s.now()); err != nil {
			return sent, err
		}
		sent++
	}
	if firstErr != nil {
		return sent, fmt.Errorf("%d of %d deliveries failed, retried next run: %w", len(events)-sent, len(events), firstErr)
	}
	return sent, nil
}

func (e *Escalator) post(ctx context.Context, ev EscalationEvent) error {
	w := webhook{name: "SLA_WEBHOOK_URL", url: e.cfg.WebhookURL, secret: e.cfg.Secret, client: e.cfg.Client}
	return w.post(ctx, e.s.now(), "case-overdue-"+ev.CaseID.String(), ev)
}
