// Package delivery is the delivery-risk backtest and the order history it
// learns from.
//
// The history is past orders with their whole delivery timeline (Order,
// Item, Seller), read from an outside dataset (ReadOlist, for the Olist
// e-commerce dataset) and kept in the database by Store. Evaluate replays
// that history at a prediction moment (Moment: at approval or at the carrier
// hand-off): each order is seen only as it was known then, through lane,
// order, seller, network and place features, and a calibrated model is
// trained on the past and scored on a later period next to a lane-transit
// baseline. `omnitriage import olist` and `omnitriage eval delivery` are its
// only callers; the live triage pipeline does not import it.
//
// The package owns the history tables of migrations/00008_history.sql
// (history_sellers, history_orders, history_items): only Store writes them,
// and another package reads them through Store, never with its own SQL.
package delivery
