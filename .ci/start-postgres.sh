#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster for the store tests and print its
# connection URL as the only line on stdout:
#
#   export LGSP_TEST_POSTGRES_URL=$(bash .ci/start-postgres.sh)
#   go test ./broker/store/...
#
# Debian 12's postgresql-15 package is assumed (binaries in
# /usr/lib/postgresql/15/bin; override with PGBIN). Each run makes its own
# cluster in a new temp dir, so running it twice gives two servers. The
# server listens on 127.0.0.1 only, on PGPORT if set, otherwise on a free
# port. Auth is trust: it is for tests on this machine only. wal_level=logical
# and the replication limits are set for the CDC connector's tests.
# Everything but the URL goes to stderr; the stop command is printed there.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DBNAME=lgsp_test
PGUSER_NAME=postgres

log() { printf 'start-postgres: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x "$PGBIN/initdb" && -x "$PGBIN/pg_ctl" ]] ||
	die "no PostgreSQL binaries in $PGBIN; install them with: apt-get install -y postgresql-15 (or set PGBIN)"

# The server refuses to run as root, so as root everything runs as the
# postgres OS user that the Debian package creates.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
	die "no 'postgres' OS user; it comes with the postgresql-15 package"
fi

# free_port asks the kernel for an unused port. The port could be taken
# again before the server binds it; the start loop below retries then.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		# A refused connection means nobody listens there.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "found no free port; set PGPORT"
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/lgsp-pg.XXXXXX")
chmod 700 "$dir"
if [[ $(id -u) -eq 0 ]]; then
	chown postgres:postgres "$dir"
fi
log "cluster dir $dir"
# The postgres user may not be allowed into the caller's working directory
# (/root); the tools complain if they cannot stat it.
cd "$dir"

# --no-sync: the cluster is thrown away, so initdb need not fsync. The C
# locale makes text order bytewise, the same as the schemas' COLLATE "C".
as_pg "$PGBIN/initdb" -D "$dir/data" -U "$PGUSER_NAME" --auth=trust -E UTF8 --locale=C --no-sync >&2 ||
	die "initdb failed"

attempts=1
[[ -n "${PGPORT:-}" ]] || attempts=5
started=
for ((i = 1; i <= attempts; i++)); do
	port=${PGPORT:-$(free_port)}
	log "starting on 127.0.0.1:$port"
	# The socket directory is the cluster dir, so nothing under /var/run is
	# needed and two clusters never share a socket path.
	if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10" \
		start >&2; then
		started=1
		break
	fi
	log "server did not start on port $port; its log:"
	tail -n 20 "$dir/server.log" >&2 || true
done
[[ -n $started ]] || die "could not start PostgreSQL; see $dir/server.log"

for _ in $(seq 1 60); do
	if as_pg "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PGUSER_NAME"; then
		break
	fi
	sleep 0.5
done
as_pg "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PGUSER_NAME" ||
	die "server on port $port is not accepting connections; see $dir/server.log"

as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U "$PGUSER_NAME" "$DBNAME" >&2 ||
	die "createdb $DBNAME failed"

stop="$PGBIN/pg_ctl -D $dir/data stop"
[[ $(id -u) -ne 0 ]] || stop="runuser -u postgres -- $stop"
log "ready; stop it with: $stop && rm -rf $dir"
printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "$PGUSER_NAME" "$port" "$DBNAME"
