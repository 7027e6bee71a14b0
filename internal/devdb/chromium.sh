#!/usr/bin/env bash
# chromium.sh: the headless Chromium the browser tests drive.
#
#   chromium.sh ensure   install the distribution's chromium package when no Chromium is
#                        found; print the browser's path on stdout (everything else on stderr)
#   chromium.sh status   say which Chromium the tests would use
#
# With CHROMIUM set to an executable, ensure prints it and installs nothing.
set -euo pipefail

say() { printf 'chromium: %s\n' "$*" >&2; }
die() { printf 'chromium: error: %s\n' "$*" >&2; exit 1; }

# as_root runs a command with root rights: directly as root, else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "need root to run '$*' (installing the chromium package for the browser tests). Run this as root, give this user passwordless sudo, install chromium yourself, or set CHROMIUM to a Chromium or Chrome executable."
	fi
}

find_chromium() {
	if [ -n "${CHROMIUM:-}" ]; then
		command -v "$CHROMIUM" 2>/dev/null || die "CHROMIUM=$CHROMIUM is not an executable"
		return 0
	fi
	local name
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
	done
	return 1
}

install_chromium() {
	command -v apt-get >/dev/null 2>&1 || die "no Chromium and no apt-get: install Chromium with this system's package manager, or set CHROMIUM"
	say "apt-get update"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed: check the machine's apt sources and network"
	# Debian names the package chromium; older Ubuntu releases chromium-browser.
	local pkg=chromium
	# (The policy is read whole before grep: under pipefail, grep -q closing the pipe early
	# makes apt-cache die of SIGPIPE and the test fail when the candidate is there.)
	local policy
	policy="$(apt-cache policy chromium 2>/dev/null || true)"
	if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
		pkg=chromium-browser
	fi
	say "installing: $pkg"
	local log
	log="$(mktemp)"
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" fonts-dejavu-core >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "apt-get install $pkg failed (full log: $log)"
	fi
	rm -f "$log"
}

case "${1:-}" in
ensure)
	if ! path="$(find_chromium)"; then
		install_chromium
		path="$(find_chromium)" || die "installed the package, but found no chromium executable on PATH"
	fi
	say "using $path ($("$path" --version 2>/dev/null || echo 'version unknown'))"
	printf '%s\n' "$path"
	;;
status)
	if path="$(find_chromium)"; then
		say "browser tests use $path ($("$path" --version 2>/dev/null || echo 'version unknown'))"
	else
		say "no Chromium found; \`make test\` installs the chromium package"
	fi
	;;
*)
	echo "usage: $0 ensure|status" >&2
	exit 2
	;;
esac
