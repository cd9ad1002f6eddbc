//! Managed policies, instance profiles, OIDC providers and KMS keys end to end against moto:
//! create, no-op, in-place update, replacement, deletion, and look-alikes left alone.

use std::collections::BTreeSet;

use crate::support::{plinth_aws, runtime, sdk, unique, Run, TempSpec};

const EC2_TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;

fn iam() -> aws_sdk_iam::Client {
    runtime().block_on(async { aws_sdk_iam::Client::new(&sdk().await) })
}

fn kms() -> aws_sdk_kms::Client {
    runtime().block_on(async { aws_sdk_kms::Client::new(&sdk().await) })
}

fn apply(spec: &TempSpec) -> Run {
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok()
}

/// The plan, which must have changes (exit code 2 or 3).
#[track_caller]
fn plan_with_changes(spec: &TempSpec) -> String {
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert!(matches!(plan.code, 2 | 3), "{}{}", plan.stdout, plan.stderr);
    plan.stdout
}

#[track_caller]
fn assert_no_changes(spec: &TempSpec) {
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

/// The lines of a plan that announce a change, trimmed.
fn headlines(plan: &str) -> Vec<&str> {
    plan.lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with(['~', '+', '-']) && (l.contains(" will be ") || l.contains(" must be "))
        })
        .collect()
}

fn account_id() -> String {
    runtime().block_on(async {
        aws_sdk_sts::Client::new(&sdk().await)
            .get_caller_identity()
            .send()
            .await
            .unwrap()
            .account
            .unwrap()
    })
}

// ---------------------------------------------------------------------------------------------
// Managed policies

fn policy_spec(
    stack: &str,
    prefix: &str,
    description: &str,
    actions: &str,
    attached: bool,
) -> String {
    let managed = if attached {
        r#"managed_policies = ["${policy.access.arn}"]"#
    } else {
        "managed_policies = []"
    };
    format!(
        r#"[stack]
name = "{stack}"

[policy.access]
name = "{prefix}-access"
path = "/tonic/"
description = "{description}"
document = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = [{actions}], Resource = "arn:aws:s3:::{prefix}-*" }}] }}
tags = {{ team = "data" }}

[role.app]
name = "{prefix}-app"
trust = '{EC2_TRUST}'
{managed}
"#
    )
}

