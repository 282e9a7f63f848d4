# Sourced by scripts/test: makes sure a PostgreSQL server answers at $DATABASE_URL.
#
# 1. DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) already answers: use it.
# 2. A local Debian cluster exists but is stopped: start it (pg_ctlcluster).
# 3. PostgreSQL's binaries are installed: start a throwaway cluster in a temporary directory on
#    127.0.0.1:55432, stopped again when the script exits.
# Otherwise stop with a message saying what is missing.

# Runs every registered command when the calling script exits (several helpers share the trap).
if ! declare -F add_exit_hook >/dev/null; then
  EXIT_HOOKS=()
  run_exit_hooks() { local h; for h in "${EXIT_HOOKS[@]}"; do eval "$h"; done; }
  add_exit_hook() { EXIT_HOOKS+=("$1"); trap run_exit_hooks EXIT; }
fi

pg_answers() {
  psql "$1" -tAc 'SELECT 1' >/dev/null 2>&1
}

ensure_postgres() {
  local default_url="postgres://postgres@127.0.0.1:5432/test"
  export DATABASE_URL="${DATABASE_URL:-$default_url}"
  if ! command -v psql >/dev/null 2>&1; then
    echo "the tests need PostgreSQL and its client (psql): install postgresql (e.g. apt-get install postgresql), or set DATABASE_URL to a server" >&2
    exit 1
  fi
  if pg_answers "$DATABASE_URL"; then
    echo "PostgreSQL answers at $(redact "$DATABASE_URL")"
    return
  fi
  if [ "$DATABASE_URL" = "$default_url" ] && [ -z "${DYNASTREAM_THROWAWAY_PG:-}" ] \
      && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    echo "starting the local PostgreSQL $version cluster"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do
      pg_answers "$DATABASE_URL" && { echo "PostgreSQL answers at $DATABASE_URL"; return; }
      sleep 1
    done
  fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "no PostgreSQL answers at $(redact "$DATABASE_URL") and none is installed to start: install postgresql or set DATABASE_URL" >&2
    exit 1
  fi
  local dir port=55432 as=()
  dir="$(mktemp -d /tmp/dynastream-pg.XXXXXX)"
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root.
    chown postgres "$dir"
    as=(runuser -u postgres --)
  fi
  echo "starting a throwaway PostgreSQL cluster in $dir on 127.0.0.1:$port"
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  THROWAWAY_PG=("${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop)
  add_exit_hook 'echo "stopping the throwaway PostgreSQL cluster"; "${THROWAWAY_PG[@]}" >/dev/null 2>&1 || true'
  psql "postgres://postgres@127.0.0.1:$port/postgres" -qc 'CREATE DATABASE test' >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/test"
  pg_answers "$DATABASE_URL" || { echo "the throwaway cluster does not answer" >&2; exit 1; }
}

# The URL without its password, for messages.
redact() {
  sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$1"
}
