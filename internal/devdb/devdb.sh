#!/usr/bin/env bash
# devdb.sh: the local PostgreSQL + pgvector that `make run` and `make test` use.
#
#   devdb.sh ensure   install what is missing, start the private cluster, create the
#                     database; print its DATABASE_URL on stdout (everything else on stderr)
#   devdb.sh stop     stop the private cluster
#   devdb.sh reset    stop it and delete its data
#   devdb.sh status   say where the cluster lives and whether it runs
#
# With DATABASE_URL set, ensure checks that database and touches no local cluster.
# Environment: OMNITRIAGE_PG_PORT (default 55432), OMNITRIAGE_PG_DB (default omnitriage).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${OMNITRIAGE_PG_PORT:-55432}"
DBNAME="${OMNITRIAGE_PG_DB:-omnitriage}"
DBUSER="omnitriage"
PGVECTOR_MIN="0.5.0"

say() { printf 'devdb: %s\n' "$*" >&2; }
die() { printf 'devdb: error: %s\n' "$*" >&2; exit 1; }

# as_root runs a command with root rights: directly as root, else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "need root to run '$*' (installing system packages). Run this as root, give this user passwordless sudo, or install the packages yourself: postgresql postgresql-server-dev-all build-essential dpkg-dev, then pgvector >= $PGVECTOR_MIN. Or set DATABASE_URL to an existing PostgreSQL with pgvector."
	fi
}

APT_UPDATED=0
apt_update() {
	[ "$APT_UPDATED" -eq 0 ] || return 0
	say "apt-get update"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed: check the machine's apt sources and network"
	APT_UPDATED=1
}

# has_candidate reads the policy whole before grep: under pipefail, grep -q closing the pipe
# early would make apt-cache die of SIGPIPE and hide a candidate that is there.
has_candidate() {
	local policy
	policy="$(apt-cache policy "$1" 2>/dev/null || true)"
	grep -q 'Candidate: [0-9]' <<<"$policy"
}

apt_install() {
	apt_update
	say "installing: $*"
	local log
	log="$(mktemp)"
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "apt-get install $* failed (full log: $log)"
	fi
	rm -f "$log"
}

# pg_bindir prints the newest installed PostgreSQL server's bin directory.
pg_bindir() {
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	fi
}

# version_ge A B: true when version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

pgvector_version() {
	local ctl="/usr/share/postgresql/$1/extension/vector.control"
	[ -f "$ctl" ] || return 0
	sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$ctl"
}

# next_suite maps a Debian codename to the next release's.
next_suite() {
	case "$1" in
	buster) echo bullseye ;;
	bullseye) echo bookworm ;;
	bookworm) echo trixie ;;
	trixie) echo forky ;;
	*) echo "" ;;
	esac
}

# debian_mirror prints the URI of the configured Debian archive that serves the
# machine's own suite (not the security archive), from deb822 or one-line sources.
debian_mirror() {
	local codename="$1" f uri=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri="$(awk -v s="$codename" '
			/^[[:space:]]*$/ { if (u != "" && ok) { print u; exit } u=""; ok=0; next }
			/^URIs:/ { u=$2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok=1 }
			END { if (u != "" && ok) print u }' "$f" | grep -v security | head -n1 || true)"
		[ -n "$uri" ] && break
	done
	if [ -z "$uri" ]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			uri="$(awk -v s="$codename" '$1 == "deb" { o = 2; if ($2 ~ /^\[/) { while ($o !~ /\]$/) o++; o++ } if ($(o+1) == s) print $o }' "$f" | grep -v security | head -n1 || true)"
			[ -n "$uri" ] && break
		done
	fi
	echo "$uri"
}