#[test]
fn a_managed_policy_is_created_attached_versioned_replaced_and_deleted() {
    let (stack, prefix) = (unique("policies"), unique("tonic"));
    let client = iam();
    let account = account_id();
    let arn = format!("arn:aws:iam::{account}:policy/tonic/{prefix}-access");
    // Someone else's policy with a similar name, which no step may touch.
    let theirs = format!("{prefix}-access-theirs");
    runtime().block_on(async {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
        client.create_policy().policy_name(&theirs).path("/tonic/").policy_document(doc).send().await.unwrap();
    });

    let spec = TempSpec::new(&policy_spec(
        &stack,
        &prefix,
        "v1",
        r#""s3:GetObject""#,
        true,
    ));
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        [
            "+ role.app will be created",
            "+ policy.access will be created"
        ],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    runtime().block_on(async {
        let attached = client
            .list_attached_role_policies()
            .role_name(format!("{prefix}-app"))
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        assert_eq!(
            arns,
            [arn.as_str()],
            "the role attaches the policy through `${{policy.access.arn}}`"
        );
        let tags = client
            .list_policy_tags()
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert!(tags.contains(&("plinth:stack", stack.as_str())), "{tags:?}");
        assert!(
            tags.contains(&("plinth:address", "policy.access")),
            "{tags:?}"
        );
        assert!(tags.contains(&("team", "data")), "{tags:?}");
    });

    // A tag changed outside plinth is drift, seen in GetPolicy's answer, and put back.
    runtime().block_on(async {
        let tag = aws_sdk_iam::types::Tag::builder()
            .key("team")
            .value("other")
            .build()
            .unwrap();
        client
            .tag_policy()
            .policy_arn(&arn)
            .tags(tag)
            .send()
            .await
            .unwrap();
    });
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["~ policy.access will be updated in place"],
        "{plan}"
    );
    assert!(plan.contains("other"), "{plan}");
    apply(&spec);
    assert_no_changes(&spec);

    // Each new document is a new default version; IAM keeps five, so the oldest goes first.
    let documents = [
        r#""s3:GetObject", "s3:PutObject""#,
        r#""s3:PutObject""#,
        r#""s3:DeleteObject""#,
        r#""s3:ListBucket""#,
        r#""s3:GetObjectVersion""#,
    ];
    for (i, actions) in documents.iter().enumerate() {
        std::fs::write(
            spec.path(),
            policy_spec(&stack, &prefix, "v1", actions, true),
        )
        .unwrap();
        let plan = plan_with_changes(&spec);
        assert_eq!(
            headlines(&plan),
            ["~ policy.access will be updated in place"],
            "update {i}: {plan}"
        );
        apply(&spec);
    }
    assert_no_changes(&spec);
    runtime().block_on(async {
        let versions = client
            .list_policy_versions()
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        let ids: BTreeSet<&str> = versions
            .versions()
            .iter()
            .filter_map(|v| v.version_id())
            .collect();
        assert_eq!(
            ids,
            BTreeSet::from(["v2", "v3", "v4", "v5", "v6"]),
            "v1 made room for v6"
        );
        let policy = client
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap();
        assert_eq!(policy.default_version_id(), Some("v6"));
    });

    // IAM cannot change a description: the policy is replaced, and stays attached to the role.
    std::fs::write(
        spec.path(),
        policy_spec(&stack, &prefix, "v2", r#""s3:GetObjectVersion""#, true),
    )
    .unwrap();
    let plan = plan_with_changes(&spec);
    assert!(
        plan.contains(
            "-/+ policy.access must be replaced (`description` cannot be changed in place)"
        ),
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    runtime().block_on(async {
        let policy = client
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap();
        assert_eq!(policy.description(), Some("v2"));
        let attached = client
            .list_attached_role_policies()
            .role_name(format!("{prefix}-app"))
            .send()
            .await
            .unwrap();
        assert_eq!(attached.attached_policies().len(), 1);
    });

    // Removed from the spec (and from the role): detached and deleted.
    let without = policy_spec(&stack, &prefix, "v2", "", false);
    let without = without
        .split("[role.app]")
        .nth(1)
        .map(|role| format!("[stack]\nname = \"{stack}\"\n\n[role.app]{role}"))
        .unwrap();
    std::fs::write(spec.path(), without).unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        [
            "~ role.app will be updated in place",
            "- policy.access will be destroyed (no longer in the spec)"
        ],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    runtime().block_on(async {
        assert!(
            client.get_policy().policy_arn(&arn).send().await.is_err(),
            "the policy is gone"
        );
        let theirs_arn = format!("arn:aws:iam::{account}:policy/tonic/{theirs}");
        let policy = client
            .get_policy()
            .policy_arn(&theirs_arn)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap();
        assert_eq!(
            policy.default_version_id(),
            Some("v1"),
            "the look-alike is untouched"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Instance profiles

fn profile_spec(stack: &str, prefix: &str, path: &str, role: &str, team: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.server]
name = "{prefix}-server"
trust = '{EC2_TRUST}'

[role.worker]
name = "{prefix}-worker"
trust = '{EC2_TRUST}'

[instance_profile.server]
name = "{prefix}-server"
path = "{path}"
role = "${{role.{role}.name}}"
tags = {{ team = "{team}" }}
"#
    )
}

#[test]
fn an_instance_profile_changes_role_in_place_and_is_replaced_for_a_new_path() {
    let (stack, prefix) = (unique("profiles"), unique("tonic"));
    let client = iam();
    let name = format!("{prefix}-server");
    let theirs = format!("{prefix}-server-theirs");
    runtime().block_on(async {
        client
            .create_instance_profile()
            .instance_profile_name(&theirs)
            .send()
            .await
            .unwrap();
    });
    let profile = |name: &str| {
        let client = client.clone();
        let name = name.to_string();
        runtime().block_on(async move {
            client
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
                .ok()
                .and_then(|o| o.instance_profile)
        })
    };

    let spec = TempSpec::new(&profile_spec(&stack, &prefix, "/", "server", "data"));
    apply(&spec);
    assert_no_changes(&spec);
    let created = profile(&name).expect("created");
    let roles: Vec<&str> = created.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(roles, [name.as_str()]);
    assert!(created
        .tags()
        .iter()
        .any(|t| t.key() == "plinth:address" && t.value() == "instance_profile.server"));

    // Another role and another tag value: both in place.
    std::fs::write(
        spec.path(),
        profile_spec(&stack, &prefix, "/", "worker", "platform"),
    )
    .unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["~ instance_profile.server will be updated in place"],
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "~ role = \"{prefix}-server\" -> \"{prefix}-worker\""
        )),
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let updated = profile(&name).unwrap();
    assert_eq!(
        updated
            .roles()
            .iter()
            .map(|r| r.role_name())
            .collect::<Vec<_>>(),
        [format!("{prefix}-worker")]
    );
    assert!(updated
        .tags()
        .iter()
        .any(|t| t.key() == "team" && t.value() == "platform"));

    // A new path replaces the profile.
    std::fs::write(
        spec.path(),
        profile_spec(&stack, &prefix, "/tonic/", "worker", "platform"),
    )
    .unwrap();
    let plan = plan_with_changes(&spec);
    assert!(
        plan.contains(
            "-/+ instance_profile.server must be replaced (`path` cannot be changed in place)"
        ),
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let replaced = profile(&name).unwrap();
    assert_eq!(replaced.path(), "/tonic/");
    assert_eq!(replaced.roles().len(), 1);

    // Removed from the spec: the role leaves it, then it is deleted.
    let only_roles = profile_spec(&stack, &prefix, "/", "worker", "x")
        .split("[instance_profile.server]")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(spec.path(), only_roles).unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["- instance_profile.server will be destroyed (no longer in the spec)"],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    assert!(profile(&name).is_none(), "the profile is gone");
    assert!(profile(&theirs).is_some(), "the look-alike is untouched");
}

// ---------------------------------------------------------------------------------------------
// OIDC providers

const THUMBPRINT_A: &str = "6938fd4d98bab03faadb97b34396831e3780aea1";
const THUMBPRINT_B: &str = "1C58A3A8518E8759BF075B76B750D4F2DF264FCD";

fn oidc_spec(stack: &str, prefix: &str, host: &str, thumbprints: &str, team: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[oidc_provider.ci]
url = "https://{host}"
client_ids = ["sts.amazonaws.com"]
thumbprints = [{thumbprints}]
tags = {{ team = "{team}" }}

[role.deploy]
name = "{prefix}-deploy"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Federated = "${{oidc_provider.ci.arn}}" }}, Action = "sts:AssumeRoleWithWebIdentity", Condition = {{ StringEquals = {{ "{host}:aud" = "sts.amazonaws.com" }} }} }}] }}
"#
    )
}

