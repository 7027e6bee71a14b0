package adapter

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"text/template"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Notifier tells customers what happened to their order.
type Notifier interface {
	Send(ctx context.Context, n Notification) (Receipt, error)
}

// Notification channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelPush  = "push"
)

// Notification templates. An unknown template renders as TemplateUpdate with
// data["message"] as its text.
const (
	TemplateConfirmation = "confirmation"
	TemplateShipped      = "shipped"
	TemplateDelay        = "delay"
	TemplateSubstitution = "substitution"
	TemplateCancellation = "cancellation"
	TemplateReturnStatus = "return_status"
	TemplateRefund       = "refund"
	TemplatePickupReady  = "pickup_ready"
	TemplateUpdate       = "update"
)

// TemplateNames lists the built-in templates.
func TemplateNames() []string {
	return []string{TemplateConfirmation, TemplateShipped, TemplateDelay, TemplateSubstitution, TemplateCancellation,
		TemplateReturnStatus, TemplateRefund, TemplatePickupReady, TemplateUpdate}
}

// Notification is one message to one recipient. Key is the idempotency key:
// derive it from the event (order, template, the thing it announces), so a
// retried job never sends it twice.
//
// Data feeds the template; the built-in templates read these keys, all
// optional: customer_name, order_number, eta, reason, carrier, tracking_url,
// original_item, substitute_item, refund_amount, currency, return_status,
// store_name, message.
type Notification struct {
	Key      string         `json:"key"`
	OrderID  uuid.UUID      `json:"order_id"`
	Channel  string         `json:"channel"` // ChannelEmail, ChannelSMS or ChannelPush
	Template string         `json:"template"`
	To       string         `json:"to"` // an email address, an E.164 phone number or a device token
	Data     map[string]any `json:"data,omitempty"`
}

// Validate names each bad field.
func (n Notification) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "key", n.Key)
	checkOrder(v, n.OrderID)
	if n.Channel == "" {
		v.Add("channel", "required")
	}
	if n.Template == "" {
		v.Add("template", "required")
	}
	if n.To == "" || len(n.To) > 320 {
		v.Add("to", "required, at most 320 bytes")
	}
	return v.Err()
}

// Receipt is the notification service's id for an accepted message.
type Receipt struct {
	ID string `json:"id"`
}

// Message is a rendered notification. SMS messages have no subject.
type Message struct {
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body"`
}

// maxSMS is the longest SMS body we send: two concatenated segments.
const maxSMS = 306

// Render renders the built-in template for a channel. It falls back to the
// email form for an unknown channel, and to the channel's generic update for an
// unknown template, so a notification always has text. Missing data renders as
// empty text or a neutral default, never "<no value>".
func Render(channel, name string, data map[string]any) (Message, error) {
	set := builtinTemplates()
	if _, ok := set[channel]; !ok {
		channel = ChannelEmail
	}
	t, ok := set[channel][builtinName(name)]
	if !ok {
		t = set[channel][TemplateUpdate]
	}
	d := make(map[string]any, len(templateKeys)+len(data))
	for _, k := range templateKeys {
		d[k] = ""
	}
	maps.Copy(d, data)
	var subject, body strings.Builder
	if t.subject != nil {
		if err := t.subject.Execute(&subject, d); err != nil {
			return Message{}, fmt.Errorf("render %s/%s subject: %w", channel, name, err)
		}
	}
	if err := t.body.Execute(&body, d); err != nil {
		return Message{}, fmt.Errorf("render %s/%s body: %w", channel, name, err)
	}
	m := Message{Subject: strings.TrimSpace(subject.String()), Body: tidy(body.String())}
	if channel == ChannelSMS && utf8.RuneCountInString(m.Body) > maxSMS {
		m.Body = string([]rune(m.Body)[:maxSMS-1]) + "…"
	}
	return m, nil
}

