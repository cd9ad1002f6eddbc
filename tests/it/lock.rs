//! The stack lock (two applies of one stack never run at once) and the stack index kept beside
//! it (a plan reads what the stack owns by name instead of listing the account).

use std::time::Duration;

use crate::proxy::{Fault, FaultProxy, Faults};
use crate::support::{
    command, moto, plinth, plinth_aws, runtime, s3, sdk, spawn_apply, unique, Run, TempSpec,
};

fn spec(stack: &str, prefix: &str, bucket: &str) -> String {
    roles(stack, prefix, bucket, 6)
}

/// A locked stack of `n` roles.
fn roles(stack: &str, prefix: &str, bucket: &str, n: usize) -> String {
    let mut s = format!("[stack]\nname = \"{stack}\"\nlock = {{ bucket = \"{bucket}\" }}\n");
    for i in 0..n {
        s.push_str(&format!(
            "\n[role.r{i}]\nname = \"{prefix}-{i}\"\ntrust = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ Service = \"ec2.amazonaws.com\" }}, Action = \"sts:AssumeRole\" }}] }}\n"
        ));
    }
    s
}

fn lock_bucket() -> String {
    let bucket = unique("plinth-locks");
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
    });
    bucket
}

fn lock_exists(bucket: &str, stack: &str) -> bool {
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        s3.head_object()
            .bucket(bucket)
            .key(format!("plinth/locks/{stack}.lock"))
            .send()
            .await
            .is_ok()
    })
}

#[test]
fn a_held_lock_refuses_an_apply_and_unlock_removes_a_stale_one() {
    let (stack, prefix, bucket) = (unique("locked"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&spec(&stack, &prefix, &bucket));
    // A lock left by a process that was killed.
    let body = r#"{"stack":"x","holder":"arn:aws:iam::123456789012:user/ci","operation":"apply","host":"runner-7","pid":4242,"since":0}"#;
    put_lock(&bucket, &stack, body);
    let refused = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains(&format!("stack `{stack}` is locked: apply by arn:aws:iam::123456789012:user/ci (pid 4242 on runner-7)")), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "hint: wait for it to finish; if that process is gone, run `plinth unlock -f {}`",
            spec.arg()
        )),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stdout.is_empty(),
        "nothing was planned: {}",
        refused.stdout
    );

    let unlock = plinth_aws(&["unlock", "-f", &spec.arg()]).ok();
    assert!(
        unlock
            .stderr
            .contains("held by arn:aws:iam::123456789012:user/ci"),
        "{}",
        unlock.stderr
    );
    assert!(!lock_exists(&bucket, &stack));
    let again = plinth_aws(&["unlock", "-f", &spec.arg()]).ok();
    assert!(again.stderr.contains("was not locked"), "{}", again.stderr);

    // A lock object that names no holder is still a lock, and removing it says so.
    put_lock(&bucket, &stack, "");
    let unlock = plinth_aws(&["unlock", "-f", &spec.arg()]).ok();
    assert!(
        unlock.stderr.contains("which named no holder"),
        "{}",
        unlock.stderr
    );
    assert!(!lock_exists(&bucket, &stack));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        !lock_exists(&bucket, &stack),
        "a finished apply releases its lock"
    );
}

fn put_lock(bucket: &str, stack: &str, body: &str) {
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        let key = format!("plinth/locks/{stack}.lock");
        let body = body.as_bytes().to_vec();
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    });
}

fn lock_body(bucket: &str, stack: &str) -> Option<String> {
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        let key = format!("plinth/locks/{stack}.lock");
        let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
        let bytes = out.body.collect().await.unwrap().into_bytes();
        Some(String::from_utf8_lossy(&bytes).into_owned())
    })
}

