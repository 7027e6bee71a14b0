package triage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/triage/cluster"
)

// ClusterConfig configures root-cause clustering.
type ClusterConfig struct {
	// Window is how far back a full run reads exceptions; 0 means 14 days.
	Window time.Duration
	// WebhookURL, when set, is POSTed a signed JSON event once for each
	// fixed cluster that recurs (the SLA webhook), signed with Secret as
	// the adapters sign.
	WebhookURL string
	Secret     []byte
	// Client sends the webhook; nil means one with a 10 s timeout.
	Client *http.Client
	// Writer, when set (LLM_URL), writes each cluster's optional summary.
	Writer SummaryWriter
	// SummaryTop is how many clusters of most impact a full run has
	// summarised when their summary is missing or stale; 0 means 10,
	// negative none (only on request).
	SummaryTop int
	// SummaryTimeout is the Writer's timeout, which bounds the summary
	// job; 0 means 30 s.
	SummaryTimeout time.Duration
}

// DefaultClusterWindow is the window of a run when ClusterConfig.Window is 0.
const DefaultClusterWindow = 14 * 24 * time.Hour

// clusterLock is the advisory lock key that keeps full runs one at a time
// across every process on the database.
const clusterLock = 0x636c7573 // "clus"

// indexMaxAge is how long an instance trusts its assignment index before
// it checks for a newer run (one made by another instance).
const indexMaxAge = time.Minute

// Clusterer groups recent exceptions into root-cause clusters with stable
// ids (full runs), places each new exception in its cluster as triage
// handles it (Assign), and serves the clusters to the API and pages.
type Clusterer struct {
	s   *Service
	cfg ClusterConfig
	// The engine works on the local embedding of the masked message, as
	// `omnitriage eval cluster` does, whatever model triage classifies
	// with: a run embeds its whole window and needs no network.
	emb *models.LocalEmbedder
	run sync.Mutex // one run at a time in this process

	idx     atomic.Pointer[clusterIndex]
	loading sync.Mutex
}

// clusterIndex is the assignment index of one run's clusters.
type clusterIndex struct {
	run      int64
	ids      []int64 // cluster id of each group
	assigner *cluster.Assigner
	loadedAt time.Time
}

