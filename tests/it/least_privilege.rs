//! The policy `plinth permissions` prints, enforced as IAM would (`enforce.rs`) on every request
//! of each shipped stack's whole life: plan into an empty account, apply, a plan with no
//! changes, an update of every attribute the stack declares, drift repaired, a resource removed
//! from the spec, destroy. Zero refusals is the test; the actions used are reported beside
//! those granted (docs/reliability.md).
//!
//! `scripts/permission-removals.sh` runs the same life cycle once per printed action with that
//! action taken out, and lists the removals no step notices (slow: by hand, not in
//! `cargo test`).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::enforce::{tags_of, Enforcer, Record, Tagged};
use crate::proxy::{FaultProxy, Faults};
use crate::stacks::{copy_dir, ShippedStack};
use crate::support::{moto, plinth, runtime, s3, sdk, unique, Run};

const KINDS: &[&str] = &[
    "role",
    "policy",
    "instance_profile",
    "oidc_provider",
    "key",
    "queue",
    "function",
    "bucket",
];

/// A shipped stack with the variables a customer would pass, under fresh names.
pub(crate) fn shipped(which: &str) -> ShippedStack {
    let prefix = |p: &str| unique(p);
    match which {
        "tonic-v1" => ShippedStack::new(
            "tonic-structural-redshift.toml",
            &unique("tonic-structural"),
            &[("prefix", &prefix("tonic")), ("previous_process", "true")],
        ),
        "tonic-v2" => ShippedStack::new(
            "tonic-structural-redshift.toml",
            &unique("tonic-structural"),
            &[("prefix", &prefix("tonic"))],
        ),
        "ganymede" => {
            // The customer's bucket exists before the stack.
            let bucket = unique("lab-data");
            runtime().block_on(async {
                s3(&sdk().await)
                    .create_bucket()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap();
            });
            ShippedStack::new(
                "ganymede-s3.toml",
                &unique("ganymede"),
                &[("prefix", &prefix("ganymede")), ("bucket", &bucket)],
            )
        }
        "gretel" => ShippedStack::new(
            "gretel-hybrid.toml",
            &unique("gretel"),
            &[
                ("prefix", &prefix("gretel")),
                ("s3_source", "true"),
                ("s3_sink", "true"),
            ],
        ),
        "openmetadata" => ShippedStack::new(
            "openmetadata-glue.toml",
            &unique("openmetadata"),
            &[("role_name", &prefix("openmetadata-glue"))],
        ),
        other => panic!("no shipped stack `{other}`"),
    }
}

pub(crate) const STACKS: &[&str] = &["tonic-v1", "tonic-v2", "ganymede", "gretel", "openmetadata"];

/// The policy `plinth permissions` prints for the stack in moto's account and region.
pub(crate) fn printed(stack: &ShippedStack) -> String {
    let path = stack.path().display().to_string();
    let mut args = vec!["permissions"];
    args.extend(stack.args(&path));
    args.extend([
        "--account-id",
        "123456789012",
        "--region",
        "us-east-1",
        "--format",
        "json",
    ]);
    plinth(&args).ok().stdout
}

/// The actions a printed policy grants.
pub(crate) fn granted(policy: &str) -> BTreeSet<String> {
    let policy: serde_json::Value = serde_json::from_str(policy).unwrap();
    let mut out = BTreeSet::new();
    for statement in policy["Statement"].as_array().unwrap() {
        match &statement["Action"] {
            serde_json::Value::String(a) => {
                out.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                out.extend(list.iter().filter_map(|a| a.as_str().map(str::to_string)));
            }
            _ => {}
        }
    }
    out
}

