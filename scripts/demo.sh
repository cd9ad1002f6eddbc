#!/usr/bin/env bash
# The main job, end to end on this machine: start a local AWS emulator, then plan, apply and
# plan again (which must show no changes) for a stack, then stop the emulator.
#
#   scripts/demo.sh [SPEC] [-- extra plinth flags]     (default SPEC: plans/tonic-structural-redshift.toml)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
spec=${1:-plans/tonic-structural-redshift.toml}
shift $(( $# > 0 ? 1 : 0 ))
[ "${1:-}" = "--" ] && shift

state=$(mktemp -d)
endpoint=$(scripts/moto.sh start "$state" $$)
trap 'scripts/moto.sh stop "$state"; rm -rf "$state"' EXIT

cargo build --quiet
plinth="${CARGO_TARGET_DIR:-target}/debug/plinth"

# The emulator accepts any credentials; keep the machine's own AWS settings out of the demo.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
flags=(-f "$spec" --endpoint-url "$endpoint" "$@")

# Ganymede's bucket is someone else's (`existing = true`): plinth manages settings on it but
# never creates it, so the demo creates it in the emulator first, as a lab's account has it.
if [ "$(basename "$spec")" = ganymede-s3.toml ]; then
  "${PLINTH_MOTO_VENV:-$root/.venv-moto}/bin/python" - "$endpoint" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket="my-lab-data")
PY
fi

step() { printf '\n\033[1m$ plinth %s\033[0m\n' "$*" >&2; }

step plan -f "$spec"
"$plinth" plan "${flags[@]}"
step apply -f "$spec" --auto-approve
"$plinth" apply "${flags[@]}" --auto-approve
step plan -f "$spec" --detailed-exitcode
"$plinth" plan "${flags[@]}" --detailed-exitcode
echo >&2
echo "The second plan shows no changes: the account matches $spec." >&2
