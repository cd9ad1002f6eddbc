//! The executor against moto: failures skip exactly their dependents, a second run finishes
//! the job, outputs, destroy.

use crate::support::{plinth_aws, runtime, sdk, unique, TempSpec};

const EC2_TRUST: &str = r#"{ Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }] }"#;

fn three_roles(stack: &str, prefix: &str, base_policy: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.base]
name = "{prefix}-base"
trust = {EC2_TRUST}
managed_policies = ["{base_policy}"]

[role.dependent]
name = "{prefix}-dependent"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = "${{role.base.arn}}" }}, Action = "sts:AssumeRole" }}] }}

[role.independent]
name = "{prefix}-independent"
trust = {EC2_TRUST}

[outputs]
BASE_ROLE = "${{role.base.arn}}"
INDEPENDENT_ROLE_NAME = "${{role.independent.name}}"
"#
    )
}

fn role_names(prefix: &str) -> Vec<String> {
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
fn a_failed_step_skips_exactly_its_dependents_and_a_rerun_finishes() {
    let (stack, prefix) = (unique("fail"), unique("tonic"));
    let missing = "arn:aws:iam::aws:policy/DoesNotExist";
    let spec = TempSpec::new(&three_roles(&stack, &prefix, missing));
    let run = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("role.base (create): failed: iam:AttachRolePolicy: NoSuchEntity"),
        "{}",
        run.stderr
    );
    // The report says the role itself exists.
    assert!(
        run.stderr.contains(&format!(
            "role `{prefix}-base` was created and is the stack's, but not finished"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("role.dependent (create): skipped, because role.base failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("role.independent: creating done"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Apply failed: 1 failed, 1 skipped; 1 added"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Outputs:"), "{}", run.stderr);

    // The role was created before its attachment failed: it is tagged, so the next plan finds
    // it and plans only what remains.
    let fixed = three_roles(&stack, &prefix, "arn:aws:iam::aws:policy/ReadOnlyAccess");
    std::fs::write(spec.path(), fixed).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout.contains("~ role.base will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("+ role.dependent will be created"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("role.independent"), "{}", plan.stdout);

    let run = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        run.stderr.contains("Apply complete: 1 added, 1 changed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        role_names(&prefix),
        [
            format!("{prefix}-base"),
            format!("{prefix}-dependent"),
            format!("{prefix}-independent")
        ]
    );
}

#[test]
fn outputs_print_after_apply_and_later_from_the_live_account() {
    let (stack, prefix) = (unique("outputs"), unique("tonic"));
    let spec = TempSpec::new(&three_roles(
        &stack,
        &prefix,
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ));
    // A role's ARN is known before the role exists, but it is no value of the account's yet.
    let none_yet = plinth_aws(&["outputs", "-f", &spec.arg()]);
    assert_eq!(none_yet.code, 1, "{}", none_yet.stdout);
    assert!(
        none_yet.stderr.contains("no value yet for BASE_ROLE")
            && none_yet.stderr.contains("run `plinth apply` first"),
        "{}",
        none_yet.stderr
    );
    assert_eq!(none_yet.stdout, "");

    let run = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let arn = format!("arn:aws:iam::123456789012:role/{prefix}-base");
    assert!(
        run.stdout.contains(&format!("BASE_ROLE={arn}\n")),
        "{}",
        run.stdout
    );

    let env = plinth_aws(&["outputs", "-f", &spec.arg(), "--format", "env"]).ok();
    assert_eq!(
        env.stdout,
        format!("BASE_ROLE={arn}\nINDEPENDENT_ROLE_NAME={prefix}-independent\n")
    );
    let json = plinth_aws(&["outputs", "-f", &spec.arg(), "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["BASE_ROLE"], arn.as_str());

    // Once the stack is destroyed, its roles' ARNs are no outputs of the account's.
    plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    let gone = plinth_aws(&["outputs", "-f", &spec.arg()]);
    assert_eq!(gone.code, 1, "{}", gone.stdout);
    assert!(!gone.stdout.contains(&arn), "{}", gone.stdout);
}

#[test]
fn destroy_deletes_what_the_stack_owns_and_leaves_the_rest() {
    let (stack, prefix) = (unique("destroy"), unique("tonic"));
    let spec = TempSpec::new(&three_roles(
        &stack,
        &prefix,
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    runtime().block_on(async {
        aws_sdk_iam::Client::new(&sdk().await)
            .create_role()
            .role_name(format!("{prefix}-not-ours"))
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .unwrap();
    });
    let refused = plinth_aws(&["destroy", "-f", &spec.arg()]);
    assert_eq!(refused.code, 1, "no terminal and no --auto-approve");
    assert!(
        refused
            .stderr
            .contains("destroy needs confirmation, and there is no terminal to ask on"),
        "{}",
        refused.stderr
    );
    assert_eq!(role_names(&prefix).len(), 4);

    let run = plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        run.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to replace, 3 to destroy."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("Destroy complete: 3 destroyed in"),
        "{}",
        run.stderr
    );
    assert_eq!(role_names(&prefix), [format!("{prefix}-not-ours")]);
    // Nothing is left to destroy, and the plan says so in those words.
    let again = plinth_aws(&["plan", "-f", &spec.arg(), "--destroy"]).ok();
    assert!(
        again
            .stdout
            .contains("No changes. The stack owns nothing in this account to destroy."),
        "{}",
        again.stdout
    );
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );
}

/// Role → key (its policy names the role) → queue (encrypted with the key) → function (the
/// role, a trigger on the queue) → bucket (notifies the queue).
fn pipeline(stack: &str, prefix: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.lambda]
name = "{prefix}-lambda"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[role.lambda.policies.queue]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource = "${{queue.work.arn}}" }}]

[key.sqs]
description = "Encrypts the work queue"
aliases = ["alias/{prefix}-sqs"]
deletion_window_days = 7
policy = '''
{{ "Version": "2012-10-17", "Statement": [
  {{ "Sid": "Account", "Effect": "Allow", "Principal": {{ "AWS": "arn:aws:iam::${{aws.account_id}}:root" }}, "Action": "kms:*", "Resource": "*" }},
  {{ "Sid": "Lambda", "Effect": "Allow", "Principal": {{ "AWS": "${{role.lambda.arn}}" }}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*" }},
  {{ "Sid": "S3Notifications", "Effect": "Allow", "Principal": {{ "Service": "s3.amazonaws.com" }}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*" }}
] }}
'''

[[key.sqs.silence]]
lint = "P003"
policy = "policy"
statement = "Account"
reason = "a key policy must let the account administer the key"

[queue.work]
name = "{prefix}-work"
visibility_timeout = 120
kms_key = "${{key.sqs.arn}}"
policy = {{ Version = "2012-10-17", Statement = [{{ Sid = "S3", Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "sqs:SendMessage", Resource = "${{queue.work.arn}}", Condition = {{ ArnLike = {{ "aws:SourceArn" = "${{bucket.uploads.arn}}" }} }} }}] }}

[function.worker]
name = "{prefix}-worker"
role = "${{role.lambda.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ dir = "src" }}
timeout = 60

[[function.worker.trigger]]
queue = "${{queue.work.arn}}"

[bucket.uploads]
name = "{prefix}-uploads"

[[bucket.uploads.notification]]
queue = "${{queue.work.arn}}"
events = ["s3:ObjectCreated:*"]
"#
    )
}

#[test]
fn a_whole_pipeline_applies_from_empty_in_dependency_order() {
    let (stack, prefix) = (unique("order"), unique("tonic"));
    let spec = TempSpec::new(&pipeline(&stack, &prefix));
    spec.write(
        "src/main.py",
        "def handler(event, context):\n    return None\n",
    );
    let run = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        run.stderr.contains("Apply complete: 5 added"),
        "{}",
        run.stderr
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    let position = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line {needle:?} in\n{}", run.stderr))
    };
    let done = |address: &str| position(&format!("{address}: creating done"));
    let started = |address: &str| position(&format!("{address}: creating..."));
    for (before, after) in [
        ("role.lambda", "key.sqs"),
        ("key.sqs", "queue.work"),
        ("role.lambda", "function.worker"),
        ("queue.work", "function.worker"),
        ("queue.work", "bucket.uploads"),
    ] {
        assert!(
            done(before) < started(after),
            "{before} must be created before {after} starts\n{}",
            run.stderr
        );
    }
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}