/// `plinth unlock` does not remove the lock of a process still running on this machine
/// unless told to with `--force`.
#[test]
fn unlock_leaves_the_lock_of_a_running_process_unless_forced() {
    let (stack, prefix, bucket) = (unique("running"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&spec(&stack, &prefix, &bucket));
    let mut running = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let body = format!(
        r#"{{"stack":"{stack}","holder":"arn:aws:iam::123456789012:user/ci","operation":"apply","host":"{}","pid":{},"since":0}}"#,
        host.trim(),
        running.id()
    );
    put_lock(&bucket, &stack, &body);
    let refused = plinth_aws(&["unlock", "-f", &spec.arg()]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("still running on this machine"),
        "{}",
        refused.stderr
    );
    assert!(lock_exists(&bucket, &stack));
    plinth_aws(&["unlock", "-f", &spec.arg(), "--force"]).ok();
    assert!(!lock_exists(&bucket, &stack));
    running.kill().unwrap();
    running.wait().unwrap();
}

/// An apply whose lock was removed while it ran (`plinth unlock`), and then taken by another
/// process, leaves that process's lock in place when it finishes, and says so.
#[test]
fn an_apply_releases_only_its_own_lock() {
    let (stack, prefix, bucket) = (unique("taken"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&spec(&stack, &prefix, &bucket));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            latency: Duration::from_millis(60),
            ..Faults::none()
        },
    );
    let child = spawn_apply(&spec, &proxy.url);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !lock_exists(&bucket, &stack) {
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never took its lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Another process's lock, as `plinth unlock` then another apply would leave it.
    let other = r#"{"stack":"x","holder":"arn:aws:iam::123456789012:user/other","operation":"apply","host":"runner-9","pid":777,"since":0}"#;
    put_lock(&bucket, &stack, other);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the stack lock was removed while this apply ran and is now held: apply by arn:aws:iam::123456789012:user/other"),
        "{stderr}"
    );
    assert_eq!(lock_body(&bucket, &stack).as_deref(), Some(other));
}

#[test]
fn two_applies_started_together_one_proceeds_and_the_other_is_refused() {
    let (stack, prefix, bucket) = (unique("race"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&spec(&stack, &prefix, &bucket));
    // Latency stretches the apply so the two overlap.
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            latency: Duration::from_millis(40),
            ..Faults::none()
        },
    );
    let start = || spawn_apply(&spec, &proxy.url);
    let (a, b) = (start(), start());
    let outcome = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let mut runs = [outcome(a), outcome(b)];
    runs.sort_by_key(|r| r.code);
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert!(
        runs[0].stderr.contains("Apply complete: 6 added"),
        "{}",
        runs[0].stderr
    );
    assert_eq!(runs[1].code, 1, "{}", runs[1].stderr);
    assert!(
        runs[1].stderr.contains("is locked: apply by"),
        "{}",
        runs[1].stderr
    );
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
    assert!(!lock_exists(&bucket, &stack));
}

fn index_of(bucket: &str, stack: &str) -> Option<serde_json::Value> {
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(format!("plinth/locks/{stack}.index.json"))
            .send()
            .await
            .ok()?;
        Some(serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap())
    })
}

/// The calls that list a whole kind of the account.
const LISTINGS: [&str; 8] = [
    "iam:ListRoles",
    "iam:ListPolicies",
    "iam:ListInstanceProfiles",
    "iam:ListOpenIDConnectProviders",
    "kms:ListKeys",
    "sqs:ListQueues",
    "lambda:GET functions",
    "s3:GET x-id&bucket-region",
];