// NewClusterer returns the clusterer over s and attaches it to s, so that
// triage assigns each exception it handles to its cluster.
func NewClusterer(s *Service, cfg ClusterConfig) *Clusterer {
	if cfg.Window <= 0 {
		cfg.Window = DefaultClusterWindow
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.SummaryTimeout <= 0 {
		cfg.SummaryTimeout = 30 * time.Second
	}
	c := &Clusterer{s: s, cfg: cfg, emb: models.NewLocalEmbedder(models.DefaultLocalDim)}
	s.clusterer.Store(c)
	return c
}

// Window is how far back a full run reads.
func (c *Clusterer) Window() time.Duration { return c.cfg.Window }

// RunOptions say who asked for a run and where its progress goes.
type RunOptions struct {
	// Trigger is schedule, cli, page or api.
	Trigger string
	// Actor is who asked, "" for the schedule.
	Actor string
	// Progress, when set, is told each stage's progress ("reading",
	// "embedding", "clustering", "writing"), done out of total.
	Progress func(stage string, done, total int)
}

// RunSummary is what a full run did.
type RunSummary struct {
	RunID      int64 `json:"run_id"`
	Exceptions int   `json:"exceptions"`
	Clusters   int   `json:"clusters"`
	New        int   `json:"new"`
	Merges     int   `json:"merges"`
	Splits     int   `json:"splits"`
	// Summaries is how many summary jobs the run asked for (with LLM_URL).
	Summaries int           `json:"summaries"`
	Started   time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
}

// ErrRunInProgress is returned when another full run holds the lock.
var ErrRunInProgress = fmt.Errorf("a clustering run is in progress; try again when it has finished: %w", derrors.Conflict)

// windowRow is one exception of the window as a run reads it.
type windowRow struct {
	id         uuid.UUID
	key        cluster.Key
	message    string
	occurredAt time.Time
	prev       int64 // its cluster before the run, 0 for none
}

// systemOf is the outside system of an endpoint ("carrier/book" →
// "carrier"): it keeps clusters of different systems apart.
func systemOf(endpoint string) string {
	if i := strings.IndexByte(endpoint, '/'); i >= 0 {
		return endpoint[:i]
	}
	return endpoint
}

// Run makes a full clustering run over the window's exceptions: it groups
// them, matches the groups to the clusters before (so ids, status, owner
// and notes carry over), records merges and splits, rewrites the window's
// members and flags the fixed clusters that recur. Runs are one at a time
// across every process: a second one gets ErrRunInProgress.
func (c *Clusterer) Run(ctx context.Context, opt RunOptions) (sum RunSummary, err error) {
	defer derrors.Wrap(&err, "Clusterer.Run")
	progress := opt.Progress
	if progress == nil {
		progress = func(string, int, int) {}
	}
	if !c.run.TryLock() {
		return sum, ErrRunInProgress
	}
	defer c.run.Unlock()
	conn, err := c.s.pool.Acquire(ctx)
	if err != nil {
		return sum, err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, clusterLock).Scan(&locked); err != nil {
		return sum, err
	}
	if !locked {
		return sum, ErrRunInProgress
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, clusterLock)
	}()

	start := c.s.now()
	clock := time.Now() // the duration is the real time taken, whatever the injected clock says
	since := start.Add(-c.cfg.Window)
	sum.Started = start
	if err := conn.QueryRow(ctx, `INSERT INTO cluster_runs (trigger, actor, window_start, started_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		opt.Trigger, opt.Actor, since, start).Scan(&sum.RunID); err != nil {
		return sum, err
	}
	res, err := c.runLocked(ctx, conn.Conn(), sum, since, progress)
	res.Duration = time.Since(clock)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if _, uerr := conn.Exec(context.WithoutCancel(ctx), `UPDATE cluster_runs SET finished_at = $2, exceptions = $3, clusters = $4,
		created = $5, merges = $6, splits = $7, duration_ms = $8, error = $9 WHERE id = $1`,
		res.RunID, c.s.now(), res.Exceptions, res.Clusters, res.New, res.Merges, res.Splits, res.Duration.Milliseconds(), msg); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return res, err
	}
	if err := c.reload(ctx); err != nil {
		c.s.log.Warn("reloading the cluster index after a run", "err", err)
	}
	return res, nil
}

// prior is a cluster before the run.
type prior struct {
	cluster.Prior
	id int64
}

func (c *Clusterer) runLocked(ctx context.Context, conn *pgx.Conn, sum RunSummary, since time.Time,
	progress func(string, int, int)) (RunSummary, error) {
	progress("reading", 0, 1)
	rows, err := conn.Query(ctx, `
		SELECT f.id, f.kind, f.code, f.endpoint, f.message, f.occurred_at, coalesce(m.cluster_id, 0)
		FROM exception_facts f LEFT JOIN cluster_members m ON m.exception_id = f.id
		WHERE f.occurred_at >= $1 ORDER BY f.occurred_at, f.id`, since)
	if err != nil {
		return sum, err
	}
	var win []windowRow
	for rows.Next() {
		var w windowRow
		var endpoint string
		if err := rows.Scan(&w.id, &w.key.Kind, &w.key.Code, &endpoint, &w.message, &w.occurredAt, &w.prev); err != nil {
			rows.Close()
			return sum, err
		}
		w.key.System = systemOf(endpoint)
		win = append(win, w)
	}
	if err := rows.Err(); err != nil {
		return sum, err
	}
	sum.Exceptions = len(win)
	progress("reading", 1, 1)

	msgs, err := c.messages(ctx, win, progress)
	if err != nil {
		return sum, err
	}
	progress("clustering", 0, 1)
	groups := cluster.Run(msgs, cluster.DefaultConfig())
	progress("clustering", 1, 1)

	priors, err := loadPriors(ctx, conn)
	if err != nil {
		return sum, err
	}
	plain := make([]cluster.Prior, len(priors))
	for i, p := range priors {
		plain[i] = p.Prior
	}
	ids := cluster.Match(plain, groups, func(i int) string {
		if win[i].prev == 0 {
			return ""
		}
		return strconv.FormatInt(win[i].prev, 10)
	}, cluster.DefaultConfig().MergeSimilarity)
	sum.Clusters = len(groups)

	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var err error
		sum, err = c.write(ctx, tx, sum, since, win, msgs, groups, ids, priors, progress)
		return err
	})
	return sum, err
}

// messages turns the window into the engine's messages, with the local
// vector of each masked message (each distinct text embedded once).
func (c *Clusterer) messages(ctx context.Context, win []windowRow, progress func(string, int, int)) ([]cluster.Message, error) {
	msgs := make([]cluster.Message, len(win))
	slot := map[string]int{}
	var uniq []string
	which := make([]int, len(win))
	for i, w := range win {
		msgs[i] = cluster.Message{Key: w.key, Text: w.message}
		m := models.Mask(w.message)
		j, ok := slot[m]
		if !ok {
			j = len(uniq)
			slot[m] = j
			uniq = append(uniq, m)
		}
		which[i] = j
	}
	vecs := make([][]float32, 0, len(uniq))
	const chunk = 2000
	for lo := 0; lo < len(uniq); lo += chunk {
		v, err := c.emb.Embed(ctx, uniq[lo:min(lo+chunk, len(uniq))])
		if err != nil {
			return nil, err
		}
		vecs = append(vecs, v...)
		progress("embedding", len(vecs), len(uniq))
	}
	for i := range msgs {
		msgs[i].Vector = vecs[which[i]]
	}
	return msgs, nil
}

// loadPriors reads every cluster that has not merged into another: a
// cluster quiet for a while keeps its id when its exceptions come back.
func loadPriors(ctx context.Context, q querier) ([]prior, error) {
	rows, err := q.Query(ctx, `SELECT id, kind, code, system, template, coalesce(centroid, '{}') FROM clusters
		WHERE merged_into IS NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (prior, error) {
		var p prior
		err := r.Scan(&p.id, &p.Key.Kind, &p.Key.Code, &p.Key.System, &p.Template, &p.Centroid)
		p.ID = strconv.FormatInt(p.id, 10)
		if len(p.Centroid) == 0 {
			p.Centroid = nil
		}
		return p, err
	})
}

