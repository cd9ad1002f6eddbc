//! Apply under the faults real AWS produces, through the fault-injecting proxy.

use std::time::{Duration, Instant};

use crate::proxy::{Fault, FaultProxy, Faults};
use crate::support::{moto, plinth, plinth_aws, runtime, s3, sdk, unique, TempSpec};

fn stack(stack: &str, prefix: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.lambda]
name = "{prefix}-lambda"
description = "Assumed by the Lambda function"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}
managed_policies = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
tags = {{ team = "data" }}

[role.lambda.policies.access]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource = "arn:aws:sqs:*:${{aws.account_id}}:{prefix}-*" }}]

[role.server]
name = "{prefix}-server"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[role.server.policies.pass]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = "iam:PassRole", Resource = "${{role.lambda.arn}}" }}]
"#
    )
}

fn via(proxy: &FaultProxy, args: &[&str]) -> crate::support::Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", &proxy.url]);
    plinth(&all)
}

fn owned_roles(prefix: &str) -> Vec<String> {
    runtime().block_on(async {
        let client = aws_sdk_iam::Client::new(&sdk().await);
        let roles: Vec<_> = client
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        let mut names: Vec<String> = roles
            .iter()
            .map(|r| r.role_name().to_string())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
    })
}

#[test]
fn faults_have_the_shapes_aws_uses_and_are_reported_when_retries_run_out() {
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            rate: 1.0,
            kinds: vec![Fault::Throttle],
            ..Faults::none()
        },
    );
    let spec = TempSpec::new(&stack(&unique("shape"), &unique("tonic")));
    let run = via(&proxy, &["plan", "-f", &spec.arg(), "--max-attempts", "1"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("Throttling"),
        "the SDK parsed the injected error: {}",
        run.stderr
    );
    proxy.set_faults(Faults::none());
    proxy.reset_counts();
    let plan = via(&proxy, &["plan", "-f", &spec.arg()]).ok();
    let counts = proxy.counts();
    // The emulator, shared with the rest of the suite, may drop a connection or answer 500
    // under load: plinth retries, says so on stderr, and each retry is a request too.
    let retried = plan.stderr.matches("retrying").count();
    for (operation, once_each) in [("sts:GetCallerIdentity", 1), ("iam:GetRole", 2)] {
        let made = counts.by_operation.get(operation).copied().unwrap_or(0);
        assert!(
            (once_each..=once_each + retried).contains(&made),
            "{operation}: {made} calls for {once_each}, {retried} retried\n{:?}\n{}",
            counts.by_operation,
            plan.stderr
        );
    }
}

#[test]
fn reads_that_need_no_account_id_go_out_while_get_caller_identity_is_slow() {
    let (stack_name, prefix) = (unique("early"), unique("tonic"));
    // A role is read by its name; a managed policy by its ARN, which holds the account's id.
    let policy = format!(
        "\n[policy.access]\nname = \"{prefix}-access\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"sqs:SendMessage\", Resource = \"*\" }}] }}\n"
    );
    let spec = TempSpec::new(&(stack(&stack_name, &prefix) + &policy));
    let slow = Duration::from_millis(600);
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![("sts:GetCallerIdentity".into(), 1, Fault::Slow(slow))],
            ..Faults::none()
        },
    );
    via(&proxy, &["plan", "-f", &spec.arg()]).ok();
    let arrivals: Vec<(String, std::time::Instant)> = proxy
        .counts()
        .requests
        .into_iter()
        .map(|r| (r.operation, r.arrived))
        .collect();
    let at = |op: &str| {
        arrivals
            .iter()
            .find(|(o, _)| o == op)
            .unwrap_or_else(|| panic!("no {op} in {arrivals:?}"))
            .1
    };
    let sts = at("sts:GetCallerIdentity");
    assert!(
        at("iam:GetRole") < sts + slow / 2,
        "the role is read while the account is asked for: {arrivals:?}"
    );
    assert!(
        at("iam:GetPolicy") >= sts + slow,
        "the policy's ARN waits for the account: {arrivals:?}"
    );
}