#[test]
fn with_an_index_a_plan_reads_what_the_stack_owns_by_name_and_lists_nothing() {
    let (stack, prefix, bucket) = (unique("indexed"), unique("tonic"), lock_bucket());
    // Six roles and a key without an alias, which only its tags tie to the stack.
    let key = format!("\n[key.plain]\ndescription = \"{prefix} key\"\n");
    let spec = TempSpec::new(&(roles(&stack, &prefix, &bucket, 6) + &key));
    let proxy = FaultProxy::start(moto(), Faults::none());
    let run = |args: &[&str]| {
        let path = spec.arg();
        let mut all = args.to_vec();
        all.extend(["-f", &path, "--endpoint-url", &proxy.url]);
        proxy.reset_counts();
        let run = plinth(&all);
        let listed: Vec<&str> = LISTINGS
            .into_iter()
            .filter(|l| proxy.counts().by_operation.contains_key(*l))
            .collect();
        (run, listed, proxy.counts().by_operation)
    };

    // No index yet: the first plan lists the account; the apply writes the index.
    let (apply, listed, _) = run(&["apply", "--auto-approve"]);
    assert!(apply.ok().stderr.contains("Apply complete: 7 added"));
    assert_eq!(listed, LISTINGS);
    // The lock's own bucket holds the lock and the index, never a resource of the stack's:
    // discovery does not read its tags.
    let lock_tags = proxy.counts().requests.into_iter().filter(|r| {
        r.operation == "s3:GET tagging"
            && (r.uri.split('/').any(|part| part == bucket)
                || r.uri.starts_with(&format!("{bucket}.")))
    });
    assert_eq!(lock_tags.count(), 0);
    let index = index_of(&bucket, &stack).expect("the apply wrote the index");
    let names: Vec<String> = (0..6).map(|i| format!("{prefix}-{i}")).collect();
    assert_eq!(index["stack"], stack.as_str());
    assert_eq!(index["resources"]["role"], serde_json::json!(names));
    let key_ids = index["resources"]["key"].clone();
    assert_eq!(key_ids.as_array().map(Vec::len), Some(1), "{index}");

    // With it, nothing is listed, and the plan is the same.
    let (plan, listed, calls) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(listed.is_empty(), "{calls:?}");
    assert_eq!(
        calls.get("kms:DescribeKey"),
        Some(&1),
        "the key is read by its id: {calls:?}"
    );

    // A role and the key leave the spec: the index still finds them. The apply drops the role
    // from it; the key stays, pending deletion, until KMS deletes it.
    spec.write("plinth.toml", &roles(&stack, &prefix, &bucket, 5));
    let (plan, listed, calls) = run(&["plan"]);
    let plan = plan.ok();
    assert!(
        plan.stdout
            .contains("- role.r5 will be destroyed (no longer in the spec)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "- key.plain will be scheduled for deletion in 30 days (no longer in the spec)"
        ),
        "{}",
        plan.stdout
    );
    assert!(listed.is_empty(), "{calls:?}");
    run(&["apply", "--auto-approve"]).0.ok();
    let index = index_of(&bucket, &stack).unwrap();
    assert_eq!(index["resources"]["role"], serde_json::json!(names[..5]));
    assert_eq!(index["resources"]["key"], key_ids);
    let (plan, listed, calls) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "a key pending deletion is no change\n{}{}",
        plan.stdout, plan.stderr
    );
    assert!(listed.is_empty(), "{calls:?}");

    // Without the index, a plan lists the account again and comes to the same plan.
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        s3.delete_object()
            .bucket(&bucket)
            .key(format!("plinth/locks/{stack}.index.json"))
            .send()
            .await
            .unwrap();
    });
    let (plan, listed, _) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(listed, LISTINGS);
}

/// What AWS answers a PutObject the identity may not make.
const DENIED: Fault = Fault::Error {
    status: 403,
    code: "AccessDenied",
    message: "Access Denied",
};

