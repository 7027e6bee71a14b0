// Package config reads omnitriage's configuration from environment variables
// into one struct, with defaults, and validates it with messages that say
// what to fix.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/internal/jobs"
	"github.com/robfig/cron/v3"
)

// Config is everything the binary can be told through its environment.
type Config struct {
	DatabaseURL    string        // DATABASE_URL
	ListenAddr     string        // LISTEN_ADDR
	BaseURL        string        // BASE_URL: how users reach the server, for links
	LogLevel       slog.Level    // LOG_LEVEL
	LogFormat      string        // LOG_FORMAT: text or json
	ShutdownGrace  time.Duration // SHUTDOWN_GRACE
	RequestTimeout time.Duration // REQUEST_TIMEOUT
	MaxBodyBytes   int64         // MAX_BODY_BYTES
	DBMaxConns     int32         // DB_MAX_CONNS
	Workers        int           // WORKERS: River job workers; 0 runs none
	PolicyFile     string        // POLICY_FILE: rules YAML; empty uses the built-in policy
	EmbeddingURL   string        // EMBEDDING_URL: OpenAI-compatible base URL; empty uses the local embedder
	EmbeddingKey   string        // EMBEDDING_API_KEY
	EmbeddingModel string        // EMBEDDING_MODEL
	EmbeddingDim   int           // EMBEDDING_DIM
	Adapters       string        // ADAPTERS: simulator or http
	SimSeed        int64         // SIM_SEED
	SimFaults      string        // SIM_FAULTS: default or none
	AdapterURL     string        // ADAPTER_URL: base URL of the outside systems (http adapters)
	AdapterSecret  string        // ADAPTER_SECRET: HMAC secret for requests and callbacks
	TrackEvery     time.Duration // TRACK_EVERY: how often shipments and pending postings are polled, and the exception sweep runs

	TimeScale     float64       // DEMO_TIME_SCALE: divides the simulator's transit, the polling and the dwell times
	CancelWindow  time.Duration // CANCEL_WINDOW: how long an authorised order waits before release, cancellable
	PickPack      time.Duration // PICK_PACK_TIME: how long a location picks and packs a release before it ships
	RescueAfter   time.Duration // JOB_RESCUE_AFTER: a job running longer is taken as its process's death and run again
	SLAEvery      time.Duration // SLA_EVERY: how often overdue review cases are escalated
	SLAWebhookURL string        // SLA_WEBHOOK_URL: told of each escalated case, signed with ADAPTER_SECRET

	CauseLibraryFile string // CAUSE_LIBRARY_FILE: causes YAML added to (or replacing) the built-in cause library
	// Schedules of the leader's periodic jobs: a duration or a cron expression.
	HoldExpiryEvery  jobs.Schedule // HOLD_EXPIRY_EVERY: ending holds whose time is up
	TriageSweepEvery jobs.Schedule // TRIAGE_SWEEP_EVERY: triaging open cases that are due (failed, left open)
	VectorEvery      jobs.Schedule // VECTOR_EVERY: storing the vectors triage left pending
	RetrainEvery     jobs.Schedule // RETRAIN_EVERY: embedding missing history, refitting the calibration
	CallFlushEvery   time.Duration // CALL_FLUSH_EVERY: writing this process's outside-call counts
	ClusterWindow    time.Duration // CLUSTER_WINDOW: how far back a clustering run reads exceptions
	ClusterSchedule  string        // CLUSTER_SCHEDULE: cron expression of the leader's full clustering run
	// SLA alerts (triage.Alerter).
	AlertEvery         time.Duration // ALERT_EVERY: how often the policy's process targets are checked
	AlertWebhookURL    string        // ALERT_WEBHOOK_URL: told once when an alert fires and once when it resolves
	AlertWebhookSecret string        // ALERT_WEBHOOK_SECRET: signs the alert messages; ADAPTER_SECRET when unset
	// The optional machine-written cluster summaries: off without LLMURL.
	LLMURL        string        // LLM_URL: OpenAI-compatible base URL (…/v1) of a chat model
	LLMModel      string        // LLM_MODEL: the chat model's name; required with LLM_URL
	LLMKey        string        // LLM_API_KEY
	LLMTimeout    time.Duration // LLM_TIMEOUT: how long one summary may take the model
	LLMSummaryTop int           // LLM_SUMMARY_TOP: clusters of most impact a full run has summarised; 0 only on request
}