/// `policy` without `action` (statements left with no action are dropped).
pub(crate) fn without(policy: &str, action: &str) -> String {
    let mut policy: serde_json::Value = serde_json::from_str(policy).unwrap();
    let statements = policy["Statement"].as_array_mut().unwrap();
    for statement in statements.iter_mut() {
        match &statement["Action"] {
            serde_json::Value::String(a) if a == action => {
                statement["Action"] = serde_json::json!([]);
            }
            serde_json::Value::Array(list) => {
                let kept: Vec<_> = list.iter().filter(|a| *a != action).cloned().collect();
                statement["Action"] = serde_json::Value::Array(kept);
            }
            _ => {}
        }
    }
    statements.retain(|s| s["Action"].as_array().is_none_or(|a| !a.is_empty()));
    policy.to_string()
}

/// Runs the stack's whole life with `policy` enforced; the first step that fails, if any, and
/// what the policy allowed and refused.
pub(crate) fn life_cycle(stack: &ShippedStack, policy: &str) -> (Result<(), String>, Record) {
    let (enforcer, proxy) = enforcing(policy);
    let result = steps(stack, &proxy.url);
    // Whatever happened, leave nothing behind (without the policy: cleanup is not the test).
    if result.is_err() {
        run(stack, moto(), "destroy", &["--auto-approve"]);
    }
    (result, enforcer.record())
}

/// A proxy in front of moto that enforces `policy`, and what it records.
fn enforcing(policy: &str) -> (Arc<Enforcer>, FaultProxy) {
    let enforcer = Arc::new(Enforcer::new(policy));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            enforce: Some(Arc::clone(&enforcer)),
            ..Faults::none()
        },
    );
    (enforcer, proxy)
}

fn run(stack: &ShippedStack, endpoint: &str, command: &str, extra: &[&str]) -> Run {
    let path = stack.path().display().to_string();
    let mut args = vec![command];
    args.extend(stack.args(&path));
    args.extend(["--endpoint-url", endpoint, "--max-attempts", "2"]);
    args.extend(extra);
    plinth(&args)
}

fn steps(stack: &ShippedStack, url: &str) -> Result<(), String> {
    let step = |name: &str, command: &str, extra: &[&str], want: i32| {
        let r = run(stack, url, command, extra);
        if r.code == want {
            Ok(r)
        } else {
            Err(format!(
                "{name}: exit {} (wanted {want})\n{}{}",
                r.code, r.stdout, r.stderr
            ))
        }
    };
    let converged = |name: &str| step(name, "plan", &["--detailed-exitcode"], 0).map(|_| ());
    step("plan into an empty account", "plan", &[], 0)?;
    step("apply", "apply", &["--auto-approve"], 0)?;
    converged("plan after apply")?;

    let original = std::fs::read_to_string(stack.path()).unwrap();
    std::fs::write(
        stack.path(),
        updated(&original, stack.path().parent().unwrap()),
    )
    .unwrap();
    let update = run(stack, url, "plan", &["--detailed-exitcode"]);
    if update.code != 2 && update.code != 3 {
        return Err(format!(
            "plan of the update: exit {} (wanted changes)\n{}{}",
            update.code, update.stdout, update.stderr
        ));
    }
    step("apply the update", "apply", &["--auto-approve"], 0)?;
    converged("plan after the update")?;

    drift(stack);
    step("repair drift", "apply", &["--auto-approve"], 0)?;
    converged("plan after repairing drift")?;

    // Back to the original spec, which also takes out the update (a tag removed, the
    // concurrency no longer reserved), with one resource removed.
    let (removed, smaller) =
        one_removed(stack, &original).ok_or("no resource of the stack can be removed alone")?;
    std::fs::write(stack.path(), smaller).unwrap();
    let plan = step("plan the removal", "plan", &[], 0)?;
    if !plan.stdout.lines().any(|l| {
        l.trim_start()
            .strip_prefix(['-', '~'])
            .is_some_and(|l| l.trim_start().starts_with(&format!("{removed} ")))
    }) {
        return Err(format!(
            "removing {removed} planned nothing for it:\n{}",
            plan.stdout
        ));
    }
    step("apply the removal", "apply", &["--auto-approve"], 0)?;
    converged("plan after the removal")?;

    std::fs::write(stack.path(), &original).unwrap();
    step("destroy", "destroy", &["--auto-approve"], 0)?;
    Ok(())
}

