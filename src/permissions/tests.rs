use super::*;
use crate::policy::eval::{is_allowed_in, Decision};
use crate::policy::PolicyDocument;

const ACCOUNT: &str = "123456789012";

/// Tonic's stack with the previous data generation process, which has a queue, a function
/// and a bucket (Data Pipeline V2, the default, has only the server's role and profile).
const PREVIOUS_PROCESS: &[(&str, &str)] = &[("previous_process", "true")];

fn stack(name: &str) -> (Spec, PolicyDocument) {
    stack_with(name, &[])
}

/// A shipped stack with some of its variables set (`--var`).
fn stack_with(name: &str, vars: &[(&str, &str)]) -> (Spec, PolicyDocument) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plans")
        .join(format!("{name}.toml"));
    let options = crate::spec::LoadOptions {
        var_overrides: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let spec = crate::spec::load(&path, &options).expect("a shipped stack loads");
    let target = Target {
        partition: "aws".into(),
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
    };
    let printed = policy(&spec, &target).to_string();
    (
        spec,
        PolicyDocument::parse(&printed).expect("the printed policy parses"),
    )
}

fn decide(
    policy: &PolicyDocument,
    action: &str,
    resource: &str,
    context: &[(&str, &str)],
) -> Decision {
    is_allowed_in(&[policy], None, action, resource, context)
}

const STACKS: &[&str] = &[
    "ganymede-s3",
    "gretel-hybrid",
    "openmetadata-glue",
    "tonic-structural-redshift",
];