// MaxLLMTimeout is the longest LLM_TIMEOUT: the summary job (the model's
// time plus reading and storing) stays within MaxJobTimeout.
const MaxLLMTimeout = 45 * time.Second

// MaxJobTimeout is the longest any background job may run (the
// orchestration workers' Timeout); JOB_RESCUE_AFTER must exceed it.
const MaxJobTimeout = time.Minute

// Var documents one environment variable: the README's table is made from these.
type Var struct {
	Name, Default, Doc string
}

// Vars lists every variable Load reads, with its default and meaning.
var Vars = []Var{
	{"DATABASE_URL", "", "PostgreSQL URL (postgres://user:pass@host:port/db). Required by serve and migrate; `make run` sets it to the local cluster."},
	{"LISTEN_ADDR", ":8080", "host:port the HTTP server listens on."},
	{"BASE_URL", "", "how people and orchestrators reach the server, used in links such as case URLs; default http://localhost:PORT from LISTEN_ADDR."},
	{"LOG_LEVEL", "info", "debug, info, warn or error."},
	{"LOG_FORMAT", "text", "text or json."},
	{"SHUTDOWN_GRACE", "15s", "how long in-flight requests and jobs may run after SIGINT/SIGTERM."},
	{"REQUEST_TIMEOUT", "30s", "per-request deadline."},
	{"MAX_BODY_BYTES", "1048576", "largest accepted request body in bytes."},
	{"DB_MAX_CONNS", "8", "database pool size; 4–8 suits a 2-core machine."},
	{"WORKERS", "4", "background job workers in this process; 0 runs none (API only)."},
	{"POLICY_FILE", "", "rules YAML (sourcing, decision thresholds, limits); empty uses the built-in policy."},
	{"EMBEDDING_URL", "", "OpenAI-compatible embeddings base URL; empty uses the local embedder."},
	{"EMBEDDING_API_KEY", "", "API key for EMBEDDING_URL."},
	{"EMBEDDING_MODEL", "", "embedding model name at EMBEDDING_URL."},
	{"EMBEDDING_DIM", "384", "embedding dimension."},
	{"ADAPTERS", "simulator", "outside systems (payment, fraud, tax, WMS, carrier, ERP, notifications): simulator (built in, deterministic) or http."},
	{"SIM_SEED", "1", "seed of the built-in simulator."},
	{"SIM_FAULTS", "default", "simulator fault rates: default (declines, timeouts, rejections, delays) or none."},
	{"ADAPTER_URL", "", "with ADAPTERS=http: base URL of the outside systems; each system's paths are appended (paths in orchestration/adapter/doc.go)."},
	{"ADAPTER_SECRET", "", "HMAC-SHA256 secret that signs requests to outside systems and verifies their callbacks."},
	{"TRACK_EVERY", "30m", "how often shipments in transit and pending ERP postings are polled, and the sweep for stale inventory and uncollected pickups runs."},
	{"DEMO_TIME_SCALE", "1", "speeds the world up for a demo: the simulator's carrier transit and ERP delays, TRACK_EVERY, CANCEL_WINDOW and PICK_PACK_TIME are divided by it (`make run` uses 2880: a day in 30 seconds, capture to delivered in under a minute). 1 is real time."},
	{"CANCEL_WINDOW", "1h", "how long an authorised order waits before it is released to its locations: the customer's window to cancel."},
	{"PICK_PACK_TIME", "2h", "how long a location takes to pick and pack released lines before the carrier is booked."},
	{"JOB_RESCUE_AFTER", "90s", "a job still running after this long is taken to have died with its process (kill -9, crash) and is run again; must exceed the longest job timeout (60s)."},
	{"SLA_EVERY", "1m", "how often the SLA job escalates review cases past their first-response target (River's leader runs it)."},
	{"SLA_WEBHOOK_URL", "", "when set, POSTed a signed JSON event (HMAC with ADAPTER_SECRET, as the adapters sign) once per escalated review case."},
	{"CAUSE_LIBRARY_FILE", "", "cause library YAML (the shape of triage/causes.yaml) whose causes are added to the built-in library, replacing any with the same code; checked at start."},
	{"HOLD_EXPIRY_EVERY", "15s", "when the leader's job ends the holds whose time is up: a duration (run at its multiples) or a cron expression such as `*/5 * * * *`."},
	{"TRIAGE_SWEEP_EVERY", "5s", "when the leader's job triages the open cases that are due (a failed triage's retry, a report left open); new exceptions are triaged at once, by a job raised with them. A duration or a cron expression."},
	{"VECTOR_EVERY", "1s", "when the leader's job stores the vectors triage left pending, paced so it takes at most about a quarter of a core. A duration or a cron expression."},
	{"RETRAIN_EVERY", "10m", "when the leader's job embeds the history the embedding model has no vectors for and refits the classifier's calibration if reviews added examples; each worker process reloads the newest calibration as often. A duration or a cron expression."},
	{"CALL_FLUSH_EVERY", "5s", "how often each process writes its counts of outside-system calls (the API failure rate of GET /v1/metrics/process)."},
	{"CLUSTER_WINDOW", "336h", "how far back a root-cause clustering run reads exceptions (336h: 14 days)."},
	{"CLUSTER_SCHEDULE", "@hourly", "cron expression (five fields, or @hourly, @every 30m) of the full clustering run River's leader makes; `omnitriage cluster` and the /clusters page run one on demand."},
	{"ALERT_EVERY", "1m", "how often River's leader checks the policy's process targets (sla.alerts: review time, ERP posting lag, promise adherence, endpoint failure rate)."},
	{"ALERT_WEBHOOK_URL", "", "when set, POSTed a signed JSON message once when an SLA alert fires and once when it resolves (HMAC-SHA256 as the adapters sign)."},
	{"ALERT_WEBHOOK_SECRET", "", "HMAC-SHA256 secret of the alert messages; ADAPTER_SECRET when unset."},
	{"LLM_URL", "", "OpenAI-compatible base URL (ending in /v1) of a chat model that writes the optional one-paragraph summary of a root-cause cluster; empty: no summaries, the cluster pages show the template and breakdowns."},
	{"LLM_MODEL", "", "the chat model's name at LLM_URL; required with LLM_URL. Stored with each summary."},
	{"LLM_API_KEY", "", "API key for LLM_URL (sent as a bearer token); local servers may need none."},
	{"LLM_TIMEOUT", "30s", "how long the model may take to write one summary before the attempt counts as failed (at most 45s)."},
	{"LLM_SUMMARY_TOP", "10", "after each full clustering run, how many clusters of most impact get a summary written when theirs is missing or out of date; 0 writes them only when an engineer asks."},
}

