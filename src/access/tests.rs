//! Grants of the ready-made stacks in plans/, each planned against an empty account (so every
//! row is gained), and small stacks for each rule.

use std::path::Path;

use super::*;
use crate::plan::{plan, PlanOptions};
use crate::spec::{self, LoadOptions};
use crate::state::LiveSnapshot;

const ACCOUNT: &str = "123456789012";

/// An account holding nothing but, when `lab_bucket`, the bucket Ganymede's stack names with
/// `existing = true`.
fn empty_account(lab_bucket: bool) -> LiveSnapshot {
    serde_json::from_value(serde_json::json!({
        "account": {"account_id": ACCOUNT, "region": "us-east-1", "partition": "aws", "caller_arn": "arn:aws:sts::123456789012:user/ci"},
        "by_address": if !lab_bucket { serde_json::json!({}) } else { serde_json::json!({
            "bucket.data": {"kind": "bucket", "physical_id": "my-lab-data", "owner": null, "address_tag": null,
                            "attributes": {"name": {"str": "my-lab-data"}}, "exports": {}}
        })},
        "owned": [],
    }))
    .unwrap()
}

fn load(path: &Path, vars: &[(&str, &str)], lab_bucket: bool) -> Plan {
    let options = LoadOptions {
        var_overrides: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..LoadOptions::default()
    };
    let spec = spec::load(path, &options).unwrap_or_else(|d| panic!("{}", d.render(false)));
    plan(&spec, &empty_account(lab_bucket), PlanOptions::default()).unwrap()
}

fn ready_made(name: &str, vars: &[(&str, &str)]) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plans")
        .join(name);
    load(&path, vars, name.starts_with("ganymede"))
}

/// A stack written in place: `toml` is the spec.
fn inline(toml: &str) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(&path, toml).unwrap();
    load(&path, &[], false)
}

/// The desired grants as `(risk, principal, actions, resource, conditional)` rows.
fn rows(plan: &Plan) -> Vec<(Risk, String, String, String, bool)> {
    grants(&Stack::from_plan(plan, Side::Desired))
        .into_iter()
        .map(|g| {
            (
                g.risk,
                g.principal,
                g.actions.join(" "),
                g.resource,
                g.conditional,
            )
        })
        .collect()
}

fn has(
    rows: &[(Risk, String, String, String, bool)],
    risk: Risk,
    principal: &str,
    action: &str,
    resource: &str,
) -> bool {
    rows.iter().any(|(r, p, a, res, _)| {
        *r == risk && p == principal && a.split(' ').any(|x| x == action) && res == resource
    })
}

#[test]
fn tonic_structural_lambda_reads_its_queue_and_s3_reaches_the_key() {
    let plan = ready_made(
        "tonic-structural-redshift.toml",
        &[("previous_process", "true")],
    );
    let rows = rows(&plan);
    // The Lambda service assumes the role: internal by itself.
    assert!(
        has(
            &rows,
            Risk::Internal,
            "lambda.amazonaws.com",
            "sts:assumerole",
            "role.lambda"
        ),
        "{rows:#?}"
    );
    // The role's own access to the queues is data access, on the wildcard of its policy.
    assert!(
        rows.iter().any(|(r, p, a, res, _)| *r == Risk::Data
            && p == "role.lambda"
            && a.contains("sqs:receivemessage")
            && res.contains(":tonic-*")),
        "{rows:#?}"
    );
    // S3 may use the key through its key policy without a source condition: the
    // confused-deputy case, external.
    assert!(
        has(
            &rows,
            Risk::External,
            "s3.amazonaws.com",
            "kms:decrypt",
            "key.sqs"
        ),
        "{rows:#?}"
    );
    // The account root's statement is the delegation to IAM, not a row of its own.
    assert!(
        !rows
            .iter()
            .any(|(_, p, _, res, _)| p == ACCOUNT && res == "key.sqs"),
        "{rows:#?}"
    );
    // The server role may pass the Lambda role: escalation.
    assert!(
        rows.iter().any(|(r, p, a, _, _)| *r == Risk::Escalation
            && p == "role.server"
            && a.contains("iam:passrole")),
        "{rows:#?}"
    );
    // Nothing is public.
    assert!(rows.iter().all(|(r, ..)| *r != Risk::Public));
}

#[test]
fn gretel_worker_is_a_web_identity_and_only_it_decrypts() {
    let plan = ready_made("gretel-hybrid.toml", &[]);
    let grants = grants(&Stack::from_plan(&plan, Side::Desired));
    let web = grants
        .iter()
        .find(|g| g.resource == "role.worker" && g.principal.contains(":oidc-provider/"))
        .unwrap_or_else(|| panic!("{grants:#?}"));
    assert_eq!(web.risk, Risk::External);
    assert!(
        web.conditions
            .iter()
            .any(|c| c.contains(":sub system:serviceaccount:gretel-hybrid:gretel-workflow-worker")),
        "{web:?}"
    );
    // Scoped by aud and sub, the trust is not undecided.
    assert!(!web.conditional, "{web:?}");
    // Through the role, the web identity may decrypt with the key.
    assert!(
        grants.iter().any(|g| g.principal == web.principal
            && g.resource == "key.credentials"
            && g.actions.iter().any(|a| a == "kms:decrypt")
            && g.via.len() == 2),
        "{grants:#?}"
    );
}

/// Amazon Cognito's identities are a web identity, though their issuer's name has a
/// service's shape: what the role may do is theirs, through the role, as a Google account's is.
#[test]
fn a_cognito_identity_gains_what_its_role_may_do() {
    for issuer in ["cognito-identity.amazonaws.com", "accounts.google.com"] {
        let plan = inline(&format!(
            r#"{ROLE_HEAD}{QUEUE}
[role.app]
name = "app"
trust = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Federated": "{issuer}"}}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {{"StringEquals": {{"{issuer}:aud": "us-east-1:12345678-1234-1234-1234-123456789012"}}}}}}]}}'''
[role.app.policies]
p = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}}]}}'''
"#
        ));
        let rows = rows(&plan);
        assert!(
            has(
                &rows,
                Risk::External,
                issuer,
                "sqs:receivemessage",
                "queue.jobs"
            ),
            "{issuer}: {rows:#?}"
        );
    }
}

/// CloudWatch Logs' documented key policy holds the service to the account's log groups by
/// the encryption context it sends: inside the account. A caller other than a service writes
/// its own encryption context, which holds it to nothing.
#[test]
fn a_services_encryption_context_says_where_it_acts() {
    let key = |principal: &str, account: &str| {
        let plan = inline(&format!(
            r#"{ROLE_HEAD}
[key.logs]
policy = '''{{"Version": "2012-10-17", "Statement": [
  {{"Sid": "Root", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::123456789012:root"}}, "Action": "kms:*", "Resource": "*"}},
  {{"Sid": "Logs", "Effect": "Allow", "Principal": {principal}, "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "Resource": "*", "Condition": {{"ArnLike": {{"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:{account}:log-group:*"}}}}}}]}}'''
[[key.logs.silence]]
lint = "P002"
policy = "policy"
reason = "the class is what is tested"
"#
        ));
        let rows = rows(&plan);
        rows.iter()
            .filter(|r| r.3 == "key.logs" && r.1 != "123456789012" && !r.1.ends_with(":root"))
            .map(|r| r.0)
            .min()
            .unwrap_or_else(|| panic!("{rows:#?}"))
    };
    let logs = r#"{"Service": "logs.us-east-1.amazonaws.com"}"#;
    assert_eq!(key(logs, "123456789012"), Risk::Data);
    assert_eq!(key(logs, "999988887777"), Risk::External);
    assert_eq!(key(r#""*""#, "123456789012"), Risk::Public);
}

/// Anyone can get a Google or Cognito token for an application of their own: a trust that
/// fixes neither the audience nor the user is everyone's.
#[test]
fn a_web_identity_trust_without_an_audience_is_public() {
    let trusted = |issuer: &str, condition: &str| {
        let plan = inline(&format!(
            r#"{ROLE_HEAD}
[role.app]
name = "app"
trust = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Federated": "{issuer}"}}, "Action": "sts:AssumeRoleWithWebIdentity"{condition}}}]}}'''
[[role.app.silence]]
lint = "P005"
policy = "trust"
reason = "the class is what is tested"
"#
        ));
        rows(&plan)
            .into_iter()
            .find(|r| r.1 == issuer && r.3 == "role.app")
            .map(|r| r.0)
    };
    for issuer in ["accounts.google.com", "cognito-identity.amazonaws.com"] {
        assert_eq!(trusted(issuer, ""), Some(Risk::Public), "{issuer}");
        let aud = format!(r#", "Condition": {{"StringEquals": {{"{issuer}:aud": "app-1234"}}}}"#);
        assert_eq!(trusted(issuer, &aud), Some(Risk::External), "{issuer}");
        let any = format!(r#", "Condition": {{"StringLike": {{"{issuer}:aud": "*"}}}}"#);
        assert_eq!(trusted(issuer, &any), Some(Risk::Public), "{issuer}");
    }
}

#[test]
fn ganymede_roles_and_openmetadata_vendor_trust() {
    let ganymede = rows(&ready_made("ganymede-s3.toml", &[]));
    assert!(
        ganymede.iter().any(|(r, p, _, res, _)| *r == Risk::Data
            && p.starts_with("role.")
            && res.starts_with("bucket.data")),
        "{ganymede:#?}"
    );
    let glue = ready_made("openmetadata-glue.toml", &[]);
    let rows = rows(&glue);
    // The vendor's account assumes the ingestion role: external, and so is what it does
    // through the role.
    let vendor: Vec<_> = rows
        .iter()
        .filter(|(_, p, _, _, _)| p != "role.ingestion" && !p.ends_with(".amazonaws.com"))
        .collect();
    assert!(
        vendor.iter().any(|(r, _, a, res, _)| *r == Risk::External
            && a.contains("sts:assumerole")
            && res == "role.ingestion"),
        "{rows:#?}"
    );
    assert!(
        vendor
            .iter()
            .any(|(r, _, a, _, _)| *r == Risk::External && a.contains("glue:")),
        "{rows:#?}"
    );
}

const ROLE_HEAD: &str = r#"
[stack]
name = "t"
"#;

fn role(name: &str, trust_principal: &str, policy: &str) -> String {
    format!(
        r#"
[role.{name}]
name = "{name}"
trust = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {trust_principal}, "Action": "sts:AssumeRole"}}]}}'''
[role.{name}.policies]
p = '''{{"Version": "2012-10-17", "Statement": [{policy}]}}'''
"#
    )
}

const QUEUE: &str = r#"
[queue.jobs]
name = "jobs"
"#;

#[test]
#[rustfmt::skip]
fn risk_classes_fire_and_do_not_fire() {
    let read_queue = r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}"#;
    let cases: Vec<(String, Risk)> = vec![
        // A service trusted by a role acts inside the account: the row is the action's class.
        (role("fn", r#"{"Service": "lambda.amazonaws.com"}"#, read_queue), Risk::Data),
        (role("fn", r#"{"Service": "lambda.amazonaws.com"}"#, r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}"#), Risk::Internal),
        (role("fn", r#"{"Service": "lambda.amazonaws.com"}"#, r#"{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}"#), Risk::Escalation),
        // Not in the hand-written list: the IAM catalog files these under "Permissions
        // management" (an object's ACL, a secret's resource policy).
        (role("fn", r#"{"Service": "lambda.amazonaws.com"}"#, r#"{"Effect": "Allow", "Action": "s3:PutObjectAcl", "Resource": "*"}"#), Risk::Escalation),
        (role("fn", r#"{"Service": "lambda.amazonaws.com"}"#, r#"{"Effect": "Allow", "Action": "secretsmanager:Put*", "Resource": "*"}"#), Risk::Escalation),
        // The catalog's Write and Tagging levels are not escalation by themselves.
        (role("fn", r#"{"Service": "lambda.amazonaws.com"}"#, r#"{"Effect": "Allow", "Action": ["sqs:TagQueue", "lambda:CreateEventSourceMapping"], "Resource": "*"}"#), Risk::Internal),
        (role("fn", r#"{"AWS": "111122223333"}"#, read_queue), Risk::External),
        (role("fn", r#"{"AWS": "123456789012"}"#, read_queue), Risk::Data),
        (role("fn", r#""*""#, read_queue) + "[[role.fn.silence]]\nlint = \"P002\"\npolicy = \"trust\"\nreason = \"public on purpose\"\n", Risk::Public),
    ];
    for (body, highest) in cases {
        let plan = inline(&format!("{ROLE_HEAD}{QUEUE}{body}"));
        let changes = changes(&plan);
        let top = changes.iter().map(|c| c.grant.risk).min().unwrap();
        assert_eq!(top, highest, "{body}\n{changes:#?}");
        assert!(changes.iter().all(|c| c.change == Change::Gained));
    }
}

#[test]
fn service_principal_in_a_resource_policy_is_external_without_a_source_condition() {
    let queue = |condition: &str| {
        format!(
            r#"{ROLE_HEAD}
[queue.jobs]
name = "jobs"
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Service": "s3.amazonaws.com"}}, "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"{condition}}}]}}'''
"#
        )
    };
    let unscoped = rows(&inline(&queue("")));
    assert!(
        has(
            &unscoped,
            Risk::External,
            "s3.amazonaws.com",
            "sqs:sendmessage",
            "queue.jobs"
        ),
        "{unscoped:#?}"
    );
    let scoped = rows(&inline(&queue(
        r#", "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}"#,
    )));
    assert!(
        has(
            &scoped,
            Risk::Data,
            "s3.amazonaws.com",
            "sqs:sendmessage",
            "queue.jobs"
        ),
        "{scoped:#?}"
    );
    assert!(
        !scoped[0].4,
        "a source condition scopes the principal: {scoped:#?}"
    );
}

#[test]
fn explicit_deny_wins_and_conditions_make_rows_conditional() {
    let deny = role(
        "fn",
        r#"{"Service": "lambda.amazonaws.com"}"#,
        r#"{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": "*"}"#,
    );
    let rows_deny = rows(&inline(&format!("{ROLE_HEAD}{deny}")));
    let own = rows_deny.iter().find(|(_, p, ..)| p == "role.fn").unwrap();
    assert_eq!(own.2, "sqs:receivemessage", "{rows_deny:#?}");
    let conditional_deny = role(
        "fn",
        r#"{"Service": "lambda.amazonaws.com"}"#,
        r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#,
    );
    let rows_cond = rows(&inline(&format!("{ROLE_HEAD}{conditional_deny}")));
    let own = rows_cond.iter().find(|(_, p, ..)| p == "role.fn").unwrap();
    assert_eq!(
        (own.2.as_str(), own.4),
        ("sqs:receivemessage", true),
        "{rows_cond:#?}"
    );
    let allow_condition = role(
        "fn",
        r#"{"Service": "lambda.amazonaws.com"}"#,
        r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}"#,
    );
    let rows_allow = rows(&inline(&format!("{ROLE_HEAD}{allow_condition}")));
    assert!(
        rows_allow
            .iter()
            .find(|(_, p, ..)| p == "role.fn")
            .unwrap()
            .4,
        "{rows_allow:#?}"
    );
}