#[test]
fn the_customers_bucket_cannot_be_deleted_emptied_or_created() {
    let (spec, policy) = stack("ganymede-s3");
    let bucket = format!("arn:aws:s3:::{}", spec.vars["bucket"].value);
    for action in ["s3:DeleteBucket", "s3:CreateBucket", "s3:PutBucketPolicy"] {
        assert_eq!(
            decide(&policy, action, &bucket, &[]),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
    for action in ["s3:DeleteObject", "s3:DeleteObjectVersion"] {
        let objects = format!("{bucket}/*");
        assert_eq!(
            decide(&policy, action, &objects, &[]),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
    // What the block declares, CORS and plinth's tags, is granted.
    for action in [
        "s3:PutBucketCORS",
        "s3:GetBucketCORS",
        "s3:PutBucketTagging",
    ] {
        assert_eq!(
            decide(&policy, action, &bucket, &[]),
            Decision::Allowed,
            "{action}"
        );
    }
}

#[test]
fn a_bucket_the_stack_owns_is_created_and_deleted_but_emptied_only_with_force_destroy() {
    let (spec, policy) = stack_with("tonic-structural-redshift", PREVIOUS_PROCESS);
    let bucket = format!("arn:aws:s3:::{}-data", spec.vars["prefix"].value);
    for action in [
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:PutBucketNotification",
    ] {
        assert_eq!(
            decide(&policy, action, &bucket, &[]),
            Decision::Allowed,
            "{action}"
        );
    }
    // The block declares neither CORS nor a policy, nor force_destroy.
    for action in [
        "s3:PutBucketCORS",
        "s3:PutBucketPolicy",
        "s3:ListBucketVersions",
    ] {
        assert_eq!(
            decide(&policy, action, &bucket, &[]),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
    let objects = format!("{bucket}/*");
    assert_eq!(
        decide(&policy, "s3:DeleteObject", &objects, &[]),
        Decision::ImplicitDeny
    );
}

#[test]
fn no_stack_can_attach_an_arbitrary_managed_policy_to_its_roles() {
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    for name in STACKS {
        let (spec, policy) = stack(name);
        let attachable: Vec<String> = spec
            .resources
            .values()
            .filter_map(|r| match &r.body {
                ResourceBody::Role(role) => role.managed_policies.clone(),
                _ => None,
            })
            .flatten()
            .map(|p| render_name(&spec, &p))
            .collect();
        for address in spec.resources.keys().filter(|a| a.kind == Kind::Role) {
            let ResourceBody::Role(role) = &spec.resources[address].body else {
                unreachable!()
            };
            let role_arn = format!(
                "arn:aws:iam::{ACCOUNT}:role/{}",
                render_name(&spec, &role.name)
            );
            let context = [("iam:PolicyARN", admin)];
            assert_eq!(
                decide(&policy, "iam:AttachRolePolicy", &role_arn, &context),
                Decision::ImplicitDeny,
                "{name}: {role_arn}"
            );
            for wanted in &attachable {
                let context = [("iam:PolicyARN", wanted.as_str())];
                let decision = decide(&policy, "iam:AttachRolePolicy", &role_arn, &context);
                if role
                    .managed_policies
                    .as_ref()
                    .is_some_and(|m| !m.is_empty())
                {
                    assert_ne!(
                        decision,
                        Decision::ImplicitDeny,
                        "{name}: {role_arn} {wanted}"
                    );
                }
            }
            if role.policies.is_none() {
                for action in ["iam:PutRolePolicy", "iam:GetRolePolicy"] {
                    assert_eq!(
                        decide(&policy, action, &role_arn, &[]),
                        Decision::ImplicitDeny,
                        "{name}: {role_arn} has no inline policies ({action})"
                    );
                }
            }
        }
    }
}

#[test]
fn a_function_role_is_passed_to_lambda_and_to_no_other_service() {
    let (spec, policy) = stack_with("tonic-structural-redshift", PREVIOUS_PROCESS);
    let role = format!(
        "arn:aws:iam::{ACCOUNT}:role/{}-lambda",
        spec.vars["prefix"].value
    );
    let to = |service: &str| {
        decide(
            &policy,
            "iam:PassRole",
            &role,
            &[("iam:PassedToService", service)],
        )
    };
    assert_eq!(to("lambda.amazonaws.com"), Decision::Allowed);
    assert_eq!(to("ec2.amazonaws.com"), Decision::ImplicitDeny);
    assert_eq!(to("glue.amazonaws.com"), Decision::ImplicitDeny);
}

#[test]
fn a_shared_key_gets_its_policy_and_the_stacks_record_tag_and_is_never_deleted() {
    let (spec, policy) = stack_with(
        "tonic-structural-redshift",
        &[
            ("previous_process", "true"),
            ("create_kms_key", "false"),
            ("kms_key", "alias/customer-data"),
        ],
    );
    let printed = super::policy(&spec, &Target::default());
    let statements = printed["Statement"].as_array().unwrap();
    let granting = |action: &str| -> Vec<&Json> {
        statements
            .iter()
            .filter(|s| {
                s["Action"] == json!(action)
                    || s["Action"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!(action)))
            })
            .collect()
    };
    for action in ["kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:TagResource"] {
        let shared: Vec<&Json> = granting(action)
            .into_iter()
            .filter(|s| s["Sid"].as_str().unwrap().contains("Shared"))
            .collect();
        assert_eq!(shared.len(), 1, "{action}: {printed:#}");
        assert_eq!(
            shared[0]["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            json!(["alias/customer-data"]),
            "{action} only on the customer's key"
        );
    }
    let tagging = granting("kms:TagResource")
        .into_iter()
        .find(|s| s["Sid"].as_str().unwrap().contains("Shared"))
        .unwrap();
    assert_eq!(
        tagging["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"],
        json!(["plinth:shares:tonic-structural*"]),
        "only the stack's own record tag"
    );
    assert!(
        granting("kms:CreateKey").is_empty(),
        "the stack creates no key"
    );
    // Deleting or disabling a key is granted only on keys the stack owns (tagged with it).
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let customers = [("aws:ResourceTag/plinth:stack", "someone-else")];
    for action in ["kms:ScheduleKeyDeletion", "kms:DisableKey"] {
        assert_eq!(
            decide(&policy, action, &key, &customers),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
}

#[test]
fn roles_leave_only_the_stacks_instance_profiles() {
    // Stacks without instance profiles may not touch any.
    for name in ["ganymede-s3", "gretel-hybrid", "openmetadata-glue"] {
        let (_, policy) = stack(name);
        let profile = format!("arn:aws:iam::{ACCOUNT}:instance-profile/someone-elses");
        assert_eq!(
            decide(&policy, "iam:RemoveRoleFromInstanceProfile", &profile, &[]),
            Decision::ImplicitDeny,
            "{name}"
        );
    }
    let (spec, policy) = stack("tonic-structural-redshift");
    let ours = format!(
        "arn:aws:iam::{ACCOUNT}:instance-profile/{}-server",
        spec.vars["prefix"].value
    );
    assert_eq!(
        decide(&policy, "iam:RemoveRoleFromInstanceProfile", &ours, &[]),
        Decision::Allowed
    );
    let theirs = format!("arn:aws:iam::{ACCOUNT}:instance-profile/someone-elses");
    assert_ne!(
        decide(&policy, "iam:RemoveRoleFromInstanceProfile", &theirs, &[]),
        Decision::Allowed,
        "only with the stack's tag"
    );
}

fn render_name(spec: &Spec, text: &Text) -> String {
    let target = Target {
        account_id: ACCOUNT.into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
    };
    Arns {
        spec,
        target: &target,
    }
    .text(text)
}