// write stores a run's result in tx.
func (c *Clusterer) write(ctx context.Context, tx pgx.Tx, sum RunSummary, since time.Time, win []windowRow, msgs []cluster.Message,
	groups []cluster.Group, ids []cluster.Identity, priors []prior, progress func(string, int, int)) (RunSummary, error) {
	now := c.s.now()
	clusterIDs := make([]int64, len(groups))
	continued := map[int64]bool{}
	b := &pgx.Batch{}
	for g, grp := range groups {
		first, last := win[grp.Members[0]].occurredAt, win[grp.Members[0]].occurredAt
		for _, i := range grp.Members {
			first, last = minTime(first, win[i].occurredAt), maxTime(last, win[i].occurredAt)
		}
		rep := win[grp.Members[len(grp.Members)-1]].message // the newest member's message
		if ids[g].ID == "" {
			b.Queue(`INSERT INTO clusters (kind, code, system, template, representative, centroid, size, first_seen, last_seen,
				created_run, last_run, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $11) RETURNING id`,
				grp.Key.Kind, grp.Key.Code, grp.Key.System, grp.TemplateString(), rep, grp.Centroid, len(grp.Members), first, last,
				sum.RunID, now)
			continue
		}
		id, err := strconv.ParseInt(ids[g].ID, 10, 64)
		if err != nil {
			return sum, err
		}
		clusterIDs[g] = id
		continued[id] = true
		b.Queue(`UPDATE clusters SET template = $2, representative = $3, centroid = $4, size = $5,
			first_seen = least(first_seen, $6), last_seen = greatest(last_seen, $7), active = true, merged_into = NULL, last_run = $8
			WHERE id = $1 RETURNING id`, id, grp.TemplateString(), rep, grp.Centroid, len(grp.Members), first, last, sum.RunID)
	}
	br := tx.SendBatch(ctx, b)
	for g := range groups {
		var id int64
		if err := br.QueryRow().Scan(&id); err != nil {
			br.Close()
			return sum, fmt.Errorf("writing cluster %d of %d: %w", g, len(groups), err)
		}
		if clusterIDs[g] == 0 {
			sum.New++
		}
		clusterIDs[g] = id
	}
	if err := br.Close(); err != nil {
		return sum, err
	}

	// Merges and splits.
	b = &pgx.Batch{}
	merged := map[int64]bool{}
	for g, id := range ids {
		if len(id.MergedFrom) > 0 {
			others := make([]int64, 0, len(id.MergedFrom))
			for _, p := range id.MergedFrom {
				o, err := strconv.ParseInt(p, 10, 64)
				if err != nil {
					return sum, err
				}
				others = append(others, o)
				merged[o] = true
			}
			b.Queue(`UPDATE clusters SET active = false, merged_into = $2 WHERE id = ANY($1)`, others, clusterIDs[g])
			b.Queue(`INSERT INTO cluster_events (run_id, kind, cluster_id, others, created_at) VALUES ($1, 'merge', $2, $3, $4)`,
				sum.RunID, clusterIDs[g], others, now)
			sum.Merges++
		}
		if id.SplitFrom != "" {
			o, err := strconv.ParseInt(id.SplitFrom, 10, 64)
			if err != nil {
				return sum, err
			}
			b.Queue(`INSERT INTO cluster_events (run_id, kind, cluster_id, others, created_at) VALUES ($1, 'split', $2, $3, $4)`,
				sum.RunID, clusterIDs[g], []int64{o}, now)
			sum.Splits++
		}
	}
	// Clusters no group continues are quiet now; they keep their id,
	// status and notes for when their exceptions come back.
	var quiet []int64
	for _, p := range priors {
		if !continued[p.id] && !merged[p.id] {
			quiet = append(quiet, p.id)
		}
	}
	b.Queue(`UPDATE clusters SET active = false, size = 0 WHERE id = ANY($1) AND active`, quiet)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return sum, err
	}

	// The window's members: upserted, so an exception assigned while the
	// run read (not in win) keeps its assignment.
	progress("writing", 0, len(win))
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE run_members (exception_id uuid, cluster_id bigint, occurred_at timestamptz) ON COMMIT DROP`); err != nil {
		return sum, err
	}
	member := make([]int64, len(win))
	for g, grp := range groups {
		for _, i := range grp.Members {
			member[i] = clusterIDs[g]
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"run_members"}, []string{"exception_id", "cluster_id", "occurred_at"},
		pgx.CopyFromSlice(len(win), func(i int) ([]any, error) {
			if i%10000 == 0 {
				progress("writing", i, len(win))
			}
			return []any{win[i].id, member[i], win[i].occurredAt}, nil
		})); err != nil {
		return sum, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO cluster_members (exception_id, cluster_id, occurred_at, run_id, assigned_at)
		SELECT r.exception_id, r.cluster_id, r.occurred_at, $1, $2 FROM run_members r
		LEFT JOIN cluster_members m ON m.exception_id = r.exception_id
		WHERE m.cluster_id IS DISTINCT FROM r.cluster_id -- unchanged members are not written again
		ON CONFLICT (exception_id) DO UPDATE SET cluster_id = excluded.cluster_id, run_id = excluded.run_id, assigned_at = excluded.assigned_at
		WHERE cluster_members.cluster_id IS DISTINCT FROM excluded.cluster_id`, sum.RunID, now); err != nil {
		return sum, err
	}
	// Members of the window assigned meanwhile to a cluster that merged
	// away follow it.
	if _, err := tx.Exec(ctx, `UPDATE cluster_members m SET cluster_id = c.merged_into FROM clusters c
		WHERE m.cluster_id = c.id AND c.merged_into IS NOT NULL AND m.occurred_at >= $1`, since); err != nil {
		return sum, err
	}
	progress("writing", len(win), len(win))
	if err := flagRecurring(ctx, tx, now, nil); err != nil {
		return sum, err
	}
	// The summaries of the clusters of most impact that lack a fresh one,
	// written by jobs that commit with the run.
	n, err := c.enqueueSummaries(ctx, tx, now)
	if err != nil {
		return sum, err
	}
	sum.Summaries = n
	return sum, nil
}