/// A Deny that takes part of a wildcard away whatever the request leaves the wildcard's other
/// actions, by name, unconditional, and classed by what is left; one with a condition, or of a
/// wildcard of every service, leaves the wildcard conditional.
#[test]
fn a_deny_takes_its_part_of_a_wildcard_away() {
    let own_row = |policy: &str| {
        let spec = format!("{ROLE_HEAD}{}", role("fn", LAMBDA, policy));
        let rows = rows(&inline(&spec));
        rows.into_iter()
            .find(|(_, p, ..)| p == "role.fn")
            .unwrap_or_else(|| panic!("no row of role.fn for {policy}"))
    };
    let all_sqs = r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}"#;
    // All but ReceiveMessage denied: ReceiveMessage alone is left, data.
    let (risk, _, actions, _, conditional) = own_row(&format!(
        r#"{all_sqs}, {{"Effect": "Deny", "NotAction": "sqs:ReceiveMessage", "Resource": "*"}}"#
    ));
    assert_eq!(
        (risk, actions.as_str(), conditional),
        (Risk::Data, "sqs:receivemessage", false)
    );
    // One action denied: the others, each by name, still escalation (SetQueueAttributes).
    let (risk, _, actions, _, conditional) = own_row(&format!(
        r#"{all_sqs}, {{"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": "*"}}"#
    ));
    let left: Vec<&str> = actions.split(' ').collect();
    assert!(!conditional && risk == Risk::Escalation, "{actions}");
    assert!(left.contains(&"sqs:sendmessage") && left.contains(&"sqs:setqueueattributes"));
    assert!(
        !left.contains(&"sqs:deletemessage") && !left.contains(&"sqs:*"),
        "{actions}"
    );
    let names: Vec<String> = left.iter().map(|a| a.to_string()).collect();
    let shown = describe_actions(&names);
    assert_eq!(
        shown,
        format!("sqs:* except sqs:DeleteMessage ({} actions)", names.len())
    );
    // Every escalating action denied: what is left is data.
    let (risk, _, _, _, conditional) = own_row(&format!(
        r#"{all_sqs}, {{"Effect": "Deny", "Action": ["sqs:SetQueueAttributes", "sqs:AddPermission", "sqs:RemovePermission", "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:TagQueue", "sqs:UntagQueue", "sqs:StartMessageMoveTask", "sqs:CancelMessageMoveTask"], "Resource": "*"}}"#
    ));
    assert_eq!((risk, conditional), (Risk::Data, false));
    // With a condition, the wildcard stays, conditional.
    let (_, _, actions, _, conditional) = own_row(&format!(
        r#"{all_sqs}, {{"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": "*", "Condition": {{"Bool": {{"aws:SecureTransport": "false"}}}}}}"#
    ));
    assert_eq!((actions.as_str(), conditional), ("sqs:*", true));
    // A Deny on another service's actions, with a NotResource, leaves the row as it is.
    let (_, _, actions, _, conditional) = own_row(&format!(
        r#"{all_sqs}, {{"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"}}"#
    ));
    assert_eq!((actions.as_str(), conditional), ("sqs:*", false));
}

