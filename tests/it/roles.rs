//! IAM roles end to end against moto: create, no-op, drift, delete, and ownership.

use crate::proxy::{FaultProxy, Faults};
use crate::support::{plinth, plinth_aws, runtime, sdk, unique, PrivateMoto, TempSpec};

const LAMBDA_TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;

fn two_roles(stack: &str, prefix: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.lambda]
name = "{prefix}-lambda"
description = "Assumed by the Lambda function"
max_session_hours = 2
trust = '{LAMBDA_TRUST}'
managed_policies = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
tags = {{ team = "data" }}

[role.lambda.policies.access]
Version = "2012-10-17"
Statement = [{{ Sid = "Queues", Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource = "arn:aws:sqs:*:${{aws.account_id}}:{prefix}-*" }}]

[role.reader]
name = "{prefix}-reader"
path = "/readers/"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = "${{role.lambda.arn}}" }}, Action = "sts:AssumeRole" }}] }}
"#
    )
}

fn iam() -> aws_sdk_iam::Client {
    runtime().block_on(async { aws_sdk_iam::Client::new(&sdk().await) })
}

fn role_exists(name: &str) -> bool {
    let client = iam();
    runtime().block_on(async { client.get_role().role_name(name).send().await.is_ok() })
}

#[test]
fn two_roles_apply_into_an_empty_account_then_plan_shows_no_changes() {
    let (stack, prefix) = (unique("roles"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    let plan = plinth_aws(&[
        "plan",
        "-f",
        &spec.arg(),
        "--detailed-exitcode",
        "--fail-on",
        "any",
    ]);
    // New roles grant access that did not exist: with `--fail-on any`, exit code 3, and the
    // summary says so.
    assert_eq!(plan.code, 3, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("This plan gives new access inside the account, the riskiest data"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("+ role.lambda will be created"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("+ role.reader will be created"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );

    let apply = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        apply
            .stderr
            .contains("Apply complete: 2 added, 0 changed, 0 replaced, 0 destroyed"),
        "{}",
        apply.stderr
    );

    let again = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // What AWS holds is what the spec says, tagged as the stack's.
    let client = iam();
    runtime().block_on(async {
        let role = client
            .get_role()
            .role_name(format!("{prefix}-reader"))
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert_eq!(role.path(), "/readers/");
        let tags: Vec<_> = role.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert!(tags.contains(&("plinth:stack", stack.as_str())), "{tags:?}");
        assert!(
            tags.contains(&("plinth:address", "role.reader")),
            "{tags:?}"
        );
        let lambda = client
            .get_role()
            .role_name(format!("{prefix}-lambda"))
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert_eq!(lambda.max_session_duration(), Some(7200));
        assert_eq!(lambda.description(), Some("Assumed by the Lambda function"));
        let attached = client
            .list_attached_role_policies()
            .role_name(format!("{prefix}-lambda"))
            .send()
            .await
            .unwrap();
        assert_eq!(attached.attached_policies().len(), 1);
        let inline = client
            .list_role_policies()
            .role_name(format!("{prefix}-lambda"))
            .send()
            .await
            .unwrap();
        assert_eq!(inline.policy_names(), ["access"]);
    });
}

#[test]
fn a_trust_policy_changed_out_of_band_shows_up_as_exactly_that_update() {
    let (stack, prefix) = (unique("drift"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();

    let widened = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
    let client = iam();
    runtime().block_on(async {
        client
            .update_assume_role_policy()
            .role_name(format!("{prefix}-lambda"))
            .policy_document(widened)
            .send()
            .await
            .unwrap();
    });

    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    // Going back to the spec removes ec2 from the trust: that narrows access.
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    let changed: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(['~', '+', '-']))
        .collect();
    assert_eq!(
        changed,
        [
            "  ~ role.lambda will be updated in place",
            "      ~ trust (narrows access)",
            "            -      \"ec2.amazonaws.com\",",
            // The Access changes section: EC2 can no longer assume the role.
            "    - internal   sts:AssumeRole on role.lambda",
        ],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );

    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let after = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{}", after.stdout);
}

#[test]
fn discovery_lists_a_large_account_in_the_largest_pages() {
    // An account of its own, so that it holds more roles than IAM's default page of 100.
    let moto = PrivateMoto::start();
    runtime().block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk().await);
        for i in 0..101 {
            iam.create_role()
                .role_name(format!("other-{i}"))
                .assume_role_policy_document(LAMBDA_TRUST)
                .send()
                .await
                .unwrap();
        }
    });
    let spec = TempSpec::new(&two_roles(&unique("pages"), &unique("tonic")));
    let proxy = FaultProxy::start(&moto.url, Faults::none());
    plinth(&["plan", "-f", &spec.arg(), "--endpoint-url", &proxy.url]).ok();
    let counts = proxy.counts();
    let calls = &counts.by_operation;
    assert_eq!(calls.get("iam:ListRoles"), Some(&1), "one page: {calls:?}");
    assert_eq!(
        calls.get("iam:ListRoleTags"),
        Some(&101),
        "the tags of every role the spec does not name: {calls:?}"
    );
    // The listings moto does not page ask for the largest page too (their defaults: 100 keys,
    // 50 aliases, 1,000 queues and then no more).
    for (operation, parameter) in [
        ("iam:ListRoles", "MaxItems=1000"),
        ("iam:ListPolicies", "MaxItems=1000"),
        ("iam:ListInstanceProfiles", "MaxItems=1000"),
        ("kms:ListKeys", r#""Limit":1000"#),
        ("kms:ListAliases", r#""Limit":100"#),
        ("sqs:ListQueues", r#""MaxResults":1000"#),
    ] {
        let bodies: Vec<String> = counts
            .requests
            .iter()
            .filter(|r| r.operation == operation)
            .map(|r| String::from_utf8_lossy(&r.body).replace(' ', ""))
            .collect();
        assert!(
            !bodies.is_empty() && bodies.iter().all(|b| b.contains(parameter)),
            "{operation} asks for {parameter}: {bodies:?}"
        );
    }
}

#[test]
fn a_role_removed_from_the_spec_is_deleted() {
    let (stack, prefix) = (unique("remove"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(role_exists(&format!("{prefix}-lambda")));

    // Keep only the reader, with its principal written out so it no longer refers to the lambda role.
    let only_reader = format!(
        "[stack]\nname = \"{stack}\"\n\n[role.reader]\nname = \"{prefix}-reader\"\npath = \"/readers/\"\ntrust = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ AWS = \"arn:aws:iam::${{aws.account_id}}:role/{prefix}-lambda\" }}, Action = \"sts:AssumeRole\" }}] }}\n"
    );
    std::fs::write(spec.path(), only_reader).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("- role.lambda will be destroyed (no longer in the spec)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy."),
        "{}",
        plan.stdout
    );

    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        !role_exists(&format!("{prefix}-lambda")),
        "the role, its inline policy and attachment are gone"
    );
    assert!(role_exists(&format!("{prefix}-reader")));
    let after = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{}", after.stdout);
}

#[test]
fn an_untagged_role_with_a_clashing_name_is_left_untouched_and_reported() {
    let (stack, prefix) = (unique("clash"), unique("tonic"));
    let name = format!("{prefix}-lambda");
    let theirs = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let client = iam();
    runtime().block_on(async {
        client
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(theirs)
            .description("not plinth's")
            .send()
            .await
            .unwrap();
    });
    let spec = TempSpec::new(&two_roles(&stack, &prefix));

    let plan = plinth_aws(&["plan", "-f", &spec.arg()]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains(&format!(
            "role `{name}` already exists and no stack owns it"
        )),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("set `adopt = true` on [role.lambda]"),
        "{}",
        plan.stderr
    );

    let apply = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(apply.code, 1);
    runtime().block_on(async {
        let role = client
            .get_role()
            .role_name(&name)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert_eq!(role.description(), Some("not plinth's"));
        assert!(role.tags().is_empty(), "{:?}", role.tags());
        let doc = percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
            .decode_utf8_lossy()
            .into_owned();
        assert!(doc.contains("ec2.amazonaws.com"), "{doc}");
    });
    assert!(
        !role_exists(&format!("{prefix}-reader")),
        "a conflict stops the whole apply before anything is sent"
    );

    // Adopting takes it over: tagged, then brought to the spec.
    let adopted =
        two_roles(&stack, &prefix).replacen("[role.lambda]\n", "[role.lambda]\nadopt = true\n", 1);
    std::fs::write(spec.path(), adopted).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("~ role.lambda will be updated in place (adopting an existing resource)"),
        "{}",
        plan.stdout
    );
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    runtime().block_on(async {
        let role = client
            .get_role()
            .role_name(&name)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert!(role
            .tags()
            .iter()
            .any(|t| t.key() == "plinth:stack" && t.value() == stack));
    });
    let after = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{}", after.stdout);
}

#[test]
fn apply_without_a_terminal_or_auto_approve_refuses() {
    let (stack, prefix) = (unique("confirm"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    let run = plinth_aws(&["apply", "-f", &spec.arg()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no terminal to ask on"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: review the plan above and pass --auto-approve"),
        "{}",
        run.stderr
    );
    assert!(!role_exists(&format!("{prefix}-lambda")));
}

#[test]
fn changing_the_path_replaces_the_role() {
    let (stack, prefix) = (unique("replace"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    std::fs::write(
        spec.path(),
        two_roles(&stack, &prefix).replace("path = \"/readers/\"", "path = \"/auditors/\""),
    )
    .unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("-/+ role.reader must be replaced (`path` cannot be changed in place)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("~ path = \"/readers/\" -> \"/auditors/\" # forces replacement"),
        "{}",
        plan.stdout
    );
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let client = iam();
    runtime().block_on(async {
        let role = client
            .get_role()
            .role_name(format!("{prefix}-reader"))
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert_eq!(role.path(), "/auditors/");
    });
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}

fn role_tags(name: &str) -> std::collections::BTreeMap<String, String> {
    let client = iam();
    runtime().block_on(async {
        let out = client
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .unwrap();
        out.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    })
}

/// A block whose address is renamed keeps its role (found by name) and moves the role's
/// address tag, so that a new block may take the old address without replacing anything; in
/// the same plan as the rename, or in a later one.
#[test]
fn renaming_a_blocks_address_moves_its_role_and_frees_the_old_address() {
    let (stack, prefix) = (unique("moved"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let renamed = two_roles(&stack, &prefix)
        .replace("[role.reader]", "[role.readers]")
        .replace("[role.lambda]", "[role.lambdas]")
        .replace("[role.lambda.policies", "[role.lambdas.policies")
        .replace("role.lambda.arn", "role.lambdas.arn");
    // The old addresses taken at once by new roles of other names.
    let reused =
        format!("{renamed}\n[role.lambda]\nname = \"{prefix}-other\"\ntrust = '{LAMBDA_TRUST}'\n");
    std::fs::write(spec.path(), &reused).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 2 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("moved from role.reader")
            && plan.stdout.contains("moved from role.lambda:"),
        "{}",
        plan.stdout
    );
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert_eq!(
        role_tags(&format!("{prefix}-reader")).get("plinth:address"),
        Some(&"role.readers".to_string())
    );
    assert_eq!(
        role_tags(&format!("{prefix}-other")).get("plinth:address"),
        Some(&"role.lambda".to_string())
    );
    assert!(role_exists(&format!("{prefix}-lambda")));
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );

    // Moved first, and the old address taken in a later plan.
    std::fs::write(
        spec.path(),
        reused.replace("[role.readers]", "[role.auditors]"),
    )
    .unwrap();
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert_eq!(
        role_tags(&format!("{prefix}-reader")).get("plinth:address"),
        Some(&"role.auditors".to_string())
    );
    let again = format!(
        "{}\n[role.readers]\nname = \"{prefix}-another\"\ntrust = '{LAMBDA_TRUST}'\n",
        reused.replace("[role.readers]", "[role.auditors]")
    );
    std::fs::write(spec.path(), again).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );
}

/// IAM's UpdateRole sets the longest session back to one hour when the call leaves it out: a
/// description change must keep the session length the spec leaves unset. A length set by hand
/// to part of an hour is seen as it is, not rounded to the hour the spec asks for.
#[test]
fn a_description_change_keeps_a_session_length_the_spec_leaves_unset() {
    let (stack, prefix) = (unique("session"), unique("tonic"));
    let spec = |description: &str, hours: &str| {
        format!(
            "[stack]\nname = \"{stack}\"\n\n[role.worker]\nname = \"{prefix}-worker\"\ndescription = \"{description}\"\n{hours}trust = '{LAMBDA_TRUST}'\n"
        )
    };
    let file = TempSpec::new(&spec("first", ""));
    plinth_aws(&["apply", "-f", &file.arg(), "--auto-approve"]).ok();
    let client = iam();
    let name = format!("{prefix}-worker");
    let session = || {
        runtime().block_on(async {
            let role = client.get_role().role_name(&name).send().await.unwrap();
            role.role.unwrap().max_session_duration()
        })
    };
    runtime().block_on(async {
        client
            .update_role()
            .role_name(&name)
            .description("first")
            .max_session_duration(5400)
            .send()
            .await
            .unwrap();
    });
    std::fs::write(file.path(), spec("second", "")).unwrap();
    plinth_aws(&["apply", "-f", &file.arg(), "--auto-approve"]).ok();
    assert_eq!(session(), Some(5400));

    std::fs::write(file.path(), spec("second", "max_session_hours = 1\n")).unwrap();
    let plan = plinth_aws(&["plan", "-f", &file.arg()]).ok();
    assert!(
        plan.stdout
            .contains("~ max_session_hours = \"5400 seconds\" -> 1"),
        "{}",
        plan.stdout
    );
    plinth_aws(&["apply", "-f", &file.arg(), "--auto-approve"]).ok();
    assert_eq!(session(), Some(3600));
}

/// A role whose name changes is replaced; the old one is read in full (found only by its
/// address tag), so the plan shows the name alone as changing, and the access review finds
/// the replacement grants what the old role granted: nothing gained, nothing lost.
#[test]
fn a_renamed_role_is_compared_with_all_of_the_old_one() {
    let (stack, prefix) = (unique("renamed"), unique("tonic"));
    let spec = TempSpec::new(&two_roles(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    std::fs::write(
        spec.path(),
        two_roles(&stack, &prefix).replace(
            &format!("name = \"{prefix}-lambda\""),
            &format!("name = \"{prefix}-lambda2\""),
        ),
    )
    .unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout.contains(&format!(
            "-/+ role.lambda must be replaced (the name changed from `{prefix}-lambda`)"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("managed_policies") && !plan.stdout.contains("policies.access"),
        "only the name differs: {}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("Access changes"), "{}", plan.stdout);
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(!role_exists(&format!("{prefix}-lambda")));
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}
