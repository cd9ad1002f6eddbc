#!/usr/bin/env bash
# A peer for plinth's plan benchmark: the resources of a stack (the benchmark uses Tonic
# Structural's, plans/tonic-structural-redshift.toml) checked by Ansible's amazon.aws and
# community.aws modules in check mode, against the same endpoint. Not part of CI.
#
#   scripts/bench-ansible.sh install
#       create .venv-ansible (ignored by git) with Ansible and boto3 from PyPI
#   scripts/bench-ansible.sh run ENDPOINT SNAPSHOT.json
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
  local endpoint=$1 snapshot=$2
  local work
  work=$(mktemp -d)
  trap "rm -rf '$work'" EXIT
  "$venv/bin/python" - "$snapshot" "$endpoint" >"$work/playbook.yml" <<'EOF'
import json, sys
snapshot, endpoint = json.load(open(sys.argv[1])), sys.argv[2]

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
    name, kind = r["physical_id"], r["kind"]
    tags = {"tags": a.get("tags", {}), "purge_tags": False}
    if kind == "role":
        tasks.append({"name": address, "amazon.aws.iam_role": {
            "name": name, "path": a.get("path", "/"), "assume_role_policy_document": json.dumps(a["trust"]),
            "description": a.get("description"), "max_session_duration": 3600 * a.get("max_session_hours", 1),
            "managed_policies": sorted(a.get("managed_policies", [])), "purge_policies": False,
            "create_instance_profile": False, **tags}})
        for policy, doc in a.get("policies", {}).items():
            tasks.append({"name": f"{address}.policies.{policy}", "amazon.aws.iam_policy": {
                "iam_type": "role", "iam_name": name, "policy_name": policy, "policy_json": json.dumps(doc)}})
    elif kind == "instance_profile":
        tasks.append({"name": address, "amazon.aws.iam_instance_profile": {
            "name": name, "path": a.get("path", "/"), "role": a.get("role"), **tags}})
    elif kind == "key":
        tasks.append({"name": address, "amazon.aws.kms_key": {
            "alias": a["aliases"][0], "description": a.get("description"), "enabled": a.get("enabled", True),
            "enable_key_rotation": a.get("rotation"), "policy": json.dumps(a["policy"]) if "policy" in a else None,
            "key_spec": a.get("key_spec"), "key_usage": a.get("key_usage"), **tags}})
    elif kind == "queue":
        tasks.append({"name": address, "community.aws.sqs_queue": {
            "name": name, "visibility_timeout": a.get("visibility_timeout"),
            "message_retention_period": a.get("message_retention"), "maximum_message_size": a.get("max_message_size"),
            "delay_seconds": a.get("delay"), "receive_message_wait_time_seconds": a.get("receive_wait"),
            "policy": a.get("policy"), "kms_master_key_id": a.get("kms_key"),
            "kms_data_key_reuse_period_seconds": a.get("kms_data_key_reuse"), **tags}})
    elif kind == "function":
        tasks.append({"name": address, "amazon.aws.lambda": {
            "name": name, "role": a["role"], "runtime": a["runtime"], "handler": a["handler"],
            # No zip_file: the module would compare the hash of a zip of its own making, which
            # never matches the deterministic archive plinth uploads.
            "description": a.get("description"), "timeout": a.get("timeout"),
            "memory_size": a.get("memory"), "environment_variables": a.get("environment") or None,
            **tags}})
        for queue, trigger in a.get("triggers", {}).items():
            tasks.append({"name": f"{address}.trigger", "amazon.aws.lambda_event": {
                "lambda_function_arn": name, "event_source": "sqs",
                "source_params": {"source_arn": queue, "batch_size": trigger.get("batch_size", 10), "enabled": trigger.get("enabled", True)}}})
    elif kind == "bucket":
        block = a.get("public_access_block")
        tasks.append({"name": address, "amazon.aws.s3_bucket": {
            "name": name, "policy": json.dumps(a["policy"]) if "policy" in a else None,
            "encryption": {"s3": "AES256", "kms": "aws:kms"}.get((a.get("encryption") or {}).get("sse")),
            "public_access": block and {
                "block_public_acls": block["block_public_acls"], "ignore_public_acls": block["ignore_public_acls"],
                "block_public_policy": block["block_public_policy"], "restrict_public_buckets": block["restrict_public_buckets"]},
            **tags}})
        for i, n in enumerate(a.get("notifications", [])):
            target = {k: n[k] for k in ("queue",) if k in n}
            tasks.append({"name": f"{address}.notification[{i}]", "community.aws.s3_bucket_notification": {
                "event_name": f"{name}-{i}", "bucket_name": name, "queue_arn": target.get("queue"),
                "events": sorted(n["events"]), "prefix": n.get("prefix", ""), "suffix": n.get("suffix", "")}})

# Leave out the settings the stack does not declare, as a hand-written playbook would.
for task in tasks:
    for module, args in task.items():
        if isinstance(args, dict):
            task[module] = {k: v for k, v in args.items() if v is not None}

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
  # The tasks that would change something (a faithful playbook changes nothing), and the recap.
  awk '/^TASK \[/ { task = $0 } /^(changed|skipping):/ { print $1, task } /^localhost / { print }' "$work/ansible.log" >&2
  python3 -c "print(f'{$ended - $started:.2f}')"
}

case "${1:-}" in
  install) install ;;
  run) run "${2:?usage: bench-ansible.sh run ENDPOINT SNAPSHOT.json}" "${3:?}" ;;
  *) echo "usage: $0 install | run ENDPOINT SNAPSHOT.json" >&2; exit 2 ;;
esac