#[test]
fn apply_converges_under_twenty_seeded_fault_schedules() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let mut injected = 0;
    for seed in 1..=20u64 {
        let (name, prefix) = (unique("faults"), unique("tonic"));
        let spec = TempSpec::new(&stack(&name, &prefix));
        // A look-alike nobody owns must come through untouched.
        let lookalike = format!("{prefix}-lookalike");
        runtime().block_on(async {
            aws_sdk_iam::Client::new(&sdk().await)
                .create_role()
                .role_name(&lookalike)
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                .send()
                .await
                .unwrap();
        });
        proxy.set_faults(Faults {
            seed,
            rate: 0.2,
            ..Faults::none()
        });
        proxy.reset_counts();
        let run = via(
            &proxy,
            &[
                "apply",
                "-f",
                &spec.arg(),
                "--auto-approve",
                "--retry-backoff-ms",
                "20",
            ],
        );
        let counts = proxy.counts();
        injected += counts.faults.values().sum::<usize>();
        assert_eq!(
            run.code, 0,
            "seed {seed}: faults {:?}\n{}\n{}",
            counts.faults, run.stdout, run.stderr
        );

        proxy.set_faults(Faults::none());
        let plan = via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "seed {seed}: converged\n{}", plan.stdout);
        assert_eq!(
            owned_roles(&prefix),
            [
                format!("{prefix}-lambda"),
                lookalike.clone(),
                format!("{prefix}-server")
            ]
        );
        runtime().block_on(async {
            let role = aws_sdk_iam::Client::new(&sdk().await)
                .get_role()
                .role_name(&lookalike)
                .send()
                .await
                .unwrap()
                .role
                .unwrap();
            assert!(
                role.tags().is_empty(),
                "seed {seed}: the look-alike was not tagged"
            );
        });
    }
    assert!(injected >= 20, "the schedules injected faults ({injected})");
}

#[test]
fn apply_waits_out_a_burst_of_total_throttling() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("burst"), unique("tonic"));
    let spec = TempSpec::new(&stack(&name, &prefix));
    proxy.set_faults(Faults {
        throttle_until: Some(Instant::now() + Duration::from_secs(3)),
        ..Faults::none()
    });
    let started = Instant::now();
    let run = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(proxy.counts().faults.get("Throttle").copied().unwrap_or(0) > 0);
    proxy.set_faults(Faults::none());
    assert_eq!(
        via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}

fn queue_stack(stack: &str, prefix: &str) -> String {
    format!("[stack]\nname = \"{stack}\"\n\n[queue.work]\nname = \"{prefix}-work\"\nvisibility_timeout = 60\n")
}

#[test]
fn eventual_consistency_gets_a_bounded_visible_wait() {
    const DELETED_RECENTLY: Fault = Fault::Error {
        status: 400,
        code: "QueueDeletedRecently",
        message: "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
    };
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("waits"), unique("tonic"));
    let spec = TempSpec::new(&queue_stack(&name, &prefix));
    proxy.set_faults(Faults {
        scripted: vec![("sqs:CreateQueue".into(), 2, DELETED_RECENTLY)],
        ..Faults::none()
    });
    let run = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("queue.work: waiting 1 s: sqs:CreateQueue: QueueDeletedRecently"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("queue.work: waiting 2 s: sqs:CreateQueue: QueueDeletedRecently"),
        "{}",
        run.stderr
    );

    // The wait is bounded: with no patience the step fails with the AWS error and a report.
    let (name, prefix) = (unique("waits"), unique("tonic"));
    let spec = TempSpec::new(&queue_stack(&name, &prefix));
    proxy.set_faults(Faults {
        scripted: vec![("sqs:CreateQueue".into(), 1, DELETED_RECENTLY)],
        ..Faults::none()
    });
    let run = via(
        &proxy,
        &[
            "apply",
            "-f",
            &spec.arg(),
            "--auto-approve",
            "--max-wait",
            "0",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("queue.work (create): failed: sqs:CreateQueue: QueueDeletedRecently"),
        "{}",
        run.stderr
    );
    proxy.set_faults(Faults::none());
    via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
}

/// AWS may quote the request in its refusal, as Lambda does for an environment over 4 KB: the
/// secrets it quotes are not shown, in the step's line or in the report.
#[test]
fn a_secret_quoted_in_an_aws_error_is_not_shown() {
    const QUOTED: Fault = Fault::Error {
        status: 400,
        code: "InvalidParameterValueException",
        message: "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"MODE\":\"batch\",\"API_TOKEN\":\"quoted-secret-7431\"}",
    };
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("quoted"), unique("tonic"));
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{name}"