/// The spec with every attribute the stack declares changed: descriptions, tag sets, key
/// rotation, queue timeout and retention, function memory, timeout and code, trigger
/// batch sizes, a role's session length, a bucket's notification events, CORS rules and public
/// access block, and each policy document (trust, inline, managed, key, queue, bucket policies)
/// gains a statement. Names (a role's, an alias) stay: the printed policy names them, so a
/// new name needs the policy printed again (docs/reliability.md). Files the spec names (policies, code) are copied beside the originals,
/// changed, and named instead, so the original spec still names the originals.
fn updated(spec: &str, dir: &Path) -> String {
    let mut doc: toml_edit::DocumentMut = spec.parse().unwrap();
    for kind in KINDS {
        let Some(table) = doc.get_mut(kind).and_then(|t| t.as_table_like_mut()) else {
            continue;
        };
        for (_, resource) in table.iter_mut() {
            let Some(resource) = resource.as_table_like_mut() else {
                continue;
            };
            // A managed policy's description cannot change in IAM: it would be replaced, and
            // its document's new version (CreatePolicyVersion) never sent.
            let description = resource.get("description").filter(|_| *kind != "policy");
            if let Some(d) = description.and_then(|d| d.as_str()) {
                let d = format!("{d} (updated)");
                resource.insert("description", toml_edit::value(d));
            }
            if let Some(tags) = resource.get_mut("tags").and_then(|t| t.as_table_like_mut()) {
                tags.insert("updated", toml_edit::value("yes"));
            } else if !resource.contains_key("existing") {
                let mut tags = toml_edit::InlineTable::new();
                tags.insert("updated", "yes".into());
                resource.insert("tags", toml_edit::value(tags));
            }
            let flip = |v: &toml_edit::Item| v.as_bool().map(|b| toml_edit::value(!b));
            if let Some(rotation) = resource.get("rotation").and_then(flip) {
                resource.insert("rotation", rotation);
            }
            for (field, by) in [
                ("visibility_timeout", 30),
                ("message_retention", 3600),
                ("memory", 128),
                ("timeout", 1),
                ("max_session_hours", 1),
            ] {
                if let Some(n) = resource.get(field).and_then(|v| v.as_integer()) {
                    resource.insert(field, toml_edit::value(n + by));
                }
            }
            if let Some(code) = resource.get_mut("code").and_then(|c| c.as_table_like_mut()) {
                if let Some(code_dir) = code.get("dir").and_then(|d| d.as_str()) {
                    let changed = format!("{code_dir}-updated");
                    std::fs::create_dir_all(dir.join(&changed)).unwrap();
                    copy_dir(&dir.join(code_dir), &dir.join(&changed));
                    std::fs::write(dir.join(&changed).join("updated.txt"), "updated\n").unwrap();
                    code.insert("dir", toml_edit::value(changed));
                }
            }
            // Functions declare no concurrency in the shipped stacks: reserve some.
            if *kind == "function" && !resource.contains_key("reserved_concurrency") {
                resource.insert("reserved_concurrency", toml_edit::value(5));
            }
            if let Some(block) = resource
                .get_mut("public_access_block")
                .and_then(|b| b.as_table_like_mut())
            {
                if let Some(acls) = block.get("ignore_public_acls").and_then(flip) {
                    block.insert("ignore_public_acls", acls);
                }
            }
            for (entries, change) in [
                (
                    "notification",
                    &added_event as &dyn Fn(&mut dyn toml_edit::TableLike),
                ),
                ("cors", &longer_max_age),
                ("trigger", &smaller_batch),
            ] {
                match resource.get_mut(entries) {
                    Some(toml_edit::Item::ArrayOfTables(array)) => {
                        array.iter_mut().for_each(|t| change(t));
                    }
                    Some(toml_edit::Item::Value(toml_edit::Value::Array(array))) => {
                        for entry in array.iter_mut() {
                            if let Some(t) = entry.as_inline_table_mut() {
                                change(t);
                            }
                        }
                    }
                    _ => {}
                }
            }
            // Each policy document gains a statement of its own kind.
            if let Some(trust) = resource.get_mut("trust") {
                add_statement(trust, trust_statement(), dir);
            }
            if let Some(document) = resource.get_mut("document") {
                add_statement(document, identity_statement(), dir);
            }
            if let Some(policy) = resource.get_mut("policy") {
                add_statement(policy, resource_statement(kind), dir);
            }
            if let Some(policies) = resource
                .get_mut("policies")
                .and_then(|p| p.as_table_like_mut())
            {
                for (_, policy) in policies.iter_mut() {
                    add_statement(policy, identity_statement(), dir);
                }
            }
        }
    }
    doc.to_string()
}

