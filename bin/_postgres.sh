# Sourced: starts a throwaway PostgreSQL cluster from the binaries in $1 and exports PG_URL.
# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
pg_bin="$1"
pg_port="${PG_PORT:-54329}"
pg_dir=$(mktemp -d /tmp/repro-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$pg_dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >/dev/null
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres repro
cleanup_postgres() { "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
trap cleanup_postgres EXIT
export PG_URL="postgres://postgres@127.0.0.1:$pg_port/repro"
