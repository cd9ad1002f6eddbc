#!/usr/bin/env bash
# Takes each action the printed policy grants out in turn, runs the stack's whole life cycle
# (plan, apply, update, drift repair, a resource removed, destroy) against moto through the test
# proxy enforcing what is left, and lists the removals no step notices: grants the life cycle
# does not need. Slow (a life cycle per printed action), so run by hand, not by `cargo test`.
#
#   scripts/permission-removals.sh                 # every shipped stack
#   scripts/permission-removals.sh openmetadata    # some: tonic-v1 tonic-v2 ganymede gretel openmetadata
#
# PLINTH_REMOVALS_PARALLEL=N life cycles at once (default 4). docs/reliability.md has the output.
set -euo pipefail
cd "$(dirname "$0")/.."
stacks="all"
if [ "$#" -gt 0 ]; then
    stacks="$(IFS=,; echo "$*")"
fi
PLINTH_REMOVALS="$stacks" exec cargo test --locked --test it \
    least_privilege::a_printed_action_taken_out_is_noticed_by_the_life_cycle \
    -- --exact --nocapture