fn added_event(notification: &mut dyn toml_edit::TableLike) {
    if let Some(events) = notification
        .get_mut("events")
        .and_then(|e| e.as_array_mut())
    {
        events.push("s3:ObjectRemoved:*");
    }
}

fn longer_max_age(rule: &mut dyn toml_edit::TableLike) {
    let age = rule
        .get("max_age")
        .and_then(|a| a.as_integer())
        .unwrap_or(0);
    rule.insert("max_age", toml_edit::value(age + 1));
}

fn smaller_batch(trigger: &mut dyn toml_edit::TableLike) {
    if let Some(n) = trigger.get("batch_size").and_then(|v| v.as_integer()) {
        // Above 10, SQS needs a batching window: go down.
        let changed = if n > 1 { n - 1 } else { n + 1 };
        trigger.insert("batch_size", toml_edit::value(changed));
    }
}

const ADDED_SID: &str = "LifeCycleUpdate";

fn trust_statement() -> serde_json::Value {
    serde_json::json!({
        "Sid": ADDED_SID,
        "Effect": "Deny",
        "Principal": { "Service": "glue.amazonaws.com" },
        "Action": "sts:AssumeRole"
    })
}

fn identity_statement() -> serde_json::Value {
    serde_json::json!({
        "Sid": ADDED_SID,
        "Effect": "Deny",
        "Action": "s3:DeleteBucket",
        "Resource": "*"
    })
}