[role.fn]
name = "{prefix}-fn"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[function.job]
name = "{prefix}-job"
role = "${{role.fn.arn}}"
code = {{ image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:1" }}
environment = {{ MODE = "batch", API_TOKEN = {{ secret = "quoted-secret-7431" }} }}
"#
    ));
    proxy.set_faults(Faults {
        scripted: vec![("lambda:POST functions".into(), 1, QUOTED)],
        ..Faults::none()
    });
    let run = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("String measured:") && run.stderr.contains("(sensitive)"),
        "the refusal is shown: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("quoted-secret-7431") && !run.stdout.contains("quoted-secret-7431"),
        "{}",
        run.stderr
    );
    proxy.set_faults(Faults::none());
    via(&proxy, &["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
}

/// A queue someone makes between the plan and its create (while apply waits for a prompt, or
/// here for the role before it) is not taken over: SQS would answer CreateQueue with its URL.
/// The step fails naming it, and the queue keeps its owner's tags.
#[test]
fn a_queue_made_after_the_plan_is_not_taken_over() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("taken"), unique("tonic"));
    let queue_name = format!("{prefix}-jobs");
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{name}"

[role.sender]
name = "{prefix}-sender"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[queue.jobs]
name = "{queue_name}"
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = "${{role.sender.arn}}" }}, Action = "sqs:SendMessage", Resource = "*" }}] }}
"#
    ));
    proxy.set_faults(Faults {
        scripted: vec![(
            "iam:CreateRole".into(),
            1,
            Fault::Slow(Duration::from_secs(2)),
        )],
        ..Faults::none()
    });
    let apply = crate::support::spawn_apply(&spec, &proxy.url);
    let started = Instant::now();
    while !proxy.counts().by_operation.contains_key("iam:CreateRole") {
        assert!(started.elapsed() < Duration::from_secs(30), "no CreateRole");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sqs = runtime().block_on(async { aws_sdk_sqs::Client::new(&sdk().await) });
    let url = runtime().block_on(async {
        sqs.create_queue()
            .queue_name(&queue_name)
            .tags("owner", "alice")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    });
    let out = apply.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "queue `{queue_name}` exists and is not the stack's"
        )),
        "{stderr}"
    );
    let tags = runtime().block_on(async {
        sqs.list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default()
    });
    assert_eq!(
        tags.get("owner").map(String::as_str),
        Some("alice"),
        "{tags:?}"
    );
    assert!(!tags.contains_key("plinth:stack"), "{tags:?}");
    proxy.set_faults(Faults::none());
    let plan = via(&proxy, &["plan", "-f", &spec.arg()]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(plan.stderr.contains("plan::conflict"), "{}", plan.stderr);
    runtime().block_on(async { sqs.delete_queue().queue_url(&url).send().await.unwrap() });
    via(&proxy, &["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
}

/// An account's buckets and queues may refuse this identity even their tags (a security
/// bucket kept to one role): a plan that looks for what its stack owns skips them, as it skips
/// such keys, instead of failing on someone else's resource.
#[test]
fn discovery_skips_buckets_and_queues_whose_tags_are_refused() {
    const DENIED: Fault = Fault::Error {
        status: 403,
        code: "AccessDenied",
        message: "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: s3:GetBucketTagging with an explicit deny in a resource-based policy",
    };
    const QUEUE_DENIED: Fault = Fault::Error {
        status: 403,
        code: "AccessDenied",
        message: "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: sqs:listqueuetags on resource: arn:aws:sqs:us-east-1:123456789012:locked with an explicit deny",
    };
    let (name, prefix) = (unique("guarded"), unique("tonic"));
    runtime().block_on(async {
        let config = sdk().await;
        s3(&config)
            .create_bucket()
            .bucket(format!("{prefix}-guarded"))
            .send()
            .await
            .unwrap();
        aws_sdk_sqs::Client::new(&config)
            .create_queue()
            .queue_name(format!("{prefix}-guarded"))
            .send()
            .await
            .unwrap();
    });
    // A stack with no bucket or queue of its own: every tag read of those kinds is discovery's.
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{name}\"\n\n[role.app]\nname = \"{prefix}-app\"\ntrust = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ Service = \"lambda.amazonaws.com\" }}, Action = \"sts:AssumeRole\" }}] }}\n"
    ));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![
                ("s3:GET tagging".into(), 1, DENIED),
                ("sqs:ListQueueTags".into(), 1, QUEUE_DENIED),
            ],
            ..Faults::none()
        },
    );
    let plan = via(&proxy, &["plan", "-f", &spec.arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(
        proxy.counts().faults.values().sum::<usize>(),
        2,
        "both refusals were met: {:?}",
        proxy.counts()
    );
}

/// Live keys whose description is `description`.
fn keys_described(description: &str) -> usize {
    runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let keys: Vec<_> = kms
            .list_keys()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        let mut found = 0;
        for key in keys {
            let meta = kms
                .describe_key()
                .key_id(key.key_id().unwrap())
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap();
            if meta.description() == Some(description)
                && meta.key_state() != Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
            {
                found += 1;
            }
        }
        found
    })
}

