//! The ready-made stacks in `plans/`, used the way a customer uses them, against moto: apply into
//! an account without them, plan again with no changes, print the outputs the vendor asks for
//! (as an env file and as JSON), destroy, and plan everything again.
//!
//! Each run copies `plans/` and renames the stack, and passes its own resource prefix with
//! `--var`: moto isolates nothing between tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{plinth_aws, root, runtime, s3, sdk, unique, Run};

/// A copy of `plans/` whose stack `file` is renamed to `stack`.
pub(crate) struct ShippedStack {
    dir: tempfile::TempDir,
    file: &'static str,
    vars: Vec<String>,
}

impl ShippedStack {
    pub(crate) fn new(file: &'static str, stack: &str, vars: &[(&str, &str)]) -> ShippedStack {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&root().join("plans"), dir.path());
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let (head, rest) = text
            .split_once("[stack]\nname = \"")
            .expect("a [stack] table with its name first");
        let (_, rest) = rest.split_once('"').unwrap();
        std::fs::write(&path, format!("{head}[stack]\nname = \"{stack}\"{rest}")).unwrap();
        // Tonic's key alias is a variable of its own (`kms_key`): a copy with a prefix of its
        // own gets an alias of its own too, so copies applied at once do not share a key.
        let own_alias = vars
            .iter()
            .find(|(k, _)| *k == "prefix")
            .filter(|_| text.contains("kms_key = ") && !vars.iter().any(|(k, _)| *k == "kms_key"))
            .map(|(_, prefix)| ("kms_key".to_string(), format!("alias/{prefix}-sqs")));
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(own_alias)
            .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")])
            .collect();
        ShippedStack { dir, file, vars }
    }

    /// The value this copy passes for a variable.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join(self.file)
    }

    pub(crate) fn args<'a>(&'a self, path: &'a str) -> Vec<&'a str> {
        let mut args = vec!["-f", path];
        args.extend(self.vars.iter().map(String::as_str));
        args
    }

    fn run(&self, command: &str, extra: &[&str]) -> Run {
        let path = self.path().display().to_string();
        let mut args = vec![command, "-f", path.as_str()];
        args.extend(self.vars.iter().map(String::as_str));
        args.extend(extra);
        plinth_aws(&args)
    }

    #[track_caller]
    fn apply(&self, extra: &[&str]) -> Run {
        let mut args = vec!["--auto-approve"];
        args.extend(extra);
        self.run("apply", &args).ok()
    }

    #[track_caller]
    fn assert_no_changes(&self, extra: &[&str]) {
        let mut args = vec!["--detailed-exitcode"];
        args.extend(extra);
        let plan = self.run("plan", &args);
        assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    }

    /// The outputs in both formats, which must agree.
    #[track_caller]
    fn outputs(&self) -> BTreeMap<String, String> {
        let env = self.run("outputs", &["--format", "env"]).ok();
        let from_env: BTreeMap<String, String> = env
            .stdout
            .lines()
            .map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .unwrap_or_else(|| panic!("`{l}` is not NAME=value"))
            })
            .collect();
        let json = self.run("outputs", &["--format", "json"]).ok();
        let from_json: BTreeMap<String, String> = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(
            from_env, from_json,
            "the env file and the JSON hold the same values"
        );
        from_env
    }

    /// Destroys the stack, then checks that a plan creates each address again.
    #[track_caller]
    fn destroy_then_plan(&self, created: &[&str], updated: &[&str]) -> Run {
        let destroy = self.run("destroy", &["--auto-approve"]).ok();
        let plan = self.run("plan", &[]).ok();
        for address in created {
            assert!(
                plan.stdout
                    .contains(&format!("+ {address} will be created")),
                "{address} in\n{}",
                plan.stdout
            );
        }
        for address in updated {
            // An existing bucket is marked as such.
            let existing = format!("~ {address} (existing bucket) will be updated in place");
            assert!(
                plan.stdout
                    .contains(&format!("~ {address} will be updated in place"))
                    || plan.stdout.contains(&existing),
                "{address} in\n{}",
                plan.stdout
            );
        }
        let summary = format!(
            "Plan: {} to add, {} to change, 0 to replace, 0 to destroy.",
            created.len(),
            updated.len()
        );
        assert!(
            plan.stdout.contains(&summary),
            "{summary} in\n{}",
            plan.stdout
        );
        destroy
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn key_id_of_alias(alias: &str) -> String {
    runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let key = kms
            .describe_key()
            .key_id(alias)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        key.key_id().to_string()
    })
}