#[test]
fn an_index_that_cannot_be_written_stops_the_apply_before_its_first_step_or_is_removed_after_its_last(
) {
    let (stack, prefix, bucket) = (unique("unwritable"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&roles(&stack, &prefix, &bucket, 2));
    let proxy = FaultProxy::start(moto(), Faults::none());
    let index_put = format!("s3:PUT x-id /{bucket}/plinth/locks/{stack}.index.json");
    let deny_index_write = || {
        proxy.set_faults(Faults {
            scripted: vec![(index_put.clone(), 1, DENIED)],
            ..Faults::none()
        })
    };
    let run = |args: &[&str]| {
        let path = spec.arg();
        let mut all = args.to_vec();
        all.extend(["-f", &path, "--endpoint-url", &proxy.url]);
        plinth(&all)
    };

    // Before the first step: the apply stops, says where the index lives and how to grant it,
    // creates nothing and releases the lock.
    deny_index_write();
    let apply = run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(apply.stderr.contains("AccessDenied"), "{}", apply.stderr);
    assert!(
        apply.stderr.contains(&format!(
            "hint: the stack keeps its index in s3://{bucket}/plinth/locks/{stack}.index.json"
        )) && apply.stderr.contains("`plinth permissions`"),
        "{}",
        apply.stderr
    );
    assert!(
        !apply.stderr.contains("creating"),
        "no step ran\n{}",
        apply.stderr
    );
    assert!(!lock_exists(&bucket, &stack), "the lock was released");
    assert!(index_of(&bucket, &stack).is_none());
    let apply = run(&["apply", "--auto-approve"]).ok();
    assert!(
        apply.stderr.contains("Apply complete: 2 added"),
        "{}",
        apply.stderr
    );
    assert!(index_of(&bucket, &stack).is_some());

    // After the last step: a role left the spec, so only the index written after the apply
    // changes, and it cannot be. The apply still succeeds, removes the index that no longer
    // matches, and says so; the next plan lists the account and finds nothing to do.
    spec.write("plinth.toml", &roles(&stack, &prefix, &bucket, 1));
    deny_index_write();
    let apply = run(&["apply", "--auto-approve"]).ok();
    assert!(
        apply
            .stderr
            .contains("Apply complete: 0 added, 0 changed, 0 replaced, 1 destroyed"),
        "{}",
        apply.stderr
    );
    assert!(
        apply
            .stderr
            .contains("warning: the stack index could not be updated")
            && apply
                .stderr
                .contains("it was removed, and the next plan lists the account"),
        "{}",
        apply.stderr
    );
    assert!(index_of(&bucket, &stack).is_none());
    proxy.set_faults(Faults::none());
    proxy.reset_counts();
    let plan = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        proxy.counts().by_operation.contains_key("iam:ListRoles"),
        "listed again"
    );
}

/// Without a lock nothing stops two applies: each warns about it, and when both create the
/// stack's key (CreateKey is slowed so that neither finds the other's key first), the next plan
/// reports the two keys carrying one address as a conflict, naming both, instead of "No
/// changes". Destroy removes both.
#[test]
fn two_applies_without_a_lock_warn_and_the_next_plan_reports_the_duplicate_they_made() {
    let stack = unique("nolock");
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\n\n[key.data]\ndescription = \"{stack} data\"\ndeletion_window_days = 7\n"
    ));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![(
                "kms:CreateKey".into(),
                2,
                Fault::Slow(Duration::from_secs(3)),
            )],
            ..Faults::none()
        },
    );
    let start = || {
        let mut cmd = command(&[
            "apply",
            "-f",
            &spec.arg(),
            "--auto-approve",
            "--endpoint-url",
            &proxy.url,
        ]);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (start(), start());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("has no lock"))
            .collect();
        assert_eq!(warnings.len(), 1, "one line: {stderr}");
        assert!(
            warnings[0].contains("\"Locking\""),
            "names the README section: {stderr}"
        );
    }
    let keys = runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let mut ids = Vec::new();
        for key in kms.list_keys().limit(1000).send().await.unwrap().keys() {
            let id = key.key_id().unwrap_or_default().to_string();
            let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
            if tags.tags().iter().any(|t| t.tag_value() == stack) {
                ids.push(id);
            }
        }
        ids
    });
    assert_eq!(keys.len(), 2, "the race made two keys: {keys:?}");
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(plan.stderr.contains("plan::duplicate"), "{}", plan.stderr);
    for id in &keys {
        assert!(
            plan.stderr.contains(id.as_str()),
            "names {id}: {}",
            plan.stderr
        );
    }
    assert!(
        plan.stderr.contains("schedule-key-deletion"),
        "says how: {}",
        plan.stderr
    );
    plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
}

