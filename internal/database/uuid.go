package database

import (
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterUUID teaches m to encode and scan github.com/google/uuid's UUID
// as PostgreSQL's uuid (and uuid[]) directly, in binary. Without it pgx
// reaches the type through database/sql's interfaces: each parameter is
// formatted as text, fails a binary encode (which formats an error
// message), is parsed back and encoded again, and each scanned uuid is
// formatted and parsed. In a profile of the recommend bench that was about
// 7% of the bench process's CPU. Other types and other OIDs keep pgx's
// handling.
func RegisterUUID(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
}

// uuidCodec is pgtype's UUIDCodec that also takes uuid.UUID and *uuid.UUID.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok {
		if next := c.UUIDCodec.PlanEncode(m, oid, format, pgUUID{}); next != nil {
			return uuidEncodePlan{next}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		if next := c.UUIDCodec.PlanScan(m, oid, format, (*pgUUID)(nil)); next != nil {
			return uuidScanPlan{next}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

// pgUUID is uuid.UUID as pgtype's UUID codec takes and fills it.
type pgUUID uuid.UUID

func (u pgUUID) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: u, Valid: true}, nil }

var errNullUUID = errors.New("cannot scan NULL into uuid.UUID: scan into *uuid.UUID instead")

func (u *pgUUID) ScanUUID(v pgtype.UUID) error {
	if !v.Valid {
		return errNullUUID
	}
	*u = v.Bytes
	return nil
}

type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode(pgUUID(value.(uuid.UUID)), buf)
}

type uuidScanPlan struct{ next pgtype.ScanPlan }

func (p uuidScanPlan) Scan(src []byte, dst any) error {
	return p.next.Scan(src, (*pgUUID)(dst.(*uuid.UUID)))
}