#[test]
fn tonic_structural_redshift_applies_prints_the_worker_settings_and_switches_the_previous_process()
{
    let (stack, prefix) = (unique("tonic-structural"), unique("tonic"));
    let alias = format!("alias/{prefix}-sqs");
    let previous = ShippedStack::new(
        "tonic-structural-redshift.toml",
        &stack,
        &[
            ("prefix", &prefix),
            ("previous_process", "true"),
            ("kms_key", &alias),
        ],
    );
    let apply = previous.apply(&[]);
    assert!(
        apply.stderr.contains("Apply complete: 7 added, 0 changed"),
        "{}",
        apply.stderr
    );
    previous.assert_no_changes(&[]);
    let own_key = key_id_of_alias(&alias);

    let outputs = previous.outputs();
    let expected: BTreeMap<String, String> = [
        (
            "TONIC_LAMBDA_ROLE",
            format!("arn:aws:iam::123456789012:role/{prefix}-lambda"),
        ),
        ("TONIC_LAMBDA_TIMEOUT", "30".to_string()),
        ("TONIC_LAMBDA_MEMORY_SIZE", "1024".to_string()),
        ("TONIC_LAMBDA_SQS_VISIBILITY_TIMEOUT", "180".to_string()),
        ("TONIC_LAMBDA_KMS_MASTER_KEY", alias.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(outputs, expected);

    // Data Pipeline V2: only the server's role (with the V2 permissions) and its profile stay.
    let v2 = ShippedStack {
        vars: [
            "--var",
            &format!("prefix={prefix}"),
            "--var",
            &format!("kms_key={alias}"),
        ]
        .map(String::from)
        .to_vec(),
        ..previous
    };
    let plan = v2.run("plan", &[]).ok();
    for line in [
        "~ role.server will be updated in place",
        "~ policies.previous-process (narrows access)",
        "~ policies.kms (narrows access)",
        "- role.lambda will be destroyed",
        "- queue.work will be destroyed",
        "- function.worker will be destroyed",
        "- bucket.data will be destroyed",
        "- key.sqs will be scheduled for deletion in 7 days",
        "Plan: 0 to add, 1 to change, 0 to replace, 5 to destroy.",
    ] {
        assert!(plan.stdout.contains(line), "{line} in\n{}", plan.stdout);
    }
    v2.apply(&[]);
    v2.assert_no_changes(&[]);
    // Data Pipeline V2 has no queue and no key: no setting names one.
    let outputs = v2.outputs();
    assert!(
        outputs.keys().all(|k| !k.starts_with("TONIC_LAMBDA_")),
        "{outputs:?}"
    );
    let state = runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let key = kms.describe_key().key_id(&own_key).send().await.unwrap();
        key.key_metadata.unwrap().key_state.unwrap()
    });
    assert_eq!(
        state.as_str(),
        "PendingDeletion",
        "the stack's own key goes with the switch"
    );
    v2.destroy_then_plan(&["role.server", "instance_profile.server"], &[]);
}