#[test]
fn an_oidc_provider_updates_thumbprints_in_place_and_is_replaced_for_a_new_url() {
    let (stack, prefix) = (unique("oidc"), unique("tonic"));
    let client = iam();
    let account = account_id();
    let host = format!("{prefix}.issuer.example.com");
    let theirs = format!("{prefix}.other.example.com");
    let theirs_arn = runtime().block_on(async {
        client
            .create_open_id_connect_provider()
            .url(format!("https://{theirs}"))
            .client_id_list("sts.amazonaws.com")
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_arn
            .unwrap()
    });
    let provider = |host: &str| {
        let client = client.clone();
        let arn = format!("arn:aws:iam::{account}:oidc-provider/{host}");
        runtime().block_on(async move {
            client
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .ok()
        })
    };

    let spec = TempSpec::new(&oidc_spec(
        &stack,
        &prefix,
        &host,
        &format!("\"{THUMBPRINT_A}\""),
        "data",
    ));
    apply(&spec);
    assert_no_changes(&spec);
    let created = provider(&host).expect("created under the ARN its URL determines");
    assert_eq!(created.client_id_list(), ["sts.amazonaws.com"]);
    assert!(created
        .tags()
        .iter()
        .any(|t| t.key() == "plinth:stack" && t.value() == stack));

    // Thumbprints (written in upper case, which means the same) and tags change in place.
    let two = format!("\"{THUMBPRINT_A}\", \"{THUMBPRINT_B}\"");
    std::fs::write(
        spec.path(),
        oidc_spec(&stack, &prefix, &host, &two, "platform"),
    )
    .unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["~ oidc_provider.ci will be updated in place"],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let updated = provider(&host).unwrap();
    assert_eq!(
        updated.thumbprint_list(),
        [THUMBPRINT_A.to_string(), THUMBPRINT_B.to_ascii_lowercase()]
    );

    // A new URL is a new provider; the role trusting it follows the new ARN.
    let new_host = format!("{prefix}.issuer2.example.com");
    std::fs::write(
        spec.path(),
        oidc_spec(&stack, &prefix, &new_host, &two, "platform"),
    )
    .unwrap();
    let plan = plan_with_changes(&spec);
    assert!(
        plan.contains("-/+ oidc_provider.ci must be replaced"),
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    assert!(provider(&host).is_none(), "the old provider is gone");
    assert!(provider(&new_host).is_some());

    // Removed from the spec: deleted.
    let only_role = format!(
        "[stack]\nname = \"{stack}\"\n\n[role.deploy]\nname = \"{prefix}-deploy\"\ntrust = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ Federated = \"arn:aws:iam::${{aws.account_id}}:oidc-provider/{new_host}\" }}, Action = \"sts:AssumeRoleWithWebIdentity\", Condition = {{ StringEquals = {{ \"{new_host}:aud\" = \"sts.amazonaws.com\" }} }} }}] }}\n"
    );
    std::fs::write(spec.path(), only_role).unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["- oidc_provider.ci will be destroyed (no longer in the spec)"],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    assert!(provider(&new_host).is_none());
    runtime().block_on(async {
        assert!(
            client
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(&theirs_arn)
                .send()
                .await
                .is_ok(),
            "the look-alike is untouched"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// KMS keys

/// A key with everything declared, and a role whose inline policy refers to the key's ARN
/// (known only once the key exists).
fn key_spec(stack: &str, prefix: &str, key_body: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[key.data]
{key_body}
deletion_window_days = 7
policy = {{ Version = "2012-10-17", Statement = [{{ Sid = "Root", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::${{aws.account_id}}:root" }}, Action = "kms:*", Resource = "*" }}, {{ Sid = "App", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::${{aws.account_id}}:role/{prefix}-app" }}, Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = "*" }}] }}

[role.app]
name = "{prefix}-app"
trust = '{EC2_TRUST}'

[role.app.policies.keys]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = "${{key.data.arn}}" }}]
"#
    )
}

