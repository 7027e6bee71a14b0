package adapter

import (
	"maps"
	"slices"
)

// templateAliases are the names triage's cause library gives a notification
// (what the message is about), each rendered with the built-in template
// that says it. A name outside TemplateNames and these is refused, so a
// caller cannot name a file or a template that does not exist.
var templateAliases = map[string]string{
	"exception_update":             TemplateUpdate,
	"address_confirm":              TemplateUpdate,
	"address_street_required":      TemplateUpdate,
	"backorder_delay":              TemplateDelay,
	"delivery_delay":               TemplateDelay,
	"delivery_delay_weather":       TemplateDelay,
	"parcel_lost":                  TemplateUpdate,
	"payment_check_details":        TemplateUpdate,
	"payment_contact_bank":         TemplateUpdate,
	"payment_insufficient_funds":   TemplateUpdate,
	"payment_retry_authentication": TemplateUpdate,
	"payment_update_card":          TemplateUpdate,
	"pickup_final_notice":          TemplatePickupReady,
	"pickup_reminder":              TemplatePickupReady,
	"return_awaiting_receipt":      TemplateReturnStatus,
}

// KnownTemplate reports whether name is a built-in template or one of the
// names rendered with one.
func KnownTemplate(name string) bool {
	_, alias := templateAliases[name]
	return alias || slices.Contains(TemplateNames(), name)
}

// KnownTemplates lists every name KnownTemplate accepts, sorted.
func KnownTemplates() []string {
	return slices.Sorted(slices.Values(append(TemplateNames(), slices.Collect(maps.Keys(templateAliases))...)))
}

// builtinName is the built-in template a known name renders with.
func builtinName(name string) string {
	if b, ok := templateAliases[name]; ok {
		return b
	}
	return name
}
