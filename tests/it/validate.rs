//! `plinth validate`: good specs pass, every class of bad input gets a located diagnostic,
//! exit code 1, and nothing is sent to AWS.

use crate::support::{plinth, root};

/// Runs validate with an endpoint that refuses every connection: if anything tried to reach
/// AWS, the run would fail differently.
fn validate(path: &str) -> crate::support::Run {
    let mut cmd = crate::support::command(&["validate", "-f", path]);
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let out = cmd.output().expect("run plinth");
    crate::support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn every_bad_spec_is_rejected_with_a_located_diagnostic() {
    let mut seen = 0;
    insta::glob!("../../fixtures/bad", "*.toml", |path| {
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        let run = validate(&rel);
        assert_eq!(run.code, 1, "{rel}: exit code\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "{rel}: nothing on stdout");
        assert!(!run.stderr.contains("panicked"), "{rel}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{rel}:"))
                || run.stderr.contains("fixtures/bad/policies/"),
            "{rel}: the diagnostic names the file with line and column\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("nothing was sent to AWS"), "{rel}");
        insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(run.stderr);
        });
        seen += 1;
    });
    assert!(seen >= 40, "the corpus is all there ({seen} files)");
}

/// Too big to commit: a 10 MB spec, made here. It is refused from its size alone, and so is a
/// device that never ends; neither is read whole.
#[test]
fn oversize_and_endless_files_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.toml");
    let line = format!("# {}\n", "x".repeat(1022));
    std::fs::write(
        &huge,
        format!("[stack]\nname = \"huge\"\n{}", line.repeat(10 * 1024)),
    )
    .unwrap();
    for path in [huge.display().to_string(), "/dev/zero".to_string()] {
        let run = validate(&path);
        assert_eq!(run.code, 1, "{path}: {}", run.stderr);
        assert!(
            run.stderr.contains("spec::too-large"),
            "{path}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{path}:1:1")),
            "{path}: located\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("nothing was sent to AWS"), "{path}");
    }
}

#[test]
fn all_errors_are_reported_in_one_run() {
    let run = validate("fixtures/bad/many-errors.toml");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("unknown field `descripton`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `description`?"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);
    assert!(run.stderr.contains("`role.four`"), "{}", run.stderr);
    assert!(run.stderr.contains("contains `/`"), "{}", run.stderr);
    assert!(run.stderr.contains("4 errors found"), "{}", run.stderr);
}

#[test]
fn example_stacks_are_valid() {
    for entry in std::fs::read_dir(root().join("plans")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let rel = path.strip_prefix(root()).unwrap().display().to_string();
            let run = validate(&rel).ok();
            assert!(run.stdout.contains("is valid"), "{rel}: {}", run.stdout);
            assert!(
                run.stderr.is_empty(),
                "{rel}: no warnings expected\n{}",
                run.stderr
            );
        }
    }
}

#[test]
fn without_a_file_plinth_reads_plinth_toml_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plinth.toml"),
        "[stack]\nname = \"here\"\n\n[role.r]\nname = \"r\"\ntrust = { Statement = [{ Effect = \"Allow\", Principal = { Service = \"ec2.amazonaws.com\" }, Action = \"sts:AssumeRole\" }] }\n",
    )
    .unwrap();
    let mut cmd = crate::support::command(&["validate"]);
    let out = cmd.current_dir(dir.path()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = crate::support::command(&["validate"]);
    let out = cmd.current_dir(root().join("fixtures")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read `plinth.toml`")
            && stderr.contains("help: pass the spec with -f PATH"),
        "{stderr}"
    );
}

