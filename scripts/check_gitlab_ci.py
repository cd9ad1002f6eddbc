"""Checks a .gitlab-ci.yml for the mistakes GitLab rejects a pipeline for, without GitLab:
unknown top-level keys in a job, a job without a script, a stage not declared in `stages`,
`needs` naming no job, rules without `if`/`changes`; and runs shellcheck on each job's script
(with `before_script`), the way the job's shell would run it."""

import subprocess
import sys

import yaml

JOB_KEYS = {
    "after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage",
    "dependencies", "environment", "except", "extends", "id_tokens", "image", "inherit",
    "interruptible", "needs", "only", "parallel", "release", "resource_group", "retry", "rules",
    "script", "secrets", "services", "stage", "tags", "timeout", "trigger", "variables", "when",
}
GLOBAL_KEYS = {"default", "include", "stages", "variables", "workflow", "image", "services",
               "cache", "before_script", "after_script"}


def lines(value):
    return value if isinstance(value, list) else [value]


def main(path):
    with open(path) as f:
        config = yaml.safe_load(f)
    errors = []
    stages = config.get("stages", ["build", "test", "deploy"])
    jobs = {k: v for k, v in config.items() if k not in GLOBAL_KEYS and not k.startswith(".")}
    if not jobs:
        errors.append("no jobs")
    for name, job in jobs.items():
        if not isinstance(job, dict):
            errors.append(f"{name}: a job is a mapping")
            continue
        for key in job:
            if key not in JOB_KEYS:
                errors.append(f"{name}: unknown key `{key}`")
        if "script" not in job and "trigger" not in job:
            errors.append(f"{name}: no script")
        if job.get("stage", "test") not in stages:
            errors.append(f"{name}: stage `{job.get('stage')}` is not in stages {stages}")
        for need in job.get("needs", []):
            need = need["job"] if isinstance(need, dict) else need
            if need not in jobs:
                errors.append(f"{name}: needs `{need}`, which is no job")
        for rule in job.get("rules", []):
            if not ({"if", "changes", "exists", "when"} & set(rule)):
                errors.append(f"{name}: a rule without if, changes, exists or when")
        script = "\n".join(lines(job.get("before_script", [])) + lines(job.get("script", [])))
        check = subprocess.run(
            ["shellcheck", "--shell=sh", "--severity=warning", "-"],
            input=script, text=True, capture_output=True,
        )
        if check.returncode != 0:
            errors.append(f"{name}: shellcheck:\n{check.stdout}")
    for error in errors:
        print(f"{path}: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(max(main(path) for path in sys.argv[1:]))