struct DescribedKey {
    key_id: String,
    arn: String,
    state: String,
    description: String,
    key_spec: String,
    rotation: bool,
    aliases: BTreeSet<String>,
    tags: Vec<(String, String)>,
}

/// The key an alias or key id names, as KMS describes it.
fn key_state(client: &aws_sdk_kms::Client, id: &str) -> Option<DescribedKey> {
    runtime().block_on(async {
        let meta = client
            .describe_key()
            .key_id(id)
            .send()
            .await
            .ok()?
            .key_metadata?;
        let key_id = meta.key_id().to_string();
        let aliases = client.list_aliases().key_id(&key_id).send().await.unwrap();
        let tags = client
            .list_resource_tags()
            .key_id(&key_id)
            .send()
            .await
            .unwrap();
        let rotation = client
            .get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .map(|r| r.key_rotation_enabled)
            .unwrap_or(false);
        Some(DescribedKey {
            arn: meta.arn().unwrap().to_string(),
            state: meta.key_state().unwrap().as_str().to_string(),
            description: meta.description().unwrap_or_default().to_string(),
            key_spec: meta.key_spec().unwrap().as_str().to_string(),
            rotation,
            aliases: aliases
                .aliases()
                .iter()
                .filter_map(|a| a.alias_name().map(str::to_string))
                .collect(),
            tags: tags
                .tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
                .collect(),
            key_id,
        })
    })
}

