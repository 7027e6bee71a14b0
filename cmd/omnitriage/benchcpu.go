package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cpuTicks is the kernel's clock tick (USER_HZ), the unit of the CPU times
// in /proc/PID/stat; it is 100 on every Linux this runs on.
const cpuTicks = 100

// cpuUse is the CPU time spent by this process (the bench's clients and the
// server it runs in) and by the PostgreSQL backends serving the bench's
// database. Latency on a shared two-core machine moves with whatever else
// runs; CPU per operation moves far less, so the bench prints both.
type cpuUse struct {
	self, db time.Duration
	ok       bool // false where /proc is missing or a backend's stat could not be read
}

// sub is the CPU spent between an earlier sample and u.
func (u cpuUse) sub(before cpuUse) cpuUse {
	return cpuUse{self: u.self - before.self, db: u.db - before.db, ok: u.ok && before.ok}
}

// perOp formats the CPU per operation over ops operations.
func (u cpuUse) perOp(ops int64) string {
	if !u.ok || ops == 0 {
		return "n/a"
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(ops) }
	return fmt.Sprintf("%.2f + %.2f", ms(u.self), ms(u.db))
}

// sampleCPU reads the CPU times of this process and of the backends
// connected to pool's database. Backends that start or end between two
// samples are counted from or until then, so samples bracket runs during
// which the pool keeps its connections.
func sampleCPU(ctx context.Context, pool *pgxpool.Pool) cpuUse {
	self, err := procCPU("self")
	if err != nil {
		return cpuUse{}
	}
	u := cpuUse{self: self, ok: true}
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)
	if err != nil {
		return cpuUse{}
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return cpuUse{}
		}
		d, err := procCPU(strconv.Itoa(pid))
		if err != nil {
			u.ok = false
			continue
		}
		u.db += d
	}
	if rows.Err() != nil {
		return cpuUse{}
	}
	return u
}

// procCPU is a process's user plus system CPU time from /proc/PID/stat.
func procCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%s/stat: bad CPU times", pid)
	}
	return time.Duration(ut+st) * time.Second / cpuTicks, nil
}

// measured runs f and attaches the CPU it cost, here and in pool's
// backends, to its result.
func measured(ctx context.Context, pool *pgxpool.Pool, f func() result) result {
	before := sampleCPU(ctx, pool)
	r := f()
	r.cpu = sampleCPU(ctx, pool).sub(before)
	return r
}
