//! Reliability and security end to end, on one stack of every common kind: roles, a KMS key, a
//! queue, a function with a trigger and a secret, a bucket. Secrets never leak into any output,
//! and `plinth permissions` covers every call a real apply, plan and destroy make.

use crate::proxy::{FaultProxy, Faults};
use crate::support::{command, moto, runtime, s3, sdk, Run, TempSpec};

const LAMBDA_TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;

/// Recognizable values that must never appear in any output.
pub const SECRET: &str = "s3cr3t-env-value-7f1c";
pub const SESSION_TOKEN: &str = "session-token-9d2e-must-not-leak";
pub const SECRET_ACCESS_KEY: &str = "secret-access-key-3b7a-must-not-leak";

/// Every kind a data platform's setup usually needs, wired together by references.
pub fn full_stack(stack: &str, prefix: &str) -> TempSpec {
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{stack}"

[role.lambda]
name = "{prefix}-lambda"
trust = '{LAMBDA_TRUST}'
managed_policies = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]

[role.lambda.policies.queue]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource = "${{queue.work.arn}}" }}]

[role.reader]
name = "{prefix}-reader"
trust = '{LAMBDA_TRUST}'
tags = {{ team = "data" }}

[key.data]
description = "{prefix} data key"
aliases = ["alias/{prefix}-data"]
deletion_window_days = 7

[queue.work]
name = "{prefix}-work"
visibility_timeout = 120
tags = {{ team = "data" }}

[function.worker]
name = "{prefix}-worker"
role = "${{role.lambda.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ dir = "src" }}
timeout = 60

[function.worker.environment]
QUEUE_URL = "${{queue.work.url}}"
KEY_ARN = "${{key.data.arn}}"
API_TOKEN = {{ secret = "{SECRET}" }}

[[function.worker.trigger]]
queue = "${{queue.work.arn}}"
batch_size = 5

[bucket.data]
name = "{prefix}-data"
encryption = {{ sse = "s3" }}
tags = {{ team = "data" }}

[outputs]
WORKER = "${{function.worker.arn}}"
QUEUE = "${{queue.work.url}}"
"#
    ));
    spec.write(
        "src/main.py",
        "def handler(event, context):\n    return 1\n",
    );
    spec
}

/// Runs plinth (through the proxy, for the commands that reach AWS) with the most verbose
/// logging and session credentials.
fn verbose(proxy: &FaultProxy, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    if ["plan", "apply", "destroy", "outputs", "snapshot"].contains(&args[0]) {
        all.extend(["--endpoint-url", &proxy.url]);
    }
    all.push("-vv");
    let out = command(&all)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("PLINTH_LOG", "trace")
        .output()
        .expect("run plinth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in [SECRET, SESSION_TOKEN, SECRET_ACCESS_KEY] {
        if let Some(at) = text.find(secret) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(300)
                .map_or(0, |(i, _)| i);
            panic!(
                "{what} shows `{secret}`:\n...{}",
                &text[from..(at + secret.len() + 100).min(text.len())]
            );
        }
    }
}