/// The resource of the role's inline policy `keys`.
fn role_key_resource(client: &aws_sdk_iam::Client, role: &str) -> String {
    runtime().block_on(async {
        let doc = client
            .get_role_policy()
            .role_name(role)
            .policy_name("keys")
            .send()
            .await
            .unwrap()
            .policy_document;
        let doc = percent_encoding::percent_decode_str(&doc)
            .decode_utf8_lossy()
            .into_owned();
        let json: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let resource = &json["Statement"][0]["Resource"];
        // plinth writes every element list as an array.
        resource
            .as_str()
            .or_else(|| resource[0].as_str())
            .unwrap()
            .to_string()
    })
}

#[test]
fn a_key_is_updated_in_place_replaced_scheduled_for_deletion_and_recovered() {
    let (stack, prefix) = (unique("keys"), unique("tonic"));
    let client = kms();
    let roles = iam();
    let alias = format!("alias/{prefix}-data");
    let role = format!("{prefix}-app");
    // Someone else's key with the same description: a key is never found by its description.
    let theirs = runtime().block_on(async {
        let key = client
            .create_key()
            .description(format!("{prefix} data key"))
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        client
            .create_alias()
            .alias_name(format!("alias/{prefix}-data-theirs"))
            .target_key_id(key.key_id())
            .send()
            .await
            .unwrap();
        key.key_id().to_string()
    });

    let first = format!(
        "description = \"{prefix} data key\"\naliases = [\"{alias}\", \"alias/{prefix}-data-2\"]\nrotation = true\ntags = {{ team = \"data\" }}"
    );
    let spec = TempSpec::new(&key_spec(&stack, &prefix, &first));
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["+ role.app will be created", "+ key.data will be created"],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let created = key_state(&client, &alias).expect("found by its first alias");
    assert_ne!(created.key_id, theirs);
    assert_eq!(created.state, "Enabled");
    assert!(created.rotation);
    assert_eq!(
        created.aliases,
        BTreeSet::from([alias.clone(), format!("alias/{prefix}-data-2")])
    );
    for tag in [
        ("plinth:stack", stack.as_str()),
        ("plinth:address", "key.data"),
        ("plinth:deletion-window-days", "7"),
        ("team", "data"),
    ] {
        assert!(
            created
                .tags
                .contains(&(tag.0.to_string(), tag.1.to_string())),
            "{tag:?} in {:?}",
            created.tags
        );
    }
    assert_eq!(
        role_key_resource(&roles, &role),
        created.arn,
        "the role's policy got the key's ARN once the key existed"
    );

    // Description, rotation, state, aliases and tags all change in place.
    let second = format!(
        "description = \"{prefix} data key, v2\"\naliases = [\"{alias}\", \"alias/{prefix}-data-3\"]\nrotation = false\nenabled = false\ntags = {{ team = \"platform\" }}"
    );
    std::fs::write(spec.path(), key_spec(&stack, &prefix, &second)).unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        ["~ key.data will be updated in place"],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let updated = key_state(&client, &alias).unwrap();
    assert_eq!(updated.key_id, created.key_id);
    assert_eq!(updated.description, format!("{prefix} data key, v2"));
    assert_eq!(updated.state, "Disabled");
    assert!(!updated.rotation);
    assert_eq!(
        updated.aliases,
        BTreeSet::from([alias.clone(), format!("alias/{prefix}-data-3")])
    );
    assert!(updated
        .tags
        .contains(&("team".to_string(), "platform".to_string())));

    // A new key spec is a new key: the aliases move to it, the old key is scheduled for
    // deletion, and the role's policy follows the new ARN.
    let third = format!("key_spec = \"RSA_2048\"\naliases = [\"{alias}\"]");
    std::fs::write(spec.path(), key_spec(&stack, &prefix, &third)).unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        [
            "~ role.app will be updated in place",
            "-/+ key.data must be replaced (`key_spec` cannot be changed in place)"
        ],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let replacement = key_state(&client, &alias).unwrap();
    assert_ne!(replacement.key_id, created.key_id);
    assert_eq!(replacement.key_spec, "RSA_2048");
    assert_eq!(role_key_resource(&roles, &role), replacement.arn);
    let old = key_state(&client, &created.key_id).unwrap();
    assert_eq!(old.state, "PendingDeletion");
    assert!(old.aliases.is_empty(), "{:?}", old.aliases);

    // Removed from the spec: its aliases go and it is scheduled for deletion, once.
    let without_key = key_spec(&stack, &prefix, "")
        .split("[role.app]")
        .nth(1)
        .unwrap()
        .replace("${key.data.arn}", "*");
    std::fs::write(
        spec.path(),
        format!("[stack]\nname = \"{stack}\"\n\n[role.app]{without_key}"),
    )
    .unwrap();
    let plan = plan_with_changes(&spec);
    assert_eq!(
        headlines(&plan),
        [
            "~ role.app will be updated in place",
            "- key.data will be scheduled for deletion in 7 days (no longer in the spec)"
        ],
        "{plan}"
    );
    apply(&spec);
    assert_no_changes(&spec);
    let removed = key_state(&client, &replacement.key_id).unwrap();
    assert_eq!(removed.state, "PendingDeletion");
    assert!(removed.aliases.is_empty());

    // Back in the spec within the window: recovered, not created again.
    std::fs::write(spec.path(), key_spec(&stack, &prefix, &third)).unwrap();
    let plan = plan_with_changes(&spec);
    let key_line = headlines(&plan)
        .into_iter()
        .find(|l| l.contains("key.data"))
        .unwrap()
        .to_string();
    assert!(
        key_line.starts_with("~ key.data will be updated in place (scheduled for deletion on "),
        "{plan}"
    );
    assert!(key_line.ends_with(": it will be recovered)"), "{plan}");
    apply(&spec);
    assert_no_changes(&spec);
    let recovered = key_state(&client, &alias).unwrap();
    assert_eq!(recovered.key_id, replacement.key_id);
    assert_eq!(recovered.state, "Enabled");

    let theirs = key_state(&client, &theirs).unwrap();
    assert_eq!(theirs.state, "Enabled", "the look-alike is untouched");
    assert_eq!(
        theirs.aliases,
        BTreeSet::from([format!("alias/{prefix}-data-theirs")])
    );
}