/// A key of this stack whose alias is now another stack's is a conflict with that stack's
/// key, not a duplicate of this stack: nothing tells the reader to delete either.
#[test]
fn an_alias_of_another_stacks_key_is_a_conflict_not_a_duplicate() {
    let (a, b) = (unique("ka"), unique("kb"));
    let key_spec = |stack: &str, alias: &str| {
        format!(
            "[stack]\nname = \"{stack}\"\n\n[key.k]\ndescription = \"key of {stack}\"\naliases = [\"alias/{alias}\"]\n"
        )
    };
    let first = TempSpec::new(&key_spec(&a, &a));
    let second = TempSpec::new(&key_spec(&b, &b));
    for spec in [&first, &second] {
        plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    }
    let taken = TempSpec::new(&key_spec(&b, &a));
    let plan = plinth_aws(&["plan", "-f", &taken.arg()]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(plan.stderr.contains("plan::conflict"), "{}", plan.stderr);
    assert!(
        !plan.stderr.contains("plan::duplicate") && !plan.stderr.contains("schedule-key-deletion"),
        "neither key is to be deleted: {}",
        plan.stderr
    );
    for spec in [&first, &second] {
        plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    }
}

/// With a lock, a plan reads what the index names and lists nothing; a key has no name to
/// index before it exists. A key whose create stopped after `CreateKey` (here its alias was
/// refused) is named as in flight, so the next plans look for keys by listing, find it by its
/// tags, and delete it once it leaves the spec, instead of leaving it in the account for good.
#[test]
fn a_key_an_apply_left_half_made_is_found_by_the_next_plan_of_a_locked_stack() {
    const REFUSED: Fault = Fault::Error {
        status: 400,
        code: "InvalidAliasNameException",
        message: "injected: the alias is refused",
    };
    let (stack, bucket, alias) = (unique("inflight"), lock_bucket(), unique("alias"));
    let with_key = format!(
        "[stack]\nname = \"{stack}\"\nlock = {{ bucket = \"{bucket}\" }}\n\n[key.k]\ndescription = \"{stack}\"\naliases = [\"alias/{alias}\"]\n"
    );
    let spec = TempSpec::new(&with_key);
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![("kms:CreateAlias".into(), 1, REFUSED)],
            ..Faults::none()
        },
    );
    let via = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--endpoint-url", proxy.url.as_str()]);
        plinth(&all)
    };
    let failed = via(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("kms:CreateAlias"),
        "{}",
        failed.stderr
    );

    std::fs::write(
        spec.path(),
        format!("[stack]\nname = \"{stack}\"\nlock = {{ bucket = \"{bucket}\" }}\n"),
    )
    .unwrap();
    let plan = via(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout.contains("key.k") && plan.stdout.contains("1 to destroy"),
        "the half-made key is found and deleted: {}",
        plan.stdout
    );
    via(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    // Once the key is gone, the index names nothing in flight, and plans list nothing.
    proxy.reset_counts();
    let plan = via(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(
        proxy.counts().by_operation.get("kms:ListKeys"),
        None,
        "{:?}",
        proxy.counts().by_operation
    );
}

/// The lock's calls go to the stack's region; a lock bucket of another region answers with a
/// redirect, which says so instead of "check --region".
#[test]
fn a_lock_bucket_of_another_region_is_named_as_such() {
    const REDIRECT: Fault = Fault::Error {
        status: 301,
        code: "PermanentRedirect",
        message: "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
    };
    let (stack, bucket) = (unique("elsewhere"), lock_bucket());
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\nlock = {{ bucket = \"{bucket}\" }}\n\n[queue.q]\nname = \"{stack}-q\"\n"
    ));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![("s3:PUT x-id".into(), 1, REDIRECT)],
            ..Faults::none()
        },
    );
    let apply = plinth(&[
        "apply",
        "-f",
        &spec.arg(),
        "--auto-approve",
        "--endpoint-url",
        &proxy.url,
    ]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains(&format!(
            "the lock bucket `{bucket}` is in another region than the stack"
        )),
        "{}",
        apply.stderr
    );
}

