//! The writer on live resources made here: what an import declares, and that it loads.

use std::collections::BTreeMap;

use super::write::{spec, Found, ImportedSpec};
use crate::model::{Address, Attributes, Kind, Value};
use crate::policy::PolicyDocument;
use crate::spec::template::escape;
use crate::spec::{self, LoadOptions};
use crate::state::{Account, LiveResource};

const ACCOUNT: &str = "123456789012";

fn account() -> Account {
    Account {
        account_id: ACCOUNT.into(),
        region: "eu-west-1".into(),
        partition: "aws".into(),
        caller_arn: format!("arn:aws:iam::{ACCOUNT}:user/me"),
        caller_role_arn: None,
    }
}

fn found(kind: Kind, name: &str, id: &str, arn: &str, attributes: Vec<(&str, Value)>) -> Found {
    let mut exports = BTreeMap::from([("arn".to_string(), arn.to_string())]);
    exports.insert("name".into(), id.into());
    if kind == Kind::Key {
        exports.insert("key_id".into(), id.into());
    }
    Found {
        address: Address::new(kind, name),
        live: LiveResource {
            kind,
            physical_id: id.into(),
            owner: None,
            address_tag: None,
            attributes: (attributes
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Attributes>())
            .into(),
            exports,
            deletion_date: None,
        },
        requested: id.into(),
        package: None,
    }
}

fn policy(json: &str) -> Value {
    Value::policy(PolicyDocument::parse(json).unwrap())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A queue a bucket notifies, encrypted with a key, whose policy names the bucket; a function
/// the queue triggers, with its role.
fn wired() -> Vec<Found> {
    let queue_arn = format!("arn:aws:sqs:eu-west-1:{ACCOUNT}:work");
    let key_arn =
        format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/worker");
    vec![
        found(
            Kind::Bucket,
            "data",
            "data-bucket",
            "arn:aws:s3:::data-bucket",
            vec![
                ("name", Value::str("data-bucket")),
                (
                    "notifications",
                    Value::List(vec![map(vec![
                        ("id", Value::str("NjQ5ZmUyMWEtYjM0Ni00")),
                        ("queue", Value::str(&queue_arn)),
                        ("events", Value::set(["s3:ObjectCreated:*"])),
                    ])]),
                ),
            ],
        ),
        found(
            Kind::Queue,
            "work",
            "work",
            &queue_arn,
            vec![
                ("name", Value::str("work")),
                ("visibility_timeout", Value::Int(180)),
                ("delay", Value::Int(0)),
                ("kms_key", Value::str(&key_arn)),
                (
                    "policy",
                    policy(&format!(
                        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"sqs:SendMessage","Resource":"{queue_arn}","Condition":{{"ArnLike":{{"aws:SourceArn":"arn:aws:s3:::data-bucket"}},"StringEquals":{{"aws:SourceAccount":"{ACCOUNT}"}}}}}}]}}"#
                    )),
                ),
            ],
        ),
        found(
            Kind::Key,
            "sqs",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            &key_arn,
            vec![(
                "policy",
                policy(&format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},{{"Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"kms:Decrypt","Resource":"*"}},{{"Sid":"WorkerUse","Effect":"Allow","Principal":{{"AWS":"{role_arn}"}},"Action":["kms:Decrypt"],"Resource":"*"}}]}}"#
                )),
            )],
        ),
        found(
            Kind::Role,
            "worker",
            "worker",
            &role_arn,
            vec![
                ("name", Value::str("worker")),
                ("path", Value::str("/")),
                ("description", Value::str("")),
                ("max_session_hours", Value::Int(1)),
                (
                    "trust",
                    policy(
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                    ),
                ),
                (
                    "policies",
                    map(vec![(
                        "use-key",
                        policy(&format!(
                            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":"{key_arn}"}},{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data-bucket/${{aws:username}}/*"}}]}}"#
                        )),
                    )]),
                ),
                ("managed_policies", Value::set(Vec::<String>::new())),
                ("tags", map(vec![("team", Value::str("data"))])),
            ],
        ),
        found(
            Kind::Function,
            "worker",
            "worker-fn",
            &format!("arn:aws:lambda:eu-west-1:{ACCOUNT}:function:worker-fn"),
            vec![
                ("name", Value::str("worker-fn")),
                ("role", Value::str(&role_arn)),
                ("runtime", Value::str("python3.12")),
                ("handler", Value::str("main.handler")),
                (
                    "code",
                    Value::str("image:123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1"),
                ),
                ("timeout", Value::Int(30)),
                ("memory", Value::Int(1024)),
                ("description", Value::str("")),
                (
                    "environment",
                    map(vec![
                        (
                            "QUEUE_URL",
                            Value::str("https://sqs.eu-west-1.amazonaws.com/x/work"),
                        ),
                        ("API_TOKEN", Value::str("t0ps3cret")),
                    ]),
                ),
                ("architectures", Value::List(vec![Value::str("x86_64")])),
                (
                    "triggers",
                    map(vec![(
                        &queue_arn,
                        map(vec![
                            ("batch_size", Value::Int(10)),
                            ("enabled", Value::Bool(true)),
                        ]),
                    )]),
                ),
            ],
        ),
    ]
}