#[test]
fn a_trust_policy_that_delegates_to_the_account_lets_in_whom_iam_allows_and_no_one_else() {
    let assume_ops = r#"{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::123456789012:role/ops"}"#;
    let read_queue = r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}"#;
    let stack = |ops_trust: &str| {
        format!(
            "{ROLE_HEAD}{QUEUE}{}{}",
            role("vendor", r#"{"AWS": "111122223333"}"#, assume_ops),
            role("ops", ops_trust, read_queue)
        )
    };
    // ops trusts its own account's root: vendor's identity policy is enough to become ops,
    // so the vendor account reaches the queue through both roles.
    let delegated = rows(&inline(&stack(
        r#"{"AWS": "arn:aws:iam::123456789012:root"}"#,
    )));
    assert!(
        has(
            &delegated,
            Risk::External,
            "111122223333",
            "sqs:receivemessage",
            "queue.jobs"
        ),
        "{delegated:#?}"
    );
    // ops trusts only a service: vendor's identity policy lets it assume nothing.
    let closed = rows(&inline(&stack(r#"{"Service": "ec2.amazonaws.com"}"#)));
    assert!(
        !closed.iter().any(
            |(_, p, _, res, _)| (p == "role.vendor" || p == "111122223333") && res == "role.ops"
        ),
        "{closed:#?}"
    );
    assert!(
        !has(
            &closed,
            Risk::External,
            "111122223333",
            "sqs:receivemessage",
            "queue.jobs"
        ),
        "{closed:#?}"
    );
}

#[test]
fn cross_account_needs_both_sides_and_kms_needs_its_key_policy() {
    // Our role's identity policy on another account's queue: that account's queue policy
    // decides too, so the row is conditional.
    let other = role(
        "fn",
        r#"{"Service": "lambda.amazonaws.com"}"#,
        r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:999988887777:theirs"}"#,
    );
    let rows_other = rows(&inline(&format!("{ROLE_HEAD}{other}")));
    let row = rows_other.iter().find(|(_, p, ..)| p == "role.fn").unwrap();
    assert!(row.4, "{rows_other:#?}");
    // A key whose policy neither names the role nor delegates to the account grants the
    // role nothing, whatever its identity policy says.
    let key = |delegate: bool| {
        let principal = if delegate {
            "arn:aws:iam::123456789012:root"
        } else {
            "arn:aws:iam::123456789012:user/admin"
        };
        format!(
            r#"{ROLE_HEAD}
[key.k]
description = "k"
# Without the delegation, KMS's lockout check would refuse this policy for plinth's caller.
bypass_lockout_check = true
bypass_lockout_reason = "the test's key is managed by user/admin"
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "{principal}"}}, "Action": "kms:*", "Resource": "*"}}]}}'''
{}"#,
            role(
                "fn",
                r#"{"Service": "lambda.amazonaws.com"}"#,
                r#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}"#
            )
        )
    };
    let granted = rows(&inline(&key(true)));
    assert!(
        has(&granted, Risk::Data, "role.fn", "kms:decrypt", "key.k"),
        "{granted:#?}"
    );
    let refused = rows(&inline(&key(false)));
    assert!(
        !refused
            .iter()
            .any(|(_, p, _, res, _)| p == "role.fn" && res == "key.k"),
        "{refused:#?}"
    );
}

#[test]
fn the_gate_fires_at_or_above_the_threshold() {
    let vendor = inline(&format!(
        "{ROLE_HEAD}{QUEUE}{}",
        role(
            "fn",
            r#"{"AWS": "111122223333"}"#,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#
        )
    ));
    let internal = inline(&format!(
        "{ROLE_HEAD}{QUEUE}{}",
        role(
            "fn",
            r#"{"Service": "lambda.amazonaws.com"}"#,
            r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}"#
        )
    ));
    let (vendor, internal) = (changes(&vendor), changes(&internal));
    assert!(gains_at_or_above(&vendor, Risk::External));
    assert!(!gains_at_or_above(&vendor, Risk::Public));
    assert!(!gains_at_or_above(&internal, Risk::External));
    assert!(gains_at_or_above(&internal, Risk::Data));
    assert!(gains_at_or_above(&internal, Risk::Internal));
}

#[test]
fn detailed_exit_code_with_each_threshold() {
    let vendor = inline(&format!(
        "{ROLE_HEAD}{QUEUE}{}",
        role(
            "fn",
            r#"{"AWS": "111122223333"}"#,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#
        )
    ));
    let lambda = inline(&format!(
        "{ROLE_HEAD}{QUEUE}{}",
        role(
            "fn",
            r#"{"Service": "lambda.amazonaws.com"}"#,
            r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}"#
        )
    ));
    let queue_only = inline(&format!("{ROLE_HEAD}{QUEUE}"));
    let cases: &[(&Plan, Option<Risk>, u8)] = &[
        (&vendor, Some(Risk::Public), 2),
        (&vendor, Some(Risk::External), 3),
        (&vendor, Some(Risk::Internal), 3),
        (&vendor, None, 3),
        // A new Lambda role reading the stack's own queue: data, below the default gate.
        (&lambda, Some(Risk::External), 2),
        (&lambda, Some(Risk::Escalation), 2),
        (&lambda, Some(Risk::Data), 3),
        (&lambda, None, 3),
        // No policy at all: changes, but no access.
        (&queue_only, Some(Risk::Internal), 2),
        (&queue_only, None, 2),
    ];
    for (plan, threshold, expected) in cases {
        assert_eq!(
            detailed_exit_code(plan, *threshold, &changes(plan)),
            *expected,
            "{threshold:?}\n{:#?}",
            changes(plan)
        );
    }
}

#[test]
fn wildcards_are_counted_for_people() {
    let text = describe_actions(&["s3:get*".to_string(), "sts:assumerole".to_string()]);
    assert!(text.starts_with("s3:Get* ("), "{text}");
    assert!(text.ends_with("actions), sts:AssumeRole"), "{text}");
    // A wildcard's literal parts are spelled as the catalog spells the actions it matches.
    let text = describe_actions(&["s3:*object".to_string(), "kms:generatedatakey*".to_string()]);
    assert!(text.starts_with("s3:*Object ("), "{text}");
    assert!(text.contains(", kms:GenerateDataKey* ("), "{text}");
    // One the catalog does not know is shown as it is.
    assert_eq!(
        describe_actions(&["nosuch:do*".to_string()]),
        "nosuch:do* (0 actions)"
    );
    // All but a few of a wildcard's actions, by name, are that wildcard with its exceptions;
    // a few named actions stay as they are.
    let get_but_object: Vec<String> = crate::policy::catalog::catalog()
        .actions_matching("s3:get*")
        .map(|(_, a)| format!("s3:{}", a.name.to_ascii_lowercase()))
        .filter(|a| a != "s3:getobject")
        .collect();
    let text = describe_actions(&get_but_object);
    assert_eq!(
        text,
        format!(
            "s3:Get* except s3:GetObject ({} actions)",
            get_but_object.len()
        )
    );
    let few = ["sqs:sendmessage", "sqs:receivemessage", "sqs:deletemessage"].map(String::from);
    assert_eq!(
        describe_actions(&few),
        "sqs:SendMessage, sqs:ReceiveMessage, sqs:DeleteMessage"
    );
}

#[test]
fn text_and_markdown_sections() {
    let plan = ready_made("openmetadata-glue.toml", &[]);
    let changes = changes(&plan);
    insta::assert_snapshot!(
        "access_text_openmetadata",
        crate::render::access::text_section(&changes)
    );
    insta::assert_snapshot!(
        "access_markdown_openmetadata",
        crate::render::access::markdown_section(&changes)
    );
    let risks = crate::render::access::markdown_risks(&changes).join("\n");
    insta::assert_snapshot!("access_risks_openmetadata", risks);
    let tonic = ready_made(
        "tonic-structural-redshift.toml",
        &[("previous_process", "true")],
    );
    insta::assert_snapshot!(
        "access_text_tonic",
        crate::render::access::text_section(&super::changes(&tonic))
    );
}

/// A bucket that leaves the spec is the same bucket, named by its ARN instead of its address:
/// no access is gained or lost by that alone, and a pattern that is exactly a stack bucket's
/// objects is one row, not two.
#[test]
fn a_resource_leaving_the_spec_changes_its_label_not_the_access() {
    let with_bucket = r#"
[stack]
name = "s"

[bucket.data]
name = "my-lab-data"
existing = true

[role.reader]
name = "reader"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }
policies.read = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::my-lab-data/*" }, { Effect = "Allow", Action = "s3:ListBucket", Resource = "arn:aws:s3:::my-lab-data" }] }
"#;
    let without_bucket = with_bucket.replace(
        "[bucket.data]\nname = \"my-lab-data\"\nexisting = true\n",
        "",
    );
    let planned = |toml: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, toml).unwrap();
        load(&path, &[], true)
    };
    let (before, after) = (planned(with_bucket), planned(&without_bucket));
    let before = grants(&Stack::from_plan(&before, Side::Desired));
    let after = grants(&Stack::from_plan(&after, Side::Desired));
    let objects: Vec<&Grant> = before
        .iter()
        .filter(|g| g.actions.iter().any(|a| a == "s3:getobject"))
        .collect();
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(objects[0].resource, "bucket.data/*");
    let mut out = Vec::new();
    difference(&after, &before, Change::Gained, ACCOUNT, &mut out);
    difference(&before, &after, Change::Lost, ACCOUNT, &mut out);
    assert!(out.is_empty(), "{out:#?}");
}

/// The Markdown comment's graph: the vendor account, the role it assumes, and what it reaches
/// through it; one edge per pair of nodes; none when nothing is gained above internal.
#[test]
fn the_markdown_graph_draws_who_reaches_what_through_which_role() {
    let plan = ready_made("openmetadata-glue.toml", &[]);
    let graph = crate::render::access::mermaid(&changes(&plan)).expect("a graph");
    assert!(graph.starts_with("```mermaid\nflowchart LR\n"), "{graph}");
    assert!(graph.contains("[\"210987654321\"]") && graph.contains("[\"role.ingestion\"]"));
    let edges: Vec<&str> = graph.lines().filter(|l| l.contains("-->")).collect();
    assert_eq!(edges.len(), 2, "{graph}");
    assert!(edges[0].contains("sts:AssumeRole"), "{graph}");
    assert!(edges[1].contains("glue:GetJobRuns"), "{graph}");
    let internal = inline(&format!(
        "{ROLE_HEAD}{QUEUE}{}",
        role(
            "fn",
            r#"{"Service": "lambda.amazonaws.com"}"#,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}"#,
        )
    ));
    assert_eq!(crate::render::access::mermaid(&changes(&internal)), None);
}

/// `after`'s spec planned against an account holding what `before`'s spec declares, as it
/// declares it (owned by the stack, so what `after` leaves out is deleted).
fn between(before: &str, after: &str) -> Plan {
    between_with(before, after, PlanOptions::default())
}

fn between_with(before: &str, after: &str, options: PlanOptions) -> Plan {
    let live = account_after(&inline(before), false, |address| {
        after.contains(&format!("[{address}]"))
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(&path, after).unwrap();
    let spec = spec::load(&path, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    plan(&spec, &live, options).unwrap()
}

/// The account a plan's apply leaves: what it declares, as it declares it, owned by its stack
/// (found by name where `declared` says the next spec names it too).
fn account_after(
    created: &Plan,
    lab_bucket: bool,
    declared: impl Fn(&crate::model::Address) -> bool,
) -> LiveSnapshot {
    let mut live = empty_account(lab_bucket);
    for change in created.changes.iter().filter(|c| c.desired.is_some()) {
        let resource = change.as_created(&created.stack);
        live.owned.push(resource.clone());
        if declared(&change.address) {
            live.by_address.insert(change.address.clone(), resource);
        }
    }
    live
}

/// The access changes, checked against the same difference of every row of both sides.
fn changes_checked(plan: &Plan) -> Vec<GrantChange> {
    let changes = changes(plan);
    assert_eq!(changes, changes_in_full(plan));
    assert_eq!(changes, super::changes_on(plan, true), "on two threads");
    changes
}

fn gained(changes: &[GrantChange], principal: &str, action: &str, resource: &str) -> bool {
    changes.iter().any(|c| {
        c.change == Change::Gained
            && c.grant.principal == principal
            && c.grant.resource == resource
            && c.grant.actions.iter().any(|a| a == action)
    })
}

fn queue(name: &str) -> String {
    format!("\n[queue.{name}]\nname = \"{name}\"\n")
}

fn reads(queue: &str, action: &str) -> String {
    format!(
        r#"{{"Effect": "Allow", "Action": "{action}", "Resource": "arn:aws:sqs:us-east-1:123456789012:{queue}"}}"#
    )
}

const LAMBDA: &str = r#"{"Service": "lambda.amazonaws.com"}"#;

/// Which policy of a role grants an action is not access: an inline policy renamed, or its
/// statement moved to the queue's own policy naming the role, gains and loses nothing, for the
/// role or for the vendor that may assume it. A new trust path is still a row gained.
#[test]
fn moving_a_grant_between_a_roles_policies_changes_no_row() {
    let vendor = r#"{"AWS": "arn:aws:iam::210987654321:root"}"#;
    let send = reads("jobs", "sqs:SendMessage");
    let before = format!("{ROLE_HEAD}{QUEUE}{}", role("app", vendor, &send));
    let renamed = before.replace("\np = '''", "\nrenamed = '''");
    assert_ne!(renamed, before);
    let changes = changes_checked(&between(&before, &renamed));
    assert!(changes.is_empty(), "{changes:#?}");
    let queue_policy = r#"policy = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}, "Action": "sqs:SendMessage", "Resource": "*"}]}'''"#;
    let in_queue_policy = format!(
        "{ROLE_HEAD}{QUEUE}{queue_policy}\n{}",
        role("app", vendor, &reads("other", "sqs:GetQueueUrl"))
    );
    let changes = changes_checked(&between(&before, &in_queue_policy));
    assert!(
        !changes
            .iter()
            .any(|c| c.grant.actions.iter().any(|a| a == "sqs:sendmessage")),
        "{changes:#?}"
    );
    // Another role the vendor may assume that can send too is a new way in.
    let second = format!("{before}{}", role("second", vendor, &send));
    let changes = changes_checked(&between(&before, &second));
    assert!(
        changes.iter().any(|c| c.change == Change::Gained
            && c.grant.principal == "210987654321"
            && c.grant.actions.iter().any(|a| a == "sqs:sendmessage")),
        "{changes:#?}"
    );
}

/// Which nodes of each side are in an affected group, each side's links found as `changes`
/// finds them.
fn affected_of(live: &Stack, desired: &Stack) -> affected::Affected {
    affected::affected(
        live,
        desired,
        [&affected::links(live), &affected::links(desired)],
    )
}

/// Two units that name nothing of each other: a change to one computes its rows alone, and
/// the other's rows, the same on both sides, are not computed at all.
#[test]
fn only_the_group_a_change_reaches_is_computed() {
    // Each queue's policy names `*` as its resource, as key and queue policies often do: that
    // is the queue itself, not every resource of the stack.
    let unit = |name: &str, action: &str| {
        queue(name)
            + r#"policy = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sqs:*", "Resource": "*"}]}'''"#
            + "\n"
            + &role(name, LAMBDA, &reads(name, action))
    };
    let before = format!(
        "{ROLE_HEAD}{}{}",
        unit("a", "sqs:GetQueueUrl"),
        unit("b", "sqs:GetQueueUrl")
    );
    let after = format!(
        "{ROLE_HEAD}{}{}",
        unit("a", "sqs:GetQueueUrl"),
        unit("b", "sqs:ReceiveMessage")
    );
    let plan = between(&before, &after);
    let (live, desired) = (
        Stack::from_plan(&plan, Side::Live),
        Stack::from_plan(&plan, Side::Desired),
    );
    let found = affected_of(&live, &desired);
    let marked = |stack: &Stack, marks: &[bool]| -> Vec<String> {
        stack
            .nodes
            .iter()
            .zip(marks)
            .filter(|(_, m)| **m)
            .map(|(n, _)| n.address.clone())
            .collect()
    };
    assert_eq!(marked(&live, &found.live), ["role.b", "queue.b"]);
    assert_eq!(marked(&desired, &found.desired), ["role.b", "queue.b"]);
    let changes = changes_checked(&plan);
    assert!(
        gained(&changes, "role.b", "sqs:receivemessage", "queue.b"),
        "{changes:#?}"
    );
    assert!(
        changes.iter().all(|c| c.grant.principal == "role.b"),
        "{changes:#?}"
    );
    // Nothing changed: nothing is computed, and nothing is gained or lost.
    let unchanged = between(&before, &before);
    let found = affected_of(
        &Stack::from_plan(&unchanged, Side::Live),
        &Stack::from_plan(&unchanged, Side::Desired),
    );
    assert!(!found.live.contains(&true) && !found.desired.contains(&true));
    assert_eq!(changes_checked(&unchanged), []);
}