/// A lock bucket that does not exist is named, with the object plinth wanted and what to do,
/// by apply and by unlock alike; nothing of the stack is changed.
#[test]
fn a_lock_bucket_that_does_not_exist_is_named_with_what_to_do() {
    let (stack, bucket) = (unique("nolock"), unique("plinth-no-such-bucket"));
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\nlock = {{ bucket = \"{bucket}\" }}\n\n[queue.q]\nname = \"{stack}-q\"\n"
    ));
    let apply = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    let unlock = plinth_aws(&["unlock", "-f", &spec.arg()]);
    for run in [apply, unlock] {
        assert_eq!(run.code, 1, "{}", run.stderr);
        for wanted in [
            format!("(s3://{bucket}/plinth/locks/{stack}.lock)"),
            format!("the lock bucket `{bucket}` does not exist"),
            format!("aws s3 mb s3://{bucket}"),
        ] {
            assert!(run.stderr.contains(&wanted), "{wanted}\n{}", run.stderr);
        }
    }
    let queue = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(queue.stdout.contains("+ queue.q"), "{}", queue.stdout);
}

/// Sends SIGINT (Ctrl-C) to `child` once the proxy has seen `operation`.
fn interrupt_at(child: &std::process::Child, proxy: &FaultProxy, operation: &str) {
    let started = std::time::Instant::now();
    while !proxy.counts().by_operation.contains_key(operation) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {operation}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Ctrl-C during an apply ends it as a failed apply ends, not as a kill: the step under way
/// finishes, no other starts, the report names each step not started with exit code 1, the
/// lock is released, and the next apply finishes the job.
#[test]
fn an_interrupted_apply_finishes_the_step_under_way_reports_and_releases_the_lock() {
    let (stack, prefix, bucket) = (unique("ctrlc"), unique("ctrlc"), lock_bucket());
    let spec = TempSpec::new(&roles(&stack, &prefix, &bucket, 4));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![(
                "iam:CreateRole".into(),
                1,
                Fault::Slow(Duration::from_secs(2)),
            )],
            ..Faults::none()
        },
    );
    let apply = || {
        let mut cmd = command(&[
            "apply",
            "-f",
            &spec.arg(),
            "--auto-approve",
            "--parallelism",
            "1",
            "--endpoint-url",
            &proxy.url,
        ]);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let child = apply().spawn().unwrap();
    interrupt_at(&child, &proxy, "iam:CreateRole");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    assert!(
        stderr.contains("Apply stopped: 3 not started, 0 failed, 0 skipped; 1 added"),
        "the role under way was made, the three others not started: {stderr}"
    );
    assert_eq!(
        stderr.matches("not started, the apply was stopped").count(),
        3,
        "{stderr}"
    );
    // The progress lines keep the order things ended in: the step under way, then the rest.
    let (done, stopped) = (
        stderr.find(": creating done in"),
        stderr.find(": not started"),
    );
    assert!(done.is_some() && done < stopped, "{stderr}");
    assert!(!lock_exists(&bucket, &stack), "the lock is released");

    let again = apply().output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("3 added"), "{stderr}");
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