// tidy trims trailing spaces and collapses the blank lines that optional
// template sections leave behind.
func tidy(s string) string {
	var out []string
	blank := false
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// validRecipient checks the address format a channel needs; an unknown
// channel is the notification service's business.
func validRecipient(channel, to string) bool {
	switch channel {
	case ChannelEmail:
		at := strings.LastIndexByte(to, '@')
		return at > 0 && at < len(to)-1 && !strings.ContainsAny(to, " \t\r\n")
	case ChannelSMS:
		if len(to) < 8 || len(to) > 16 || to[0] != '+' {
			return false
		}
		for _, c := range to[1:] {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// templateKeys are the data keys the built-in templates read; Render defaults
// each to "".
var templateKeys = []string{"customer_name", "order_number", "eta", "reason", "carrier", "tracking_url",
	"original_item", "substitute_item", "refund_amount", "currency", "return_status", "store_name", "message"}

// compiled is one template: subject (nil for SMS) and body.
type compiled struct{ subject, body *template.Template }

// builtinTemplates parses the template sources once; the result is read-only.
var builtinTemplates = sync.OnceValue(func() map[string]map[string]compiled {
	set := map[string]map[string]compiled{}
	for channel, byName := range templateSources {
		set[channel] = map[string]compiled{}
		for name, src := range byName {
			c := compiled{body: template.Must(template.New(channel + "/" + name).Parse(src[1]))}
			if src[0] != "" {
				c.subject = template.Must(template.New(channel + "/" + name + "/subject").Parse(src[0]))
			}
			set[channel][name] = c
		}
	}
	return set
})

// hi greets the customer by name when known.
const hi = `Hi {{or .customer_name "there"}},`

// templateSources are the built-in templates: channel → name → {subject, body}.
var templateSources = map[string]map[string][2]string{
	ChannelEmail: {
		TemplateConfirmation: {`Order {{.order_number}} confirmed`, hi + `

Thanks for your order {{.order_number}}. We have received it and are getting it ready.
{{with .eta}}We expect to deliver it by {{.}}.{{end}}

We will let you know as soon as it ships.`},
		TemplateShipped: {`Your order {{.order_number}} is on its way`, hi + `

Good news: order {{.order_number}} has shipped{{with .carrier}} with {{.}}{{end}}.
{{with .eta}}Estimated delivery: {{.}}.{{end}}
{{with .tracking_url}}Track it here: {{.}}{{end}}`},
		TemplateDelay: {`Your order {{.order_number}} is delayed`, hi + `

We are sorry: order {{.order_number}} is running late{{with .reason}} ({{.}}){{end}}.
New estimated delivery: {{or .eta "we will confirm a new date shortly"}}.
{{with .tracking_url}}Track it here: {{.}}{{end}}

You do not need to do anything. We will keep you posted.`},
		TemplateSubstitution: {`A change to your order {{.order_number}}`, hi + `

{{or .original_item "An item you ordered"}} is no longer available, so we have replaced it with {{or .substitute_item "a comparable item"}}.
{{with .reason}}{{.}}{{end}}
If you would rather not keep the substitute, you can return it free of charge.`},
		TemplateCancellation: {`Order {{.order_number}} cancelled`, hi + `

Order {{.order_number}} has been cancelled{{with .reason}} ({{.}}){{end}}.
{{with .refund_amount}}A refund of {{.}} {{$.currency}} is on its way to your original payment method.{{else}}You have not been charged.{{end}}

We are sorry for the inconvenience.`},
		TemplateReturnStatus: {`Return update for order {{.order_number}}: {{or .return_status "in progress"}}`, hi + `

Your return for order {{.order_number}} is now: {{or .return_status "in progress"}}.
{{with .refund_amount}}Refund: {{.}} {{$.currency}}.{{end}}
{{with .message}}{{.}}{{end}}`},
		TemplateRefund: {`Refund issued for order {{.order_number}}`, hi + `

We have refunded {{or .refund_amount "your payment"}} {{.currency}} for order {{.order_number}}{{with .reason}} ({{.}}){{end}}.
It can take 5–10 business days to appear on your statement.`},
		TemplatePickupReady: {`Order {{.order_number}} is ready for pickup`, hi + `

Order {{.order_number}} is ready for pickup{{with .store_name}} at {{.}}{{end}}.
Bring your order number and a photo ID.`},
		TemplateUpdate: {`Update on your order {{.order_number}}`, hi + `

{{or .message "There is an update on your order. Sign in to your account for details."}}`},
	},
	ChannelSMS: {
		TemplateConfirmation: {"", `Order {{.order_number}} confirmed.{{with .eta}} Arrives by {{.}}.{{end}}`},
		TemplateShipped:      {"", `Order {{.order_number}} shipped.{{with .eta}} ETA {{.}}.{{end}}{{with .tracking_url}} Track: {{.}}{{end}}`},
		TemplateDelay:        {"", `Sorry, order {{.order_number}} is delayed{{with .reason}} ({{.}}){{end}}. New ETA: {{or .eta "to follow"}}.`},
		TemplateSubstitution: {"", `Order {{.order_number}}: {{or .original_item "an item"}} replaced with {{or .substitute_item "a comparable item"}}. Free returns if you prefer not to keep it.`},
		TemplateCancellation: {"", `Order {{.order_number}} was cancelled.{{with .refund_amount}} Refund of {{.}} {{$.currency}} on its way.{{end}}`},
		TemplateReturnStatus: {"", `Return for order {{.order_number}}: {{or .return_status "in progress"}}.`},
		TemplateRefund:       {"", `Refund of {{or .refund_amount "your payment"}} {{.currency}} issued for order {{.order_number}}.`},
		TemplatePickupReady:  {"", `Order {{.order_number}} is ready for pickup{{with .store_name}} at {{.}}{{end}}.`},
		TemplateUpdate:       {"", `Order {{.order_number}}: {{or .message "there is an update on your order."}}`},
	},
	ChannelPush: {
		TemplateConfirmation: {`Order confirmed`, `We've got order {{.order_number}}.{{with .eta}} Arrives by {{.}}.{{end}}`},
		TemplateShipped:      {`On its way`, `Order {{.order_number}} has shipped.{{with .eta}} ETA {{.}}.{{end}}`},
		TemplateDelay:        {`Your order is delayed`, `Order {{.order_number}}: new ETA {{or .eta "to follow"}}.`},
		TemplateSubstitution: {`Item substituted`, `{{or .original_item "An item"}} was replaced with {{or .substitute_item "a comparable item"}}.`},
		TemplateCancellation: {`Order cancelled`, `Order {{.order_number}} was cancelled.`},
		TemplateReturnStatus: {`Return update`, `Return for order {{.order_number}}: {{or .return_status "in progress"}}.`},
		TemplateRefund:       {`Refund issued`, `{{or .refund_amount "Your payment"}} {{.currency}} refunded for order {{.order_number}}.`},
		TemplatePickupReady:  {`Ready for pickup`, `Order {{.order_number}} is ready{{with .store_name}} at {{.}}{{end}}.`},
		TemplateUpdate:       {`Order update`, `{{or .message "There is an update on your order."}}`},
	},
}
