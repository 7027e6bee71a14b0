package models

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// OpenAIConfig configures an embedder against any server that speaks the
// OpenAI embeddings API (OpenAI, Azure's OpenAI-compatible endpoint,
// Ollama, vLLM, LocalAI).
type OpenAIConfig struct {
	// BaseURL is the API root, ending in /v1; empty means OpenAI's.
	BaseURL string
	// APIKey is sent as a bearer token; local servers may not need one.
	APIKey string
	// Model is the embedding model, e.g. "text-embedding-3-small".
	Model string
	// Dimensions is the vector length the model returns; a response with
	// any other length is refused.
	Dimensions int
	// RequestDimensions sends Dimensions as the "dimensions" parameter so
	// the server shortens its vectors. Only some models (OpenAI's
	// text-embedding-3 family) accept it.
	RequestDimensions bool
	// BatchSize is the most texts sent in one request; 0 means 64.
	BatchSize int
	// Timeout bounds each request; 0 means 30s.
	Timeout time.Duration
	// MaxRetries is how many times a request is retried after a 429, a 5xx,
	// a timeout or a network error; 0 means 3, negative means never.
	MaxRetries int
}

const (
	defaultOpenAIBaseURL   = "https://api.openai.com/v1"
	defaultOpenAIBatchSize = 64
	maxOpenAIBatchSize     = 2048 // the API's limit on inputs per request
	defaultOpenAITimeout   = 30 * time.Second
	defaultOpenAIRetries   = 3
	backoffBase            = 500 * time.Millisecond
	backoffMax             = 20 * time.Second
)

// withDefaults fills in the zero fields.
func (c OpenAIConfig) withDefaults() OpenAIConfig {
	if c.BaseURL == "" {
		c.BaseURL = defaultOpenAIBaseURL
	}
	if c.BatchSize == 0 {
		c.BatchSize = defaultOpenAIBatchSize
	}
	if c.Timeout == 0 {
		c.Timeout = defaultOpenAITimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = defaultOpenAIRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c OpenAIConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Model == "":
		return fmt.Errorf("openai embedder: model is required: %w", ErrInvalid)
	case c.Dimensions <= 0:
		return fmt.Errorf("openai embedder %q: dimensions %d, want the model's vector length: %w", c.Model, c.Dimensions, ErrInvalid)
	case c.BatchSize < 0 || c.BatchSize > maxOpenAIBatchSize:
		return fmt.Errorf("openai embedder %q: batch size %d not in 1..%d: %w", c.Model, c.BatchSize, maxOpenAIBatchSize, ErrInvalid)
	case c.Timeout < 0:
		return fmt.Errorf("openai embedder %q: negative timeout %v: %w", c.Model, c.Timeout, ErrInvalid)
	}
	return nil
}

// OpenAIEmbedder embeds texts through an OpenAI-compatible server, in
// batches, retrying transient failures with exponential backoff and jitter.
// It is safe for concurrent use.
type OpenAIEmbedder struct {
	cfg    OpenAIConfig
	client *openai.Client
	// sleep waits between attempts and jitter returns a number in [0, 1);
	// tests replace both.
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func() float64
}

// NewOpenAIEmbedder returns an embedder for cfg. It makes no request.
func NewOpenAIEmbedder(cfg OpenAIConfig) (*OpenAIEmbedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = cfg.BaseURL
	// The per-request context carries the timeout; the client has none so
	// it cannot cut a retry's backoff short.
	oc.HTTPClient = &http.Client{}
	return &OpenAIEmbedder{
		cfg:    cfg,
		client: openai.NewClientWithConfig(oc),
		sleep:  sleepContext,
		jitter: rand.Float64,
	}, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Model returns the configured model name.
func (e *OpenAIEmbedder) Model() string { return e.cfg.Model }

// Dim returns the configured vector length.
func (e *OpenAIEmbedder) Dim() int { return e.cfg.Dimensions }

// Embed returns one vector per text. Empty texts are sent as a single space,
// which the API accepts. An error names the failing batch; it wraps
// ErrUnavailable when retries ran out and ErrDimension when the server
// returned vectors of the wrong length.
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.cfg.BatchSize {
		end := min(start+e.cfg.BatchSize, len(texts))
		vecs, err := e.embedBatch(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed texts %d–%d of %d with %q: %w", start, end-1, len(texts), e.cfg.Model, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// embedBatch sends one batch, retrying transient failures.
func (e *OpenAIEmbedder) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	input := make([]string, len(batch))
	for i, t := range batch {
		if t == "" {
			t = " "
		}
		input[i] = t
	}
	req := openai.EmbeddingRequestStrings{
		Input:          input,
		Model:          openai.EmbeddingModel(e.cfg.Model),
		EncodingFormat: openai.EmbeddingEncodingFormatFloat,
	}
	if e.cfg.RequestDimensions {
		req.Dimensions = e.cfg.Dimensions
	}
	var lastErr error
	for attempt := 0; attempt <= e.cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			if err := e.sleep(ctx, e.backoff(attempt)); err != nil {
				return nil, fmt.Errorf("waiting to retry after %w: %w", lastErr, err)
			}
		}
		resp, err := e.request(ctx, req)
		if err == nil {
			return e.vectors(resp, len(batch))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("attempt %d: %w", attempt+1, err)
		}
		if !retryable(err) {
			return nil, fmt.Errorf("attempt %d: %w", attempt+1, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%d attempts: %w: %w", e.cfg.MaxRetries+1, ErrUnavailable, lastErr)
}

// request makes one call under the per-request timeout.
func (e *OpenAIEmbedder) request(ctx context.Context, req openai.EmbeddingRequestStrings) (openai.EmbeddingResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	return e.client.CreateEmbeddings(ctx, req)
}

// backoff is the wait before retry number attempt (1-based): the base
// doubled per attempt, capped, with its upper half drawn at random so
// clients that failed together do not retry together.
func (e *OpenAIEmbedder) backoff(attempt int) time.Duration {
	d := backoffBase << (attempt - 1)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	return d/2 + time.Duration(e.jitter()*float64(d/2))
}

// retryable reports errors worth another attempt: rate limits, server
// errors, timeouts and dropped connections.
func retryable(err error) bool {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return retryableStatus(apiErr.HTTPStatusCode)
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return retryableStatus(reqErr.HTTPStatusCode)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the per-request timeout; the caller's context was checked first
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}

// vectors checks a response and returns its vectors in input order.
func (e *OpenAIEmbedder) vectors(resp openai.EmbeddingResponse, n int) ([][]float32, error) {
	if len(resp.Data) != n {
		return nil, fmt.Errorf("server returned %d embeddings for %d inputs: %w", len(resp.Data), n, ErrInvalid)
	}
	out := make([][]float32, n)
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, fmt.Errorf("server returned embedding index %d for %d inputs, or twice: %w", d.Index, n, ErrInvalid)
		}
		if len(d.Embedding) != e.cfg.Dimensions {
			return nil, fmt.Errorf("model %q returned a vector of length %d for input %d, configured dimensions are %d (set Dimensions to the model's vector length): %w",
				e.cfg.Model, len(d.Embedding), d.Index, e.cfg.Dimensions, ErrDimension)
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}
