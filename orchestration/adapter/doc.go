// Package adapter is the edge of orchestration: the outside systems an order
// touches, each behind a small interface with two implementations.
//
//   - [Simulator] is deterministic: every outcome is drawn from a hash of the
//     seed, the system, the operation and the idempotency key, so the demo,
//     tests and benchmarks replay exactly. Fault rates are configured per system
//     ([SimConfig], [DefaultFaults], [NoFaults]) and every state change is
//     recorded in [Simulator.Effects].
//   - [HTTPClient] speaks JSON over HTTP to real systems (or to [NewSimHandler]),
//     signs every request, retries transient failures and surfaces remote errors.
//
// # Contract for callers
//
// Every state-changing call carries an idempotency key. Retrying a call with the
// same key never acts twice: it returns the first result. So a durable job
// derives the key from what it is doing (for example "auth:" + order id), never
// from the attempt, and simply retries on a retryable error.
//
// Business outcomes are results, not errors: a declined authorization, a
// rejected release, an invalid address or a rejected ERP posting come back with
// a status, the remote code and a message phrased the way the remote system
// phrases it. An error is always an [*Error]; [IsRetryable] tells a job whether
// to try again with the same key (timeouts, 5xx, 429) or to raise an exception
// (4xx: the request itself is wrong).
//
// # Wire format
//
// Each system has its own base URL and shared secret ([Endpoint]). Every call is
// a POST of a JSON body to base URL + path; the answer is a JSON body with status
// 200 (or any 2xx), or an error status with a body {"code": "...", "message": "..."}.
//
//	system       operation              path                     request body        response body
//	payment      Authorize              /payments/authorize      AuthorizeRequest    Authorization
//	payment      Capture                /payments/capture        TransactionRequest  Transaction
//	payment      Void                   /payments/void           TransactionRequest  Transaction
//	payment      Refund                 /payments/refund         TransactionRequest  Transaction
//	fraud        Score                  /fraud/score             FraudRequest        FraudResult
//	tax          ValidateAddress        /addresses/validate      AddressRequest      AddressResult
//	tax          QuoteTax               /tax/quote               TaxRequest          TaxQuote
//	fulfillment  Release                /fulfillment/release     ReleaseRequest      ReleaseResult
//	carrier      Book                   /shipments/book          BookRequest         Booking
//	carrier      Track                  /shipments/track         {"tracking_number"} {"events": [TrackingEvent]}
//	erp          PostInvoice            /erp/invoices            Document            Posting
//	erp          PostCreditMemo         /erp/credit-memos        Document            Posting
//	erp          PostPaymentCapture     /erp/payment-captures    Document            Posting
//	erp          PostRefund             /erp/refunds             Document            Posting
//	erp          Status                 /erp/status              {"document_key"}    Posting
//	notify       Send                   /notifications/send      Notification + {"subject","body"}  Receipt
//
// Request headers:
//
//	Content-Type: application/json
//	Idempotency-Key: <key>                      state-changing calls; the same key as in the body
//	X-Omnitriage-Timestamp: <unix seconds>
//	X-Omnitriage-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Callbacks from the systems to us (carrier tracking updates as [TrackingUpdate],
// deferred ERP acknowledgements as [Posting]) are signed the same way and are
// checked with [VerifyCallback].
package adapter
