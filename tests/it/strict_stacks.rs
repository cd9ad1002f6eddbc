//! The strict mode of the test proxy (`strict.rs`) against moto: the shipped stacks with every
//! switch on, each switch alone with the stack it affects most, and what plinth does about the
//! behaviours that need more than a retry (SQS's late attributes, KMS's lockout check, Lambda's
//! one mapping per queue and function).

use std::time::{Duration, Instant};

use crate::proxy::{FaultProxy, Faults};
use crate::stacks::ShippedStack;
use serde_json::json;

use crate::strict::{lets_manage, normalize_principals, Strict, Switch};
use crate::support::{command, moto, runtime, s3, sdk, unique, PrivateMoto, Run};

/// N: `PLINTH_STRICT_DELAY` seconds (10 by hand), 2 by default to keep CI short.
pub(crate) fn delay() -> Duration {
    Duration::from_secs(
        std::env::var("PLINTH_STRICT_DELAY")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2),
    )
}

/// The ARN moto says requests come from.
pub(crate) fn caller() -> String {
    runtime().block_on(async {
        let sts = aws_sdk_sts::Client::new(&sdk().await);
        sts.get_caller_identity().send().await.unwrap().arn.unwrap()
    })
}

/// A proxy in front of moto with `switches` on, and its strict mode to ask what fired.
pub(crate) fn strict_proxy(switches: &[Switch]) -> (FaultProxy, Strict) {
    strict_proxy_with(switches, delay())
}

fn strict_proxy_with(switches: &[Switch], delay: Duration) -> (FaultProxy, Strict) {
    strict_proxy_at(moto(), switches, delay)
}

/// A strict proxy in front of `upstream` (a private moto).
fn strict_proxy_at(upstream: &str, switches: &[Switch], delay: Duration) -> (FaultProxy, Strict) {
    let strict = Strict::new(switches, delay, &caller());
    let proxy = FaultProxy::start(
        upstream,
        Faults {
            strict: strict.clone(),
            ..Faults::none()
        },
    );
    (proxy, strict)
}

pub(crate) fn via(proxy: &FaultProxy, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--endpoint-url", proxy.url.as_str()]);
    let out = command(&all).output().expect("run plinth");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Applies a shipped stack through `proxy`, then plans it at once: no changes.
fn apply_then_plan(proxy: &FaultProxy, stack: &ShippedStack) -> Result<(), String> {
    let path = stack.path().display().to_string();
    apply_then_plan_args(proxy, &stack.args(&path))
}

/// Applies `-f SPEC ...` through `proxy`, then plans it at once: no changes.
fn apply_then_plan_args(proxy: &FaultProxy, args: &[&str]) -> Result<(), String> {
    let path = args.get(1).copied().unwrap_or_default();
    let stack = args;
    let mut apply = vec!["apply"];
    apply.extend(stack);
    apply.push("--auto-approve");
    let run = via(proxy, &apply);
    if run.code != 0 {
        return Err(format!("apply {path}: {}\n{}", run.stdout, run.stderr));
    }
    let mut plan = vec!["plan", "--detailed-exitcode"];
    plan.extend(stack);
    let run = via(proxy, &plan);
    if run.code != 0 || !run.stdout.contains("No changes.") {
        return Err(format!(
            "plan {path} right after its apply: exit {}\n{}\n{}",
            run.code, run.stdout, run.stderr
        ));
    }
    Ok(())
}

/// The four shipped stacks (Tonic with and without the previous process), every switch on,
/// applied at once: each applies in one run and plans no changes right after. On a private
/// moto: these stacks have no lock, so each discovers its resources by listing the account,
/// and at the end of a full `cargo test` the shared moto holds every other test's resources
/// (five stacks reading the tags of a hundred buckets at once kept it from answering in 10 s).
#[test]
fn the_shipped_stacks_apply_in_one_run_and_replan_clean_with_every_switch_on() {
    let moto = PrivateMoto::start();
    let (proxy, _) = strict_proxy_at(&moto.url, &Switch::ALL, delay());
    let bucket = unique("lab-data");
    runtime().block_on(async {
        s3(&moto.sdk().await)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
    });
    let (tonic_v1, tonic_v2) = (unique("tonic"), unique("tonic"));
    let (ganymede, gretel, glue) = (
        unique("ganymede"),
        unique("gretel"),
        unique("openmetadata-glue"),
    );
    let stacks = [
        ShippedStack::new(
            "tonic-structural-redshift.toml",
            &unique("tonic-structural"),
            &[("prefix", &tonic_v1), ("previous_process", "true")],
        ),
        ShippedStack::new(
            "tonic-structural-redshift.toml",
            &unique("tonic-structural"),
            &[("prefix", &tonic_v2)],
        ),
        ShippedStack::new(
            "ganymede-s3.toml",
            &unique("ganymede"),
            &[("prefix", &ganymede), ("bucket", &bucket)],
        ),
        ShippedStack::new(
            "gretel-hybrid.toml",
            &unique("gretel"),
            &[
                ("prefix", &gretel),
                ("s3_source", "true"),
                ("s3_sink", "true"),
            ],
        ),
        ShippedStack::new(
            "openmetadata-glue.toml",
            &unique("openmetadata"),
            &[("role_name", &glue)],
        ),
    ];
    let started = Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = stacks
            .iter()
            .map(|stack| scope.spawn(|| apply_then_plan(&proxy, stack)))
            .collect();
        runs.into_iter()
            .filter_map(|r| r.join().unwrap().err())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("five stacks in strict mode: {:?}", started.elapsed());
}

/// Trust written as people write it: IAM hands it back in its normal form.
const NORMAL_FORM_SPEC: &str = r#"[stack]
name = "STACK"

[role.app]
name = "ROLE"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { AWS = ["${aws.account_id}"], Service = ["lambda.amazonaws.com"] }, Action = ["sts:AssumeRole"] }] }
"#;