/// The imported spec and its files written to a directory, and loaded: a load error fails the
/// test with the spec shown.
fn load_written(out: &ImportedSpec) -> spec::Spec {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in &out.files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(dir.path().join("plinth.toml"), &out.spec).unwrap();
    spec::load(&dir.path().join("plinth.toml"), &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}\n{}", d.render(false), out.spec))
}

fn written() -> ImportedSpec {
    spec("imported", &account(), &wired())
}

#[test]
fn arns_of_other_imported_resources_become_references() {
    let out = written();
    let text = &out.spec;
    assert!(text.contains(r#"queue = "${queue.work.arn}""#), "{text}");
    assert!(text.contains(r#"kms_key = "${key.sqs.arn}""#), "{text}");
    assert!(text.contains(r#"role = "${role.worker.arn}""#), "{text}");
    let inline = &out.files["policies/role-worker-use-key.json"];
    assert!(
        inline.contains(r#""Resource": "${key.sqs.arn}""#),
        "{inline}"
    );
    // An object ARN names its bucket by name, so that it stays an ARN to the lints.
    assert!(
        inline.contains(r#""arn:aws:s3:::${bucket.data.name}/${aws:username}/*""#),
        "{inline}"
    );
}

#[test]
fn a_reference_that_would_close_a_cycle_is_written_out() {
    let out = written();
    // The bucket names the queue, so the queue's policy names the bucket by its ARN, with the
    // account as a reference, and its own ARN as one.
    let queue_policy = &out.files["policies/queue-work-policy.json"];
    assert!(
        queue_policy.contains(r#""aws:SourceArn": "arn:aws:s3:::data-bucket""#),
        "{queue_policy}"
    );
    assert!(
        queue_policy.contains(r#""aws:SourceAccount": "${aws.account_id}""#),
        "{queue_policy}"
    );
    assert!(
        queue_policy.contains(r#""Resource": "${queue.work.arn}""#),
        "{queue_policy}"
    );
}

#[test]
fn defaults_are_left_out_and_settings_kept() {
    let text = written().spec;
    assert!(text.contains("visibility_timeout = 180"), "{text}");
    assert!(!text.contains("delay"), "{text}");
    assert!(!text.contains("path = "), "{text}");
    assert!(!text.contains("max_session_hours"), "{text}");
    assert!(!text.contains("architectures"), "{text}");
    assert!(text.contains(r#"tags = { team = "data" }"#), "{text}");
    assert!(
        text.contains(
            r#"code = { image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1" }"#
        ),
        "{text}"
    );
    assert!(!text.contains("runtime"), "an image brings its own: {text}");
}

#[test]
fn an_existing_key_declares_only_the_statements_it_can_name_and_says_why() {
    let out = written();
    let text = &out.spec;
    assert!(
        text.contains(
            "[key.sqs]\nexisting = true\nkey_id = \"1234abcd-12ab-34cd-56ef-1234567890ab\""
        ),
        "{text}"
    );
    assert!(
        text.contains("# key.sqs: 2 statements of the key policy cannot be declared here"),
        "{text}"
    );
    assert!(
        text.contains("(\"Enable IAM User Permissions\",\n# one without a Sid)"),
        "{text}"
    );
    let key_policy = &out.files["policies/key-sqs-policy.json"];
    let doc: serde_json::Value = serde_json::from_str(key_policy).unwrap();
    assert_eq!(
        doc["Statement"].as_array().unwrap().len(),
        1,
        "{key_policy}"
    );
    assert_eq!(doc["Statement"][0]["Sid"], "WorkerUse");
    // The role's policy names the key, so the key's policy names the role by its ARN.
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::${aws.account_id}:role/worker"
    );
    assert_eq!(
        out.notes
            .iter()
            .filter(|n| n.starts_with("key.sqs"))
            .count(),
        1,
        "{:?}",
        out.notes
    );
}

/// A statement another stack records on the key is that stack's: the import leaves it out
/// and says so; one the importing stack records stays.
#[test]
fn an_existing_keys_statement_another_stack_manages_is_left_to_it() {
    let recorded_by = |stack: &str| {
        let mut found = wired();
        let key = found
            .iter_mut()
            .find(|f| f.address.kind == Kind::Key)
            .unwrap();
        let share = crate::model::shared::Share {
            address: Some(Address::new(Kind::Key, "theirs")),
            parts: ["policy/WorkerUse".to_string()].into(),
        };
        std::sync::Arc::make_mut(&mut key.live.attributes).insert(
            crate::model::shared::SHARES_ATTRIBUTE.into(),
            crate::model::shared::shares_value(&BTreeMap::from([(stack.to_string(), share)])),
        );
        spec("imported", &account(), &found)
    };
    let out = recorded_by("vendor");
    assert!(
        !out.files.contains_key("policies/key-sqs-policy.json"),
        "{:?}",
        out.files.get("policies/key-sqs-policy.json")
    );
    assert!(
        out.notes.iter().any(|n| n
            == "key.sqs: statement \"WorkerUse\" of the key policy is managed by stack `vendor`, and left to it"),
        "{:?}",
        out.notes
    );
    let own = recorded_by("imported");
    assert!(
        own.files["policies/key-sqs-policy.json"].contains("WorkerUse"),
        "the importing stack's own record keeps its statement"
    );
}

/// A bucket's CORS rule another stack's record holds is left to that stack, with a note.
#[test]
fn an_existing_buckets_cors_rule_another_stack_manages_is_left_to_it() {
    let rule = |id: &str, origin: &str| {
        Value::Map(Attributes::from([
            ("id".to_string(), Value::str(id)),
            (
                "allowed_origins".to_string(),
                Value::List(vec![Value::str(origin)]),
            ),
            (
                "allowed_methods".to_string(),
                Value::List(vec![Value::str("GET")]),
            ),
        ]))
    };
    let share = crate::model::shared::Share {
        address: Some(Address::new(Kind::Bucket, "lab")),
        parts: ["cors/their-app".to_string()].into(),
    };
    let bucket = found(
        Kind::Bucket,
        "data",
        "shared-data",
        "arn:aws:s3:::shared-data",
        vec![
            (
                "cors",
                Value::List(vec![
                    rule("their-app", "https://lab.example.com"),
                    rule("hand-made", "https://app.example.com"),
                ]),
            ),
            (
                crate::model::shared::SHARES_ATTRIBUTE,
                crate::model::shared::shares_value(&BTreeMap::from([(
                    "lab-tools".to_string(),
                    share,
                )])),
            ),
        ],
    );
    let out = spec("imported", &account(), &[bucket]);
    assert!(out.spec.contains("https://app.example.com"), "{}", out.spec);
    assert!(
        !out.spec.contains("https://lab.example.com"),
        "{}",
        out.spec
    );
    assert!(
        out.notes.iter().any(|n| n
            == "bucket.data: CORS rule their-app is managed by stack `lab-tools`, and left to it"),
        "{:?}",
        out.notes
    );
}

#[test]
fn policies_keep_the_customers_statements_pretty_printed() {
    let out = written();
    let trust: serde_json::Value =
        serde_json::from_str(&out.files["policies/role-worker-trust.json"]).unwrap();
    assert_eq!(
        trust,
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "lambda.amazonaws.com" },
                "Action": "sts:AssumeRole"
            }]
        })
    );
    assert!(out.files["policies/role-worker-trust.json"].contains("\n  \"Statement\": [\n"));
}

#[test]
fn the_written_spec_loads_without_errors() {
    let out = written();
    load_written(&out);
    assert_eq!(crate::fmt::format_spec(&out.spec).unwrap(), out.spec);
}

#[test]
fn a_literal_reference_is_escaped_and_iam_variables_are_kept() {
    assert_eq!(escape("a ${b} c"), "a $${b} c");
    assert_eq!(escape("home/${aws:username}"), "home/${aws:username}");
}

/// A template pasted into the console unfilled leaves a literal `${aws.region}` in an ARN the
/// policy holds: written escaped, the spec means what AWS holds, and the plan only adopts.
#[test]
fn a_literal_reference_in_an_arn_part_is_escaped() {
    let logs = "arn:aws:logs:${aws.region}:${aws.account_id}:log-group:/aws/lambda/${x}-*";
    let role = found(
        Kind::Role,
        "server",
        "server",
        &format!("arn:aws:iam::{ACCOUNT}:role/server"),
        vec![
            ("name", Value::str("server")),
            (
                "trust",
                policy(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                ),
            ),
            (
                "policies",
                map(vec![(
                    "logs",
                    policy(&format!(
                        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"logs:GetLogEvents","Resource":"{logs}"}}]}}"#
                    )),
                )]),
            ),
        ],
    );
    let out = spec("imported", &account(), &[role]);
    let file = &out.files["policies/role-server-logs.json"];
    assert!(
        file.contains(
            r#""arn:aws:logs:$${aws.region}:$${aws.account_id}:log-group:/aws/lambda/$${x}-*""#
        ),
        "{file}"
    );
    load_written(&out);
}

#[test]
fn an_environment_variable_named_as_a_secret_is_written_as_one() {
    let out = written();
    assert!(
        out.spec
            .contains(r#"environment = { API_TOKEN = { secret = "t0ps3cret" }, QUEUE_URL = "#),
        "{}",
        out.spec
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("function.worker: API_TOKEN written as { secret")),
        "{:?}",
        out.notes
    );
    assert!(!out.notes.iter().any(|n| n.contains("t0ps3cret")));
}

#[test]
fn a_resource_another_stack_owns_is_noted() {
    let mut resources = wired();
    resources[3].live.owner = Some("platform".into());
    let out = spec("imported", &account(), &resources);
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("role.worker: stack `platform` owns it")),
        "{:?}",
        out.notes
    );
    let own = spec("platform", &account(), &resources);
    assert!(
        !own.notes.iter().any(|n| n.contains("owns it")),
        "{:?}",
        own.notes
    );
}

