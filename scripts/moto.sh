# Sourced by scripts/test (and usable on its own: `. scripts/moto.sh && ensure_moto`): makes
# sure a DynamoDB-compatible server answers at $DYNAMODB_ENDPOINT for the store tests.
#
# 1. DYNAMODB_ENDPOINT is set and answers: use it.
# 2. Otherwise install moto's server mode (pinned, from PyPI) into target/moto-venv, start it on
#    a free port of 127.0.0.1 and stop it by its PID when the calling script exits.

# Runs every registered command when the calling script exits (several helpers share the trap).
if ! declare -F add_exit_hook >/dev/null; then
  EXIT_HOOKS=()
  run_exit_hooks() { local h; for h in "${EXIT_HOOKS[@]}"; do eval "$h"; done; }
  add_exit_hook() { EXIT_HOOKS+=("$1"); trap run_exit_hooks EXIT; }
fi

MOTO_VERSION="5.2.5"

# Any HTTP answer will do (moto, DynamoDB Local or another server).
moto_answers() {
  curl -s -m 2 -o /dev/null "$1" >/dev/null 2>&1
}

ensure_moto() {
  if [ -n "${DYNAMODB_ENDPOINT:-}" ]; then
    if moto_answers "$DYNAMODB_ENDPOINT"; then
      echo "DynamoDB-compatible server answers at $DYNAMODB_ENDPOINT"
      return
    fi
    echo "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT does not answer" >&2
    exit 1
  fi
  local venv=target/moto-venv
  if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 \
      || [ "$("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
    echo "installing moto[server]==$MOTO_VERSION from PyPI into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mkdir -p target
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
  MOTO_PID=$!
  add_exit_hook 'kill "$MOTO_PID" 2>/dev/null || true'
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 60); do
    if moto_answers "$DYNAMODB_ENDPOINT"; then
      echo "moto $MOTO_VERSION (pid $MOTO_PID) answers at $DYNAMODB_ENDPOINT; log in target/moto.log"
      return
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto_server exited; its log:" >&2
      cat target/moto.log >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "moto_server did not answer within 30 s; its log:" >&2
  cat target/moto.log >&2
  exit 1
}