/// N for the switches alone, long enough that a loaded machine still meets each switch (the
/// test fails when a switch changed no answer).
const ALONE: Duration = Duration::from_secs(8);

/// Each switch alone, with the stack it affects most: the switch changes some answer, and
/// the stack still applies in one run and plans no changes right after.
#[test]
fn each_switch_alone_leaves_the_stack_it_affects_most_converged() {
    let normal = crate::support::TempSpec::new(
        &NORMAL_FORM_SPEC
            .replace("STACK", &unique("normal-form"))
            .replace("ROLE", &unique("normal-form")),
    );
    let tonic = |prefix: &str| {
        ShippedStack::new(
            "tonic-structural-redshift.toml",
            &unique("tonic-structural"),
            &[("prefix", prefix), ("previous_process", "true")],
        )
    };
    let (p1, p2, p3) = (unique("tonic"), unique("tonic"), unique("tonic"));
    let gretel = unique("gretel");
    let glue = unique("openmetadata-glue");
    let cases: Vec<(Switch, ShippedStack)> = vec![
        (Switch::RolePropagation, tonic(&p1)),
        (Switch::FunctionStates, tonic(&p2)),
        (Switch::S3Destinations, tonic(&p3)),
        (
            Switch::NewPrincipals,
            ShippedStack::new(
                "gretel-hybrid.toml",
                &unique("gretel"),
                &[("prefix", &gretel)],
            ),
        ),
        (
            Switch::GetRoleLag,
            ShippedStack::new(
                "openmetadata-glue.toml",
                &unique("openmetadata"),
                &[("role_name", &glue)],
            ),
        ),
    ];
    let normal_path = normal.arg();
    // A private moto, three stacks at a time: at the end of a full `cargo test`, the shared
    // moto holds every other test's resources, and six stacks discovering theirs among them at
    // once kept it from answering within plinth's 10 s.
    let moto = PrivateMoto::start();
    let mut failures: Vec<String> = Vec::new();
    for wave in cases.chunks(3) {
        failures.extend(std::thread::scope(|scope| {
            let runs: Vec<_> = wave
                .iter()
                .map(|(switch, stack)| {
                    let moto = &moto;
                    scope.spawn(move || {
                        let (proxy, strict) = strict_proxy_at(&moto.url, &[*switch], ALONE);
                        apply_then_plan(&proxy, stack)?;
                        fired(&strict, *switch)
                    })
                })
                .collect();
            runs.into_iter()
                .filter_map(|r| r.join().unwrap().err())
                .collect::<Vec<_>>()
        }));
    }
    let (proxy, strict) = strict_proxy_at(&moto.url, &[Switch::NormalPrincipals], delay());
    if let Err(e) = apply_then_plan_args(&proxy, &["-f", &normal_path])
        .and_then(|()| fired(&strict, Switch::NormalPrincipals))
    {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn fired(strict: &Strict, switch: Switch) -> Result<(), String> {
    match strict.fired().get(&switch) {
        Some(n) if *n > 0 => Ok(()),
        _ => Err(format!(
            "{switch:?} never changed an answer: the test proves nothing"
        )),
    }
}

const QUEUE_SPEC: &str = r#"[stack]
name = "STACK"

[queue.work]
name = "QUEUE"
visibility_timeout = VISIBILITY
"#;

/// SQS shows a change everywhere only after a while: the apply waits (and says so) until a
/// read shows what it wrote, so the plan right after shows no change.
#[test]
fn a_plan_right_after_a_queue_change_shows_no_change_while_sqs_propagates() {
    let (proxy, strict) = strict_proxy(&[Switch::StaleQueueReads]);
    let (stack, queue) = (unique("propagating"), unique("propagating"));
    let spec = |visibility: &str| {
        QUEUE_SPEC
            .replace("STACK", &stack)
            .replace("QUEUE", &queue)
            .replace("VISIBILITY", visibility)
    };
    let first = crate::support::TempSpec::new(&spec("30"));
    let path = first.arg();
    let run = via(&proxy, &["apply", "-f", &path, "--auto-approve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Reads the queue, so the proxy holds what it looked like before the change.
    let run = via(&proxy, &["plan", "-f", &path, "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    first.write("plinth.toml", &spec("60"));
    let run = via(&proxy, &["apply", "-f", &path, "--auto-approve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("queue.work: waiting") && run.stderr.contains("not visible yet"),
        "the wait is shown\n{}",
        run.stderr
    );
    let run = via(&proxy, &["plan", "-f", &path, "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    fired(&strict, Switch::StaleQueueReads).unwrap();
}

/// KMS's lockout safety check, before KMS: validate warns and plan refuses a key policy
/// that does not let the identity running plinth change it again; a bypass with a reason
/// silences both and reaches KMS, which then accepts the policy.
#[test]
fn the_lockout_check_fires_at_validate_and_plan_and_a_bypass_with_a_reason_silences_it() {
    let someone_else = "arn:aws:iam::123456789012:user/someone-else";
    let prefix = unique("gretel");
    let stack = ShippedStack::new(
        "gretel-hybrid.toml",
        &unique("gretel"),
        &[("prefix", &prefix), ("deployer", someone_else)],
    );
    let path = stack.path().display().to_string();
    let mut validate = vec!["validate"];
    validate.extend(stack.args(&path));
    let run = crate::support::plinth(&validate);
    assert_eq!(run.code, 0, "a warning only\n{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("check::key-lockout"), "{}", run.stderr);

    let (proxy, strict) = strict_proxy(&[Switch::KeyLockout]);
    let mut plan = vec!["plan"];
    plan.extend(stack.args(&path));
    let run = via(&proxy, &plan);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("check::key-lockout")
            && run.stderr.contains("the identity running plinth")
            && run.stderr.contains("bypass_lockout_check"),
        "{}",
        run.stderr
    );

    // A bypass without its reason is a spec error.
    let text = std::fs::read_to_string(stack.path()).unwrap();
    let without_reason = text.replace(
        "[key.credentials]\n",
        "[key.credentials]\nbypass_lockout_check = true\n",
    );
    std::fs::write(stack.path(), &without_reason).unwrap();
    let run = crate::support::plinth(&validate);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("spec::bypass-without-reason"),
        "{}",
        run.stderr
    );

    let with_reason = text.replace(
        "[key.credentials]\n",
        "[key.credentials]\nbypass_lockout_check = true\nbypass_lockout_reason = \"someone-else administers this key\"\n",
    );
    std::fs::write(stack.path(), with_reason).unwrap();
    let run = crate::support::plinth(&validate);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("check::key-lockout"), "{}", run.stderr);
    apply_then_plan(&proxy, &stack).unwrap();
    assert_eq!(
        strict.fired().get(&Switch::KeyLockout),
        None,
        "KMS saw the bypass"
    );
}

/// Lambda allows one mapping of a queue to a function: a create refused for a mapping the
/// plan did not see is a conflict with a hint, never success.
#[test]
fn a_second_mapping_refused_by_lambda_is_a_conflict_with_a_hint() {
    let (proxy, strict) = strict_proxy(&[Switch::OneMappingPerQueue]);
    let prefix = unique("tonic");
    let stack = ShippedStack::new(
        "tonic-structural-redshift.toml",
        &unique("tonic-structural"),
        &[("prefix", &prefix), ("previous_process", "true")],
    );
    apply_then_plan(&proxy, &stack).unwrap();
    // Someone deletes the mapping behind the proxy's back and makes another, which Lambda
    // (the proxy) still counts while the plan does not see it.
    runtime().block_on(async {
        let lambda = aws_sdk_lambda::Client::new(&sdk().await);
        let function = format!("{prefix}-worker");
        let mappings = lambda
            .list_event_source_mappings()
            .function_name(&function)
            .send()
            .await
            .unwrap();
        for m in mappings.event_source_mappings() {
            lambda
                .delete_event_source_mapping()
                .uuid(m.uuid().unwrap())
                .send()
                .await
                .unwrap();
        }
    });
    let path = stack.path().display().to_string();
    let mut apply = vec!["apply"];
    apply.extend(stack.args(&path));
    apply.push("--auto-approve");
    let run = via(&proxy, &apply);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("ResourceConflictException")
            && run.stderr.contains("already exists")
            && run.stderr.contains("plan` again"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Apply complete"), "{}", run.stderr);
    fired(&strict, Switch::OneMappingPerQueue).unwrap();
}

// The strict mode's own rules.

#[test]
fn principals_take_iams_normal_form() {
    let mut doc = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["123456789012"], "Service": ["lambda.amazonaws.com"]}, "Action": "sts:AssumeRole"}]});
    normalize_principals(&mut doc);
    assert_eq!(
        doc["Statement"][0]["Principal"],
        json!({"AWS": "arn:aws:iam::123456789012:root", "Service": "lambda.amazonaws.com"})
    );
}

#[test]
fn the_lockout_check_accepts_the_account_and_the_caller_only() {
    let caller = "arn:aws:iam::123456789012:user/moto";
    let policy = |principal: &str, action: &str| {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}]}).to_string()
    };
    assert!(lets_manage(
        &policy("arn:aws:iam::123456789012:root", "kms:*"),
        caller
    ));
    assert!(lets_manage(&policy(caller, "kms:Put*"), caller));
    assert!(!lets_manage(
        &policy("arn:aws:iam::123456789012:user/someone", "kms:*"),
        caller
    ));
    assert!(!lets_manage(&policy(caller, "kms:Decrypt"), caller));
    assert!(lets_manage(
        &policy(caller, "kms:*"),
        "arn:aws:sts::123456789012:user/moto"
    ));
    assert!(lets_manage(
        &policy("arn:aws:iam::123456789012:role/deployer", "kms:*"),
        "arn:aws:sts::123456789012:assumed-role/deployer/session"
    ));
}

/// A function is Pending for a while after its create, and Lambda refuses every call on it
/// meanwhile: setting its reserved concurrency waits, as its updates do.
#[test]
fn reserved_concurrency_waits_for_a_pending_function() {
    let (proxy, strict) = strict_proxy(&[Switch::FunctionStates]);
    let name = unique("pending");
    let spec = crate::support::TempSpec::new(&format!(
        r#"[stack]
name = "{name}"

[role.fn]
name = "{name}"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[function.fn]
name = "{name}"
role = "${{role.fn.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ dir = "code" }}
reserved_concurrency = 2
"#
    ));
    spec.write(
        "code/main.py",
        "def handler(event, context):\n    return None\n",
    );
    apply_then_plan_args(&proxy, &["-f", &spec.arg()]).unwrap();
    fired(&strict, Switch::FunctionStates).unwrap();
}
