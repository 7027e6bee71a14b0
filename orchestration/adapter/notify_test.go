package adapter_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

func TestRender(t *testing.T) {
	data := map[string]any{"customer_name": "Ana", "order_number": "W-1042", "eta": "Thu, Nov 12",
		"reason": "weather at the MEM hub", "original_item": "Blue Mug 350 ml", "substitute_item": "Navy Mug 350 ml",
		"refund_amount": "24.90", "currency": "USD", "return_status": "received", "store_name": "Midtown store",
		"carrier": "UPS", "tracking_url": "https://t.example/1Z"}
	tests := []struct {
		channel, template string
		wantSubject       string   // "" for none
		wantBody          []string // fragments
	}{
		{adapter.ChannelEmail, adapter.TemplateConfirmation, "Order W-1042 confirmed", []string{"Hi Ana,", "Thanks for your order W-1042", "by Thu, Nov 12"}},
		{adapter.ChannelEmail, adapter.TemplateShipped, "Your order W-1042 is on its way", []string{"shipped with UPS", "https://t.example/1Z"}},
		{adapter.ChannelEmail, adapter.TemplateDelay, "Your order W-1042 is delayed", []string{"(weather at the MEM hub)", "New estimated delivery: Thu, Nov 12."}},
		{adapter.ChannelEmail, adapter.TemplateSubstitution, "A change to your order W-1042", []string{"Blue Mug 350 ml is no longer available", "replaced it with Navy Mug 350 ml"}},
		{adapter.ChannelEmail, adapter.TemplateCancellation, "Order W-1042 cancelled", []string{"A refund of 24.90 USD"}},
		{adapter.ChannelEmail, adapter.TemplateReturnStatus, "Return update for order W-1042: received", []string{"is now: received"}},
		{adapter.ChannelEmail, adapter.TemplateRefund, "Refund issued for order W-1042", []string{"refunded 24.90 USD"}},
		{adapter.ChannelEmail, adapter.TemplatePickupReady, "Order W-1042 is ready for pickup", []string{"at Midtown store"}},
		{adapter.ChannelSMS, adapter.TemplateDelay, "", []string{"Sorry, order W-1042 is delayed (weather at the MEM hub). New ETA: Thu, Nov 12."}},
		{adapter.ChannelSMS, adapter.TemplateSubstitution, "", []string{"Blue Mug 350 ml replaced with Navy Mug 350 ml"}},
		{adapter.ChannelPush, adapter.TemplateShipped, "On its way", []string{"Order W-1042 has shipped. ETA Thu, Nov 12."}},
		{adapter.ChannelPush, adapter.TemplateCancellation, "Order cancelled", []string{"Order W-1042 was cancelled."}},
		// Fallbacks: an unknown template is a generic update; an unknown channel is email.
		{adapter.ChannelSMS, "loyalty_points", "", []string{"Order W-1042: there is an update on your order."}},
		{"whatsapp", adapter.TemplateDelay, "Your order W-1042 is delayed", []string{"Hi Ana,"}},
	}
	for _, tt := range tests {
		m, err := adapter.Render(tt.channel, tt.template, data)
		if err != nil {
			t.Errorf("Render(%s, %s): %v", tt.channel, tt.template, err)
			continue
		}
		if m.Subject != tt.wantSubject {
			t.Errorf("Render(%s, %s).Subject = %q, want %q", tt.channel, tt.template, m.Subject, tt.wantSubject)
		}
		for _, f := range tt.wantBody {
			if !strings.Contains(m.Body, f) {
				t.Errorf("Render(%s, %s).Body = %q, want it to contain %q", tt.channel, tt.template, m.Body, f)
			}
		}
	}
}

func TestRenderWithoutData(t *testing.T) {
	for _, ch := range []string{adapter.ChannelEmail, adapter.ChannelSMS, adapter.ChannelPush} {
		for _, name := range adapter.TemplateNames() {
			m, err := adapter.Render(ch, name, nil)
			if err != nil || m.Body == "" || strings.Contains(m.Subject+m.Body, "<no value>") || strings.Contains(m.Body, "\n\n\n") {
				t.Errorf("Render(%s, %s, nil) = %q, %v, want tidy text with neutral defaults", ch, name, m, err)
			}
			if (ch == adapter.ChannelSMS) != (m.Subject == "") {
				t.Errorf("Render(%s, %s).Subject = %q, want one for email and push only", ch, name, m.Subject)
			}
		}
	}
	m, _ := adapter.Render(adapter.ChannelEmail, adapter.TemplateCancellation, map[string]any{"order_number": "W-1"})
	if !strings.Contains(m.Body, "You have not been charged.") || !strings.HasPrefix(m.Body, "Hi there,") {
		t.Errorf("Render(email, cancellation, no refund).Body = %q, want the no-charge wording and a neutral greeting", m.Body)
	}
}

func TestRenderTruncatesSMS(t *testing.T) {
	m, err := adapter.Render(adapter.ChannelSMS, adapter.TemplateUpdate, map[string]any{"message": strings.Repeat("é", 500)})
	if err != nil || utf8.RuneCountInString(m.Body) != 306 || !strings.HasSuffix(m.Body, "…") {
		t.Errorf("Render(sms, long) = %d runes, %v, want 306 ending in …", utf8.RuneCountInString(m.Body), err)
	}
}
