#!/usr/bin/env bash
# A peer for plinth's plan benchmark: the same resources checked by Ansible's amazon.aws and
# community.aws modules in check mode, against the same endpoint. Not part of CI.
#
#   scripts/bench-ansible.sh install
#       create .venv-ansible (ignored by git) with Ansible and boto3 from PyPI
#   scripts/bench-ansible.sh run ENDPOINT SNAPSHOT.json LAMBDA_DIR
#       write a playbook with one task per setting of every resource in SNAPSHOT.json (what
#       `plinth snapshot` prints), run it with --check against ENDPOINT, print the seconds
#
# `cargo bench --bench aws -- peer` runs it next to `plinth plan` through the same latency
# proxy when .venv-ansible exists (docs/benchmarks.md).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${PLINTH_ANSIBLE_VENV:-$root/.venv-ansible}"
ansible_version="11.13.0"

install() {
  if [ -x "$venv/bin/ansible-playbook" ]; then return 0; fi
  echo "installing ansible==$ansible_version and boto3 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "ansible==$ansible_version" boto3 >&2
}

run() {
  local endpoint=$1 snapshot=$2 lambda_dir=$3
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$lambda_dir" && "$venv/bin/python" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); z.write("main.py"); z.close()' "$work/code.zip")
  "$venv/bin/python" - "$snapshot" "$endpoint" "$work" >"$work/playbook.yml" <<'EOF'
import json, sys
snapshot, endpoint, work = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]

def attr(value):
    # plinth's snapshot tags each value with its type: {"str": ...}, {"policy": ...}, ...
    (kind, inner), = value.items()
    if kind == "map":
        return {k: attr(v) for k, v in inner.items()}
    if kind == "list":
        return [attr(v) for v in inner]
    return inner

tasks = []
for address, r in snapshot["by_address"].items():
    a = {k: attr(v) for k, v in r["attributes"].items()}
    name = r["physical_id"]
    if r["kind"] == "role":
        tasks.append({"name": address, "amazon.aws.iam_role": {
            "name": name, "assume_role_policy_document": json.dumps(a["trust"]),
            "description": a.get("description"), "managed_policies": a.get("managed_policies", []),
            "tags": a.get("tags", {}), "purge_tags": False}})
        for policy, doc in a.get("policies", {}).items():
            tasks.append({"name": f"{address}.policies.{policy}", "amazon.aws.iam_policy": {
                "iam_type": "role", "iam_name": name, "policy_name": policy, "policy_json": json.dumps(doc)}})
    elif r["kind"] == "key":
        tasks.append({"name": address, "amazon.aws.kms_key": {
            "alias": a["aliases"][0], "description": a.get("description"),
            "enable_key_rotation": a.get("rotation"), "tags": a.get("tags", {}), "purge_tags": False}})
    elif r["kind"] == "queue":
        tasks.append({"name": address, "community.aws.sqs_queue": {
            "name": name, "visibility_timeout": a.get("visibility_timeout"),
            "kms_master_key_id": a.get("kms_key"), "tags": a.get("tags", {}), "purge_tags": False}})
    elif r["kind"] == "function":
        tasks.append({"name": address, "amazon.aws.lambda": {
            "name": name, "role": a["role"], "runtime": a["runtime"], "handler": a["handler"],
            "zip_file": f"{work}/code.zip", "timeout": a.get("timeout"), "memory_size": a.get("memory")}})
        for queue, trigger in a.get("triggers", {}).items():
            tasks.append({"name": f"{address}.trigger", "amazon.aws.lambda_event": {
                "lambda_function_arn": name, "event_source": "sqs",
                "source_params": {"source_arn": queue, "batch_size": trigger.get("batch_size", 10), "enabled": True}}})

defaults = {"endpoint_url": endpoint, "region": "us-east-1", "access_key": "testing", "secret_key": "testing"}
play = {"hosts": "localhost", "connection": "local", "gather_facts": False,
        "module_defaults": {"group/amazon.aws.aws": defaults, "group/community.aws.aws": defaults},
        "tasks": tasks}
json.dump([play], sys.stdout, indent=1)
EOF
  local started ended
  started=$(date +%s.%N)
  ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python" ANSIBLE_NOCOLOR=1 \
    "$venv/bin/ansible-playbook" -i localhost, --check "$work/playbook.yml" >"$work/ansible.log" 2>&1 \
    || { cat "$work/ansible.log" >&2; return 1; }
  ended=$(date +%s.%N)
  grep -E '^localhost' "$work/ansible.log" >&2 || true
  python3 -c "print(f'{$ended - $started:.2f}')"
}

case "${1:-}" in
  install) install ;;
  run) run "${2:?usage: bench-ansible.sh run ENDPOINT SNAPSHOT.json LAMBDA_DIR}" "${3:?}" "${4:?}" ;;
  *) echo "usage: $0 install | run ENDPOINT SNAPSHOT.json LAMBDA_DIR" >&2; exit 2 ;;
esac
