//! `plinth schema` agrees with `plinth validate`: every shipped and fixture spec that validate
//! accepts is valid against the schema, and a spec validate rejects for a range, a pattern or
//! an enum is rejected by the schema too. The schema is checked by Python's `jsonschema` (the
//! implementation editors' tooling is tested against), from the emulator's venv, which
//! `scripts/moto.sh install` provides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{plinth, root};

/// Reads each TOML file named on the command line and prints, as one JSON object, the schema's
/// errors for it (an empty list when it is valid).
const VALIDATE: &str = r#"
import json, sys, tomllib
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
result = {}
for path in sys.argv[2:]:
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except Exception as e:
        result[path] = ["not TOML: %s" % e]
        continue
    result[path] = sorted("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message)
                          for e in validator.iter_errors(spec))
print(json.dumps(result))
"#;

fn venv_python() -> PathBuf {
    let status = Command::new("bash")
        .arg(root().join("scripts/moto.sh"))
        .arg("install")
        .status()
        .expect("run scripts/moto.sh install");
    assert!(status.success(), "scripts/moto.sh install failed");
    let venv = std::env::var_os("PLINTH_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-moto"));
    venv.join("bin/python")
}

/// The schema's errors for each file.
fn schema_errors(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, plinth(&["schema"]).ok().stdout).unwrap();
    let out = Command::new(venv_python())
        .arg("-c")
        .arg(VALIDATE)
        .arg(&schema)
        .args(files)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: BTreeMap<String, Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    result
        .into_iter()
        .map(|(k, v)| (PathBuf::from(k), v))
        .collect()
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn validates(path: &Path) -> bool {
    plinth(&["validate", "-f", &path.display().to_string()]).code == 0
}

#[test]
fn every_spec_validate_accepts_is_valid_against_the_schema() {
    let mut files = Vec::new();
    for dir in ["plans", "fixtures/specs", "fixtures/checks", "fixtures/bad"] {
        files.extend(toml_files(&root().join(dir)));
    }
    let accepted: Vec<PathBuf> = files.into_iter().filter(|f| validates(f)).collect();
    let shipped = accepted
        .iter()
        .filter(|f| f.starts_with(root().join("plans")));
    assert_eq!(shipped.count(), 5, "every shipped stack validates");
    let invalid: Vec<String> = schema_errors(&accepted)
        .into_iter()
        .filter(|(_, errors)| !errors.is_empty())
        .map(|(file, errors)| format!("{}: {}", file.display(), errors.join("; ")))
        .collect();
    assert!(
        invalid.is_empty(),
        "validate accepts these, the schema does not:\n{}",
        invalid.join("\n")
    );
}

/// A spec valid in every way the schema can express, to change one value of.
const BASE: &str = r#"
[stack]
name = "schema-agreement"

[vars]
prefix = "agree"

[role.worker]
name = "${var.prefix}-worker"
path = "/agree/"
max_session_hours = 1
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[role.worker.policies.queue]
when = "true"
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource = "${queue.work.arn}" }]

[queue.work]
name = "agree-work"
visibility_timeout = 60

[function.worker]
name = "agree-worker"
role = "${role.worker.arn}"
code = { image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/agree:1" }
timeout = 30
memory = 256
architectures = ["arm64"]

[[function.worker.trigger]]
queue = "${queue.work.arn}"
batch_size = 10
function_response_types = ["ReportBatchItemFailures"]

[key.data]
key_usage = "ENCRYPT_DECRYPT"
key_spec = "SYMMETRIC_DEFAULT"
aliases = ["alias/agree-data"]
deletion_window_days = 7

[bucket.data]
name = "agree-data"
encryption = { sse = "kms", kms_key = "${key.data.arn}" }

[oidc_provider.github]
url = "https://token.actions.githubusercontent.com"
thumbprints = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
"#;

/// One value of [`BASE`] changed to one that AWS does not accept, by the kind of rule.
const REJECTED: &[(&str, &str, &str)] = &[
    ("range", "memory = 256", "memory = 100"),
    ("range", "memory = 256", "memory = 10241"),
    ("range", "timeout = 30", "timeout = 901"),
    (
        "range",
        "visibility_timeout = 60",
        "visibility_timeout = 43201",
    ),
    ("range", "max_session_hours = 1", "max_session_hours = 13"),
    (
        "range",
        "deletion_window_days = 7",
        "deletion_window_days = 6",
    ),
    ("range", "batch_size = 10", "batch_size = 10001"),
    ("pattern", "name = \"agree-work\"", "name = \"agree work\""),
    ("pattern", "name = \"agree-data\"", "name = \"Agree_Data\""),
    (
        "pattern",
        "name = \"agree-worker\"",
        "name = \"agree.worker\"",
    ),
    (
        "pattern",
        "name = \"${var.prefix}-worker\"",
        "name = \"agree/worker\"",
    ),
    ("pattern", "path = \"/agree/\"", "path = \"agree\""),
    (
        "pattern",
        "aliases = [\"alias/agree-data\"]",
        "aliases = [\"alias/aws/s3\"]",
    ),
    (
        "pattern",
        "thumbprints = [\"6938fd4d98bab03faadb97b34396831e3780aea1\"]",
        "thumbprints = [\"69:38:fd\"]",
    ),
    (
        "pattern",
        "name = \"schema-agreement\"",
        "name = \"schema agreement\"",
    ),
    (
        "enum",
        "key_usage = \"ENCRYPT_DECRYPT\"",
        "key_usage = \"ENCRYPT\"",
    ),
    (
        "enum",
        "key_spec = \"SYMMETRIC_DEFAULT\"",
        "key_spec = \"AES_256\"",
    ),
    (
        "enum",
        "architectures = [\"arm64\"]",
        "architectures = [\"aarch64\"]",
    ),
    ("enum", "sse = \"kms\"", "sse = \"aes\""),
    (
        "enum",
        "[\"ReportBatchItemFailures\"]",
        "[\"ReportFailures\"]",
    ),
];

#[test]
fn what_validate_rejects_for_a_range_pattern_or_enum_the_schema_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.toml");
    std::fs::write(&base, BASE).unwrap();
    let mut files = vec![base.clone()];
    for (i, (_, from, to)) in REJECTED.iter().enumerate() {
        assert_eq!(BASE.matches(from).count(), 1, "{from} is in the base once");
        let path = dir.path().join(format!("rejected-{i}.toml"));
        std::fs::write(&path, BASE.replace(from, to)).unwrap();
        files.push(path);
    }
    let run = plinth(&["validate", "-f", &base.display().to_string()]);
    assert_eq!(run.code, 0, "the base spec validates:\n{}", run.stderr);
    let errors = schema_errors(&files);
    assert_eq!(
        errors[&base],
        Vec::<String>::new(),
        "the base spec is valid"
    );
    for (i, (rule, _, to)) in REJECTED.iter().enumerate() {
        let path = &files[i + 1];
        let run = plinth(&["validate", "-f", &path.display().to_string()]);
        assert_eq!(run.code, 1, "validate rejects `{to}` ({rule})");
        assert!(
            run.stderr.contains("invalid-value") || run.stderr.contains("invalid-name"),
            "validate rejects `{to}` for its value:\n{}",
            run.stderr
        );
        assert!(
            !errors[path].is_empty(),
            "the schema rejects `{to}` ({rule}) as validate does"
        );
    }
}