/// CreateKey is not idempotent, so plinth makes it without the SDK's retries. A refusal from
/// AWS's side (a 503 before the call ran, a 500, an answer lost after the key was made) is
/// still retried, after looking for the key the lost answer may have created: one key results.
#[test]
fn a_key_create_that_fails_on_the_aws_side_is_retried_without_making_two_keys() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("keyfaults"), unique("tonic"));
    let description = format!("{prefix} key");
    let spec = TempSpec::new(&format!("[stack]\nname = \"{name}\"\n\n[key.data]\ndescription = \"{description}\"\naliases = [\"alias/{prefix}\"]\n"));
    proxy.set_faults(Faults {
        scripted: vec![
            ("kms:CreateKey".into(), 1, Fault::Unavailable),
            ("kms:CreateKey".into(), 1, Fault::ResetAfter),
            ("kms:CreateKey".into(), 1, Fault::InternalError),
        ],
        ..Faults::none()
    });
    let run = via(
        &proxy,
        &[
            "apply",
            "-f",
            &spec.arg(),
            "--auto-approve",
            "--retry-backoff-ms",
            "20",
            "--max-attempts",
            "4",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        proxy.counts().faults.values().sum::<usize>(),
        2,
        "the key the lost answer made was found, not made again"
    );
    assert_eq!(keys_described(&description), 1);
    proxy.set_faults(Faults::none());
    assert_eq!(
        via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}

/// How many fault schedules each shipped stack is applied under.
const SCHEDULES_PER_STACK: u64 = 4;

#[test]
fn every_shipped_stack_converges_under_fault_schedules() {
    use crate::stacks::ShippedStack;
    let proxy = FaultProxy::start(moto(), Faults::none());
    let mut seed = 100;
    let mut schedules = 0;
    for file in [
        "example-roles.toml",
        "tonic-structural-redshift.toml",
        "ganymede-s3.toml",
        "gretel-hybrid.toml",
        "openmetadata-glue.toml",
    ] {
        for _ in 0..SCHEDULES_PER_STACK {
            seed += 1;
            // Tonic's policies are scoped to `tonic-*` names, as its setup page requires.
            let (stack, prefix) = (unique("shipped"), unique("tonic"));
            let bucket = unique("lab-data");
            let vars: Vec<(&str, &str)> = match file {
                "tonic-structural-redshift.toml" => {
                    vec![("prefix", &prefix), ("previous_process", "true")]
                }
                "ganymede-s3.toml" => {
                    runtime().block_on(async {
                        let config = sdk().await;
                        let s3 = s3(&config);
                        s3.create_bucket().bucket(&bucket).send().await.unwrap();
                    });
                    vec![("prefix", &prefix), ("bucket", &bucket)]
                }
                "gretel-hybrid.toml" => vec![
                    ("prefix", &prefix),
                    ("s3_source", "true"),
                    ("s3_sink", "true"),
                ],
                "openmetadata-glue.toml" => vec![("role_name", &prefix)],
                _ => vec![],
            };
            let shipped = ShippedStack::new(file, &stack, &vars);
            let path = shipped.path().display().to_string();
            let args = shipped.args(&path);
            let with = |command: &str, extra: &[&str]| {
                let mut all = vec![command];
                all.extend(args.iter().copied());
                all.extend(extra);
                all.extend(["--retry-backoff-ms", "20"]);
                via(&proxy, &all)
            };

            proxy.set_faults(Faults {
                seed,
                rate: 0.2,
                ..Faults::none()
            });
            let mut run = with("apply", &["--auto-approve"]);
            // At one fault in five, a call can still fail all eight of its attempts (0.2^8,
            // over the thousands of calls of twenty schedules): the apply then stops with the
            // error, and running it again, under the same schedule, finishes the job.
            if run.code != 0 {
                assert!(
                    run.stderr.contains("error: ") && run.stderr.contains("hint: "),
                    "{file}, seed {seed}: a failed apply says why\n{}",
                    run.stderr
                );
                run = with("apply", &["--auto-approve"]);
            }
            schedules += 1;
            assert_eq!(
                run.code,
                0,
                "{file}, seed {seed}: faults {:?}\n{}\n{}",
                proxy.counts().faults,
                run.stdout,
                run.stderr
            );

            proxy.set_faults(Faults::none());
            let plan = with("plan", &["--detailed-exitcode"]);
            assert_eq!(
                plan.code, 0,
                "{file}, seed {seed}: converged\n{}\n{}\napply:\n{}",
                plan.stdout, plan.stderr, run.stderr
            );
            // Nothing duplicated: each address of the stack is held by exactly one resource.
            let snapshot: serde_json::Value =
                serde_json::from_str(&with("snapshot", &[]).ok().stdout).unwrap();
            let mut addresses: Vec<String> = snapshot["owned"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["deletion_date"].is_null())
                .map(|r| r["address_tag"].as_str().unwrap_or("untagged").to_string())
                .collect();
            let total = addresses.len();
            addresses.sort();
            addresses.dedup();
            assert_eq!(
                addresses.len(),
                total,
                "{file}, seed {seed}: a resource was duplicated: {snapshot}"
            );
            with("destroy", &["--auto-approve"]).ok();
        }
    }
    assert_eq!(schedules, 20);
}

#[test]
fn creating_many_keys_looks_for_keys_left_by_an_interrupted_apply_once() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (stack, prefix) = (unique("keys"), unique("tonic"));
    let mut text = format!("[stack]\nname = \"{stack}\"\n");
    for i in 0..6 {
        text.push_str(&format!(
            "\n[key.k{i}]\naliases = [\"alias/{prefix}-{i}\"]\n"
        ));
    }
    let spec = TempSpec::new(&text);
    let list_keys = |args: &[&str]| {
        proxy.reset_counts();
        via(&proxy, args).ok();
        proxy
            .counts()
            .by_operation
            .get("kms:ListKeys")
            .copied()
            .unwrap_or(0)
    };
    // The pages of one listing of the shared emulator's keys.
    let pages = list_keys(&["plan", "-f", &spec.arg()]);
    assert!(pages >= 1);
    // The apply's own plan lists them, and the first CreateKey once more; not once per key.
    let listed = list_keys(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert!(
        listed <= 2 * pages + 1,
        "{listed} listings of the keys for 6 keys ({pages} pages each)"
    );
    assert!(
        via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code == 0,
        "the keys were all made"
    );
}

/// AddRoleToInstanceProfile is not idempotent: when its answer is lost after IAM added the
/// role, the SDK's retry is refused (LimitExceeded: InstanceSessionsPerInstanceProfile). The
/// refusal is decided by reading the profile back: it holds the role, so the step succeeded.
#[test]
fn a_lost_answer_to_add_role_to_instance_profile_is_read_back_not_failed() {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("profile-lost"), unique("tonic"));
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{name}\"\n\n[role.server]\nname = \"{prefix}-server\"\n\
         trust = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ Service = \"ec2.amazonaws.com\" }}, Action = \"sts:AssumeRole\" }}] }}\n\n\
         [instance_profile.server]\nname = \"{prefix}-server\"\nrole = \"${{role.server.name}}\"\n"
    ));
    proxy.set_faults(Faults {
        scripted: vec![("iam:AddRoleToInstanceProfile".into(), 1, Fault::ResetAfter)],
        ..Faults::none()
    });
    let run = via(
        &proxy,
        &[
            "apply",
            "-f",
            &spec.arg(),
            "--auto-approve",
            "--retry-backoff-ms",
            "20",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let counts = proxy.counts();
    assert_eq!(
        counts.faults.values().sum::<usize>(),
        1,
        "the answer was lost once"
    );
    assert_eq!(
        counts.by_operation.get("iam:AddRoleToInstanceProfile"),
        Some(&2),
        "the SDK retried, and IAM refused the retry"
    );
    proxy.set_faults(Faults::none());
    assert_eq!(
        via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
    via(&proxy, &["destroy", "-f", &spec.arg(), "--auto-approve"]);
}

/// What AWS has just made is not visible everywhere at once: the calls right after a create may
/// be told it does not exist, and a delete may be refused while a detach propagates. Each is
/// waited out (and shown), and the apply finishes.
#[test]
fn what_aws_has_not_propagated_yet_is_waited_for() {
    const fn error(code: &'static str, message: &'static str) -> Fault {
        Fault::Error {
            status: 400,
            code,
            message,
        }
    }
    const ROLE_NOT_FOUND: Fault =
        error("NoSuchEntity", "The role with name fresh cannot be found.");
    const KEY_NOT_FOUND: Fault = error("NotFoundException", "Key does not exist");
    let proxy = FaultProxy::start(moto(), Faults::none());
    let (name, prefix) = (unique("fresh"), unique("tonic"));
    let spec = TempSpec::new(&format!(
        r#"{}
[key.data]
description = "{prefix} data"
rotation = true
aliases = ["alias/{prefix}-data"]

[bucket.data]
name = "{prefix}-data"
"#,
        stack(&name, &prefix)
    ));
    proxy.set_faults(Faults {
        scripted: vec![
            ("iam:PutRolePolicy".into(), 1, ROLE_NOT_FOUND),
            ("iam:AttachRolePolicy".into(), 1, ROLE_NOT_FOUND),
            ("kms:EnableKeyRotation".into(), 1, KEY_NOT_FOUND),
            ("kms:CreateAlias".into(), 1, KEY_NOT_FOUND),
            (
                "s3:PUT ".into(),
                1,
                Fault::Error {
                    status: 409,
                    code: "OperationAborted",
                    message: "A conflicting conditional operation is currently in progress against this resource. Please try again.",
                },
            ),
            (
                "s3:PUT tagging".into(),
                1,
                Fault::Error {
                    status: 404,
                    code: "NoSuchBucket",
                    message: "The specified bucket does not exist",
                },
            ),
        ],
        ..Faults::none()
    });
    let run = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for waited in [
        "iam:PutRolePolicy: NoSuchEntity",
        "iam:AttachRolePolicy: NoSuchEntity",
        "kms:EnableKeyRotation: NotFoundException",
        "kms:CreateAlias: NotFoundException",
        "s3:CreateBucket: OperationAborted",
        "NoSuchBucket",
    ] {
        assert!(
            run.stderr.contains(&format!("waiting 1 s: {waited}"))
                || (waited == "NoSuchBucket" && run.stderr.contains(waited)),
            "{waited}\n{}",
            run.stderr
        );
    }
    proxy.set_faults(Faults::none());
    assert_eq!(
        via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );

    proxy.set_faults(Faults {
        scripted: vec![(
            "iam:DeleteRole".into(),
            1,
            error(
                "DeleteConflict",
                "Cannot delete entity, must detach all policies first.",
            ),
        )],
        ..Faults::none()
    });
    let run = via(&proxy, &["destroy", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("waiting 1 s: iam:DeleteRole: DeleteConflict"),
        "{}",
        run.stderr
    );
    assert!(owned_roles(&prefix).is_empty());

    // An AWS managed policy that does not exist is a wrong ARN: reported at once, not waited for.
    let (name, prefix) = (unique("fresh"), unique("tonic"));
    let spec = TempSpec::new(&stack(&name, &prefix).replace(
        "service-role/AWSLambdaBasicExecutionRole",
        "service-role/AWSLambdaBasicExecutionRol",
    ));
    let run = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stderr.contains("waiting"), "{}", run.stderr);
    via(&proxy, &["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
}

/// A key replacement that stops after the aliases moved to the new key (here its
/// ScheduleKeyDeletion of the old key is refused) leaves the old key tagged with the address.
/// The next plan knows it for the key the new one replaced, from the new key's tags, and
/// schedules its deletion: the next apply finishes the job, where two keys with one address
/// used to stop every plan (`plan::duplicate`).
#[test]
fn a_replaced_key_left_by_a_stopped_replacement_is_deleted_by_the_next_apply() {
    let (stack, prefix) = (unique("rekey"), unique("rekey"));
    let key = |spec: &str| {
        format!(
            "[stack]\nname = \"{stack}\"\n\n[key.data]\ndescription = \"{prefix}\"\n{spec}aliases = [\"alias/{prefix}\"]\ndeletion_window_days = 7\n"
        )
    };
    let spec = TempSpec::new(&key(""));
    let proxy = FaultProxy::start(moto(), Faults::none());
    via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let old = runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let described = kms.describe_key().key_id(format!("alias/{prefix}")).send();
        described.await.unwrap().key_metadata.unwrap().key_id
    });

    std::fs::write(
        spec.path(),
        key("key_spec = \"RSA_2048\"\nkey_usage = \"SIGN_VERIFY\"\n"),
    )
    .unwrap();
    proxy.set_faults(Faults {
        scripted: vec![(
            "kms:ScheduleKeyDeletion".into(),
            1,
            Fault::Error {
                status: 400,
                code: "AccessDeniedException",
                message: "injected: not allowed to schedule the deletion",
            },
        )],
        ..Faults::none()
    });
    let failed = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("kms:ScheduleKeyDeletion"),
        "{}",
        failed.stderr
    );

    let plan = via(&proxy, &["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout.contains(&format!("key.data#{old}"))
            && plan.stdout.contains("replaced by key")
            && plan
                .stdout
                .contains("0 to add, 0 to change, 0 to replace, 1 to destroy"),
        "the old key is deleted, nothing else: {}",
        plan.stdout
    );
    via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let state = runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let described = kms.describe_key().key_id(&old).send();
        described.await.unwrap().key_metadata.unwrap().key_state
    });
    assert_eq!(state, Some(aws_sdk_kms::types::KeyState::PendingDeletion));
    let plan = via(&proxy, &["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

/// What a replacement of a key with aliases `-a` and `-b` by a `RSA_2048` signing key leaves
/// when stopped after moving `moved` of the aliases: the new key, tagged as the stack's and as
/// replacing the old one. Returns the spec of the key given its `key_spec` lines (the first
/// apply's has none), where it is written, the alias prefix, and the old and new keys' ids.
struct StoppedReplacement {
    key: Box<dyn Fn(&str) -> String>,
    spec: TempSpec,
    prefix: String,
    old: String,
    new: String,
}

impl StoppedReplacement {
    fn after_moving(moved: &[&str]) -> StoppedReplacement {
        use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
        let (stack, prefix) = (unique("realias"), unique("realias"));
        let key = {
            let (stack, prefix) = (stack.clone(), prefix.clone());
            move |spec: &str| {
                format!(
                    "[stack]\nname = \"{stack}\"\n\n[key.data]\ndescription = \"{prefix}\"\n{spec}aliases = [\"alias/{prefix}-a\", \"alias/{prefix}-b\"]\ndeletion_window_days = 7\n"
                )
            }
        };
        let spec = TempSpec::new(&key(""));
        plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
        let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().unwrap();
        let (old, new) = runtime().block_on(async {
            let kms = aws_sdk_kms::Client::new(&sdk().await);
            let old = kms
                .describe_key()
                .key_id(format!("alias/{prefix}-b"))
                .send();
            let old = old.await.unwrap().key_metadata.unwrap().key_id;
            let created = kms
                .create_key()
                .description(&prefix)
                .key_spec(KeySpec::Rsa2048)
                .key_usage(KeyUsageType::SignVerify)
                .tags(tag("plinth:stack", &stack))
                .tags(tag("plinth:address", "key.data"))
                .tags(tag("plinth:replaces", &old))
                .send();
            let new = created.await.unwrap().key_metadata.unwrap().key_id;
            for alias in moved {
                let alias = format!("alias/{prefix}-{alias}");
                kms.delete_alias().alias_name(&alias).send().await.unwrap();
                let moved = kms.create_alias().alias_name(&alias).target_key_id(&new);
                moved.send().await.unwrap();
            }
            (old, new)
        });
        StoppedReplacement {
            key: Box::new(key),
            spec,
            prefix,
            old,
            new,
        }
    }

    /// Applies the spec with `key_spec` lines, then checks that both aliases name one key, that
    /// each of `deleted` is pending deletion, and that a plan shows no changes. Returns the key
    /// the aliases name.
    fn finished_by_apply(&self, key_spec: &str, deleted: &[&str]) -> String {
        std::fs::write(self.spec.path(), (self.key)(key_spec)).unwrap();
        let applied = plinth_aws(&["apply", "-f", &self.spec.arg(), "--auto-approve"]);
        assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
        let holder = runtime().block_on(async {
            let kms = aws_sdk_kms::Client::new(&sdk().await);
            let mut named = Vec::new();
            for alias in ["a", "b"] {
                let key = kms
                    .describe_key()
                    .key_id(format!("alias/{}-{alias}", self.prefix));
                named.push(key.send().await.unwrap().key_metadata.unwrap().key_id);
            }
            assert_eq!(named[0], named[1], "both aliases name one key");
            for deleted in deleted {
                let key = kms.describe_key().key_id(*deleted).send().await.unwrap();
                let state = key.key_metadata.unwrap().key_state;
                assert_eq!(
                    state,
                    Some(aws_sdk_kms::types::KeyState::PendingDeletion),
                    "{deleted}"
                );
            }
            named.remove(0)
        });
        let plan = plinth_aws(&["plan", "-f", &self.spec.arg(), "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
        holder
    }
}

/// A replacement moves the old key's aliases one at a time. Stopped after the first moved, the
/// alias by which the stack finds its key names the new key and the second still names the old
/// one: the next apply moves it over and then deletes the old key.
#[test]
fn a_replacement_stopped_between_two_aliases_is_finished_by_the_next_apply() {
    let left = StoppedReplacement::after_moving(&["a"]);
    let signing = "key_spec = \"RSA_2048\"\nkey_usage = \"SIGN_VERIFY\"\n";
    let holder = left.finished_by_apply(signing, &[&left.old]);
    assert_eq!(holder, left.new);
}

/// Stopped after moving the first alias (the one the stack finds its key by), and then the
/// spec goes back to the old key: the plan says so (the new key deleted, nothing made) and the
/// apply moves the alias back.
#[test]
fn a_stopped_replacement_whose_spec_went_back_keeps_the_old_key() {
    let left = StoppedReplacement::after_moving(&["a"]);
    let plan = plinth_aws(&["plan", "-f", &left.spec.arg()]).ok();
    assert!(
        plan.stdout.contains(&format!("key.data#{}", left.new))
            && plan.stdout.contains("made to replace key")
            && plan
                .stdout
                .contains("0 to add, 1 to change, 0 to replace, 1 to destroy"),
        "{}",
        plan.stdout
    );
    let holder = left.finished_by_apply("", &[&left.new]);
    assert_eq!(holder, left.old);
}

/// Stopped after moving the second alias, and then the spec asks for a third kind of key: the
/// plan deletes the stopped replacement's key, which it cannot take over, instead of leaving it
/// to make every later plan a duplicate; the apply makes the third key and moves both aliases
/// there, one from each earlier key.
#[test]
fn a_stopped_replacement_s_key_unlike_the_spec_is_deleted_by_the_next_apply() {
    let left = StoppedReplacement::after_moving(&["b"]);
    let ecc = "key_spec = \"ECC_NIST_P256\"\nkey_usage = \"SIGN_VERIFY\"\n";
    std::fs::write(left.spec.path(), (left.key)(ecc)).unwrap();
    let plan = plinth_aws(&["plan", "-f", &left.spec.arg()]).ok();
    assert!(
        plan.stdout.contains(&format!("key.data#{}", left.new))
            && plan.stdout.contains("made to replace key")
            && plan.stdout.contains("1 to replace, 1 to destroy"),
        "{}",
        plan.stdout
    );
    let holder = left.finished_by_apply(ecc, &[&left.old, &left.new]);
    assert!(holder != left.old && holder != left.new, "a third key");
}

/// Replacing a managed policy detaches and deletes the old one first (IAM keeps one policy per
/// name). When the new one cannot be made, nothing but the error remembers the users and groups
/// it was attached to outside the stack: the error lists the command for each.
#[test]
fn a_failed_managed_policy_replacement_lists_what_to_attach_again() {
    let (stack, prefix) = (unique("repol"), unique("repol"));
    let policy = |description: &str| {
        format!(
            "[stack]\nname = \"{stack}\"\n\n[policy.access]\nname = \"{prefix}-access\"\ndescription = \"{description}\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"arn:aws:s3:::{prefix}-*\" }}] }}\n"
        )
    };
    let spec = TempSpec::new(&policy("v1"));
    let proxy = FaultProxy::start(moto(), Faults::none());
    via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let user = format!("{prefix}-analyst");
    let arn = format!("arn:aws:iam::123456789012:policy/{prefix}-access");
    runtime().block_on(async {
        let iam = aws_sdk_iam::Client::new(&sdk().await);
        iam.create_user().user_name(&user).send().await.unwrap();
        let attach = iam.attach_user_policy().user_name(&user).policy_arn(&arn);
        attach.send().await.unwrap();
    });

    std::fs::write(spec.path(), policy("v2")).unwrap();
    proxy.set_faults(Faults {
        scripted: vec![(
            "iam:CreatePolicy".into(),
            1,
            Fault::Error {
                status: 400,
                code: "LimitExceeded",
                message: "injected: too many policies",
            },
        )],
        ..Faults::none()
    });
    let failed = via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!(
            "aws iam attach-user-policy --user-name {user} --policy-arn {arn}"
        )),
        "{}",
        failed.stderr
    );
    via(&proxy, &["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
}