# build_pgvector builds pgvector from Debian's own source package of the next
# release, through a private apt configuration that the machine's apt never sees.
build_pgvector() {
	local major="$1" codename suite mirror tmp
	codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
	suite="$(next_suite "$codename")"
	[ -n "$suite" ] || die "no pgvector package for Debian '$codename' and no known next release to build from; install pgvector >= $PGVECTOR_MIN yourself or set DATABASE_URL"
	mirror="$(debian_mirror "$codename")"
	[ -n "$mirror" ] || die "could not find the Debian archive in the apt sources (looked for suite '$codename'); install pgvector >= $PGVECTOR_MIN yourself or set DATABASE_URL"
	command -v dpkg-source >/dev/null && command -v make >/dev/null && command -v gcc >/dev/null &&
		[ -f "/usr/include/postgresql/$major/server/postgres.h" ] ||
		apt_install "postgresql-server-dev-$major" build-essential dpkg-dev
	tmp="$(mktemp -d)"
	mkdir -p "$tmp/lists/partial" "$tmp/src"
	echo "deb-src $mirror $suite main" >"$tmp/sources.list"
	local aptopts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$tmp/lists" -o "APT::Sandbox::User=root")
	say "fetching Debian's pgvector source package ($suite) through a private apt configuration"
	apt-get "${aptopts[@]}" update -qq >&2 || die "could not read the $suite source index from the configured mirror"
	(cd "$tmp/src" && apt-get "${aptopts[@]}" source -qq pgvector >&2) || die "apt-get source pgvector failed"
	local srcdir
	srcdir="$(find "$tmp/src" -maxdepth 1 -mindepth 1 -type d -name 'pgvector-*' | head -n1)"
	[ -n "$srcdir" ] || die "pgvector source not unpacked"
	say "building $(basename "$srcdir") against PostgreSQL $major"
	make -s -C "$srcdir" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" with_llvm=no >&2 || die "building pgvector failed: see the output above"
	as_root make -s -C "$srcdir" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" with_llvm=no install >&2 || die "installing pgvector failed"
	rm -rf "$tmp"
}

ensure_packages() {
	local bindir major v
	bindir="$(pg_bindir)"
	if [ -z "$bindir" ]; then
		apt_install postgresql
		bindir="$(pg_bindir)"
		[ -n "$bindir" ] || die "PostgreSQL server binaries still missing after install"
	fi
	major="$(basename "$(dirname "$bindir")")"
	v="$(pgvector_version "$major")"
	if [ -z "$v" ] || ! version_ge "$v" "$PGVECTOR_MIN"; then
		say "pgvector >= $PGVECTOR_MIN not installed for PostgreSQL $major${v:+ (found $v)}"
		local pkg="postgresql-$major-pgvector"
		has_candidate "$pkg" || apt_update
		if has_candidate "$pkg"; then
			apt_install "$pkg"
		else
			build_pgvector "$major"
		fi
		v="$(pgvector_version "$major")"
		{ [ -n "$v" ] && version_ge "$v" "$PGVECTOR_MIN"; } || die "pgvector install did not give version >= $PGVECTOR_MIN (have '${v:-none}')"
		say "pgvector $v installed"
	fi
	echo "$bindir"
}

# cluster_dir picks where the private cluster lives: .data/postgres in the checkout,
# or, when the server's user cannot enter the checkout, a directory under the
# system temp directory keyed by the checkout's path.
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=(runuser -u postgres --)
fi

cluster_dir() {
	local dir="$REPO/.data/postgres"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run the server (PostgreSQL refuses root); install the postgresql package or run as an ordinary user"
		if ! runuser -u postgres -- test -x "$REPO" 2>/dev/null; then
			local key
			key="$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
			dir="${TMPDIR:-/tmp}/omnitriage-pg-$key/postgres"
		fi
	fi
	echo "$dir"
}

runpg() { (cd / && "${RUNAS[@]}" "$@"); }