#[test]
fn a_key_without_aliases_is_found_by_its_address_tag_and_its_default_policy_is_no_difference() {
    let (stack, prefix) = (unique("plainkey"), unique("tonic"));
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{stack}"

[key.plain]
description = "{prefix} key without aliases"

[role.reader]
name = "{prefix}-reader"
trust = '{EC2_TRUST}'

[role.reader.policies.keys]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = "kms:Decrypt", Resource = "${{key.plain.arn}}" }}]
"#
    ));
    let plan = plan_with_changes(&spec);
    assert!(plan.contains("+ key.plain will be created"), "{plan}");
    apply(&spec);
    assert_no_changes(&spec);
    let client = kms();
    let resource = role_key_resource(&iam(), &format!("{prefix}-reader"));
    let key = key_state(&client, &resource).expect("the role's policy names the key");
    assert_eq!(key.description, format!("{prefix} key without aliases"));
    assert!(key.aliases.is_empty());
}

#[test]
fn a_key_left_by_an_interrupted_apply_is_taken_over_instead_of_created_again() {
    use plinth::aws::Aws;
    let (stack, prefix) = (unique("interrupted"), unique("tonic"));
    let alias = format!("alias/{prefix}-solo");
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\n\n[key.solo]\naliases = [\"{alias}\"]\n"
    ));
    let loaded = plinth::spec::load(&spec.path(), &Default::default()).unwrap();
    let client = kms();
    runtime().block_on(async {
        let aws = Aws::from_config(sdk().await);
        let plan = plinth::workflow::plan_stack(&aws, &loaded, Default::default())
            .await
            .unwrap();
        assert_eq!(plan.changes[0].action, plinth::plan::Action::Create);

        // An earlier apply created the key and stopped before creating its alias.
        let tag = |k: &str, v: &str| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .unwrap()
        };
        let earlier = client
            .create_key()
            .tags(tag("plinth:stack", &stack))
            .tags(tag("plinth:address", "key.solo"))
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();

        let report =
            plinth::apply::apply(&aws, &plan, Default::default(), &plinth::apply::Silent).await;
        assert!(report.succeeded(), "{}", report.summary_line(false));
        let described = client
            .describe_key()
            .key_id(&alias)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(
            described.key_id(),
            earlier.key_id(),
            "the alias went to the key the earlier apply made"
        );
        let mut tagged = 0;
        for key in client.list_keys().send().await.unwrap().keys() {
            let tags = client
                .list_resource_tags()
                .key_id(key.key_id().unwrap())
                .send()
                .await
                .unwrap();
            if tags
                .tags()
                .iter()
                .any(|t| t.tag_key() == "plinth:stack" && t.tag_value() == stack)
            {
                tagged += 1;
            }
        }
        assert_eq!(tagged, 1, "no second key");
    });
    assert_no_changes(&spec);
}