// flagRecurring marks the fixed clusters (all, or those of ids) that have
// a member from a day after their fix date as recurring, once.
func flagRecurring(ctx context.Context, q querier, now time.Time, ids []int64) error {
	_, err := q.Exec(ctx, `UPDATE clusters c SET recurring_at = $1
		WHERE c.status = 'fixed' AND c.recurring_at IS NULL AND ($2::bigint[] IS NULL OR c.id = ANY($2))
		AND EXISTS (SELECT 1 FROM cluster_members m WHERE m.cluster_id = c.id
			AND m.occurred_at >= ((c.fixed_at + 1)::timestamp AT TIME ZONE 'UTC'))`, now, ids)
	return err
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// reload rebuilds the assignment index from the latest finished run.
func (c *Clusterer) reload(ctx context.Context) error {
	c.loading.Lock()
	defer c.loading.Unlock()
	var run int64
	if err := c.s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM cluster_runs WHERE finished_at IS NOT NULL AND error = ''`).Scan(&run); err != nil {
		return err
	}
	if cur := c.idx.Load(); cur != nil && cur.run == run {
		c.idx.Store(&clusterIndex{run: run, ids: cur.ids, assigner: cur.assigner, loadedAt: time.Now()})
		return nil
	}
	priors, err := loadActivePriors(ctx, c.s.pool)
	if err != nil {
		return err
	}
	groups := make([]cluster.Group, len(priors))
	ids := make([]int64, len(priors))
	for i, p := range priors {
		groups[i] = cluster.Group{Key: p.Key, Template: strings.Fields(p.Template), Centroid: p.Centroid}
		ids[i] = p.id
	}
	c.idx.Store(&clusterIndex{run: run, ids: ids, assigner: cluster.NewAssigner(groups, cluster.DefaultConfig().MergeSimilarity),
		loadedAt: time.Now()})
	return nil
}

// loadActivePriors reads the active clusters, for the assignment index.
func loadActivePriors(ctx context.Context, q querier) ([]prior, error) {
	all, err := loadPriors(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT id FROM clusters WHERE active`)
	if err != nil {
		return nil, err
	}
	active, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	on := map[int64]bool{}
	for _, id := range active {
		on[id] = true
	}
	out := all[:0]
	for _, p := range all {
		if on[p.id] {
			out = append(out, p)
		}
	}
	return out, nil
}