/// A step waiting for AWS to catch up (here, a role IAM keeps saying it cannot find) can wait
/// for as long as `--max-wait`; Ctrl-C ends the wait at once, and the step fails with the error
/// it was waiting out.
#[test]
fn an_interrupt_ends_a_step_s_wait_for_aws() {
    let (stack, prefix, bucket) = (unique("ctrlw"), unique("ctrlw"), lock_bucket());
    let spec = TempSpec::new(&format!(
        "{}[role.r0.policies.read]\nVersion = \"2012-10-17\"\nStatement = [{{ Effect = \"Allow\", Action = \"sqs:GetQueueUrl\", Resource = \"*\" }}]\n",
        roles(&stack, &prefix, &bucket, 1)
    ));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![(
                "iam:PutRolePolicy".into(),
                1000,
                Fault::Error {
                    status: 404,
                    code: "NoSuchEntity",
                    message: "The role with name fresh cannot be found.",
                },
            )],
            ..Faults::none()
        },
    );
    let child = spawn_apply(&spec, &proxy.url);
    interrupt_at(&child, &proxy, "iam:PutRolePolicy");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("NoSuchEntity")
            && stderr.contains("the apply was stopped while waiting to try again"),
        "{stderr}"
    );
    assert!(
        proxy.counts().by_operation["iam:PutRolePolicy"] < 5,
        "the wait ended: {:?}",
        proxy.counts().by_operation
    );
    assert!(!lock_exists(&bucket, &stack), "the lock is released");
}

/// A person answering the prompt while `plinth unlock --force` let another apply take the
/// lock: this view's answer comes after the lock was replaced by another holder's.
struct AnsweredLate {
    bucket: String,
    stack: String,
}

impl plinth::workflow::ApplyView for AnsweredLate {
    fn plan(&self, _: &plinth::plan::Plan) {}

    fn confirm<'a>(
        &'a self,
        _: &'a plinth::plan::Plan,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), plinth::workflow::WorkflowError>> + 'a>,
    > {
        Box::pin(async move {
            let other = r#"{"stack":"x","holder":"arn:aws:iam::123456789012:user/other","operation":"apply","host":"runner-9","pid":777,"since":0}"#;
            let config = sdk().await;
            s3(&config)
                .put_object()
                .bucket(&self.bucket)
                .key(format!("plinth/locks/{}.lock", self.stack))
                .body(other.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
            Ok(())
        })
    }

    fn asks(&self) -> bool {
        true
    }

    fn progress(&self, _: usize) -> Box<dyn plinth::apply::Progress> {
        Box::new(plinth::apply::Silent)
    }

    fn report(&self, _: &plinth::plan::Plan, _: &plinth::apply::ApplyReport) {}

    fn warn(&self, _: &str) {}
}

/// An apply whose lock was taken away while it waited for its answer changes nothing: it
/// checks the lock once answered, before its first step.
#[test]
fn an_apply_whose_lock_was_taken_while_it_asked_changes_nothing() {
    let (stack, prefix, bucket) = (unique("asked"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&roles(&stack, &prefix, &bucket, 1));
    let loaded = plinth::spec::load(&spec.path(), &Default::default()).unwrap();
    let view = AnsweredLate {
        bucket: bucket.clone(),
        stack: stack.clone(),
    };
    let refused = runtime().block_on(async {
        let aws = plinth::aws::Aws::from_config(sdk().await);
        let request = plinth::workflow::ApplyRequest {
            saved: None,
            destroy: false,
            parallelism: 4,
            stop: plinth::stop::Stop::never(),
        };
        plinth::workflow::apply_stack(&aws, &loaded, &request, &view).await
    });
    let message = match refused {
        Err(plinth::workflow::WorkflowError::Refused { message, .. }) => message,
        other => panic!("{:?}", other.map(|o| o.succeeded())),
    };
    assert!(
        message.contains("the stack lock was removed while this apply waited for its answer, and is now held: apply by arn:aws:iam::123456789012:user/other")
            && message.contains("nothing was changed"),
        "{message}"
    );
    let role = runtime().block_on(async {
        aws_sdk_iam::Client::new(&sdk().await)
            .get_role()
            .role_name(format!("{prefix}-0"))
            .send()
            .await
    });
    assert!(role.is_err(), "no role was created");
    // The other holder's lock is left as it is.
    assert!(lock_body(&bucket, &stack).is_some_and(|b| b.contains("runner-9")));
}