/// A Deny of requests without TLS, on the resource the document's first statement names.
fn resource_statement(kind: &str) -> serde_json::Value {
    let action = match kind {
        "key" => "kms:Decrypt",
        "queue" => "sqs:SendMessage",
        _ => "s3:ListBucket",
    };
    serde_json::json!({
        "Sid": ADDED_SID,
        "Effect": "Deny",
        "Principal": { "AWS": "*" },
        "Action": action,
        "Resource": "*",
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

/// Adds `statement` to a policy document written as JSON text, as a TOML table, or as a file
/// the spec names (copied, changed, and named instead).
fn add_statement(item: &mut toml_edit::Item, mut statement: serde_json::Value, dir: &Path) {
    let with = |text: &str, statement: serde_json::Value| {
        let document: serde_json::Value = serde_json::from_str(text).unwrap();
        if let Some(resource) = document["Statement"]
            .as_array()
            .and_then(|s| s.first())
            .and_then(|s| s.get("Resource"))
            .filter(|_| statement.get("Principal").is_some() && statement.get("Resource").is_some())
        {
            let mut statement = statement.clone();
            statement["Resource"] = resource.clone();
            return push(document, statement);
        }
        push(document, statement)
    };
    if let Some(text) = item.as_str() {
        *item = toml_edit::value(with(text, statement));
        return;
    }
    let Some(table) = item.as_table_like_mut() else {
        return;
    };
    if let Some(file) = table
        .get("file")
        .and_then(|f| f.as_str())
        .map(str::to_string)
    {
        let changed = file.replace(".json", ".updated.json");
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        std::fs::write(dir.join(&changed), with(&text, statement)).unwrap();
        table.insert("file", toml_edit::value(changed));
    } else if let Some(statements) = table.get_mut("Statement").and_then(|s| s.as_array_mut()) {
        if statement.get("Principal").is_some() && statement.get("Resource").is_some() {
            if let Some(resource) = statements
                .get(0)
                .and_then(|s| s.as_inline_table())
                .and_then(|s| s.get("Resource"))
            {
                statement["Resource"] = toml_to_json(resource);
            }
        }
        statements.push(json_to_toml(&statement));
    }
}

fn push(mut document: serde_json::Value, statement: serde_json::Value) -> String {
    match &mut document["Statement"] {
        serde_json::Value::Array(statements) => statements.push(statement),
        single => *single = serde_json::Value::Array(vec![single.take(), statement]),
    }
    serde_json::to_string_pretty(&document).unwrap()
}

fn json_to_toml(value: &serde_json::Value) -> toml_edit::Value {
    match value {
        serde_json::Value::String(s) => s.as_str().into(),
        serde_json::Value::Bool(b) => (*b).into(),
        serde_json::Value::Number(n) => n.as_i64().unwrap().into(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(json_to_toml)
            .collect::<toml_edit::Array>()
            .into(),
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| (k.as_str(), json_to_toml(v)))
            .collect::<toml_edit::InlineTable>()
            .into(),
        serde_json::Value::Null => unreachable!("no null in a policy"),
    }
}

fn toml_to_json(value: &toml_edit::Value) -> serde_json::Value {
    match value {
        toml_edit::Value::String(s) => s.value().clone().into(),
        toml_edit::Value::Array(items) => items.iter().map(toml_to_json).collect(),
        other => other.to_string().trim().into(),
    }
}

/// Changes made behind plinth's back to everything the stack owns: each role, instance profile,
/// managed policy, queue, key and function gets a tag (removed again, since the update made the
/// tags managed); each role an inline policy, a managed policy and another trust; each
/// queue another visibility timeout; each key another policy and then its deletion scheduled;
/// each function another memory size.
fn drift(stack: &ShippedStack) {
    let name = stack_name(stack);
    let ours =
        |tags: &[(String, String)]| tags.iter().any(|(k, v)| k == "plinth:stack" && *v == name);
    runtime().block_on(async {
        let config = sdk().await;
        let iam = aws_sdk_iam::Client::new(&config);
        // moto is shared by every test running: what another test deletes meanwhile is skipped.
        let roles: Vec<_> = iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for role in roles {
            let role = role.role_name;
            if !ours(&tags_of(&config, &Tagged::Role(role.clone())).await) {
                continue;
            }
            iam.tag_role()
                .role_name(&role)
                .tags(iam_tag())
                .send()
                .await
                .unwrap();
            iam.put_role_policy()
                .role_name(&role)
                .policy_name("added-by-hand")
                .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
                .send()
                .await
                .unwrap();
            iam.update_assume_role_policy()
                .role_name(&role)
                .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                .send()
                .await
                .unwrap();
            let by_hand = iam
                .create_policy()
                .policy_name(unique("attached-by-hand"))
                .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
                .send()
                .await
                .unwrap()
                .policy
                .and_then(|p| p.arn)
                .unwrap();
            iam.attach_role_policy()
                .role_name(&role)
                .policy_arn(by_hand)
                .send()
                .await
                .unwrap();
        }
        let profiles: Vec<_> = iam
            .list_instance_profiles()
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for profile in profiles {
            let profile = profile.instance_profile_name;
            // moto has no ListInstanceProfileTags; GetInstanceProfile carries the tags too.
            let tags: Vec<(String, String)> = iam
                .get_instance_profile()
                .instance_profile_name(&profile)
                .send()
                .await
                .ok()
                .and_then(|p| p.instance_profile)
                .map(|p| p.tags.unwrap_or_default())
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.key, t.value))
                .collect();
            if ours(&tags) {
                let _ = iam
                    .tag_instance_profile()
                    .instance_profile_name(&profile)
                    .tags(iam_tag())
                    .send()
                    .await;
            }
        }
        let policies: Vec<_> = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(|p| p.ok()?.arn)
            .collect();
        for policy in policies {
            if ours(&tags_of(&config, &Tagged::Policy(policy.clone())).await) {
                let _ = iam
                    .tag_policy()
                    .policy_arn(&policy)
                    .tags(iam_tag())
                    .send()
                    .await;
            }
        }
        let sqs = aws_sdk_sqs::Client::new(&config);
        let urls: Vec<String> = sqs
            .list_queues()
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for url in urls {
            let name = url.rsplit('/').next().unwrap_or_default().to_string();
            if ours(&tags_of(&config, &Tagged::Queue(name)).await) {
                sqs.tag_queue()
                    .queue_url(&url)
                    .tags("added-by-hand", "yes")
                    .send()
                    .await
                    .unwrap();
                sqs.set_queue_attributes()
                    .queue_url(&url)
                    .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "7")
                    .send()
                    .await
                    .unwrap();
            }
        }
        let kms = aws_sdk_kms::Client::new(&config);
        let keys: Vec<String> = kms
            .list_keys()
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(|k| k.ok()?.key_id)
            .collect();
        for key in keys {
            if !ours(&tags_of(&config, &Tagged::Key(key.clone())).await) {
                continue;
            }
            kms.tag_resource()
                .key_id(&key)
                .tags(
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key("added-by-hand")
                        .tag_value("yes")
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            kms.put_key_policy()
                .key_id(&key)
                .policy_name("default")
                .policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM policies","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}"#)
                .send()
                .await
                .unwrap();
            kms.schedule_key_deletion()
                .key_id(&key)
                .pending_window_in_days(7)
                .send()
                .await
                .unwrap();
        }
        let lambda = aws_sdk_lambda::Client::new(&config);
        let functions: Vec<_> = lambda
            .list_functions()
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for function in functions {
            let arn = function.function_arn.unwrap_or_default();
            if ours(&tags_of(&config, &Tagged::Function(arn.clone())).await) {
                lambda
                    .tag_resource()
                    .resource(&arn)
                    .tags("added-by-hand", "yes")
                    .send()
                    .await
                    .unwrap();
                lambda
                    .update_function_configuration()
                    .function_name(&arn)
                    .memory_size(function.memory_size.unwrap_or(128) + 64)
                    .send()
                    .await
                    .unwrap();
            }
        }
    });
}