// Load reads the configuration from getenv (os.Getenv when nil) and validates it.
// The error lists every problem found, each saying what to set.
func Load(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, getenv(name), fmt.Sprintf(format, args...)))
	}
	dur := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "want a positive duration such as 15s or 2m")
		}
		return d
	}
	num := func(name string, min, max int64) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil || n < min || n > max {
			bad(name, "want a whole number from %d to %d", min, max)
		}
		return n
	}

	c := Config{
		DatabaseURL:    get("DATABASE_URL"),
		ListenAddr:     get("LISTEN_ADDR"),
		BaseURL:        strings.TrimRight(get("BASE_URL"), "/"),
		LogFormat:      get("LOG_FORMAT"),
		ShutdownGrace:  dur("SHUTDOWN_GRACE"),
		RequestTimeout: dur("REQUEST_TIMEOUT"),
		MaxBodyBytes:   num("MAX_BODY_BYTES", 1024, 64<<20),
		DBMaxConns:     int32(num("DB_MAX_CONNS", 1, 1000)),
		Workers:        int(num("WORKERS", 0, 1000)),
		PolicyFile:     get("POLICY_FILE"),
		EmbeddingURL:   get("EMBEDDING_URL"),
		EmbeddingKey:   get("EMBEDDING_API_KEY"),
		EmbeddingModel: get("EMBEDDING_MODEL"),
		EmbeddingDim:   int(num("EMBEDDING_DIM", 8, 8192)),
		Adapters:       get("ADAPTERS"),
		SimSeed:        num("SIM_SEED", 0, 1<<62),
		SimFaults:      get("SIM_FAULTS"),
		AdapterURL:     strings.TrimRight(get("ADAPTER_URL"), "/"),
		AdapterSecret:  get("ADAPTER_SECRET"),
		TrackEvery:     dur("TRACK_EVERY"),
		CancelWindow:   dur("CANCEL_WINDOW"),
		PickPack:       dur("PICK_PACK_TIME"),
		RescueAfter:    dur("JOB_RESCUE_AFTER"),
		SLAEvery:       dur("SLA_EVERY"),
		SLAWebhookURL:  get("SLA_WEBHOOK_URL"),

		CauseLibraryFile: get("CAUSE_LIBRARY_FILE"),
		ClusterWindow:    dur("CLUSTER_WINDOW"),
		ClusterSchedule:  get("CLUSTER_SCHEDULE"),
	}
	if _, err := cron.ParseStandard(c.ClusterSchedule); err != nil {
		bad("CLUSTER_SCHEDULE", "want a cron expression such as \"0 * * * *\", @hourly or \"@every 30m\": %v", err)
	}
	sched := func(name string) jobs.Schedule {
		s, err := jobs.Parse(get(name))
		if err != nil {
			bad(name, "want a duration such as 15s or a cron expression such as */5 * * * *")
		}
		return s
	}
	c.HoldExpiryEvery, c.TriageSweepEvery = sched("HOLD_EXPIRY_EVERY"), sched("TRIAGE_SWEEP_EVERY")
	c.VectorEvery, c.RetrainEvery = sched("VECTOR_EVERY"), sched("RETRAIN_EVERY")
	c.CallFlushEvery = dur("CALL_FLUSH_EVERY")
	if f, err := strconv.ParseFloat(get("DEMO_TIME_SCALE"), 64); err != nil || !(f >= 1 && f <= 1e6) {
		bad("DEMO_TIME_SCALE", "want a number from 1 (real time) to 1000000, such as 2880 (a day in 30 seconds)")
	} else {
		c.TimeScale = f
	}
	if c.RescueAfter > 0 && c.RescueAfter <= MaxJobTimeout {
		bad("JOB_RESCUE_AFTER", "want more than the longest job timeout, %s", MaxJobTimeout)
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		bad("LOG_LEVEL", "want debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "want text or json")
	}
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil || port == "" {
		bad("LISTEN_ADDR", "want host:port such as :8080 or 127.0.0.1:8080")
	} else if c.BaseURL == "" {
		c.BaseURL = "http://localhost:" + port
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("DATABASE_URL", "want a postgres:// URL")
	}
	if c.Adapters != "simulator" && c.Adapters != "http" {
		bad("ADAPTERS", "want simulator or http")
	}
	if c.Adapters == "http" && c.AdapterURL == "" {
		bad("ADAPTER_URL", "set the outside systems' base URL when ADAPTERS=http")
	}
	if c.SimFaults != "default" && c.SimFaults != "none" {
		bad("SIM_FAULTS", "want default or none")
	}
	if c.EmbeddingURL != "" && c.EmbeddingModel == "" {
		bad("EMBEDDING_MODEL", "set the model name when EMBEDDING_URL is set")
	}
	c.AlertEvery, c.AlertWebhookURL, c.AlertWebhookSecret = dur("ALERT_EVERY"), get("ALERT_WEBHOOK_URL"), get("ALERT_WEBHOOK_SECRET")
	if c.AlertWebhookSecret == "" {
		c.AlertWebhookSecret = c.AdapterSecret
	}
	if u, err := url.Parse(c.AlertWebhookURL); c.AlertWebhookURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("ALERT_WEBHOOK_URL", "want an http:// or https:// URL")
	} else if c.AlertWebhookURL != "" && c.AlertWebhookSecret == "" {
		bad("ALERT_WEBHOOK_SECRET", "set a secret to sign the alert messages with (or ADAPTER_SECRET) when ALERT_WEBHOOK_URL is set")
	}
	c.LLMURL, c.LLMModel, c.LLMKey = strings.TrimRight(get("LLM_URL"), "/"), get("LLM_MODEL"), get("LLM_API_KEY")
	c.LLMTimeout, c.LLMSummaryTop = dur("LLM_TIMEOUT"), int(num("LLM_SUMMARY_TOP", 0, 100))
	if c.LLMTimeout > MaxLLMTimeout {
		bad("LLM_TIMEOUT", "want at most %s: the summary job must end within the longest job timeout, %s", MaxLLMTimeout, MaxJobTimeout)
	}
	if u, err := url.Parse(c.LLMURL); c.LLMURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("LLM_URL", "want the http:// or https:// base URL of an OpenAI-compatible server, such as http://127.0.0.1:11434/v1")
	} else if c.LLMURL != "" && c.LLMModel == "" {
		bad("LLM_MODEL", "set the chat model's name when LLM_URL is set")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// RequireDatabase reports a helpful error when no database is configured.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set: set it to a PostgreSQL URL with pgvector, or use `make run`, which starts a local database and sets it")
	}
	return nil
}

// Logger builds the process logger the configuration asks for.
func (c Config) Logger(w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