/// A customer's own key for TONIC_LAMBDA_KMS_MASTER_KEY: the stack adds the page's statement to
/// its policy and nothing else, and destroying the stack takes out only that statement.
#[test]
fn tonic_structural_redshift_uses_a_customers_own_key_by_sid() {
    let (stack, prefix) = (unique("tonic-own-key"), unique("tonic"));
    let alias = format!("alias/{}", unique("customer-key"));
    let customer_policy = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}"#;
    let key = runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let key = kms
            .create_key()
            .policy(customer_policy)
            .send()
            .await
            .unwrap();
        let id = key.key_metadata.unwrap().key_id;
        kms.create_alias()
            .alias_name(&alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
        id
    });
    let sids = || {
        runtime().block_on(async {
            let kms = aws_sdk_kms::Client::new(&sdk().await);
            let out = kms
                .get_key_policy()
                .key_id(&key)
                .policy_name("default")
                .send()
                .await
                .unwrap();
            let doc: serde_json::Value = serde_json::from_str(&out.policy.unwrap()).unwrap();
            doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
    };
    let shipped = ShippedStack::new(
        "tonic-structural-redshift.toml",
        &stack,
        &[
            ("prefix", &prefix),
            ("previous_process", "true"),
            ("create_kms_key", "false"),
            ("kms_key", &alias),
        ],
    );
    let plan = shipped.run("plan", &[]).ok();
    assert!(
        plan.stdout
            .contains("~ key.customer (existing key) will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("key.sqs"), "{}", plan.stdout);
    shipped.apply(&[]);
    shipped.assert_no_changes(&[]);
    assert_eq!(
        sids(),
        [
            "Enable IAM User Permissions",
            "TonicS3EventNotificationsToSQS"
        ]
    );
    assert_eq!(
        shipped.outputs().get("TONIC_LAMBDA_KMS_MASTER_KEY"),
        Some(&alias)
    );
    shipped.run("destroy", &["--auto-approve"]).ok();
    assert_eq!(sids(), ["Enable IAM User Permissions"]);
    let state = runtime().block_on(async {
        let kms = aws_sdk_kms::Client::new(&sdk().await);
        let out = kms.describe_key().key_id(&key).send().await.unwrap();
        out.key_metadata.unwrap().key_state.unwrap()
    });
    assert_eq!(
        state.as_str(),
        "Enabled",
        "the customer's key is never scheduled for deletion"
    );
}

#[test]
fn ganymede_s3_applies_one_role_per_environment_to_an_existing_bucket() {
    let (stack, prefix, bucket) = (unique("ganymede"), unique("ganymede"), unique("lab-data"));
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
    });
    let shipped = ShippedStack::new(
        "ganymede-s3.toml",
        &stack,
        &[("prefix", &prefix), ("bucket", &bucket)],
    );
    let apply = shipped.apply(&[]);
    assert!(
        apply.stderr.contains("Apply complete: 3 added, 1 changed"),
        "the bucket is adopted, not created\n{}",
        apply.stderr
    );
    shipped.assert_no_changes(&[]);

    let outputs = shipped.outputs();
    let expected: BTreeMap<String, String> = ["production", "development"]
        .map(|env| {
            (
                format!("{env}_aws_s3_role_arn"),
                format!("arn:aws:iam::123456789012:role/{prefix}-{env}"),
            )
        })
        .into_iter()
        .collect();
    assert_eq!(outputs, expected);

    // The bucket is the customer's: destroying releases it, and planning again takes it over.
    let destroy = shipped.destroy_then_plan(
        &[
            "policy.bucket_access",
            "role.production",
            "role.development",
        ],
        &["bucket.data"],
    );
    // Roles go first, so IAM never sees the policy deleted while a role holds it.
    let at = |line: &str| {
        destroy
            .stderr
            .find(line)
            .unwrap_or_else(|| panic!("`{line}` in\n{}", destroy.stderr))
    };
    for env in ["production", "development"] {
        assert!(
            at(&format!("role.{env}: destroying done")) < at("policy.bucket_access: destroying..."),
            "{}",
            destroy.stderr
        );
    }
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = s3(&config);
        s3.head_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("the bucket outlives the stack");
    });
}

#[test]
fn gretel_hybrid_applies_the_credentials_key_and_the_worker_role() {
    let (stack, prefix) = (unique("gretel"), unique("gretel"));
    let shipped = ShippedStack::new(
        "gretel-hybrid.toml",
        &stack,
        &[
            ("prefix", &prefix),
            ("s3_source", "true"),
            ("s3_sink", "true"),
        ],
    );
    let apply = shipped.apply(&[]);
    assert!(
        apply.stderr.contains("Apply complete: 2 added"),
        "{}",
        apply.stderr
    );
    shipped.assert_no_changes(&[]);

    let key_id = key_id_of_alias(&format!("alias/{prefix}-credentials"));
    let outputs = shipped.outputs();
    assert_eq!(
        outputs,
        BTreeMap::from([(
            "aws_kms_key_arn".to_string(),
            format!("arn:aws:kms:us-east-1:123456789012:key/{key_id}")
        )])
    );

    shipped.destroy_then_plan(&["role.worker"], &["key.credentials"]);
}

#[test]
fn openmetadata_glue_applies_the_role_and_prints_the_connector_settings() {
    let (stack, role) = (unique("openmetadata"), unique("openmetadata-glue"));
    let shipped = ShippedStack::new("openmetadata-glue.toml", &stack, &[("role_name", &role)]);
    shipped.apply(&[]);
    shipped.assert_no_changes(&[]);
    let outputs = shipped.outputs();
    let expected = BTreeMap::from([
        (
            "assumeRoleArn".to_string(),
            format!("arn:aws:iam::123456789012:role/{role}"),
        ),
        (
            "assumeRoleSessionName".to_string(),
            "OpenMetadataSession".to_string(),
        ),
        ("awsRegion".to_string(), "us-east-1".to_string()),
    ]);
    assert_eq!(outputs, expected);
    shipped.destroy_then_plan(&["role.ingestion"], &[]);
}