#[test]
fn secrets_appear_in_no_output_of_any_command_at_the_most_verbose_logging() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (stack, prefix) = (
        crate::support::unique("secrets"),
        crate::support::unique("tonic"),
    );
    let spec = full_stack(&stack, &prefix);
    let file = spec.arg();
    let saved = spec.dir.path().join("plan.plinth").display().to_string();
    let mut runs = Vec::new();
    let mut run = |label: &str, args: &[&str]| {
        let r = verbose(&proxy, args);
        runs.push((label.to_string(), r.code));
        assert_no_secret(&format!("{label} stdout"), &r.stdout);
        assert_no_secret(&format!("{label} stderr"), &r.stderr);
        r
    };
    run("validate", &["validate", "-f", &file]);
    for format in ["text", "json", "markdown"] {
        run(
            &format!("plan --format {format}"),
            &["plan", "-f", &file, "--format", format],
        );
    }
    run("plan --out", &["plan", "-f", &file, "--out", &saved]);
    let plan_file = std::fs::read_to_string(&saved).expect("plan file");
    assert_no_secret("the plan file", &plan_file);
    for format in ["text", "json", "markdown"] {
        run(
            &format!("show --format {format}"),
            &["show", &saved, "--format", format],
        );
    }
    let applied = run("apply", &["apply", "-f", &file, "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    // The secret did reach AWS: the test would prove nothing if it had been dropped.
    let sent = runtime().block_on(async {
        let config = aws_sdk_lambda::Client::new(&sdk().await)
            .get_function_configuration()
            .function_name(format!("{prefix}-worker"))
            .send()
            .await;
        config
            .unwrap()
            .environment
            .and_then(|e| e.variables)
            .unwrap_or_default()
            .remove("API_TOKEN")
    });
    assert_eq!(sent.as_deref(), Some(SECRET));
    for format in ["text", "json", "markdown"] {
        run(
            &format!("plan --format {format} (applied)"),
            &["plan", "-f", &file, "--format", format],
        );
    }
    run("outputs", &["outputs", "-f", &file]);
    run(
        "outputs --format json",
        &["outputs", "-f", &file, "--format", "json"],
    );
    run("snapshot", &["snapshot", "-f", &file]);
    run("permissions", &["permissions", "-f", &file]);
    let destroyed = run("destroy", &["destroy", "-f", &file, "--auto-approve"]);
    assert_eq!(
        destroyed.code, 0,
        "{}\n{}",
        destroyed.stdout, destroyed.stderr
    );
    assert!(
        runs.iter().all(|(_, code)| *code == 0),
        "every command succeeded: {runs:?}"
    );
}

/// The IAM action behind an operation the proxy counted. The query and JSON protocols name the
/// API call, which for these services is the action; the REST protocols (Lambda, S3) are
/// named here by method and path, and S3's actions differ from its API names. An operation
/// this table does not know fails the test rather than passing unchecked.
fn iam_action(operation: &str) -> Option<&'static str> {
    let (service, call) = operation.split_once(':')?;
    if !call.contains(' ') {
        return Some(Box::leak(format!("{service}:{call}").into_boxed_str()));
    }
    Some(match operation {
        "lambda:GET functions" => "lambda:GetFunction",
        "lambda:GET functions/configuration" => "lambda:GetFunctionConfiguration",
        "lambda:POST functions" => "lambda:CreateFunction",
        "lambda:DELETE functions" => "lambda:DeleteFunction",
        "lambda:PUT functions/concurrency" => "lambda:PutFunctionConcurrency",
        "lambda:PUT functions/code" => "lambda:UpdateFunctionCode",
        "lambda:PUT functions/configuration" => "lambda:UpdateFunctionConfiguration",
        "lambda:GET tags" => "lambda:ListTags",
        "lambda:POST tags" => "lambda:TagResource",
        "lambda:DELETE tags" => "lambda:UntagResource",
        "lambda:GET event-source-mappings" => "lambda:ListEventSourceMappings",
        "lambda:POST event-source-mappings" => "lambda:CreateEventSourceMapping",
        "lambda:PUT event-source-mappings" => "lambda:UpdateEventSourceMapping",
        "lambda:DELETE event-source-mappings" => "lambda:DeleteEventSourceMapping",
        "s3:GET x-id&bucket-region" | "s3:GET x-id" | "s3:GET " => "s3:ListAllMyBuckets",
        "s3:PUT " | "s3:PUT x-id" => "s3:CreateBucket",
        "s3:DELETE " | "s3:DELETE x-id" => "s3:DeleteBucket",
        "s3:GET tagging" => "s3:GetBucketTagging",
        "s3:PUT tagging" | "s3:DELETE tagging" => "s3:PutBucketTagging",
        "s3:GET policy" => "s3:GetBucketPolicy",
        "s3:PUT policy" => "s3:PutBucketPolicy",
        "s3:DELETE policy" => "s3:DeleteBucketPolicy",
        "s3:GET cors" => "s3:GetBucketCORS",
        "s3:PUT cors" | "s3:DELETE cors" => "s3:PutBucketCORS",
        "s3:GET encryption" => "s3:GetEncryptionConfiguration",
        "s3:PUT encryption" | "s3:DELETE encryption" => "s3:PutEncryptionConfiguration",
        "s3:GET publicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "s3:PUT publicAccessBlock" | "s3:DELETE publicAccessBlock" => {
            "s3:PutBucketPublicAccessBlock"
        }
        "s3:GET notification" => "s3:GetBucketNotification",
        "s3:PUT notification" => "s3:PutBucketNotification",
        "s3:GET versions" => "s3:ListBucketVersions",
        "s3:POST delete" => "s3:DeleteObject",
        _ => return None,
    })
}