// index returns the assignment index, loading or refreshing it when it is
// missing or old; a refresh already under way in another goroutine is
// not waited for.
func (c *Clusterer) index(ctx context.Context) (*clusterIndex, error) {
	cur := c.idx.Load()
	if cur != nil && time.Since(cur.loadedAt) < indexMaxAge {
		return cur, nil
	}
	if cur != nil && !c.loading.TryLock() {
		return cur, nil
	} else if cur != nil {
		c.loading.Unlock()
	}
	if err := c.reload(ctx); err != nil {
		if cur != nil {
			c.s.log.Warn("refreshing the cluster index", "err", err)
			return cur, nil
		}
		return nil, err
	}
	return c.idx.Load(), nil
}

// AssignResult says where Assign put an exception.
type AssignResult struct {
	// ClusterID is the cluster, 0 when none fits (the next run makes one).
	ClusterID int64
}

// Assign places exception e in the nearest existing cluster, in tx, so
// cluster counts are current between runs. An exception no cluster fits
// waits for the next full run. A fixed cluster it joins from a day after
// its fix date is flagged recurring.
func (c *Clusterer) Assign(ctx context.Context, tx pgx.Tx, e ExceptionRef) (_ AssignResult, err error) {
	defer derrors.Wrap(&err, "Clusterer.Assign(%s)", e.ID)
	idx, err := c.index(ctx)
	if err != nil {
		return AssignResult{}, err
	}
	id := c.Nearest(idx, e)
	if id == 0 {
		return AssignResult{}, nil
	}
	// A savepoint: a failed assignment leaves the caller's transaction usable.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return AssignResult{}, err
	}
	defer func() { _ = sp.Rollback(ctx) }()
	if _, err := sp.Exec(ctx, `INSERT INTO cluster_members (exception_id, cluster_id, occurred_at, assigned_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (exception_id) DO NOTHING`, e.ID, id, e.OccurredAt, c.s.now()); err != nil {
		return AssignResult{}, err
	}
	// Only the row of a fixed cluster that recurs is touched: the counts
	// come from the members, so a busy cluster is no hot row.
	if _, err := sp.Exec(ctx, `UPDATE clusters SET recurring_at = $3 WHERE id = $1 AND status = 'fixed' AND recurring_at IS NULL
		AND $2::timestamptz >= ((fixed_at + 1)::timestamp AT TIME ZONE 'UTC')`, id, e.OccurredAt, c.s.now()); err != nil {
		return AssignResult{}, err
	}
	if err := sp.Commit(ctx); err != nil {
		return AssignResult{}, err
	}
	return AssignResult{ClusterID: id}, nil
}

