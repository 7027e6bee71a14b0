package models

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// ChatConfig configures a client of any server that speaks the OpenAI
// chat-completions API (OpenAI, Azure's OpenAI-compatible endpoint,
// Ollama, vLLM, LocalAI), for the optional machine-written texts.
type ChatConfig struct {
	// BaseURL is the API root, ending in /v1.
	BaseURL string
	// APIKey is sent as a bearer token; local servers may not need one.
	APIKey string
	// Model is the chat model, e.g. "gpt-4o-mini" or "llama3.1".
	Model string
	// Timeout bounds each request; 0 means 30 s.
	Timeout time.Duration
	// MaxTokens bounds the answer's length; 0 means 400.
	MaxTokens int
}

// ChatMessage is one message of a chat: its role (system or user) and text.
type ChatMessage struct {
	Role, Content string
}

// Chat asks an OpenAI-compatible server for one answer to a chat. It makes
// one attempt per call: its callers are background jobs, which River
// retries. It is safe for concurrent use.
type Chat struct {
	cfg    ChatConfig
	client *openai.Client
}

// NewChat returns a client for cfg. It makes no request.
func NewChat(cfg ChatConfig) (*Chat, error) {
	switch {
	case cfg.BaseURL == "":
		return nil, fmt.Errorf("chat client: base URL is required: %w", ErrInvalid)
	case cfg.Model == "":
		return nil, fmt.Errorf("chat client: model is required: %w", ErrInvalid)
	case cfg.Timeout < 0 || cfg.MaxTokens < 0:
		return nil, fmt.Errorf("chat client %q: negative timeout or token limit: %w", cfg.Model, ErrInvalid)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 400
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	oc.HTTPClient = &http.Client{} // the request's context carries the timeout
	return &Chat{cfg: cfg, client: openai.NewClientWithConfig(oc)}, nil
}

// Model returns the configured model name.
func (c *Chat) Model() string { return c.cfg.Model }

// Complete sends the messages and returns the first choice's text. A
// failed request, a timeout and an answer with no text are errors; a
// timeout wraps ErrUnavailable.
func (c *Chat) Complete(ctx context.Context, msgs []ChatMessage) (string, error) {
	req := openai.ChatCompletionRequest{Model: c.cfg.Model, MaxTokens: c.cfg.MaxTokens, Temperature: 0.2}
	for _, m := range msgs {
		req.Messages = append(req.Messages, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.client.CreateChatCompletion(rctx, req)
	if err != nil {
		if ctx.Err() == nil && rctx.Err() != nil {
			return "", fmt.Errorf("chat with %q: no answer within %s: %w", c.cfg.Model, c.cfg.Timeout, ErrUnavailable)
		}
		return "", fmt.Errorf("chat with %q: %w", c.cfg.Model, err)
	}
	if len(resp.Choices) == 0 || strings.TrimSpace(resp.Choices[0].Message.Content) == "" {
		return "", fmt.Errorf("chat with %q: the answer has no text: %w", c.cfg.Model, ErrInvalid)
	}
	return resp.Choices[0].Message.Content, nil
}