start_cluster() {
	local bindir="$1" dir="$2" base sock
	base="$(dirname "$dir")"
	sock="$base/run"
	mkdir -p "$base"
	if [ "${#RUNAS[@]}" -gt 0 ]; then chown postgres: "$base"; fi
	if [ ! -f "$dir/PG_VERSION" ]; then
		local avail
		avail="$(df -Pk "$base" | awk 'NR==2 {print $4}')"
		[ "${avail:-0}" -gt 524288 ] || die "less than 512 MiB free under $base: free some disk space (or set DATABASE_URL)"
		say "initialising a private PostgreSQL cluster in $dir"
		runpg "$bindir/initdb" -D "$dir" -U "$DBUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
			die "initdb failed: see $base/initdb.log"
		cat >>"$dir/postgresql.conf" <<-EOF
			# omnitriage development settings
			listen_addresses = '127.0.0.1'
			port = $PORT
			unix_socket_directories = '$sock'
			max_connections = 200
			shared_buffers = 256MB
			maintenance_work_mem = 256MB
			fsync = on
		EOF
	fi
	runpg mkdir -p "$sock"
	if runpg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		return 0
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		die "port $PORT on 127.0.0.1 is taken by another program: stop it, or pick another port with OMNITRIAGE_PG_PORT=NNNN (then 'make db-reset' if the cluster was made with the old port)"
	fi
	say "starting PostgreSQL on 127.0.0.1:$PORT (log: $base/postgres.log)"
	runpg "$bindir/pg_ctl" -D "$dir" -l "$base/postgres.log" -o "-p $PORT" -w -t 60 start >/dev/null ||
		die "PostgreSQL did not start: see $base/postgres.log"
}

# running_port prints the port the cluster in $1 listens on (from its pid file).
running_port() {
	runpg sed -n 4p "$1/postmaster.pid" 2>/dev/null || true
}

ensure() {
	if [ -n "${DATABASE_URL:-}" ]; then
		if command -v psql >/dev/null 2>&1; then
			psql "$DATABASE_URL" -XAtqc 'SELECT 1' >/dev/null 2>&1 ||
				die "DATABASE_URL is set but the database does not answer: check the URL, that the server runs, and the credentials"
		fi
		say "using DATABASE_URL; no local cluster touched"
		echo "$DATABASE_URL"
		return
	fi
	local bindir dir
	bindir="$(ensure_packages)"
	dir="$(cluster_dir)"
	start_cluster "$bindir" "$dir"
	local running
	running="$(running_port "$dir")"
	if [ -n "$running" ] && [ "$running" != "$PORT" ]; then
		say "the cluster already runs on port $running (not $PORT); using it"
		PORT="$running"
	fi
	local url="postgres://$DBUSER@127.0.0.1:$PORT/$DBNAME?sslmode=disable"
	local admin="postgres://$DBUSER@127.0.0.1:$PORT/postgres?sslmode=disable"
	if [ "$(psql "$admin" -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != "1" ]; then
		psql "$admin" -XAtqc "CREATE DATABASE $DBNAME" >/dev/null || die "could not create database $DBNAME"
		say "created database $DBNAME"
	fi
	say "PostgreSQL ready in $dir"
	echo "$url"
}

stop() {
	local bindir dir
	bindir="$(pg_bindir)"
	dir="$(cluster_dir)"
	if [ -n "$bindir" ] && [ -f "$dir/PG_VERSION" ] && runpg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		runpg "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
		say "stopped the cluster in $dir"
	else
		say "no cluster running in $dir"
	fi
}

reset() {
	stop
	local dir
	dir="$(cluster_dir)"
	rm -rf "$(dirname "$dir")"
	say "deleted $(dirname "$dir")"
}

status() {
	local bindir dir
	bindir="$(pg_bindir)"
	dir="$(cluster_dir)"
	if [ -n "$bindir" ] && [ -f "$dir/PG_VERSION" ] && runpg "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		echo "running: $dir on 127.0.0.1:$PORT"
	elif [ -f "$dir/PG_VERSION" ]; then
		echo "stopped: $dir"
	else
		echo "absent: $dir"
	fi
}

case "${1:-ensure}" in
ensure) ensure ;;
stop) stop ;;
reset) reset ;;
status) status ;;
-h | --help | help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "unknown command '$1': want ensure, stop, reset or status" ;;
esac