// ExceptionRef is what assignment needs of an exception.
type ExceptionRef struct {
	ID         uuid.UUID
	Kind       string
	Code       string
	Endpoint   string
	Message    string
	OccurredAt time.Time
}

// Nearest returns the cluster of idx that e fits, 0 for none. It does no
// I/O: it is the part of Assign the benchmark times.
func (c *Clusterer) Nearest(idx *clusterIndex, e ExceptionRef) int64 {
	if idx == nil || len(idx.ids) == 0 {
		return 0
	}
	m := cluster.Message{Key: cluster.Key{Kind: e.Kind, Code: e.Code, System: systemOf(e.Endpoint)}, Text: e.Message}
	if vecs, err := c.emb.Embed(context.Background(), []string{models.Mask(e.Message)}); err == nil {
		m.Vector = vecs[0]
	}
	g := idx.assigner.Assign(m)
	if g < 0 {
		return 0
	}
	return idx.ids[g]
}

// assignCluster is triage's hook: with a clusterer attached, it assigns
// the exception it is committing to its cluster in the same transaction.
func (s *Service) assignCluster(ctx context.Context, tx pgx.Tx, id uuid.UUID, kind, code, endpoint, message string, at time.Time) error {
	c := s.clusterer.Load()
	if c == nil {
		return nil
	}
	_, err := c.Assign(ctx, tx, ExceptionRef{ID: id, Kind: kind, Code: code, Endpoint: endpoint, Message: message, OccurredAt: at})
	if errors.Is(err, context.Canceled) {
		return err
	}
	if err != nil {
		// A failed assignment must not fail triage; the next run places it.
		s.log.Warn("assigning an exception to its cluster", "exception", id, "err", err)
		return nil
	}
	return nil
}