#[test]
fn unfilled_placeholders_are_warnings_and_in_an_arn_errors() {
    let spec = crate::support::TempSpec::new(
        r#"[stack]
name = "placeholders"

[role.r]
name = "tonic-r"
description = "Read by <team name>"
trust = '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
"#,
    );
    let run = plinth(&["validate", "-f", &spec.arg()]).ok();
    assert!(
        run.stderr.contains("spec::placeholder") && run.stderr.contains("⚠"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`<team name>` looks like a placeholder"),
        "{}",
        run.stderr
    );

    let spec = crate::support::TempSpec::new(
        r#"[stack]
name = "placeholders"

[role.r]
name = "tonic-r"
trust = '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::<aws account id>:root"}, "Action": "sts:AssumeRole"}]}'
"#,
    );
    let run = plinth(&["validate", "-f", &spec.arg()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`<aws account id>` looks like a placeholder"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("${aws.account_id}"), "{}", run.stderr);
    assert!(run.stderr.contains("[P008]"), "{}", run.stderr);
}

/// Terraform's options take one dash: `-out=FILE` is named as plinth's `--out`, and what follows
/// `=` (it may be a secret) is not repeated.
#[test]
fn an_option_written_with_one_dash_is_named_with_two() {
    let run = plinth(&["plan", "-f", "plans/example-roles.toml", "-out=saved.plan"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("hint: plinth's options take two dashes: --out"),
        "{}",
        run.stderr
    );
    let secret = plinth(&[
        "validate",
        "-f",
        "plans/example-roles.toml",
        "-var=token=s3cr3t-value",
    ]);
    assert_eq!(secret.code, 1);
    assert!(secret.stderr.contains("--var"), "{}", secret.stderr);
    assert!(!secret.stderr.contains("s3cr3t-value"), "{}", secret.stderr);
}

#[test]
fn var_overrides_must_name_declared_variables() {
    let run = plinth(&[
        "validate",
        "-f",
        "plans/example-roles.toml",
        "--var",
        "vendor_acount=1",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("did you mean `vendor_account`?"),
        "{}",
        run.stderr
    );
    plinth(&[
        "validate",
        "-f",
        "plans/example-roles.toml",
        "--var",
        "vendor_account=210987654321",
    ])
    .ok();
}

#[test]
fn policy_lints_warn_and_can_be_silenced_per_statement_with_a_reason() {
    let body = r#"[stack]
name = "lints"

[role.ops]
name = "tonic-ops"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[role.ops.policies.queues]
Version = "2012-10-17"
Statement = [
  { Sid = "AllQueueActions", Effect = "Allow", Action = "sqs:*", Resource = "arn:aws:sqs:*:${aws.account_id}:tonic-*" },
  { Sid = "Read", Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::tonic-data/*" },
]
"#;
    let spec = crate::support::TempSpec::new(body);
    let run = plinth(&["validate", "-f", &spec.arg()]).ok();
    assert!(
        run.stderr
            .contains("role.ops policies.queues, statement AllQueueActions"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("[P003]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("⚠"),
        "a warning, not an error: {}",
        run.stderr
    );

    let silenced = format!(
        "{body}\n[[role.ops.silence]]\nlint = \"P003\"\npolicy = \"policies.queues\"\nstatement = \"AllQueueActions\"\nreason = \"the worker creates and deletes its own queues\"\n"
    );
    let spec = crate::support::TempSpec::new(&silenced);
    let run = plinth(&["validate", "-f", &spec.arg()]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // A silence for another statement does not hide this one.
    let elsewhere = silenced.replace("statement = \"AllQueueActions\"", "statement = \"Read\"");
    let spec = crate::support::TempSpec::new(&elsewhere);
    let run = plinth(&["validate", "-f", &spec.arg()]).ok();
    assert!(run.stderr.contains("[P003]"), "{}", run.stderr);
}

#[test]
fn schema_and_completions_come_from_the_definitions() {
    let run = plinth(&["schema"]).ok();
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["title"], "plinth spec");
    let role = &schema["$defs"]["RoleByName"]["additionalProperties"];
    assert_eq!(role["additionalProperties"], false, "{role}");
    // A role plinth creates needs its trust policy; an existing one need not restate it.
    assert_eq!(
        role["then"]["required"],
        serde_json::json!(["trust"]),
        "{role}"
    );
    assert_eq!(
        role["if"]["not"]["properties"]["existing"]["const"], true,
        "{role}"
    );
    let run = plinth(&["completions", "bash"]).ok();
    assert!(
        run.stdout.contains("plinth") && run.stdout.contains("--detailed-exitcode"),
        "{}",
        run.stdout
    );
}

/// Every ready-made stack shows how to lock it, right under its name: without a lock two
/// applies at once can create a resource twice.
#[test]
fn every_ready_made_stack_shows_the_lock_setting() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("plans")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let stack = text.split("[stack]").nth(1).unwrap_or_default();
        let table = stack.split("\n[").next().unwrap_or_default();
        assert!(
            table.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.starts_with("lock = {")
            }) && table.contains("\"Locking\""),
            "{}: [stack] shows `lock = {{ bucket = ... }}` and the README section",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 5, "{seen} stacks");
}

#[test]
fn a_misspelled_field_is_one_error_not_also_a_dangling_reference() {
    let run = validate("fixtures/bad/typo-in-a-referenced-resource.toml");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `visibility_timeout`?"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("dangling-reference"),
        "`queue.work` is declared: {}",
        run.stderr
    );
    assert!(run.stderr.contains("1 error found"), "{}", run.stderr);
}

/// Roles that share a trust policy file share one read of it: a broken file is one error at its
/// own line, however many roles name it, and a missing one is an error at each line naming it.
#[test]
fn a_policy_file_several_roles_name_is_read_once_and_its_error_reported_once() {
    let role = |name: &str, file: &str| {
        format!("\n[role.{name}]\nname = \"{name}\"\ntrust = {{ file = \"{file}\" }}\n")
    };
    let text = "[stack]\nname = \"shared-files\"\n".to_string()
        + &role("a", "broken.json")
        + &role("b", "broken.json")
        + &role("c", "broken.json")
        + &role("d", "missing.json")
        + &role("e", "missing.json");
    let spec = crate::support::TempSpec::new(&text);
    spec.write(
        "broken.json",
        "{ \"Version\": \"2012-10-17\", \"Statement\": [ { \"Effect\": \"Allow\" ] }",
    );
    let run = validate(&spec.arg());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("policy is not valid JSON").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("cannot read `").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("3 errors found"), "{}", run.stderr);
}