#[test]
fn the_printed_permissions_cover_every_call_of_apply_plan_and_destroy() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (stack, prefix) = (
        crate::support::unique("least"),
        crate::support::unique("tonic"),
    );
    let spec = full_stack(&stack, &prefix);
    let file = spec.arg();
    let printed = crate::support::plinth(&["permissions", "-f", &file]).ok();
    let policy = plinth::policy::PolicyDocument::parse(&printed.stdout)
        .expect("the printed policy is a valid IAM policy");
    let context = plinth::policy::LintContext::new(plinth::policy::DocumentKind::Identity);
    let findings: Vec<_> = plinth::policy::lint(&policy, &context)
        .into_iter()
        .filter(|l| l.severity != plinth::policy::Severity::Info)
        .collect();
    assert!(
        findings.is_empty(),
        "the printed policy lints clean: {findings:?}\n{}",
        printed.stdout
    );
    let json: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
    let granted: std::collections::BTreeSet<String> = json["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect();

    for args in [
        vec!["apply", "--auto-approve"],
        vec!["plan", "--detailed-exitcode"],
        vec!["destroy", "--auto-approve"],
    ] {
        let mut all = args.clone();
        all.extend(["-f", &file, "--endpoint-url", &proxy.url]);
        let run = crate::support::plinth(&all);
        assert_eq!(run.code, 0, "{args:?}\n{}\n{}", run.stdout, run.stderr);
    }
    let counts = proxy.counts();
    let mut missing = Vec::new();
    for operation in counts.by_operation.keys() {
        // GetCallerIdentity needs no permission: every identity may ask who it is.
        if operation == "sts:GetCallerIdentity" {
            continue;
        }
        match iam_action(operation) {
            Some(action) if granted.contains(action) => {}
            Some(action) => missing.push(format!("{operation} ({action})")),
            None => missing.push(format!("{operation} (no IAM action known to this test)")),
        }
    }
    assert!(
        missing.is_empty(),
        "calls not covered by `plinth permissions`: {missing:#?}\ngranted: {granted:?}"
    );
    assert!(
        counts.by_operation.len() >= 30,
        "apply, plan and destroy made the calls of every kind: {:?}",
        counts.by_operation.keys()
    );
}

/// A small seeded generator, so that each run's kill point can be replayed.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