/// Part of a row gained is the class of the actions gained, not of the whole row: a role that
/// could already write a key's policy and now also encrypts with it gains data access.
#[test]
fn a_row_gained_in_part_takes_the_class_of_its_own_actions() {
    let grants = |actions: &str| {
        role(
            "fn",
            LAMBDA,
            &format!(r#"{{"Effect": "Allow", "Action": {actions}, "Resource": "*"}}"#),
        )
    };
    let before = format!("{ROLE_HEAD}{}", grants(r#"["kms:PutKeyPolicy"]"#));
    let after = format!(
        "{ROLE_HEAD}{}",
        grants(r#"["kms:PutKeyPolicy", "kms:GenerateDataKey"]"#)
    );
    let changes = changes_checked(&between(&before, &after));
    let gained: Vec<(Risk, &[String])> = changes
        .iter()
        .filter(|c| c.change == Change::Gained)
        .map(|c| (c.grant.risk, c.grant.actions.as_slice()))
        .collect();
    assert_eq!(
        gained,
        [(Risk::Data, &["kms:generatedatakey".to_string()][..])],
        "{changes:#?}"
    );
    // Gaining the escalation itself is escalation.
    let changes = changes_checked(&between(
        &format!("{ROLE_HEAD}{}", grants(r#"["kms:GenerateDataKey"]"#)),
        &after,
    ));
    assert!(
        changes
            .iter()
            .any(|c| c.change == Change::Gained && c.grant.risk == Risk::Escalation),
        "{changes:#?}"
    );
}

/// A role left as it is gains rows when a resource its wildcard names is created, and loses
/// them when one is deleted.
#[test]
fn a_wildcard_of_an_unchanged_role_reaches_a_new_resource() {
    let reader = role("reader", LAMBDA, &reads("jobs-*", "sqs:ReceiveMessage"));
    let before = format!("{ROLE_HEAD}{reader}{}", queue("jobs-1"));
    let after = format!("{ROLE_HEAD}{reader}{}{}", queue("jobs-1"), queue("jobs-2"));
    let changes = changes_checked(&between(&before, &after));
    assert!(
        gained(
            &changes,
            "role.reader",
            "sqs:receivemessage",
            "queue.jobs-2"
        ),
        "{changes:#?}"
    );
    let changes = changes_checked(&between(&after, &before));
    assert!(
        changes
            .iter()
            .any(|c| c.change == Change::Lost && c.grant.resource == "queue.jobs-2"),
        "{changes:#?}"
    );
}

/// What a role can do reaches whoever may assume it, though neither the vendor's trust in
/// the first role nor the second role's trust in the first changed.
#[test]
fn a_change_reaches_whoever_assumes_the_role_through_unchanged_trust() {
    let hub = role(
        "hub",
        r#"{"AWS": "111122223333"}"#,
        &reads("jobs", "sqs:GetQueueUrl"),
    );
    let worker = |action: &str| {
        role(
            "worker",
            r#"{"AWS": "arn:aws:iam::123456789012:role/hub"}"#,
            &reads("jobs", action),
        )
    };
    let before = format!("{ROLE_HEAD}{QUEUE}{hub}{}", worker("sqs:GetQueueUrl"));
    let after = format!("{ROLE_HEAD}{QUEUE}{hub}{}", worker("sqs:SendMessage"));
    let changes = changes_checked(&between(&before, &after));
    for principal in ["role.worker", "role.hub", "111122223333"] {
        assert!(
            gained(&changes, principal, "sqs:sendmessage", "queue.jobs"),
            "{principal}\n{changes:#?}"
        );
    }
}

/// A plan that destroys the stack loses every row; a drift report gains what the account holds
/// beyond the spec and loses what the spec grants and the account does not: both as the full
/// difference says.
#[test]
fn destroy_and_refresh_only_plans_agree_with_the_full_difference() {
    let hub = role(
        "hub",
        r#"{"AWS": "111122223333"}"#,
        &reads("jobs", "sqs:ReceiveMessage"),
    );
    let before = format!("{ROLE_HEAD}{QUEUE}{hub}");
    let after = before.replace("sqs:ReceiveMessage", "sqs:SendMessage");
    let destroy = PlanOptions {
        destroy: true,
        ..PlanOptions::default()
    };
    let changes = changes_checked(&between_with(&before, &before, destroy));
    assert!(
        !changes.is_empty() && changes.iter().all(|c| c.change == Change::Lost),
        "{changes:#?}"
    );
    assert!(
        changes.iter().any(|c| c.grant.principal == "111122223333"),
        "{changes:#?}"
    );
    let refresh = PlanOptions {
        refresh_only: true,
        ..PlanOptions::default()
    };
    // The account's role receives (gained by the drift); the spec's sends (lost).
    let drift = changes_checked(&between_with(&before, &after, refresh));
    let rows: Vec<(Change, &str, &[String])> = drift
        .iter()
        .filter(|c| c.grant.principal == "role.hub")
        .map(|c| {
            (
                c.change,
                c.grant.resource.as_str(),
                c.grant.actions.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                Change::Gained,
                "queue.jobs",
                &["sqs:receivemessage".to_string()][..]
            ),
            (
                Change::Lost,
                "queue.jobs",
                &["sqs:sendmessage".to_string()][..]
            ),
        ],
        "{drift:#?}"
    );
}

/// Each ready-made stack, applied and planned again: nothing is gained or lost; destroyed:
/// every row its creation gained is lost. Both as the full difference says, on stacks whose
/// policies name each other (key policies naming roles, roles reading queues and buckets).
#[test]
fn the_ready_made_stacks_applied_then_destroyed_agree_with_the_full_difference() {
    let stacks: [(&str, &[(&str, &str)]); 4] = [
        (
            "tonic-structural-redshift.toml",
            &[("previous_process", "true")],
        ),
        ("gretel-hybrid.toml", &[]),
        ("ganymede-s3.toml", &[]),
        ("openmetadata-glue.toml", &[]),
    ];
    for (name, vars) in stacks {
        let created = ready_made(name, vars);
        let live = account_after(&created, name.starts_with("ganymede"), |_| true);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("plans")
            .join(name);
        let options = LoadOptions {
            var_overrides: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..LoadOptions::default()
        };
        let spec = spec::load(&path, &options).unwrap_or_else(|d| panic!("{}", d.render(false)));
        let again = plan(&spec, &live, PlanOptions::default()).unwrap();
        let unchanged: Vec<_> = again
            .changes
            .iter()
            .filter(|c| c.action == crate::plan::Action::NoOp)
            .collect();
        assert!(
            !unchanged.is_empty(),
            "{name}: nothing planned as unchanged"
        );
        assert_eq!(changes_checked(&again), [], "{name}");
        let destroy = PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        };
        let destroyed = changes_checked(&plan(&spec, &live, destroy).unwrap());
        // Compared by ARN: a bucket the stack names with `existing = true` is not the stack's
        // to destroy, so the destroy plan's live side names it by its ARN, not its address.
        let row = |g: Grant| {
            (
                g.risk,
                g.principal,
                g.actions,
                g.target,
                g.conditions,
                g.via,
            )
        };
        let gained: BTreeSet<_> = changes(&created)
            .into_iter()
            .map(|c| row(c.grant))
            .collect();
        let lost: BTreeSet<_> = destroyed
            .into_iter()
            .map(|c| {
                assert_eq!(c.change, Change::Lost, "{name}");
                row(c.grant)
            })
            .collect();
        assert!(!gained.is_empty(), "{name}");
        assert_eq!(gained, lost, "{name}");
    }
}

/// An action acts only on resources of its own types: `s3:GetObject` on a bucket's ARN,
/// `s3:ListBucket` on its objects' and `sqs:ListQueues` on a queue's grant nothing (lint P018 says so of the statement), and no
/// row claims them; each beside an action that does act there keeps its row.
#[test]
fn an_action_that_cannot_act_on_the_resource_gives_no_row() {
    let toml = r#"
[stack]
name = "s"

[queue.q]
name = "s-q"

[role.reader]
name = "reader"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }
policies.read = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject", "s3:ListBucket"], Resource = ["arn:aws:s3:::my-lab-data", "arn:aws:s3:::my-lab-data/*"] }, { Effect = "Allow", Action = ["sqs:ListQueues", "sqs:ReceiveMessage", "sqs:NotAnAction"], Resource = "${queue.q.arn}" }] }

[[role.reader.silence]]
lint = "P016"
policy = "policies.read"
reason = "a test of an action the catalog does not know"
"#;
    let rows = grants(&Stack::from_plan(&inline(toml), Side::Desired));
    let on = |resource: &str| -> Vec<String> {
        rows.iter()
            .filter(|g| g.resource == resource)
            .flat_map(|g| g.actions.clone())
            .collect()
    };
    assert_eq!(
        on("arn:aws:s3:::my-lab-data"),
        ["s3:listbucket"],
        "{rows:#?}"
    );
    // A bucket's name holds no `/`, and an object key's `*` does not reach into an access
    // point's fields: `s3:ListBucket` does not act on the objects.
    assert_eq!(
        on("arn:aws:s3:::my-lab-data/*"),
        ["s3:getobject"],
        "{rows:#?}"
    );
    // An action the catalog does not know is kept: P016 reports it, and plinth does not guess.
    assert_eq!(
        on("queue.q"),
        ["sqs:notanaction", "sqs:receivemessage"],
        "{rows:#?}"
    );
}

/// A vendor's trust that gains an `sts:ExternalId` condition grants nothing new: the reviewer
/// sees the unconditional row lost, no row gained, and the gate (`--fail-on external`) passes.
/// Dropping the condition again gains the unconditional row and loses nothing.
#[test]
fn adding_a_condition_narrows_and_dropping_it_widens() {
    let vendor = r#"{"AWS": "arn:aws:iam::210987654321:root"}"#;
    let open = format!(
        "{ROLE_HEAD}{}",
        role(
            "vendor",
            vendor,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#
        )
    );
    let guarded = open.replace(
        r#""Action": "sts:AssumeRole"}"#,
        r#""Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "acme-7f3a9"}}}"#,
    );
    assert_ne!(open, guarded);

    let narrowed = changes_checked(&between(&open, &guarded));
    assert!(
        narrowed.iter().all(|c| c.change == Change::Lost),
        "{narrowed:#?}"
    );
    assert!(!gains_at_or_above(&narrowed, Risk::Internal));
    assert!(narrowed
        .iter()
        .any(|c| c.grant.principal == "210987654321" && c.grant.conditions.is_empty()));

    let widened = changes_checked(&between(&guarded, &open));
    assert!(
        widened.iter().all(|c| c.change == Change::Gained),
        "{widened:#?}"
    );
    assert!(gains_at_or_above(&widened, Risk::External));
}

/// Narrowing what a row's conditions admit (a smaller IP range, no `IfExists`) or the resource
/// it names gains nothing and loses the wider row; widening them back gains it. Conditions
/// written differently that admit the same requests (`10.1.2.3` and `10.1.2.3/32`,
/// `StringLike` without a wildcard and `StringEquals`) are neither.
#[test]
fn narrowing_a_condition_or_a_resource_gains_nothing() {
    let vendor = r#"{"AWS": "arn:aws:iam::210987654321:root"}"#;
    let with = |condition: &str, resource: &str| {
        let stack = format!(
            "{ROLE_HEAD}{}",
            role(
                "vendor",
                vendor,
                &format!(
                    r#"{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "{resource}"}}"#
                )
            )
        );
        stack.replace(
            r#""Action": "sts:AssumeRole"}"#,
            &format!(r#""Action": "sts:AssumeRole", "Condition": {condition}}}"#),
        )
    };
    let cases = [
        (
            r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            r#"{"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}}"#,
        ),
        (
            r#"{"StringEqualsIfExists": {"sts:ExternalId": "x"}}"#,
            r#"{"StringEquals": {"sts:ExternalId": "x"}}"#,
        ),
    ];
    let bucket = "arn:aws:s3:::vendor-data/*";
    for (wide, narrow) in cases {
        let narrowed = changes_checked(&between(&with(wide, bucket), &with(narrow, bucket)));
        assert!(
            narrowed.iter().all(|c| c.change == Change::Lost) && !narrowed.is_empty(),
            "{wide} to {narrow}: {narrowed:#?}"
        );
        let widened = changes_checked(&between(&with(narrow, bucket), &with(wide, bucket)));
        assert!(
            widened.iter().all(|c| c.change == Change::Gained) && !widened.is_empty(),
            "{narrow} to {wide}: {widened:#?}"
        );
        assert!(gains_at_or_above(&widened, Risk::External));
    }
    let condition = r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#;
    let narrowed = changes_checked(&between(
        &with(condition, bucket),
        &with(condition, "arn:aws:s3:::vendor-data/exports/*"),
    ));
    assert!(
        narrowed.iter().all(|c| c.change == Change::Lost) && !narrowed.is_empty(),
        "{narrowed:#?}"
    );
    for (one, same) in [
        (
            r#"{"IpAddress": {"aws:SourceIp": "10.1.2.3"}}"#,
            r#"{"IpAddress": {"aws:SourceIp": "10.1.2.3/32"}}"#,
        ),
        (
            r#"{"StringLike": {"sts:ExternalId": "x"}}"#,
            r#"{"StringEquals": {"sts:ExternalId": "x"}}"#,
        ),
    ] {
        let rewritten = changes_checked(&between(&with(one, bucket), &with(same, bucket)));
        assert!(rewritten.is_empty(), "{one} to {same}: {rewritten:#?}");
    }
}

/// An Allow with NotAction grants every action but those it lists: listing fewer gains the
/// ones no longer listed, and listing more loses them.
#[test]
fn an_allow_with_fewer_actions_left_out_gains_them() {
    let with = |left_out: &str| {
        format!(
            "{ROLE_HEAD}{}",
            role(
                "app",
                LAMBDA,
                &format!(r#"{{"Effect": "Allow", "NotAction": "{left_out}", "Resource": "*"}}"#)
            )
        )
    };
    let widened = changes_checked(&between(&with("s3:*"), &with("s3:Get*")));
    assert!(
        widened.iter().any(|c| c.change == Change::Gained
            && c.grant.principal == "role.app"
            && c.grant.actions == ["* except s3:get*"]),
        "{widened:#?}"
    );
    assert!(
        widened.iter().all(|c| c.change == Change::Gained),
        "{widened:#?}"
    );
    assert!(gains_at_or_above(&widened, Risk::Escalation));

    let narrowed = changes_checked(&between(&with("s3:Get*"), &with("s3:*")));
    assert!(
        narrowed.iter().all(|c| c.change == Change::Lost) && !narrowed.is_empty(),
        "{narrowed:#?}"
    );
    assert!(!gains_at_or_above(&narrowed, Risk::Internal));
}

/// An inline policy that names a key the same plan creates is not known in full until apply,
/// but what it grants is: the plan shows it added, labelled as widening, and the access review
/// has the role gaining it on that key.
#[test]
fn a_new_policy_on_a_key_the_plan_creates_is_shown_and_reviewed() {
    let app = role(
        "app",
        LAMBDA,
        r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#,
    );
    let before = format!("{ROLE_HEAD}{app}");
    let after = format!(
        "{before}\n[role.app.policies.kms]\nVersion = \"2012-10-17\"\nStatement = [{{ Effect = \"Allow\", Action = \"kms:Decrypt\", Resource = \"${{key.k.arn}}\" }}]\n\n[key.k]\ndescription = \"k\"\n"
    );
    let plan = between(&before, &after);
    let role = plan
        .changes
        .iter()
        .find(|c| c.address.to_string() == "role.app")
        .unwrap();
    let diffs = role.policy_diffs(&plan.account.account_id);
    assert!(
        diffs
            .iter()
            .any(|(name, d)| name == "policies.kms"
                && d.access == crate::policy::AccessChange::Widens),
        "{diffs:#?}"
    );
    let changes = changes_checked(&plan);
    assert!(
        gained(&changes, "role.app", "kms:decrypt", "key.k"),
        "{changes:#?}"
    );
}

/// An AWS managed policy plinth knows gives the rows of its document; one it does not know
/// gives one row naming it, classed escalation, since it may grant anything.
#[test]
fn aws_managed_policies_grant_what_their_documents_say() {
    let with = |policy: &str| {
        let app = role(
            "app",
            LAMBDA,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#,
        );
        let attached = format!(
            "managed_policies = [\"arn:aws:iam::aws:policy/{policy}\"]\n[role.app.policies]"
        );
        format!(
            "{ROLE_HEAD}{}",
            app.replace("[role.app.policies]", &attached)
        )
    };
    let admin = changes_checked(&between(ROLE_HEAD, &with("AdministratorAccess")));
    assert!(
        admin.iter().any(|c| c.change == Change::Gained
            && c.grant.principal == "role.app"
            && c.grant.actions == ["*"]
            && c.grant.risk == Risk::Escalation),
        "{admin:#?}"
    );
    assert!(gains_at_or_above(&admin, Risk::Escalation));
    // `--fail-on any` asks the plan's summary: attaching widens, detaching does not.
    let app = with("AmazonSQSReadOnlyAccess");
    let admin_too = app.replace(
        "policy/AmazonSQSReadOnlyAccess\"]",
        "policy/AmazonSQSReadOnlyAccess\", \"arn:aws:iam::aws:policy/AdministratorAccess\"]",
    );
    assert_ne!(app, admin_too);
    assert!(between(&app, &admin_too).summary().widens_access);
    assert!(!between(&admin_too, &app).summary().widens_access);

    let logs = rows(&inline(&with("service-role/AWSLambdaBasicExecutionRole")));
    assert!(
        logs.iter()
            .any(|(risk, principal, actions, _, _)| *risk == Risk::Internal
                && principal == "role.app"
                && actions.contains("logs:putlogevents")),
        "{logs:#?}"
    );

    let unknown = rows(&inline(&with("AmazonTimestreamFullAccess")));
    assert!(
        unknown.iter().any(
            |(risk, _, actions, _, conditional)| *risk == Risk::Escalation
                && actions.contains("not known to plinth")
                && *conditional
        ),
        "{unknown:#?}"
    );
}

/// Who a bucket policy lets in: an Allow with NotPrincipal lets in everyone else, anonymous
/// callers included; a negated condition on the caller's account narrows nothing; a statement
/// on the bucket's objects is a row on `bucket.NAME/*`.
#[test]
fn a_bucket_policy_open_to_everyone_but_some_is_public() {
    let bucket = |statement: &str| {
        inline(&format!(
            r#"{ROLE_HEAD}
[bucket.data]
name = "rev-data-bkt"
public_access_block = {{ block_public_policy = false }}
policy = '''{{"Version": "2012-10-17", "Statement": [{statement}]}}'''
"#
        ))
    };
    let not_principal = rows(&bucket(
        r#"{"Sid": "AllBut", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/admin"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::rev-data-bkt/*"}"#,
    ));
    assert!(
        not_principal.iter().any(
            |(risk, principal, actions, resource, _)| *risk == Risk::Public
                && principal == "*"
                && actions.contains("s3:getobject")
                && resource == "bucket.data/*"
        ),
        "{not_principal:#?}"
    );
    let other_accounts = rows(&bucket(
        r#"{"Sid": "Others", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::rev-data-bkt/*", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}}"#,
    ));
    assert!(
        other_accounts
            .iter()
            .any(|(risk, principal, ..)| *risk == Risk::Public && principal == "*"),
        "{other_accounts:#?}"
    );
    let org_only = rows(&bucket(
        r#"{"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::rev-data-bkt", "arn:aws:s3:::rev-data-bkt/*"], "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}"#,
    ));
    let places: Vec<(Risk, &str, &str)> = org_only
        .iter()
        .map(|(risk, _, actions, resource, _)| (*risk, actions.as_str(), resource.as_str()))
        .collect();
    assert!(
        places.contains(&(Risk::External, "s3:getobject", "bucket.data/*")),
        "{places:#?}"
    );
    assert!(
        places.contains(&(Risk::External, "s3:listbucket", "bucket.data")),
        "{places:#?}"
    );
}

/// A bucket policy that opens a role's grant to everyone loses the role nothing: everyone
/// holds what the role held.
#[test]
fn opening_a_grant_to_everyone_loses_no_one_access() {
    let with_principal = |principal: &str| {
        format!(
            r#"{ROLE_HEAD}{}
[bucket.data]
name = "rev-data-bkt"
public_access_block = {{ block_public_policy = false }}
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Sid": "Read", "Effect": "Allow", "Principal": {principal}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::rev-data-bkt/*"}}]}}'''

[[bucket.data.silence]]
lint = "P002"
reason = "a public dataset"
"#,
            role(
                "vendor",
                LAMBDA,
                r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#
            )
        )
    };
    let named = with_principal(r#"{"AWS": "arn:aws:iam::123456789012:role/vendor"}"#);
    let everyone = with_principal(r#""*""#);
    let opened = changes_checked(&between(&named, &everyone));
    assert!(
        opened.iter().all(|c| c.change == Change::Gained),
        "{opened:#?}"
    );
    assert!(gains_at_or_above(&opened, Risk::Public));
}

/// Another account's root stands for its roles, which get in only as that account allows: a
/// trust narrowed from the vendor's root to one vendor role gains nothing. The stack's own
/// root only delegates: naming one of its own roles instead is access gained.
#[test]
fn narrowing_a_vendor_root_to_one_vendor_role_gains_nothing() {
    let trusting = |principal: &str| {
        format!(
            "{ROLE_HEAD}{}",
            role(
                "vendor",
                &format!(r#"{{"AWS": "{principal}"}}"#),
                r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#
            )
        )
    };
    let root = trusting("arn:aws:iam::999999999999:root");
    let one_role = trusting("arn:aws:iam::999999999999:role/vendor-app");
    let narrowed = changes_checked(&between(&root, &one_role));
    assert!(
        narrowed.iter().all(|c| c.change == Change::Lost),
        "{narrowed:#?}"
    );
    assert!(!gains_at_or_above(&narrowed, Risk::Internal));
    let widened = changes_checked(&between(&one_role, &root));
    assert!(gains_at_or_above(&widened, Risk::External), "{widened:#?}");

    let own_root = trusting(&format!("arn:aws:iam::{ACCOUNT}:root"));
    let own_role = trusting(&format!("arn:aws:iam::{ACCOUNT}:role/ops"));
    let named = changes_checked(&between(&own_root, &own_role));
    assert!(
        named.iter().any(|c| c.change == Change::Gained),
        "{named:#?}"
    );
}

/// Everyone held to a vendor account by `aws:PrincipalAccount` is that account's principals:
/// from the vendor's root to it, or back, changes no row; from one of its roles, the role
/// loses nothing (the account's other principals are gained).
#[test]
fn everyone_of_a_vendor_account_is_that_account() {
    let bucket = |principal: &str, condition: &str| {
        format!(
            "{ROLE_HEAD}\n[bucket.b]\nname = \"b-vendor-data\"\npublic_access_block = {{ block_public_policy = false }}\npolicy = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Principal\": {principal}, \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b-vendor-data/*\"{condition}}}]}}'''\n"
        )
    };
    let everyone = bucket(
        r#""*""#,
        r#", "Condition": {"StringEquals": {"aws:PrincipalAccount": "210987654321"}}"#,
    );
    let root = bucket(r#"{"AWS": "210987654321"}"#, "");
    let changed = changes_checked(&between(&root, &everyone));
    assert!(changed.is_empty(), "{changed:#?}");
    let role = bucket(r#"{"AWS": "arn:aws:iam::210987654321:role/vend"}"#, "");
    let changed = changes_checked(&between(&role, &everyone));
    assert!(
        changed.iter().all(|c| c.change == Change::Gained),
        "{changed:#?}"
    );
    let back = changes_checked(&between(
        &everyone,
        &bucket(r#"{"AWS": "210987654321"}"#, ""),
    ));
    assert!(back.is_empty(), "{back:#?}");
}

#[test]
fn a_pending_policy_is_filled_with_the_arns_of_the_stack_only() {
    let arns: FastMap<&str, &str> = [
        ("key.k", "arn:aws:kms:us-east-1:123456789012:key/k"),
        ("key.k2", "arn:aws:kms:us-east-1:123456789012:key/k2"),
    ]
    .into_iter()
    .collect();
    let template = r#"{"Resource": ["${key.k.arn}", "${key.k2.arn}", "${key.k.id}", "${key.gone.arn}", "${key.k.arn}/x"], "x": "$ {key.k.arn"}"#;
    assert_eq!(
        fill_arns(template, &arns),
        r#"{"Resource": ["arn:aws:kms:us-east-1:123456789012:key/k", "arn:aws:kms:us-east-1:123456789012:key/k2", "${key.k.id}", "${key.gone.arn}", "arn:aws:kms:us-east-1:123456789012:key/k/x"], "x": "$ {key.k.arn"}"#
    );
    assert_eq!(fill_arns("${key.k.arn", &arns), "${key.k.arn");
}

/// The rows of `role.fn` in a stack of one role (trusted by Lambda) with `policy` as its
/// statements, beside `more`.
fn rows_of_fn(policy: &str, more: &str) -> Vec<(Risk, String, String, String, bool)> {
    let spec = format!("{ROLE_HEAD}{}{more}", role("fn", LAMBDA, policy));
    rows(&inline(&spec))
        .into_iter()
        .filter(|(_, p, ..)| p == "role.fn")
        .collect()
}

/// IAM's evaluation: a Deny applies to the resource it names, not to every resource the
/// Allow's pattern may reach.
#[test]
fn a_deny_on_one_resource_leaves_the_others() {
    let rows = rows_of_fn(
        r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:b"}"#,
        &(queue("a") + &queue("b")),
    );
    assert!(
        has(&rows, Risk::Data, "role.fn", "sqs:sendmessage", "queue.a"),
        "{rows:#?}"
    );
    assert!(
        has(&rows, Risk::Data, "role.fn", "sqs:sendmessage", "*"),
        "{rows:#?}"
    );
    assert!(!rows.iter().any(|r| r.3 == "queue.b"), "{rows:#?}");
    // A bucket's objects are matched as objects: a Deny on the objects takes GetObject, one
    // on the bucket alone does not.
    let bucket = "\n[bucket.b]\nname = \"bkt-b\"\n";
    let allow = r#"{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::bkt-b/*"}"#;
    let rows = rows_of_fn(
        &format!(
            r#"{allow}, {{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt-b/*"}}"#
        ),
        bucket,
    );
    let objects: Vec<_> = rows.iter().filter(|r| r.3 == "bucket.b/*").collect();
    assert_eq!(objects.len(), 1, "{rows:#?}");
    assert_eq!(objects[0].2, "s3:putobject", "{rows:#?}");
    let rows = rows_of_fn(
        &format!(
            r#"{allow}, {{"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::bkt-b"}}"#
        ),
        bucket,
    );
    let objects: Vec<_> = rows.iter().filter(|r| r.3 == "bucket.b/*").collect();
    assert_eq!(objects[0].2, "s3:getobject s3:putobject", "{rows:#?}");
}

/// A permissions boundary allows only what it allows, where it allows it, and its Denies win.
#[test]
fn a_boundary_leaves_only_what_it_allows_too() {
    let boundary = |statements: &str| {
        format!(
            "\n[policy.boundary]\nname = \"boundary\"\ndocument = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{statements}]}}'''\n"
        )
    };
    let with_boundary = |policy: &str, statements: &str| {
        let spec = format!(
            "{ROLE_HEAD}{}{}{}{}",
            role("fn", LAMBDA, policy).replacen("[role.fn.policies]", "permissions_boundary = \"arn:aws:iam::123456789012:policy/boundary\"\n[role.fn.policies]", 1),
            boundary(statements),
            queue("q"),
            queue("other"),
        );
        rows(&inline(&spec))
            .into_iter()
            .filter(|(_, p, ..)| p == "role.fn")
            .collect::<Vec<_>>()
    };
    let send = r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}"#;
    // Its Deny wins.
    let rows = with_boundary(
        send,
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}"#,
    );
    assert!(rows.is_empty(), "{rows:#?}");
    // It allows another queue only: nothing on this one.
    let everything = r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}"#;
    let rows = with_boundary(
        everything,
        r#"{"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": "arn:aws:sqs:us-east-1:123456789012:other"}"#,
    );
    assert!(rows.is_empty(), "{rows:#?}");
    // It allows one action of the identity policy's wildcard: that action, data, not escalation.
    let rows = with_boundary(
        everything,
        r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}"#,
    );
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (rows[0].0, rows[0].2.as_str()),
        (Risk::Data, "sqs:sendmessage"),
        "{rows:#?}"
    );
    // It allows one queue, the identity policy every queue: that queue's row is whole, and
    // the row for every queue holds only in part.
    let anywhere = r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}"#;
    let rows = with_boundary(anywhere, send);
    let on = |resource: &str| {
        rows.iter()
            .find(|r| r.3 == resource)
            .unwrap_or_else(|| panic!("{rows:#?}"))
    };
    assert!(!on("queue.q").4, "{rows:#?}");
    assert!(
        on("*").4,
        "the row for every queue is conditional: {rows:#?}"
    );
}

/// An explicit Deny in the caller's own identity policy wins over a queue policy's or a
/// trust policy's Allow.
#[test]
fn the_caller_s_own_deny_wins_over_a_resource_or_trust_policy() {
    let queue_policy = r#"
[queue.q]
name = "q"
policy = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/fn"}, "Action": "sqs:SendMessage", "Resource": "*"}]}'''
"#;
    let rows = rows_of_fn(
        r#"{"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}"#,
        queue_policy,
    );
    assert!(!rows.iter().any(|r| r.3 == "queue.q"), "{rows:#?}");
    let rows = rows_of_fn(
        r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}"#,
        queue_policy,
    );
    assert!(
        has(&rows, Risk::Data, "role.fn", "sqs:sendmessage", "queue.q"),
        "{rows:#?}"
    );

    // A role that denies itself sts:AssumeRole cannot become the role that trusts it.
    let spec = |deny: &str| {
        format!(
            "{ROLE_HEAD}{}{}{}",
            role(
                "fn",
                LAMBDA,
                &format!(
                    r#"{{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}}{deny}"#
                )
            ),
            role(
                "b",
                r#"{"AWS": "arn:aws:iam::123456789012:role/fn"}"#,
                r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}"#
            ),
            queue("q"),
        )
    };
    let through_b = |spec: &str| {
        self::rows(&inline(spec)).iter().any(|(_, p, a, res, _)| {
            p == "role.fn" && a.contains("sts:assumerole") && res == "role.b"
        })
    };
    assert!(through_b(&spec("")));
    assert!(!through_b(&spec(
        r#", {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}"#
    )));
}

/// A key policy that gives the role only some of the actions its identity policy names
/// leaves those: `kms:*` through a key policy allowing `kms:Decrypt` is `kms:Decrypt`.
#[test]
fn a_key_policy_leaves_only_the_actions_it_allows() {
    let key = r#"
[key.k]
description = "k"
policy = '''{"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/ci"}, "Action": "kms:*", "Resource": "*"}, {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/fn"}, "Action": "kms:Decrypt", "Resource": "*"}]}'''
"#;
    let rows = rows_of_fn(
        r#"{"Effect": "Allow", "Action": "kms:*", "Resource": "${key.k.arn}"}"#,
        key,
    );
    // The identity policy's row, and the key policy's own.
    let on_key: Vec<_> = rows.iter().filter(|r| r.3 == "key.k").collect();
    assert_eq!(on_key.len(), 2, "{rows:#?}");
    assert!(
        on_key
            .iter()
            .all(|r| (r.0, r.2.as_str()) == (Risk::Data, "kms:decrypt")),
        "{rows:#?}"
    );
}

/// A Deny with a condition leaves the row to callers for whom the condition does not hold,
/// shown as its negation: removing such a Deny (an organization's data perimeter) gains the
/// row without it, and a perimeter around everyone is external, not public.
#[test]
fn a_conditional_deny_is_part_of_the_row_and_removing_it_gains_access() {
    let bucket = |perimeter: bool, principal: &str| {
        let deny = if perimeter {
            r#", {"Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::bkt-b", "arn:aws:s3:::bkt-b/*"], "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}}"#
        } else {
            ""
        };
        format!(
            r#"{ROLE_HEAD}
[bucket.b]
name = "bkt-b"
public_access_block = {{ block_public_policy = false }}
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Sid": "Vendor", "Effect": "Allow", "Principal": {principal}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt-b/*"}}{deny}]}}'''
[[bucket.b.silence]]
lint = "P002"
policy = "policy"
reason = "the perimeter statement denies callers outside the organization"
"#
        )
    };
    let vendor = r#"{"AWS": "arn:aws:iam::210987654321:root"}"#;
    let rows_with = grants(&Stack::from_plan(
        &inline(&bucket(true, vendor)),
        Side::Desired,
    ));
    let row = rows_with
        .iter()
        .find(|g| g.principal == "210987654321")
        .unwrap();
    assert_eq!(
        row.conditions,
        ["StringEquals aws:PrincipalOrgID o-abc123def4"],
        "{row:#?}"
    );
    let without_perimeter = between(&bucket(true, vendor), &bucket(false, vendor));
    let changes = changes_checked(&without_perimeter);
    assert!(
        gained(&changes, "210987654321", "s3:getobject", "bucket.b/*"),
        "{changes:#?}"
    );
    let exit = detailed_exit_code(&without_perimeter, Some(Risk::External), &changes);
    assert_eq!(exit, 3);
    // Everyone, within the organization: external.
    let everyone = grants(&Stack::from_plan(
        &inline(&bucket(true, r#""*""#)),
        Side::Desired,
    ));
    let row = everyone
        .iter()
        .find(|g| g.resource == "bucket.b/*")
        .unwrap();
    assert_eq!(row.risk, Risk::External, "{row:#?}");
}

/// Role chaining has no limit on its hops: a vendor reaches what the sixth role in a chain
/// may do.
#[test]
fn a_chain_of_roles_is_followed_to_its_end() {
    let mut spec = ROLE_HEAD.to_string() + &queue("q");
    spec += &role(
        "r1",
        r#"{"AWS": "arn:aws:iam::210987654321:root"}"#,
        r#"{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}"#,
    );
    for i in 2..=6 {
        let policy = if i == 6 {
            r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}"#.to_string()
        } else {
            r#"{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}"#.to_string()
        };
        spec += &role(
            &format!("r{i}"),
            &format!(r#"{{"AWS": "arn:aws:iam::123456789012:role/r{}"}}"#, i - 1),
            &policy,
        );
    }
    let rows = rows(&inline(&spec));
    assert!(
        has(
            &rows,
            Risk::External,
            "210987654321",
            "sqs:sendmessage",
            "queue.q"
        ),
        "{rows:#?}"
    );
}

/// A hop of a chain whose trust has a condition makes every row beyond it conditional on it,
/// however far: the vendor's row through two roles carries the second trust's condition.
/// And a role whose policy allows all actions but some (`NotAction iam:*`) may assume a role
/// that delegates to the account, as `Action "*"` may.
#[test]
fn a_chain_keeps_every_hops_conditions_and_follows_not_action() {
    let full_rows = |hub_policy: &str| {
        let mut spec = ROLE_HEAD.to_string() + &queue("q");
        spec += &role(
            "hub",
            r#"{"AWS": "arn:aws:iam::210987654321:root"}"#,
            hub_policy,
        );
        spec += r#"
[role.worker]
name = "worker"
trust = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/hub"}, "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}'''
[role.worker.policies]
p = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}]}'''
"#;
        grants(&Stack::from_plan(&inline(&spec), Side::Desired))
    };
    for hub in [
        r#"{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}"#,
        r#"{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}"#,
    ] {
        let grants = full_rows(hub);
        let far = grants
            .iter()
            .find(|g| {
                g.principal == "210987654321"
                    && g.resource == "queue.q"
                    && g.via.iter().any(|v| v.starts_with("role.worker"))
            })
            .unwrap_or_else(|| panic!("{hub}: {grants:#?}"));
        assert!(far.conditional, "{far:?}");
        assert!(
            far.conditions
                .iter()
                .any(|c| c.contains("aws:MultiFactorAuthPresent")),
            "{far:?}"
        );
    }
}

/// A trust that lets in everyone held to one of the stack's roles (`aws:PrincipalArn`, the way
/// lint P022 suggests naming roles by pattern, or `aws:PrincipalAccount` of this account) lets
/// that role in as itself: a vendor that may become it reaches on through this role.
#[test]
fn everyone_held_to_a_stack_role_lets_that_role_in() {
    for condition in [
        r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/hub"}}"#,
        r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/h*"}}"#,
        r#"{"StringEquals": {"aws:PrincipalAccount": "123456789012"}}"#,
    ] {
        let mut spec = ROLE_HEAD.to_string() + &queue("q");
        // The hub has no IAM policy to assume anything: the trust alone lets it in.
        spec += &role(
            "hub",
            r#"{"AWS": "arn:aws:iam::210987654321:root"}"#,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#,
        );
        spec += &format!(
            r#"
[role.worker]
name = "worker"
trust = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {condition}}}]}}'''
[role.worker.policies]
p = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}}]}}'''
[[role.worker.silence]]
lint = "P002"
policy = "trust"
reason = "held to the account's callers"
"#
        );
        let rows = rows(&inline(&spec));
        assert!(
            has(
                &rows,
                Risk::Internal,
                "role.hub",
                "sts:assumerole",
                "role.worker"
            ),
            "{condition}: {rows:#?}"
        );
        assert!(
            has(
                &rows,
                Risk::External,
                "210987654321",
                "sqs:sendmessage",
                "queue.q"
            ),
            "{condition}: {rows:#?}"
        );
    }
}

/// Who a condition lets in decides the class: a service whose source is another account's, or
/// any, acts for others (external); everyone within this account is as inside as the actions;
/// a wildcard narrows nothing (public); an organization or a network is external.
#[test]
#[rustfmt::skip]
fn the_class_follows_where_the_conditions_let_callers_in_from() {
    let queue = |principal: &str, condition: &str| {
        format!(
            r#"{ROLE_HEAD}
[queue.jobs]
name = "jobs"
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Sid": "S", "Effect": "Allow", "Principal": {principal}, "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs", "Condition": {condition}}}]}}'''
[[queue.jobs.silence]]
lint = "P002"
policy = "policy"
reason = "classes"
"#
        )
    };
    let sns = r#"{"Service": "sns.amazonaws.com"}"#;
    let cases: &[(&str, &str, Risk)] = &[
        (sns, r#"{"StringEquals": {"aws:SourceAccount": "123456789012"}}"#, Risk::Data),
        (sns, r#"{"StringEquals": {"aws:SourceAccount": "999988887777"}}"#, Risk::External),
        (sns, r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:999988887777:topic"}}"#, Risk::External),
        (sns, r#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}"#, Risk::External),
        (sns, r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}}"#, Risk::Data),
        (r#""*""#, r#"{"StringEquals": {"aws:PrincipalAccount": "123456789012"}}"#, Risk::Data),
        (r#""*""#, r#"{"StringEquals": {"kms:CallerAccount": "123456789012"}}"#, Risk::Data),
        (r#""*""#, r#"{"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}"#, Risk::External),
        (r#""*""#, r#"{"StringLike": {"aws:PrincipalOrgID": "*"}}"#, Risk::Public),
        (r#""*""#, r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}"#, Risk::Public),
        (r#""*""#, r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#, Risk::External),
        (r#""*""#, r#"{"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}"#, Risk::Public),
        // A fixed caller's unique id is someone, not anyone (S3 judges it not public); whose
        // account cannot be told from it.
        (r#""*""#, r#"{"StringEquals": {"aws:userid": "AROAEXAMPLEID:alice"}}"#, Risk::External),
        (r#""*""#, r#"{"StringLike": {"aws:userid": "*"}}"#, Risk::Public),
        // A role's sessions are that role's; any user id that starts alike is anyone's.
        (r#""*""#, r#"{"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}}"#, Risk::External),
        (r#""*""#, r#"{"StringLike": {"aws:userid": "AIDA*"}}"#, Risk::Public),
        // A value with a wildcard is every organization, endpoint or path that matches it,
        // as S3 judges a policy public.
        (r#""*""#, r#"{"StringLike": {"aws:PrincipalOrgID": "o-*"}}"#, Risk::Public),
        (r#""*""#, r#"{"StringLike": {"aws:SourceVpce": "vpce-*"}}"#, Risk::Public),
        (r#""*""#, r#"{"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/*"}}"#, Risk::Public),
        (r#""*""#, r#"{"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}"#, Risk::External),
        (r#""*""#, r#"{"StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}"#, Risk::External),
        // `ForAllValues` holds for a request without the key: an anonymous one.
        (r#""*""#, r#"{"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}"#, Risk::Public),
        (r#""*""#, r#"{"ForAllValues:StringEquals": {"aws:PrincipalAccount": "123456789012"}}"#, Risk::Public),
        // Conditions that must all hold: an account named decides before a bucket's ARN,
        // which names none.
        (sns, r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}, "StringEquals": {"aws:SourceAccount": "999988887777"}}"#, Risk::External),
        (sns, r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}, "StringEquals": {"aws:SourceAccount": "123456789012"}}"#, Risk::Data),
        (sns, r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}}"#, Risk::Data),
        (sns, r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}, "StringEquals": {"aws:SourceAccount": "123456789012"}}"#, Risk::Data),
        (r#""*""#, r#"{"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4", "aws:PrincipalAccount": "123456789012"}}"#, Risk::Data),
    ];
    for (principal, condition, risk) in cases {
        let rows = rows(&inline(&queue(principal, condition)));
        let row = rows.iter().find(|r| r.3 == "queue.jobs").unwrap_or_else(|| panic!("{condition}: {rows:#?}"));
        assert_eq!(row.0, *risk, "{principal} {condition}");
    }
}

/// A role whose trust delegates to the account is entered through the caller's own policy:
/// the rows through it name it (its trust is on the way), once, even where its trust also
/// names the caller.
#[test]
fn a_role_entered_through_the_callers_policy_is_named_on_the_way() {
    let vendor = role(
        "vendor",
        r#"{"AWS": "111122223333"}"#,
        r#"{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::123456789012:role/other"}"#,
    );
    for trust in [
        r#"{"AWS": "arn:aws:iam::123456789012:root"}"#,
        r#"{"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/vendor"]}"#,
    ] {
        let other = role("other", trust, &reads("jobs", "sqs:ReceiveMessage"));
        let spec = format!("{ROLE_HEAD}{QUEUE}{vendor}{other}");
        let changes = changes_checked(&between(ROLE_HEAD, &spec));
        let through: Vec<&GrantChange> = changes
            .iter()
            .filter(|c| c.grant.principal == "111122223333" && c.grant.resource == "queue.jobs")
            .collect();
        assert_eq!(through.len(), 1, "{trust}: {changes:#?}");
        assert!(
            through[0]
                .grant
                .via
                .contains(&"role.other trust".to_string()),
            "{:?}",
            through[0].grant.via
        );
        let text = crate::render::access::text_section(&changes);
        assert!(
            text.contains("through role.vendor then role.other: sqs:ReceiveMessage on queue.jobs"),
            "{text}"
        );
    }
}

/// A permissions boundary limits what a queue or trust policy grants to the role's ARN too:
/// its Deny wins, and what it does not allow is denied (only a role session's ARN escapes a
/// boundary). An AWS managed policy plinth knows reads as its document.
#[test]
fn a_boundary_limits_what_resource_and_trust_policies_grant_the_role() {
    let spec = |boundary: &str| {
        format!(
            "{ROLE_HEAD}{}{}{}{}",
            role("fn", LAMBDA, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}"#)
                .replacen("[role.fn.policies]", &format!("permissions_boundary = \"{boundary}\"\n[role.fn.policies]"), 1),
            r#"
[policy.boundary]
name = "boundary"
document = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": ["sqs:*", "sts:*"], "Resource": "*"}]}'''

[policy.s3_only]
name = "s3-only"
document = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'''

[queue.q]
name = "q"
policy = '''{"Version": "2012-10-17", "Statement": [{"Sid": "W", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/fn"}, "Action": "sqs:SendMessage", "Resource": "*"}]}'''
"#,
            role("target", r#"{"AWS": "arn:aws:iam::123456789012:role/fn"}"#, r#"{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}"#),
            "",
        )
    };
    let reaches = |rows: &[(Risk, String, String, String, bool)]| {
        let queue = rows.iter().any(|(_, p, a, r, _)| {
            p == "role.fn" && a.contains("sqs:sendmessage") && r == "queue.q"
        });
        let assume = rows.iter().any(|(_, p, a, r, _)| {
            p == "role.fn" && a.contains("sts:assumerole") && r == "role.target"
        });
        (queue, assume)
    };
    let without = rows(&inline(&spec(
        "arn:aws:iam::aws:policy/AdministratorAccess",
    )));
    assert_eq!(reaches(&without), (true, true), "{without:#?}");
    // The boundary's Deny.
    let denied = rows(&inline(&spec("arn:aws:iam::123456789012:policy/boundary")));
    assert_eq!(reaches(&denied), (false, false), "{denied:#?}");
    // Its implicit deny: it allows S3 only.
    let s3_only = rows(&inline(&spec("arn:aws:iam::123456789012:policy/s3-only")));
    assert_eq!(reaches(&s3_only), (false, false), "{s3_only:#?}");
    assert!(
        has(
            &s3_only,
            Risk::Data,
            "role.fn",
            "s3:getobject",
            "arn:aws:s3:::reports/*"
        ),
        "{s3_only:#?}"
    );
    // An AWS managed policy plinth knows is read, not taken for one it cannot see.
    let managed = rows(&inline(&spec(
        "arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess",
    )));
    assert_eq!(reaches(&managed), (false, false), "{managed:#?}");
}

/// A Deny with NotPrincipal spares only whom it names exactly: the account's root listed
/// beside a role spares the account itself, not every role in it, and a role's ARN spares
/// none of its sessions: only a session's ARN does, and never for a role with a permissions
/// boundary (IAM's documented pattern).
#[test]
fn a_deny_with_not_principal_spares_only_whom_it_names() {
    let spec = |listed: &str| {
        format!(
            "{ROLE_HEAD}{}{}\n[bucket.d]\nname = \"d-data\"\npolicy = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Sid\": \"OnlyA\", \"Effect\": \"Deny\", \"NotPrincipal\": {{\"AWS\": [{listed}]}}, \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::d-data/*\"}}]}}'''\n",
            role("a", LAMBDA, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::d-data/*"}"#),
            role("c", LAMBDA, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::d-data/*"}"#),
        )
    };
    let reads = |rows: &[(Risk, String, String, String, bool)], who: &str| {
        rows.iter()
            .any(|(_, p, a, _, _)| p == who && a.contains("s3:getobject"))
    };
    // The role's ARN does not spare the role's sessions, through which it acts.
    let role_only = rows(&inline(&spec(
        r#""arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:root""#,
    )));
    assert!(!reads(&role_only, "role.a"), "{role_only:#?}");
    assert!(!reads(&role_only, "role.c"), "{role_only:#?}");
    // A session of it listed too spares that session: the role's row stays, conditional.
    let with_session = rows(&inline(&spec(
        r#""arn:aws:iam::123456789012:role/a", "arn:aws:sts::123456789012:assumed-role/a/app", "arn:aws:iam::123456789012:root""#,
    )));
    assert!(
        with_session
            .iter()
            .any(|(_, p, a, _, conditional)| p == "role.a"
                && a.contains("s3:getobject")
                && *conditional),
        "{with_session:#?}"
    );
    assert!(!reads(&with_session, "role.c"), "{with_session:#?}");
    // Nothing spares a role with a permissions boundary.
    let bounded = spec(
        r#""arn:aws:iam::123456789012:role/a", "arn:aws:sts::123456789012:assumed-role/a/app", "arn:aws:iam::123456789012:root""#,
    )
    .replacen(
        "[role.a.policies]",
        "permissions_boundary = \"arn:aws:iam::aws:policy/AdministratorAccess\"\n[role.a.policies]",
        1,
    );
    let bounded = rows(&inline(&bounded));
    assert!(!reads(&bounded, "role.a"), "{bounded:#?}");
}

/// A queue or key policy's statement whose Resource leaves the resource out grants nothing on
/// it; a bucket policy's `*` reaches the bucket and its objects.
#[test]
fn a_resource_policy_statement_grants_only_on_what_its_resource_names() {
    let spec = r#"
[stack]
name = "t"

[queue.q]
name = "q"
policy = '''{"Version": "2012-10-17", "Statement": [
  {"Sid": "Other", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:some-other-queue"},
  {"Sid": "NotThis", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654322:root"}, "Action": "sqs:ReceiveMessage", "NotResource": "arn:aws:sqs:us-east-1:123456789012:q"},
  {"Sid": "This", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654323:root"}, "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}
]}'''

[bucket.b]
name = "b-data"
policy = '''{"Version": "2012-10-17", "Statement": [{"Sid": "All", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}'''
"#;
    let rows = rows(&inline(spec));
    let on_queue: Vec<&String> = rows
        .iter()
        .filter(|r| r.3 == "queue.q")
        .map(|r| &r.1)
        .collect();
    assert_eq!(on_queue, ["210987654323"], "{rows:#?}");
    assert!(
        has(
            &rows,
            Risk::External,
            "210987654321",
            "s3:getobject",
            "bucket.b/*"
        ),
        "{rows:#?}"
    );
    assert!(
        has(
            &rows,
            Risk::External,
            "210987654321",
            "s3:listbucket",
            "bucket.b"
        ),
        "{rows:#?}"
    );
}

/// The conditions a key policy or a trust puts on the role's access stay on the row, so
/// dropping them is access gained, not nothing.
#[test]
fn conditions_of_the_key_policy_stay_on_the_row_and_dropping_them_gains_access() {
    let spec = |condition: &str| {
        format!(
            "{ROLE_HEAD}{}\n[key.k]\ndescription = \"k\"\npolicy = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Sid\": \"Admin\", \"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"arn:aws:iam::123456789012:user/ci\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"}}, {{\"Sid\": \"Root\", \"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"arn:aws:iam::123456789012:root\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"{condition}}}]}}'''\n",
            role("fn", LAMBDA, r#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}"#),
        )
    };
    let via_sqs = spec(
        r#", "Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}}"#,
    );
    let plan = inline(&via_sqs);
    let row = grants(&Stack::from_plan(&plan, Side::Desired))
        .into_iter()
        .find(|g| g.principal == "role.fn" && g.resource == "key.k")
        .expect("a row on the key");
    assert!(row.conditional);
    assert_eq!(
        row.conditions,
        ["StringEquals kms:ViaService sqs.us-east-1.amazonaws.com"]
    );

    let widened = changes_checked(&between(&via_sqs, &spec("")));
    assert!(
        widened.iter().any(|c| c.change == Change::Gained
            && c.grant.principal == "role.fn"
            && c.grant.resource == "key.k"
            && c.grant.conditions.is_empty()),
        "{widened:#?}"
    );
}

/// An S3 source ARN that is a pattern may be any account's bucket: a service let in under it
/// is external; a literal bucket's ARN is taken for the stack's.
#[test]
fn a_wildcard_s3_source_is_any_account() {
    let spec = |source: &str| {
        format!(
            "{ROLE_HEAD}\n[queue.q]\nname = \"q\"\npolicy = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Sid\": \"S3\", \"Effect\": \"Allow\", \"Principal\": {{\"Service\": \"s3.amazonaws.com\"}}, \"Action\": \"sqs:SendMessage\", \"Resource\": \"*\", \"Condition\": {{\"ArnLike\": {{\"aws:SourceArn\": \"{source}\"}}}}}}]}}'''\n"
        )
    };
    for (source, risk) in [
        ("arn:aws:s3:::*", Risk::External),
        ("arn:aws:s3:::logs-*", Risk::External),
        ("arn:aws:s3:::logs-data", Risk::Data),
    ] {
        let rows = rows(&inline(&spec(source)));
        assert!(
            has(
                &rows,
                risk,
                "s3.amazonaws.com",
                "sqs:sendmessage",
                "queue.q"
            ),
            "{source}: {rows:#?}"
        );
    }
}

/// S3's RestrictPublicBuckets lets a public bucket policy in for the owner's account only:
/// the row for everyone is no longer public.
#[test]
fn restrict_public_buckets_keeps_a_public_policy_inside_the_account() {
    let spec = |restrict: bool| {
        format!(
            "{ROLE_HEAD}\n[bucket.b]\nname = \"b-site\"\npublic_access_block = {{ restrict_public_buckets = {restrict} }}\npolicy = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Sid\": \"Read\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b-site/*\"}}]}}'''\n[[bucket.b.silence]]\nlint = \"P002\"\npolicy = \"policy\"\nreason = \"a public site\"\n"
        )
    };
    let open = rows(&inline(&spec(false)));
    assert!(
        has(&open, Risk::Public, "*", "s3:getobject", "bucket.b/*"),
        "{open:#?}"
    );
    let restricted = rows(&inline(&spec(true)));
    assert!(
        has(&restricted, Risk::Data, "*", "s3:getobject", "bucket.b/*"),
        "{restricted:#?}"
    );
}

/// Data is reading, writing, decrypting or deleting it: secrets and parameters written or
/// deleted, a key's signing and MAC operations, a table's exports and PartiQL reads too.
#[test]
fn actions_on_data_are_data() {
    for action in [
        "secretsmanager:putsecretvalue",
        "secretsmanager:deletesecret",
        "ssm:putparameter",
        "kms:sign",
        "kms:generatemac",
        "kms:derivesharedsecret",
        "dynamodb:partiqlselect",
        "dynamodb:exporttabletopointintime",
        "kinesis:subscribetoshard",
        "s3:getobject",
    ] {
        assert_eq!(action_risk(action), Risk::Data, "{action}");
    }
    for action in [
        "sqs:getqueueurl",
        "kms:describekey",
        "secretsmanager:describesecret",
    ] {
        assert_eq!(action_risk(action), Risk::Internal, "{action}");
    }
}

/// A condition on who the caller is, decided for a caller plinth knows: a data perimeter's
/// Deny removes another account's row and leaves the stack's own role's without a condition;
/// an Allow for a role under a condition naming another role gives it nothing.
#[test]
fn conditions_on_the_caller_are_decided_for_a_known_caller() {
    let spec = format!(
        "{ROLE_HEAD}{}{}",
        role(
            "fn",
            LAMBDA,
            r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#
        ),
        r#"
[queue.b]
name = "b"
policy = '''{"Version": "2012-10-17", "Statement": [
  {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sqs:SendMessage", "Resource": "*"},
  {"Sid": "Own", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/fn"}, "Action": "sqs:SendMessage", "Resource": "*"},
  {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/fn"}, "Action": "sqs:PurgeQueue", "Resource": "*", "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/admin"}}},
  {"Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}}
]}'''
"#
    );
    let plan = inline(&spec);
    let rows = grants(&Stack::from_plan(&plan, Side::Desired));
    let on_queue: Vec<&Grant> = rows.iter().filter(|g| g.resource == "queue.b").collect();
    assert!(
        !on_queue.iter().any(|g| g.principal == "210987654321"),
        "{on_queue:#?}"
    );
    let own = on_queue
        .iter()
        .find(|g| g.principal == "role.fn" && g.via == ["queue.b policy"])
        .expect("the role's row");
    assert_eq!(own.actions, ["sqs:sendmessage"], "{own:#?}");
    assert!(own.conditions.is_empty() && !own.conditional, "{own:#?}");
}

/// A trust of GitHub's shared issuer that does not fix the repository's owner lets anyone
/// with a GitHub repository in: public, not external.
#[test]
fn a_shared_issuer_s_trust_without_an_owner_is_public() {
    let spec = |condition: &str| {
        format!(
            r#"{ROLE_HEAD}
[oidc_provider.github]
url = "https://token.actions.githubusercontent.com"
client_ids = ["sts.amazonaws.com"]

[role.deploy]
name = "deploy"
trust = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {{"StringEquals": {{"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}{condition}}}}}]}}'''
"#
        )
    };
    let class = |condition: &str| {
        rows(&inline(&spec(condition)))
            .into_iter()
            .find(|(_, _, a, r, _)| {
                r == "role.deploy" && a.contains("sts:assumerolewithwebidentity")
            })
            .map(|row| row.0)
    };
    assert_eq!(class(""), Some(Risk::Public));
    assert_eq!(
        class(r#", "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}"#),
        Some(Risk::Public)
    );
    assert_eq!(
        class(r#", "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/*"}"#),
        Some(Risk::External)
    );
    assert_eq!(
        class(
            r#", "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:octo-org/api:*", "repo:*/infra:*"]}"#
        ),
        Some(Risk::Public)
    );
}

/// A queue policy that moves from naming a role of the stack to everyone in the account
/// (`aws:PrincipalAccount`) loses the role nothing.
#[test]
fn opening_a_grant_to_the_whole_account_loses_its_roles_nothing() {
    let with_statement = |principal: &str, condition: &str| {
        format!(
            "{ROLE_HEAD}{}\n[queue.q]\nname = \"q\"\npolicy = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Sid\": \"Send\", \"Effect\": \"Allow\", \"Principal\": {principal}, \"Action\": \"sqs:SendMessage\", \"Resource\": \"*\"{condition}}}]}}'''\n",
            role("r", LAMBDA, r#"{"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "*"}"#),
        )
    };
    let named = with_statement(r#"{"AWS": "arn:aws:iam::123456789012:role/r"}"#, "");
    let account = with_statement(
        r#""*""#,
        r#", "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}"#,
    );
    let opened = changes_checked(&between(&named, &account));
    assert!(
        !opened
            .iter()
            .any(|c| c.change == Change::Lost && c.grant.principal == "role.r"),
        "{opened:#?}"
    );
    assert!(
        opened
            .iter()
            .any(|c| c.change == Change::Gained && c.grant.principal == "*"),
        "{opened:#?}"
    );
}

/// Requests split across statements are the same requests: a vendor's trust whose external
/// ids are one statement's list or one statement each, or a policy whose condition values are,
/// grants and loses nothing when rewritten the other way. Adding a value in the split form is
/// still a gain.
#[test]
fn statements_that_together_admit_the_same_requests_change_nothing() {
    let vendor = r#"{"AWS": "arn:aws:iam::210987654321:root"}"#;
    let stack = |external_ids: &[&[&str]], teams: &[&[&str]]| {
        let assume = |ids: &&[&str]| {
            format!(
                r#"{{"Effect": "Allow", "Principal": {vendor}, "Action": "sts:AssumeRole", "Condition": {{"StringEquals": {{"sts:ExternalId": {ids:?}}}}}}}"#
            )
        };
        let read = |teams: &&[&str]| {
            format!(
                r#"{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vendor-data/*", "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": {teams:?}}}}}}}"#
            )
        };
        let trust: Vec<String> = external_ids.iter().map(assume).collect();
        let reads: Vec<String> = teams.iter().map(read).collect();
        format!(
            "{ROLE_HEAD}\n[role.vendor]\nname = \"vendor\"\ntrust = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{}]}}'''\n[role.vendor.policies]\np = '''{{\"Version\": \"2012-10-17\", \"Statement\": [{}]}}'''\n",
            trust.join(", "),
            reads.join(", ")
        )
    };
    let joined = stack(&[&["x1", "x2"]], &[&["a", "b"]]);
    let split = stack(&[&["x1"], &["x2"]], &[&["a"], &["b"]]);
    for (before, after) in [(&joined, &split), (&split, &joined)] {
        let changes = changes_checked(&between(before, after));
        assert!(changes.is_empty(), "{changes:#?}");
    }
    let more = stack(&[&["x1"], &["x2", "x3"]], &[&["a"], &["b"]]);
    let changes = changes_checked(&between(&joined, &more));
    assert!(
        !changes.is_empty() && changes.iter().all(|c| c.change == Change::Gained),
        "{changes:#?}"
    );
    assert!(gains_at_or_above(&changes, Risk::External));
}

/// A Deny's condition becomes the row's as its negation: a negated operator, with or without
/// `IfExists`, holds without the key, so both negate to the plain operator; a positive
/// `IfExists` has no negation plinth can write.
#[test]
fn a_negated_if_exists_operator_negates_as_the_operator_does() {
    let condition = |operator: &str| crate::policy::Condition {
        operator: operator.to_string(),
        key: "aws:principalorgid".to_string(),
        values: vec!["o-abc123def4".to_string()],
    };
    let negated = |operator: &str| super::negation(&condition(operator)).map(|c| c.operator);
    assert_eq!(negated("StringNotEquals").as_deref(), Some("StringEquals"));
    assert_eq!(
        negated("StringNotEqualsIfExists").as_deref(),
        Some("StringEquals")
    );
    assert_eq!(negated("ArnNotLikeIfExists").as_deref(), Some("ArnLike"));
    assert_eq!(negated("StringEquals").as_deref(), Some("StringNotEquals"));
    assert_eq!(negated("StringEqualsIfExists"), None);
    assert_eq!(negated("NumericLessThan"), None);
}

/// What the spec leaves out, apply leaves as it is: a permissions boundary no longer declared
/// stays on the role, and the rows after the plan still hold to it.
#[test]
fn a_boundary_the_spec_leaves_out_still_bounds_the_role() {
    let boundary = "\n[policy.boundary]\nname = \"boundary\"\ndocument = '''{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"sqs:SendMessage\", \"Resource\": \"*\"}]}'''\n";
    let all_sqs = r#"{"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}"#;
    let with = format!(
        "{ROLE_HEAD}{}{boundary}{}",
        role("fn", LAMBDA, all_sqs).replacen(
            "[role.fn.policies]",
            "permissions_boundary = \"arn:aws:iam::123456789012:policy/boundary\"\n[role.fn.policies]",
            1
        ),
        queue("q")
    );
    let without = with.replacen(
        "permissions_boundary = \"arn:aws:iam::123456789012:policy/boundary\"\n",
        "",
        1,
    );
    assert_ne!(with, without);
    let changes = changes_checked(&between(&with, &without));
    assert!(changes.is_empty(), "the boundary stays: {changes:#?}");
}

/// Two rows of one role on `*` through two of its policies (an inline and a managed policy),
/// conditional under a boundary plinth cannot read: a change elsewhere gains neither.
#[test]
fn rows_of_one_role_through_two_policies_are_each_their_own() {
    let managed = "\n[policy.reads]\nname = \"reads\"\ndocument = '''{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:ListAllMyBuckets\", \"Resource\": \"*\"}]}'''\n";
    let send = r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}"#;
    let spec = |timeout: u32| {
        format!(
            "{ROLE_HEAD}{}{managed}{}visibility_timeout = {timeout}\n",
            role("fn", LAMBDA, send).replacen(
                "[role.fn.policies]",
                "permissions_boundary = \"arn:aws:iam::123456789012:policy/unknown-boundary\"\nmanaged_policies = [\"${policy.reads.arn}\"]\n[role.fn.policies]",
                1
            ),
            queue("q")
        )
    };
    let plan = between(&spec(30), &spec(60));
    assert!(plan.changes.iter().any(|c| c.is_change()));
    let changes = changes_checked(&plan);
    assert!(changes.is_empty(), "{changes:#?}");
}

/// The desired side takes a live value the spec leaves out: whether the live resource has a
/// key the spec does not is found in one walk through both sorted maps.
#[test]
fn a_live_key_the_spec_leaves_out_is_found() {
    let attributes = |keys: &[&str]| -> Attributes {
        keys.iter()
            .map(|k| (k.to_string(), Value::Bool(true)))
            .collect()
    };
    for (live, desired, beyond) in [
        (&["a", "b", "c"][..], &["a", "c"][..], true),
        (&["z"], &["a"], true),
        (&["a"], &[], true),
        (&["a", "c"], &["a", "b", "c", "d"], false),
        (&[], &["a"], false),
        (&["b"], &["b"], false),
    ] {
        assert_eq!(
            has_key_beyond(&attributes(live), &attributes(desired)),
            beyond,
            "{live:?} beyond {desired:?}"
        );
    }
}