#[test]
fn a_downloaded_zip_is_written_beside_the_spec_and_only_a_missing_one_is_noted() {
    let mut resources = wired();
    let function = resources
        .iter_mut()
        .find(|f| f.address.kind == Kind::Function)
        .unwrap();
    std::sync::Arc::make_mut(&mut function.live.attributes)
        .insert("code".into(), Value::str("sha256:abc="));
    let without = spec("imported", &account(), &resources);
    assert!(without.packages.is_empty());
    assert!(
        without.notes.iter().any(|n| n.starts_with(
            "function.worker: put the function's deployment package at functions/worker-fn.zip"
        )),
        "{:?}",
        without.notes
    );
    let zip = std::sync::Arc::new(b"PK\x05\x06".to_vec());
    for f in resources.iter_mut() {
        if f.address.kind == Kind::Function {
            f.package = Some(zip.clone());
        }
    }
    let with = spec("imported", &account(), &resources);
    assert_eq!(with.packages["functions/worker-fn.zip"], zip);
    assert!(
        with.spec
            .contains(r#"code = { zip = "functions/worker-fn.zip" }"#),
        "{}",
        with.spec
    );
    assert!(
        !with.notes.iter().any(|n| n.contains("deployment package")),
        "{:?}",
        with.notes
    );
}

/// Each kind writes its own block (its spec file's `IMPORT.write_block`): with one found
/// resource of every kind, each gets its table, and the spec loads as written.
#[test]
fn every_kind_writes_a_block_that_loads() {
    let mut resources = wired();
    let iam = |what: &str| format!("arn:aws:iam::{ACCOUNT}:{what}");
    resources.push(found(
        Kind::Policy,
        "read",
        &iam("policy/read"),
        &iam("policy/read"),
        vec![
            ("name", Value::str("read")),
            ("path", Value::str("/")),
            (
                "document",
                policy(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data-bucket/*"}]}"#,
                ),
            ),
        ],
    ));
    resources.push(found(
        Kind::InstanceProfile,
        "worker",
        "worker-profile",
        &iam("instance-profile/worker-profile"),
        vec![
            ("name", Value::str("worker-profile")),
            ("role", Value::str("worker")),
        ],
    ));
    resources.push(found(
        Kind::OidcProvider,
        "github",
        "https://token.actions.githubusercontent.com",
        &iam("oidc-provider/token.actions.githubusercontent.com"),
        vec![
            (
                "url",
                Value::str("https://token.actions.githubusercontent.com"),
            ),
            ("client_ids", Value::set(["sts.amazonaws.com"])),
        ],
    ));
    let out = spec("imported", &account(), &resources);
    let doc: toml::Table = out.spec.parse().unwrap();
    for kind in Kind::ALL {
        let blocks = doc.get(kind.as_str()).and_then(|t| t.as_table());
        assert!(
            blocks.is_some_and(|b| !b.is_empty()),
            "{kind}: {}",
            out.spec
        );
    }
    assert!(
        out.spec.contains("[instance_profile.worker]\nname = \"worker-profile\"\nrole = \"${role.worker.name}\"\nadopt = true\n"),
        "{}",
        out.spec
    );
    load_written(&out);
}

/// A role a vendor's account may assume: the account is declared in `[vars]`, so the written
/// spec loads without P007 (a principal in an account that is not known), and the trust policy
/// keeps the account id as AWS returned it.
#[test]
fn other_accounts_the_policies_name_are_declared_as_known() {
    let vendor = "111122223333";
    let role = found(
        Kind::Role,
        "vendor",
        "vendor",
        &format!("arn:aws:iam::{ACCOUNT}:role/vendor"),
        vec![
            ("name", Value::str("vendor")),
            (
                "trust",
                policy(&format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{vendor}:root","{ACCOUNT}"]}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"x-1"}}}}}}]}}"#
                )),
            ),
        ],
    );
    let out = spec("imported", &account(), &[role]);
    assert!(
        out.spec
            .contains(&format!("[vars]\naccount_{vendor} = \"{vendor}\"\n")),
        "{}",
        out.spec
    );
    assert!(
        !out.spec.contains(&format!("account_{ACCOUNT}")),
        "{}",
        out.spec
    );
    let trust = &out.files["policies/role-vendor-trust.json"];
    assert!(
        trust.contains(&format!("arn:aws:iam::{vendor}:root")),
        "{trust}"
    );
    let loaded = load_written(&out);
    let warnings = loaded.warnings.render(false);
    assert!(!warnings.contains("P007"), "{warnings}");
}

/// A role or queue another stack shares is someone else's: it is shared (`existing = true`),
/// not adopted, and the parts the other stack's record holds are left to it.
#[test]
fn a_role_or_queue_another_stack_shares_is_shared_not_adopted() {
    let mut found = wired();
    let record = |parts: &[&str], address: Address| {
        let share = crate::model::shared::Share {
            address: Some(address),
            parts: parts.iter().map(|p| p.to_string()).collect(),
        };
        crate::model::shared::shares_value(&BTreeMap::from([("vendor".to_string(), share)]))
    };
    for f in found.iter_mut() {
        match f.address.kind {
            Kind::Role => {
                let value = record(&["inline/use-key"], Address::new(Kind::Role, "theirs"));
                std::sync::Arc::make_mut(&mut f.live.attributes)
                    .insert(crate::model::shared::SHARES_ATTRIBUTE.into(), value);
            }
            Kind::Queue => {
                let value = record(&[], Address::new(Kind::Queue, "theirs"));
                std::sync::Arc::make_mut(&mut f.live.attributes)
                    .insert(crate::model::shared::SHARES_ATTRIBUTE.into(), value);
            }
            _ => {}
        }
    }
    let out = spec("imported", &account(), &found);
    let spec_text = &out.spec;
    let block = |header: &str| {
        let start = spec_text
            .find(header)
            .unwrap_or_else(|| panic!("{spec_text}"));
        let rest = &spec_text[start + header.len()..];
        rest[..rest.find("\n[").unwrap_or(rest.len())].to_string()
    };
    let role = block("[role.worker]");
    assert!(role.contains("existing = true"), "{spec_text}");
    assert!(!role.contains("adopt"), "{spec_text}");
    assert!(!spec_text.contains("use-key"), "{spec_text}");
    assert!(
        out.notes.iter().any(|n| {
            n
            == "role.worker: inline policy \"use-key\" is managed by stack `vendor`, and left to it"
        }),
        "{:?}",
        out.notes
    );
    let queue = block("[queue.work]");
    assert!(queue.contains("existing = true"), "{spec_text}");
    assert!(
        !queue.contains("adopt") && !queue.contains("visibility_timeout"),
        "{spec_text}"
    );
    load_written(&out);
}

/// `import --like` declares, on a bucket or key the ready-made stack shares with its owner,
/// only what that stack declares: a bucket policy it does not manage, and CORS rules and key
/// statements it does not name, stay the owner's (imported, the ready-made stack would then
/// remove them as parts it no longer declares).
#[test]
fn import_like_declares_only_the_ready_made_stacks_parts_of_a_shared_resource() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(
        &path,
        r#"
[stack]
name = "ready"

[bucket.data]
name = "shared-data"
existing = true
cors = [{ id = "vendor-ui", allowed_methods = ["GET"], allowed_origins = ["https://vendor.example.com"] }]

[key.k]
existing = true
key_id = "alias/customer"
policy = { Version = "2012-10-17", Statement = [{ Sid = "VendorDecrypt", Effect = "Allow", Principal = { AWS = "arn:aws:iam::210987654321:root" }, Action = "kms:Decrypt", Resource = "*" }] }
"#,
    )
    .unwrap();
    let ready = spec::load(&path, &LoadOptions::default()).unwrap();
    let rule = |id: &str| {
        map(vec![
            ("id", Value::str(id)),
            ("allowed_methods", Value::List(vec![Value::str("GET")])),
            (
                "allowed_origins",
                Value::List(vec![Value::str("https://x.example.com")]),
            ),
        ])
    };
    let bucket = found(
        Kind::Bucket,
        "data",
        "shared-data",
        "arn:aws:s3:::shared-data",
        vec![
            (
                "cors",
                Value::List(vec![rule("vendor-ui"), rule("customer-app")]),
            ),
            (
                "policy",
                policy(
                    r#"{"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::shared-data/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}"#,
                ),
            ),
        ],
    );
    let key = found(
        Kind::Key,
        "k",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        vec![(
            "policy",
            policy(
                r#"{"Version": "2012-10-17", "Statement": [{"Sid": "VendorDecrypt", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "kms:Decrypt", "Resource": "*"}, {"Sid": "AllowS3EventNotifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:GenerateDataKey", "Resource": "*"}]}"#,
            ),
        )],
    );
    let mut found = vec![bucket, key];
    let notes = super::like::narrow(&ready, &account(), &mut found);
    let out = spec("ready", &account(), &found);
    assert!(
        !out.spec.contains("customer-app") && out.spec.contains("vendor-ui"),
        "{}",
        out.spec
    );
    let written: String = out.files.values().cloned().collect();
    assert!(!written.contains("DenyInsecure"), "{written}");
    assert!(
        !written.contains("AllowS3EventNotifications") && written.contains("VendorDecrypt"),
        "{written}"
    );
    for expected in [
        "bucket.data: CORS rule customer-app is not the ready-made stack's",
        "bucket.data: its policy is not declared by the ready-made stack",
        "key.k: statement AllowS3EventNotifications of its policy is not the ready-made stack's",
    ] {
        assert!(
            notes.iter().any(|n| n.starts_with(expected)),
            "{expected}: {notes:#?}"
        );
    }
}

/// A queue or role another stack owns is shared (`existing = true`, which its owner allows),
/// not adopted (which the plan would refuse), and the note says so.
#[test]
fn a_queue_or_role_another_stack_owns_is_shared_not_adopted() {
    let mut queue = found(
        Kind::Queue,
        "events",
        "own-a-events",
        "arn:aws:sqs:eu-west-1:123456789012:own-a-events",
        vec![],
    );
    queue.live.owner = Some("own-a".into());
    let out = spec("own-c", &account(), &[queue]);
    assert!(out.spec.contains("existing = true"), "{}", out.spec);
    assert!(!out.spec.contains("adopt = true"), "{}", out.spec);
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("stack `own-a` owns it")),
        "{:?}",
        out.notes
    );
}