fn apply_via(proxy: &FaultProxy, spec: &TempSpec) -> std::process::Child {
    command(&[
        "apply",
        "-f",
        &spec.arg(),
        "--auto-approve",
        "--endpoint-url",
        &proxy.url,
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("start plinth")
}

fn requests(proxy: &FaultProxy) -> usize {
    proxy.counts().by_operation.values().sum()
}

/// Starts an apply and kills it (SIGKILL: no cleanup, no last words) once the proxy has seen
/// `after` requests, or lets it finish if it makes fewer.
fn apply_killed_after(spec: &TempSpec, after: usize) {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let mut child = apply_via(&proxy, spec);
    loop {
        if requests(&proxy) >= after {
            child.kill().expect("kill plinth");
            break;
        }
        if child.try_wait().expect("poll plinth").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.wait().expect("reap plinth");
    // What plinth sent before it died still lands, as it would at AWS: the next apply must
    // find it there, not race it.
    proxy.settle();
}

/// What the account holds for a test prefix: every resource named with it, and whether it
/// carries the stack's tags.
fn check_converged(stack: &str, prefix: &str, what: &str) {
    use aws_sdk_iam::types::Tag as IamTag;
    let owned =
        |tags: &[(String, String)]| tags.iter().any(|(k, v)| k == "plinth:stack" && v == stack);
    runtime().block_on(async {
        let config = sdk().await;
        let iam = aws_sdk_iam::Client::new(&config);
        let roles: Vec<_> = iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        for role in roles.iter().filter(|r| r.role_name().starts_with(prefix)) {
            let tags: Vec<IamTag> = iam
                .list_role_tags()
                .role_name(role.role_name())
                .send()
                .await
                .unwrap()
                .tags;
            let tags: Vec<(String, String)> = tags.into_iter().map(|t| (t.key, t.value)).collect();
            assert!(
                owned(&tags),
                "{what}: role {} is orphaned: {tags:?}",
                role.role_name()
            );
        }

        let kms = aws_sdk_kms::Client::new(&config);
        let keys: Vec<_> = kms
            .list_keys()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        let mut live_keys = 0;
        for key in keys {
            let meta = kms
                .describe_key()
                .key_id(key.key_id().unwrap())
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap();
            if meta.description() != Some(&format!("{prefix} data key")) {
                continue;
            }
            let tags = kms
                .list_resource_tags()
                .key_id(meta.key_id())
                .send()
                .await
                .unwrap()
                .tags
                .unwrap_or_default();
            let tags: Vec<(String, String)> =
                tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect();
            assert!(
                owned(&tags),
                "{what}: key {} is orphaned: {tags:?}",
                meta.key_id()
            );
            if meta.key_state() != Some(&aws_sdk_kms::types::KeyState::PendingDeletion) {
                live_keys += 1;
            }
        }
        assert_eq!(
            live_keys, 1,
            "{what}: exactly one key for key.data is in use"
        );

        let sqs = aws_sdk_sqs::Client::new(&config);
        let urls = sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .send()
            .await
            .unwrap()
            .queue_urls
            .unwrap_or_default();
        assert_eq!(urls.len(), 1, "{what}: one queue: {urls:?}");
        for url in urls {
            let tags = sqs
                .list_queue_tags()
                .queue_url(&url)
                .send()
                .await
                .unwrap()
                .tags
                .unwrap_or_default();
            assert!(
                owned(&tags.into_iter().collect::<Vec<_>>()),
                "{what}: queue {url} is orphaned"
            );
        }

        let lambda = aws_sdk_lambda::Client::new(&config);
        let functions: Vec<_> = lambda
            .list_functions()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        for f in functions
            .iter()
            .filter(|f| f.function_name().is_some_and(|n| n.starts_with(prefix)))
        {
            let tags = lambda
                .list_tags()
                .resource(f.function_arn().unwrap())
                .send()
                .await
                .unwrap()
                .tags
                .unwrap_or_default();
            assert!(
                owned(&tags.into_iter().collect::<Vec<_>>()),
                "{what}: function {:?} is orphaned",
                f.function_name()
            );
        }
        let mappings = lambda
            .list_event_source_mappings()
            .function_name(format!("{prefix}-worker"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            mappings.event_source_mappings().len(),
            1,
            "{what}: one trigger"
        );

        let s3 = s3(&config);
        for bucket in s3.list_buckets().send().await.unwrap().buckets() {
            let name = bucket.name().unwrap_or_default();
            if name.starts_with(prefix) {
                let tags = s3
                    .get_bucket_tagging()
                    .bucket(name)
                    .send()
                    .await
                    .map(|t| t.tag_set)
                    .unwrap_or_default();
                let tags: Vec<(String, String)> =
                    tags.into_iter().map(|t| (t.key, t.value)).collect();
                assert!(owned(&tags), "{what}: bucket {name} is orphaned: {tags:?}");
            }
        }
    });
}

/// What a kill between CreateBucket and PutBucketTagging can leave for the next apply to
/// trip on, when its only error is that the bucket exists and no stack owns it.
#[derive(Debug, PartialEq)]
enum LeftByKill {
    /// A bucket with no tags at all: moto ignores the tags CreateBucket carries.
    Untagged,
    /// The stack's tags, there now: the killed apply's PutBucketTagging was still on its way
    /// (in a socket the proxy had not yet read) when the next apply read the bucket.
    LandedLate,
}

fn bucket_left_by_kill(run: &Run, prefix: &str, stack: &str) -> Option<LeftByKill> {
    let conflict = format!("bucket `{prefix}-data` already exists and no stack owns it");
    if !(run.stderr.contains(&conflict) && run.stderr.contains("1 error found")) {
        return None;
    }
    let tags = runtime().block_on(async {
        let config = sdk().await;
        s3(&config)
            .get_bucket_tagging()
            .bucket(format!("{prefix}-data"))
            .send()
            .await
            .map(|t| t.tag_set)
            .unwrap_or_default()
    });
    if tags.is_empty() {
        Some(LeftByKill::Untagged)
    } else if tags
        .iter()
        .any(|t| t.key == "plinth:stack" && t.value == stack)
    {
        Some(LeftByKill::LandedLate)
    } else {
        None
    }
}

/// Kill points in the normal test run; `PLINTH_KILLED_APPLIES=N` tries seeds 1 to N.
const KILLED_APPLIES: u64 = 10;

#[test]
fn an_apply_killed_at_any_moment_is_finished_by_the_next_without_duplicates_or_orphans() {
    // The number of requests a whole apply of the stack makes, to pick kill points among.
    let (stack, prefix) = (
        crate::support::unique("kill"),
        crate::support::unique("tonic"),
    );
    let reference = full_stack(&stack, &prefix);
    let proxy = FaultProxy::start(moto(), Faults::none());
    let whole = apply_via(&proxy, &reference).wait().expect("apply");
    assert!(whole.success());
    let total = requests(&proxy);
    assert!(total > 20, "{total} requests");

    let seeds = std::env::var("PLINTH_KILLED_APPLIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(KILLED_APPLIES);
    let runs: Vec<(u64, usize)> = (1..=seeds)
        .map(|seed| (seed, 1 + Seeded(seed).below(total)))
        .collect();
    // A few at a time: moto is one process, and the test machine may have two cores.
    for batch in runs.chunks(5) {
        std::thread::scope(|scope| {
            for &(seed, after) in batch {
                scope.spawn(move || {
                    let (stack, prefix) = (
                        crate::support::unique("kill"),
                        crate::support::unique("tonic"),
                    );
                    let spec = full_stack(&stack, &prefix);
                    let what = format!("seed {seed}, killed after request {after} of {total}");
                    apply_killed_after(&spec, after);
                    let mut again =
                        crate::support::plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
                    let left = (again.code != 0)
                        .then(|| bucket_left_by_kill(&again, &prefix, &stack))
                        .flatten();
                    if let Some(left) = left {
                        if left == LeftByKill::Untagged {
                            // moto ignores the tags CreateBucket carries (AWS applies them with
                            // the bucket), so a kill right after CreateBucket leaves, on moto
                            // only, a bucket no stack owns. The plan names it as a conflict;
                            // adopting it finishes.
                            let adopting = std::fs::read_to_string(spec.path())
                                .unwrap()
                                .replace("[bucket.data]\n", "[bucket.data]\nadopt = true\n");
                            std::fs::write(spec.path(), adopting).unwrap();
                        }
                        again = crate::support::plinth_aws(&[
                            "apply",
                            "-f",
                            &spec.arg(),
                            "--auto-approve",
                        ]);
                    }
                    assert_eq!(
                        again.code, 0,
                        "{what}: the next apply finishes\n{}\n{}",
                        again.stdout, again.stderr
                    );
                    let plan = crate::support::plinth_aws(&[
                        "plan",
                        "-f",
                        &spec.arg(),
                        "--detailed-exitcode",
                    ]);
                    assert_eq!(
                        plan.code, 0,
                        "{what}: converged\n{}\n{}",
                        plan.stdout, plan.stderr
                    );
                    check_converged(&stack, &prefix, &what);
                });
            }
        });
    }
}

/// `plinth permissions --explain` says, for every statement of the policy, which operations
/// need it; `--format text` prints the same statements for a person.
#[test]
fn every_printed_permission_says_what_needs_it() {
    let stack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plans/tonic-structural-redshift.toml"
    );
    let plain = crate::support::plinth(&["permissions", "-f", stack]).ok();
    let policy: serde_json::Value = serde_json::from_str(&plain.stdout).unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert!(sids.len() > 5, "{sids:?}");

    let explained = crate::support::plinth(&["permissions", "-f", stack, "--explain"]).ok();
    let explained: serde_json::Value = serde_json::from_str(&explained.stdout).unwrap();
    assert_eq!(
        explained["policy"], policy,
        "--explain keeps the policy as it is"
    );
    for sid in &sids {
        let why = explained["needed_by"][sid].as_str().unwrap_or_default();
        assert!(
            why.starts_with("plan") || why.starts_with("apply") || why.starts_with("destroy"),
            "{sid}: {why}"
        );
    }

    let text =
        crate::support::plinth(&["permissions", "-f", stack, "--format", "text", "--explain"]).ok();
    for sid in &sids {
        assert!(
            text.stdout.contains(&format!("{sid}\n  actions:")),
            "{sid}\n{}",
            text.stdout
        );
    }
    assert_eq!(text.stdout.matches("  needed by: ").count(), sids.len());
}

/// A spec with a secret in every place one can be: a literal secret, a variable a secret uses
/// (its value in `[vars]` and from `--var`), each next to a mistake whose diagnostic shows the
/// lines around it. `extra` is added at the end (another mistake).
fn secret_spec(stack: &str, mistake: &str) -> TempSpec {
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{stack}"

[vars]
api_token = "{SECRET}"
switch = {mistake}

[role.lambda]
name = "{stack}-lambda"
trust = '{LAMBDA_TRUST}'

[function.worker]
name = "{stack}-worker"
role = "${{role.lambda.arn}}"
code = {{ image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag" }}

[function.worker.environment]
FROM_VAR = {{ secret = "${{var.api_token}}" }}
LITERAL = {{ secret = "{SECRET}" }}
NUMBER = {mistake}
"#
    ));
    spec.write("notes.txt", &format!("api_token: {SECRET}\nnot a policy\n"));
    spec.write("key.json", &format!(r#"{{"private_key": "{SECRET}"}}"#));
    let mut latin1 = format!(r#"{{"Statement": "{SECRET} "#).into_bytes();
    latin1.push(0xe9);
    std::fs::write(spec.dir.path().join("latin1.json"), latin1).expect("write");
    spec
}

/// Every way a bad input can fail, with a secret in it or next to it: no error repeats the
/// secret. A malformed `--var` used to print its value twice, and a policy file that is not a
/// policy its first lines.
#[test]
fn secrets_appear_in_no_error_of_any_bad_input() {
    let stack = crate::support::unique("secret-errors");
    let spec = secret_spec(&stack, "[1]");
    let file = spec.arg();
    let with_policy_file = |policy: &str| {
        let s = secret_spec(&stack, "\"ok\"");
        let text = std::fs::read_to_string(s.path()).unwrap().replace(
            "NUMBER = \"ok\"\n",
            &format!("\n[role.lambda.policies.access]\nfile = \"{policy}\"\n"),
        );
        std::fs::write(s.path(), text).unwrap();
        s
    };
    let cases: Vec<(&str, Vec<String>, Option<TempSpec>)> = vec![
        (
            "a --var without `=`",
            vec![
                "validate".into(),
                "-f".into(),
                file.clone(),
                "--var".into(),
                format!("api_token {SECRET}"),
            ],
            None,
        ),
        (
            "a --var that is only a value",
            vec![
                "validate".into(),
                "-f".into(),
                file.clone(),
                "--var".into(),
                SECRET.into(),
            ],
            None,
        ),
        (
            "a --var with a colon",
            vec![
                "validate".into(),
                "-f".into(),
                file.clone(),
                "--var".into(),
                format!("api_token:{SECRET}"),
            ],
            None,
        ),
        (
            "a --var for no variable",
            vec![
                "validate".into(),
                "-f".into(),
                file.clone(),
                "--var".into(),
                format!("undeclared={SECRET}"),
            ],
            None,
        ),
        (
            "mistakes next to secrets in the spec",
            vec![
                "validate".into(),
                "-f".into(),
                file.clone(),
                "--var".into(),
                format!("api_token={SECRET}"),
            ],
            None,
        ),
        (
            "a text file as a policy",
            vec![],
            Some(with_policy_file("notes.txt")),
        ),
        (
            "a JSON file that is no policy",
            vec![],
            Some(with_policy_file("key.json")),
        ),
        (
            "a policy file that is not UTF-8",
            vec![],
            Some(with_policy_file("latin1.json")),
        ),
    ];
    for (what, args, own_spec) in cases {
        let args: Vec<String> = match &own_spec {
            Some(s) => vec!["validate".into(), "-f".into(), s.arg()],
            None => args,
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = command(&args).output().expect("run plinth");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr),
        );
        assert_eq!(run.status.code(), Some(1), "{what} fails: {stderr}");
        assert!(!stderr.trim().is_empty(), "{what} says why");
        assert_no_secret(&format!("{what}: stdout"), &stdout);
        assert_no_secret(&format!("{what}: stderr"), &stderr);
    }
}

/// A diagnostic the plan reports (once values from AWS are known) does not show a secret on
/// the lines around it either, and a saved plan applied with another secret `--var` says
/// which variable differs, not its value.
#[test]
fn secrets_appear_in_no_error_of_a_plan_or_a_saved_plan() {
    let stack = crate::support::unique("secret-plan");
    let spec = secret_spec(&stack, "\"ok\"");
    // Known only once the account is: refused by the plan, located next to the secrets.
    let text = std::fs::read_to_string(spec.path()).unwrap().replace(
        "NUMBER = \"ok\"\n",
        "NUMBER = \"ok\"\n\n[instance_profile.p]\nname = \"p\"\nrole = \"arn:aws:iam::${aws.account_id}:role/r\"\n",
    );
    std::fs::write(spec.path(), text.replace("FROM_VAR", "FROM_VAR_A")).unwrap();
    let file = spec.arg();
    let planned = crate::support::plinth_aws(&["plan", "-f", &file]);
    assert_eq!(planned.code, 1, "{}", planned.stderr);
    assert!(
        planned.stderr.contains("IAM does not allow"),
        "{}",
        planned.stderr
    );
    assert_no_secret("plan stderr", &planned.stderr);

    // A clean spec, planned with one secret --var and applied with another.
    let spec = secret_spec(&stack, "\"ok\"");
    let file = spec.arg();
    let saved = spec.dir.path().join("plan.plinth").display().to_string();
    let other = "another-s3cr3t-value-5e0a";
    crate::support::plinth_aws(&[
        "plan",
        "-f",
        &file,
        "--out",
        &saved,
        "--var",
        &format!("api_token={SECRET}"),
    ])
    .ok();
    let applied = crate::support::plinth_aws(&[
        "apply",
        &saved,
        "-f",
        &file,
        "--var",
        &format!("api_token={other}"),
    ]);
    assert_eq!(applied.code, 1, "{}", applied.stderr);
    assert!(
        applied.stderr.contains("--var api_token"),
        "{}",
        applied.stderr
    );
    for out in [&applied.stdout, &applied.stderr] {
        assert_no_secret("apply of a saved plan", out);
        assert!(!out.contains(other), "{out}");
    }
}
