package triage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// AlertEvaluateArgs is the periodic job that evaluates the SLA alerts.
type AlertEvaluateArgs struct{}

// Kind names the job for River.
func (AlertEvaluateArgs) Kind() string { return "sla_alert_evaluate" }

// AlertDeliverArgs is the job that POSTs one alert message (the alert's
// firing or its resolution) to the webhook. It is enqueued once, with the
// move it announces; River retries it until the webhook answers 2xx.
type AlertDeliverArgs struct {
	AlertID int64  `json:"alert_id"`
	State   string `json:"state"` // firing or resolved
}

// Kind names the job for River.
func (AlertDeliverArgs) Kind() string { return "sla_alert_deliver" }

// alertDeliverAttempts is how often River tries one delivery (about a day
// of exponential back-off) before giving up.
const alertDeliverAttempts = 20

// AlertConfig configures the SLA alert jobs.
type AlertConfig struct {
	// Every is how often River's leader evaluates; 0 means every minute.
	Every time.Duration
	// WebhookURL, when set, is POSTed an AlertEvent when an alert fires and
	// when it resolves, signed like the adapters' requests (adapter.Sign)
	// with Secret.
	WebhookURL string
	Secret     []byte
	// Client sends the webhook; nil means one with a 10 s timeout.
	Client *http.Client
}

// Alerter runs the SLA alert jobs.
type Alerter struct {
	s   *Service
	cfg AlertConfig
}

// NewAlerter returns the SLA alert jobs over s.
func NewAlerter(s *Service, cfg AlertConfig) *Alerter {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Alerter{s: s, cfg: cfg}
}

// RegisterWorkers adds the evaluation and delivery workers.
func (a *Alerter) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &alertEvaluateWorker{a: a})
	river.AddWorker(w, &alertDeliverWorker{a: a})
}

// PeriodicJobs lists the evaluation, run by River's leader every Every and
// once at start.
func (a *Alerter) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(a.cfg.Every),
			func() (river.JobArgs, *river.InsertOpts) { return AlertEvaluateArgs{}, nil },
			&river.PeriodicJobOpts{ID: AlertEvaluateArgs{}.Kind(), RunOnStart: true}),
	}
}

// Evaluate moves the alerts (Service.EvaluateAlerts), enqueueing their
// deliveries when a webhook is configured.
func (a *Alerter) Evaluate(ctx context.Context) (fired, resolved []Alert, err error) {
	fired, resolved, err = a.s.EvaluateAlerts(ctx, a.cfg.WebhookURL != "")
	for _, al := range fired {
		a.s.log.Warn("sla alert firing", "alert", al.ID, "figure", al.Figure, "subject", al.Subject, "value", al.Value, "target", al.Target)
	}
	for _, al := range resolved {
		a.s.log.Info("sla alert resolved", "alert", al.ID, "figure", al.Figure, "subject", al.Subject, "value", al.LastValue)
	}
	return fired, resolved, err
}

type alertEvaluateWorker struct {
	river.WorkerDefaults[AlertEvaluateArgs]
	a *Alerter
}

// Work evaluates the alerts.
func (w *alertEvaluateWorker) Work(ctx context.Context, _ *river.Job[AlertEvaluateArgs]) error {
	_, _, err := w.a.Evaluate(ctx)
	return err
}

type alertDeliverWorker struct {
	river.WorkerDefaults[AlertDeliverArgs]
	a *Alerter
}

// Work delivers one message.
func (w *alertDeliverWorker) Work(ctx context.Context, job *river.Job[AlertDeliverArgs]) error {
	err := w.a.Deliver(ctx, job.Args.AlertID, job.Args.State)
	if errors.Is(err, errFireFirst) {
		return river.JobSnooze(5 * time.Second)
	}
	return err
}

// errFireFirst means a resolve message waits for its firing message.
var errFireFirst = errors.New("the firing message is not delivered yet")

// AlertEvent is the webhook's body.
type AlertEvent struct {
	Event         string     `json:"event"` // "alert.firing" or "alert.resolved"
	AlertID       int64      `json:"alert_id"`
	Figure        string     `json:"figure"`
	Subject       string     `json:"subject"`
	State         string     `json:"state"`
	Value         float64    `json:"value"` // the figure: when it fired, or when it resolved
	Target        float64    `json:"target"`
	Comparison    string     `json:"comparison"`
	Unit          string     `json:"unit"`
	PolicyVersion string     `json:"policy_version"`
	StartedAt     time.Time  `json:"started_at"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	URL           string     `json:"url"`
}

// Deliver POSTs the message announcing that alert id reached state, once:
// a message the webhook acknowledged (2xx) is recorded and never sent
// again; a failed one returns the error for River to retry, with the same
// Idempotency-Key (alert-<id>-<state>). A resolution waits until the firing
// message went out (errFireFirst). Without a webhook it does nothing.
func (a *Alerter) Deliver(ctx context.Context, id int64, state string) (err error) {
	defer derrors.Wrap(&err, "Alerter.Deliver(%d, %s)", id, state)
	if a.cfg.WebhookURL == "" {
		return nil
	}
	al, err := a.s.getAlert(ctx, id)
	if err != nil {
		return err
	}
	ev := AlertEvent{Event: "alert." + state, AlertID: al.ID, Figure: al.Figure, Subject: al.Subject, State: state,
		Value: al.Value, Target: al.Target, Comparison: al.Comparison, Unit: al.Unit, PolicyVersion: al.PolicyVersion,
		StartedAt: al.StartedAt, URL: a.s.baseURL + "/v1/alerts"}
	switch state {
	case AlertFiring:
		if al.FireSentAt != nil {
			return nil
		}
	case AlertResolved:
		if al.ResolveSentAt != nil {
			return nil
		}
		if al.ResolvedAt == nil {
			return fmt.Errorf("alert %d is not resolved: %w", id, derrors.Conflict)
		}
		if al.FireSentAt == nil {
			return errFireFirst
		}
		ev.Value, ev.ResolvedAt = al.LastValue, al.ResolvedAt
	default:
		return fmt.Errorf("state %q: %w", state, derrors.Invalid)
	}
	if err := a.post(ctx, ev); err != nil {
		return err
	}
	col := "fire_sent_at"
	if state == AlertResolved {
		col = "resolve_sent_at"
	}
	_, err = a.s.pool.Exec(ctx, `UPDATE alerts SET `+col+` = $2 WHERE id = $1 AND `+col+` IS NULL`, id, a.s.now())
	return err
}

func (a *Alerter) post(ctx context.Context, ev AlertEvent) error {
	w := webhook{name: "ALERT_WEBHOOK_URL", url: a.cfg.WebhookURL, secret: a.cfg.Secret, client: a.cfg.Client}
	return w.post(ctx, a.s.now(), fmt.Sprintf("alert-%d-%s", ev.AlertID, ev.State), ev)
}