fn iam_tag() -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key("added-by-hand")
        .value("yes")
        .build()
        .unwrap()
}

fn stack_name(stack: &ShippedStack) -> String {
    let text = std::fs::read_to_string(stack.path()).unwrap();
    let doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc["stack"]["name"].as_str().unwrap().to_string()
}

/// A resource no other resource refers to, and the spec without it (and the outputs that
/// name it).
fn one_removed(stack: &ShippedStack, spec: &str) -> Option<(String, String)> {
    let doc: toml_edit::DocumentMut = spec.parse().unwrap();
    let mut resources = doc.clone();
    resources.remove("outputs");
    let resources = resources.to_string();
    for kind in KINDS.iter().rev() {
        let Some(table) = doc.get(kind).and_then(|t| t.as_table_like()) else {
            continue;
        };
        for (name, block) in table.iter() {
            let address = format!("{kind}.{name}");
            let reference = format!("${{{address}.");
            // A switched block may be off, and removing it then plans nothing.
            let switched = block
                .as_table_like()
                .is_some_and(|b| b.contains_key("when"));
            if resources.contains(&reference) || switched {
                continue;
            }
            let mut smaller = doc.clone();
            smaller[*kind].as_table_like_mut()?.remove(name);
            if smaller[*kind].as_table_like().is_some_and(|t| t.is_empty()) {
                smaller.remove(kind);
            }
            if let Some(outputs) = smaller
                .get_mut("outputs")
                .and_then(|o| o.as_table_like_mut())
            {
                let naming: Vec<String> = outputs
                    .iter()
                    .filter(|(_, v)| v.to_string().contains(&reference))
                    .map(|(k, _)| k.to_string())
                    .collect();
                for key in naming {
                    outputs.remove(&key);
                }
            }
            let text = smaller.to_string();
            let path = stack.path().display().to_string();
            // Beside the spec: it names files relative to its directory.
            let check = stack
                .path()
                .with_file_name(format!("{}.toml", unique("removal")));
            std::fs::write(&check, &text).unwrap();
            let check_arg = check.display().to_string();
            let mut args = vec!["validate"];
            args.extend(stack.args(&path));
            args[2] = &check_arg;
            let valid = plinth(&args).code == 0;
            let _ = std::fs::remove_file(&check);
            if valid {
                return Some((address, text));
            }
        }
    }
    None
}

