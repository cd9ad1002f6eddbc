#!/usr/bin/env bash
# Peak resident memory of `plinth validate` on specs of one kind of block each, as a user
# measures it (`/usr/bin/time`, "Maximum resident set size"). The planner benchmark's stack
# (`PLINTH_BENCH_KEEP=DIR cargo bench --bench planner`) mixes five kinds and shares its trust
# policies through files; these shapes put the weight elsewhere, on what a spec written by
# hand often has instead: inline policies. Not part of CI.
#
#   scripts/bench-shapes.sh [PLINTH] [DIR]
#       PLINTH: the binary to measure (default target/release/plinth)
#       DIR: where the specs are written (default: a new temporary directory)
#
# Shapes, each as close to plinth's 2 MiB spec limit as its blocks allow:
#   roles-file-trust   10,000 roles whose trust policy is one file beside the spec
#   roles-inline-trust 10,000 roles with an inline trust policy each
#   roles-two-inline    7,000 roles with an inline trust policy and an inline policy each
#   queues             10,000 queues with a tag each
#   buckets            10,000 buckets with a tag each
# Each spec is measured three times; the lines give the peak RSS of each run in KiB.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
plinth="${1:-$root/target/release/plinth}"
dir="${2:-$(mktemp -d)}"
mkdir -p "$dir"

python3 - "$dir" <<'EOF'
import sys
out = sys.argv[1]
trust = ('trust={Version="2012-10-17",Statement=[{Effect="Allow",'
         'Principal={Service="lambda.amazonaws.com"},Action="sts:AssumeRole"}]}\n')
policy = ('policies.read={{Version="2012-10-17",Statement=[{{Effect="Allow",'
          'Action="s3:GetObject",Resource="arn:aws:s3:::shape-data-{i}/*"}}]}}\n')
shapes = {
    "roles-file-trust": (10000, lambda i: f'[role.r{i}]\nname="shape-{i}"\ntrust={{file="trust.json"}}\n'),
    "roles-inline-trust": (10000, lambda i: f'[role.r{i}]\nname="shape-{i}"\n' + trust),
    "roles-two-inline": (7000, lambda i: f'[role.r{i}]\nname="shape-{i}"\n' + trust + policy.format(i=i)),
    "queues": (10000, lambda i: f'[queue.q{i}]\nname="shape-{i}"\nvisibility_timeout=60\ntags={{team="data"}}\n'),
    "buckets": (10000, lambda i: f'[bucket.b{i}]\nname="shape-bucket-{i}"\ntags={{team="data"}}\n'),
}
with open(f"{out}/trust.json", "w") as f:
    f.write('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            '{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}\n')
for name, (count, block) in shapes.items():
    with open(f"{out}/{name}.toml", "w") as f:
        f.write('[stack]\nname = "shape"\n' + "".join(block(i) for i in range(count)))
EOF

echo "plinth: $plinth; specs in $dir"
for shape in roles-file-trust roles-inline-trust roles-two-inline queues buckets; do
    peaks=()
    for _ in 1 2 3; do
        peak=$( { /usr/bin/time -f '%M' "$plinth" validate -f "$dir/$shape.toml" >/dev/null; } 2>&1 | tail -1)
        peaks+=("$peak")
    done
    printf '%-20s %s KiB\n' "$shape" "${peaks[*]}"
done