/// IAM Identity Center's roles live under a path (`/aws-reserved/sso.amazonaws.com/`), which a
/// session's ARN leaves out: `${aws.caller_arn}` must be the role with its path, or the key
/// policy names a role that does not exist and KMS refuses it.
#[test]
fn the_caller_s_role_is_named_with_its_path() {
    let role = unique("AWSReservedSSO_Admin");
    let path = "/aws-reserved/sso.amazonaws.com/";
    let (key, secret, token) = runtime().block_on(async {
        let config = sdk().await;
        aws_sdk_iam::Client::new(&config)
            .create_role()
            .role_name(&role)
            .path(path)
            .assume_role_policy_document(EC2_TRUST)
            .send()
            .await
            .expect("create the SSO role");
        let out = aws_sdk_sts::Client::new(&config)
            .assume_role()
            .role_arn(format!("arn:aws:iam::123456789012:role{path}{role}"))
            .role_session_name("someone@example.com")
            .send()
            .await
            .expect("moto assumes the role");
        let c = out.credentials().expect("credentials");
        (
            c.access_key_id().to_string(),
            c.secret_access_key().to_string(),
            c.session_token().to_string(),
        )
    });
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{}"

[key.k]
description = "{}"
policy = {{ Version = "2012-10-17", Statement = [{{ Sid = "Admin", Effect = "Allow", Principal = {{ AWS = "${{aws.caller_arn}}" }}, Action = "kms:*", Resource = "*" }}] }}
"#,
        unique("caller"),
        unique("caller")
    ));
    let out = crate::support::command(&[
        "plan",
        "-f",
        &spec.arg(),
        "--endpoint-url",
        crate::support::moto(),
        "--format",
        "json",
    ])
    .env("AWS_ACCESS_KEY_ID", key)
    .env("AWS_SECRET_ACCESS_KEY", secret)
    .env("AWS_SESSION_TOKEN", token)
    .output()
    .expect("run plinth");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let with_path = format!("arn:aws:iam::123456789012:role{path}{role}");
    assert!(stdout.contains(&with_path), "{stdout}");
    assert!(
        !stdout.contains(&format!("arn:aws:iam::123456789012:role/{role}")),
        "{stdout}"
    );
}
