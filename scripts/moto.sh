#!/usr/bin/env bash
# Local AWS emulator for plinth's tests and demo.
#
#   scripts/moto.sh install      create .venv-moto with moto[server] (and jsonschema, which the
#                                test of `plinth schema` uses) if it is missing
#   scripts/moto.sh start DIR [PARENT_PID]
#                                start moto on a free loopback port; writes DIR/port and DIR/pid,
#                                prints the endpoint URL once the server answers. With PARENT_PID,
#                                the server stops by itself when that process ends.
#   scripts/moto.sh stop DIR     stop the server started with DIR
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${PLINTH_MOTO_VENV:-$root/.venv-moto}"
moto_version="5.1.22"
jsonschema_version="4.26.0"

installed() {
  [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import jsonschema' 2>/dev/null
}

install() {
  if installed; then return 0; fi
  # Tests may ask at once: one installs, the others wait for it.
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9
  if ! installed; then
    echo "installing moto[server]==$moto_version and jsonschema==$jsonschema_version into $venv" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "moto[server]==$moto_version" "jsonschema==$jsonschema_version" >&2
  fi
  exec 9>&-
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=$1 parent=${2:-}
  install
  mkdir -p "$dir"
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    # AWS managed policies (AWSLambdaBasicExecutionRole, ...) exist in every real account.
    MOTO_IAM_LOAD_MANAGED_POLICIES=true "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
      if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
        echo "$port" >"$dir/port"
        warm "$port"
        if [ -n "$parent" ]; then watch_parent "$parent" "$(cat "$dir/pid")" & fi
        echo "http://127.0.0.1:$port"
        return 0
      fi
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
      sleep 0.1
    done
    kill "$(cat "$dir/pid")" 2>/dev/null || true
  done
  echo "moto server did not start; see $dir/moto.log" >&2
  return 1
}

# One request to each service plinth uses, so each backend is loaded before the first test's
# plan instead of during it: loading IAM's managed policies takes seconds, longer on a busy
# machine, and a test's first requests would wait for it.
warm() {
  python3 - "$1" <<'PY' || true
import sys, urllib.request
port = sys.argv[1]
def call(service, method="POST", path="/", body=None, headers=None):
    h = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/%s/aws4_request, "
                          "SignedHeaders=host, Signature=0" % service}
    h.update(headers or {})
    data = body.encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=data, headers=h, method=method)
    try:
        urllib.request.urlopen(req, timeout=120).read()
    except Exception:
        pass
form = {"Content-Type": "application/x-www-form-urlencoded"}
call("iam", body="Action=ListPolicies&Version=2010-05-08&Scope=Local", headers=form)
call("sts", body="Action=GetCallerIdentity&Version=2011-06-15", headers=form)
call("sqs", body="Action=ListQueues&Version=2012-11-05", headers=form)
call("kms", body="{}", headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"})
call("lambda", method="GET", path="/2015-03-31/functions/")
call("s3", method="GET", path="/")
PY
}

# Stops the server once the process that asked for it is gone (a test run that ended or died).
watch_parent() {
  local parent=$1 server=$2
  exec </dev/null >/dev/null 2>&1
  while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
  kill "$server" 2>/dev/null || true
}

stop() {
  local dir=$1
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid" "$dir/port"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: moto.sh start DIR [PARENT_PID]}" "${3:-}" ;;
  stop) stop "${2:?usage: moto.sh stop DIR}" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