/// Each shipped stack lives its whole life under the policy `plinth permissions` prints for it,
/// and IAM (the proxy) refuses nothing.
#[test]
fn each_shipped_stack_lives_its_whole_life_under_its_printed_policy() {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = STACKS
            .iter()
            .map(|which| {
                scope.spawn(move || {
                    let stack = shipped(which);
                    let policy = printed(&stack);
                    let (result, record) = life_cycle(&stack, &policy);
                    let granted = granted(&policy);
                    let used: BTreeSet<_> = record.used.intersection(&granted).collect();
                    eprintln!(
                        "{which}: {} actions granted, {} used; unused: {:?}",
                        granted.len(),
                        used.len(),
                        granted
                            .iter()
                            .filter(|a| !used.contains(a))
                            .collect::<Vec<_>>()
                    );
                    let mut problems = Vec::new();
                    if let Err(e) = result {
                        problems.push(e);
                    }
                    for r in &record.refused {
                        problems.push(format!(
                            "refused {} ({} on {})",
                            r.operation, r.action, r.resource
                        ));
                    }
                    (!problems.is_empty()).then(|| format!("{which}:\n{}", problems.join("\n")))
                })
            })
            .collect();
        runs.into_iter().filter_map(|r| r.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Takes each printed action out in turn and runs the life cycle: a removal no step notices
/// (no refusal, every step as planned) is a grant the life cycle does not need. By default one
/// removal the life cycle must notice, so the harness is known to notice; with
/// `PLINTH_REMOVALS=STACK,...` (or `all`) every action of those stacks, which takes minutes per
/// stack: `scripts/permission-removals.sh`.
#[test]
fn a_printed_action_taken_out_is_noticed_by_the_life_cycle() {
    let chosen = std::env::var("PLINTH_REMOVALS").unwrap_or_default();
    if chosen.is_empty() {
        let stack = shipped("openmetadata");
        let policy = without(&printed(&stack), "iam:DeleteRole");
        let (result, record) = life_cycle(&stack, &policy);
        assert!(
            result.is_err(),
            "the life cycle did not notice iam:DeleteRole was gone"
        );
        assert!(
            record.refused.iter().any(|r| r.action == "iam:DeleteRole"),
            "{:?}",
            record.refused
        );
        return;
    }
    let stacks: Vec<&str> = if chosen == "all" {
        STACKS.to_vec()
    } else {
        chosen.split(',').collect()
    };
    for which in stacks {
        let policy = printed(&shipped(which));
        let actions = granted(&policy);
        let parallel: usize = std::env::var("PLINTH_REMOVALS_PARALLEL")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(4);
        let actions_in_order: Vec<&String> = actions.iter().collect();
        let mut unnoticed = Vec::new();
        for chunk in actions_in_order.chunks(parallel.max(1)) {
            let noticed: Vec<(String, bool)> = std::thread::scope(|scope| {
                let runs: Vec<_> = chunk
                    .iter()
                    .map(|action| {
                        scope.spawn(move || {
                            let stack = shipped(which);
                            let policy = without(&printed(&stack), action);
                            let (result, record) = life_cycle(&stack, &policy);
                            (
                                action.to_string(),
                                result.is_err() || !record.refused.is_empty(),
                            )
                        })
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            unnoticed.extend(noticed.into_iter().filter(|(_, n)| !n).map(|(a, _)| a));
        }
        println!(
            "{which}: {} actions printed; {} removals no step notices: {}",
            actions.len(),
            unnoticed.len(),
            if unnoticed.is_empty() {
                "none".to_string()
            } else {
                unnoticed.join(", ")
            }
        );
    }
}

/// The dangerous requests of least privilege's items 1-4, sent as an attacker holding the
/// printed policy would send them, are refused.
#[test]
fn the_printed_policy_refuses_what_could_harm_what_the_stack_does_not_own() {
    let ganymede = shipped("ganymede");
    let tonic = shipped("tonic-v1");
    let refused = |stack: &ShippedStack, requests: &dyn Fn(String) -> Vec<(&'static str, bool)>| {
        let (enforcer, proxy) = enforcing(&printed(stack));
        for (what, was_refused) in requests(proxy.url.clone()) {
            assert!(was_refused, "{what} was not refused");
        }
        enforcer.record()
    };
    let vars = |stack: &ShippedStack, name: &str| stack.var(name).unwrap().to_string();
    let bucket = vars(&ganymede, "bucket");
    let prefix = vars(&ganymede, "prefix");
    let record = refused(&ganymede, &|url| {
        runtime().block_on(async {
            let config = crate::support::sdk_at(&url).await;
            let s3 = s3(&config);
            let iam = aws_sdk_iam::Client::new(&config);
            vec![
                (
                    "s3:DeleteBucket on the customer's bucket",
                    s3.delete_bucket().bucket(&bucket).send().await.is_err(),
                ),
                (
                    "s3:DeleteObject in the customer's bucket",
                    s3.delete_object()
                        .bucket(&bucket)
                        .key("results.csv")
                        .send()
                        .await
                        .is_err(),
                ),
                (
                    "s3:PutBucketPolicy on the customer's bucket",
                    s3.put_bucket_policy()
                        .bucket(&bucket)
                        .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
                        .send()
                        .await
                        .is_err(),
                ),
                (
                    "iam:AttachRolePolicy of AdministratorAccess to the stack's role",
                    iam.attach_role_policy()
                        .role_name(format!("{prefix}-production"))
                        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
                        .send()
                        .await
                        .is_err(),
                ),
            ]
        })
    });
    let actions: BTreeSet<&str> = record.refused.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "iam:AttachRolePolicy",
            "s3:DeleteBucket",
            "s3:DeleteObject",
            "s3:PutBucketPolicy"
        ]),
        "each refused by IAM, not by moto"
    );

    let prefix = vars(&tonic, "prefix");
    let record = refused(&tonic, &|url| {
        runtime().block_on(async {
            let config = crate::support::sdk_at(&url).await;
            let iam = aws_sdk_iam::Client::new(&config);
            vec![(
                "iam:RemoveRoleFromInstanceProfile on a profile the stack does not declare",
                iam.remove_role_from_instance_profile()
                    .instance_profile_name("someone-elses-profile")
                    .role_name(format!("{prefix}-server"))
                    .send()
                    .await
                    .is_err(),
            )]
        })
    });
    assert_eq!(record.refused.len(), 1, "{:?}", record.refused);
    // Passing the function's role to any service but Lambda (an EC2 instance, say).
    let enforcer = Enforcer::new(&printed(&tonic));
    let role = format!("arn:aws:iam::123456789012:role/{prefix}-lambda");
    let pass = |service: &str| {
        runtime().block_on(enforcer.decide(
            "iam:PassRole",
            &role,
            &[("iam:PassedToService", service)],
        ))
    };
    assert!(
        pass("lambda.amazonaws.com"),
        "the function's role is passed to Lambda"
    );
    assert!(!pass("ec2.amazonaws.com"), "and to no other service");
}
