package adapter

// Systems bundles one implementation of each outside system, so wiring can mix
// them: the simulator for most, a real HTTP endpoint for one.
type Systems struct {
	Payment     PaymentGateway
	Fraud       FraudScreen
	Tax         TaxAddress
	Fulfillment Fulfillment
	Carrier     Carrier
	ERP         ERP
	Notifier    Notifier
}

// Both implementations implement every interface.
var (
	_ PaymentGateway = (*Simulator)(nil)
	_ FraudScreen    = (*Simulator)(nil)
	_ TaxAddress     = (*Simulator)(nil)
	_ Fulfillment    = (*Simulator)(nil)
	_ Carrier        = (*Simulator)(nil)
	_ ERP            = (*Simulator)(nil)
	_ Notifier       = (*Simulator)(nil)

	_ PaymentGateway = (*HTTPClient)(nil)
	_ FraudScreen    = (*HTTPClient)(nil)
	_ TaxAddress     = (*HTTPClient)(nil)
	_ Fulfillment    = (*HTTPClient)(nil)
	_ Carrier        = (*HTTPClient)(nil)
	_ ERP            = (*HTTPClient)(nil)
	_ Notifier       = (*HTTPClient)(nil)
)
