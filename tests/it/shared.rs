//! Resources plinth shares with their owners (`existing = true`) against moto: plinth adds its
//! own statements, policies and attachments, keeps everything else as it was, records what it
//! manages in a tag of its own, and removes exactly that when the block or the stack goes.

use std::collections::BTreeMap;

use crate::support::{plinth_aws, queue_attributes, runtime, sdk, unique, Run, TempSpec};

fn apply(spec: &TempSpec) -> Run {
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok()
}

#[track_caller]
fn assert_no_changes(spec: &TempSpec) {
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

fn kms() -> aws_sdk_kms::Client {
    runtime().block_on(async { aws_sdk_kms::Client::new(&sdk().await) })
}

/// The customer's key policy: the account's statement and one for their own application.
const CUSTOMER_POLICY: &str = r#"{
  "Version" : "2012-10-17",
  "Id" : "customer-key-policy",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : { "AWS" : "arn:aws:iam::123456789012:root" },
    "Action" : "kms:*",
    "Resource" : "*"
  }, {
    "Sid" : "CustomerApp",
    "Effect" : "Allow",
    "Principal" : { "AWS" : "arn:aws:iam::123456789012:root" },
    "Action" : [ "kms:Decrypt" ],
    "Resource" : "*",
    "Condition" : { "StringEquals" : { "kms:ViaService" : "s3.us-east-1.amazonaws.com" } }
  } ]
}"#;

/// A key made by hand, as its owner would, with an alias and a tag of theirs.
fn customer_key(alias: &str) -> String {
    let client = kms();
    runtime().block_on(async {
        let key = client
            .create_key()
            .policy(CUSTOMER_POLICY)
            .tags(
                aws_sdk_kms::types::Tag::builder()
                    .tag_key("team")
                    .tag_value("data")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let id = key.key_metadata.unwrap().key_id;
        client
            .create_alias()
            .alias_name(alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
        id
    })
}

fn key_policy(id: &str) -> serde_json::Value {
    let client = kms();
    runtime().block_on(async {
        let out = client
            .get_key_policy()
            .key_id(id)
            .policy_name("default")
            .send()
            .await
            .unwrap();
        serde_json::from_str(&out.policy.unwrap()).unwrap()
    })
}

fn key_tags(id: &str) -> BTreeMap<String, String> {
    let client = kms();
    runtime().block_on(async {
        client
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.tag_key, t.tag_value))
            .collect()
    })
}

fn key_state(id: &str) -> String {
    let client = kms();
    runtime().block_on(async {
        let out = client.describe_key().key_id(id).send().await.unwrap();
        out.key_metadata
            .unwrap()
            .key_state
            .unwrap()
            .as_str()
            .to_string()
    })
}

fn statement_sids(policy: &serde_json::Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn shared_key_spec(stack: &str, alias: &str, sid: &str) -> String {
    format!(
        r#"
[stack]
name = "{stack}"

[key.customer]
existing = true
key_id = "{alias}"
policy = '''
{{
    "Version": "2012-10-17",
    "Statement": [
        {{
            "Sid": "{sid}",
            "Effect": "Allow",
            "Principal": {{ "Service": "s3.amazonaws.com" }},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*"
        }}
    ]
}}
'''
"#
    )
}

#[test]
fn a_customer_key_gets_the_stacks_statement_and_keeps_its_own_and_destroy_removes_only_ours() {
    let stack = unique("shared-key");
    let alias = format!("alias/{}", unique("customer"));
    let id = customer_key(&alias);
    let original = key_policy(&id);
    let spec = TempSpec::new(&shared_key_spec(&stack, &alias, "TonicS3"));

    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("key.customer (existing key) will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("policy: 2 statements kept (not managed by this stack)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("will be created"), "{}", plan.stdout);

    apply(&spec);
    let policy = key_policy(&id);
    assert_eq!(
        statement_sids(&policy),
        ["Enable IAM User Permissions", "CustomerApp", "TonicS3"]
    );
    assert_eq!(policy["Statement"][0], original["Statement"][0]);
    assert_eq!(policy["Statement"][1], original["Statement"][1]);
    assert_eq!(policy["Id"], original["Id"]);
    let tags = key_tags(&id);
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
    assert_eq!(
        tags.get(&format!("plinth:shares:{stack}"))
            .map(String::as_str),
        Some("key.customer policy/TonicS3")
    );
    assert!(
        !tags.contains_key("plinth:stack"),
        "never the key's owner: {tags:?}"
    );
    assert_no_changes(&spec);

    // The customer edits their own statement: nothing for this stack to do.
    let mut edited = policy.clone();
    edited["Statement"][1]["Action"] = serde_json::json!(["kms:Decrypt", "kms:Encrypt"]);
    let client = kms();
    runtime().block_on(async {
        client
            .put_key_policy()
            .key_id(&id)
            .policy_name("default")
            .policy(edited.to_string())
            .send()
            .await
            .unwrap()
    });
    assert_no_changes(&spec);

    let destroy = plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(destroy.stdout.contains("release"), "{}", destroy.stdout);
    // The report says what was done: the key was released, not destroyed.
    assert!(
        destroy.stderr.contains("key.customer: releasing done")
            && destroy.stderr.contains("0 destroyed, 1 released in"),
        "{}",
        destroy.stderr
    );
    let after = key_policy(&id);
    assert_eq!(
        statement_sids(&after),
        ["Enable IAM User Permissions", "CustomerApp"]
    );
    assert_eq!(after["Statement"][1], edited["Statement"][1]);
    assert_eq!(key_state(&id), "Enabled", "never scheduled for deletion");
    let tags = key_tags(&id);
    assert!(
        !tags.keys().any(|k| k.starts_with("plinth:")),
        "plinth's record is gone: {tags:?}"
    );
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
}

#[test]
fn removing_a_shared_block_removes_only_the_stacks_statement() {
    let stack = unique("shared-key-left");
    let alias = format!("alias/{}", unique("customer"));
    let id = customer_key(&alias);
    let spec = TempSpec::new(&shared_key_spec(&stack, &alias, "LeftBehind"));
    apply(&spec);
    assert_eq!(statement_sids(&key_policy(&id)).len(), 3);
    let spec = TempSpec::new(&format!("[stack]\nname = \"{stack}\"\n"));
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("key.customer (existing key) will be released"),
        "{}",
        plan.stdout
    );
    let run = apply(&spec);
    assert_eq!(
        statement_sids(&key_policy(&id)),
        ["Enable IAM User Permissions", "CustomerApp"]
    );
    assert_eq!(key_state(&id), "Enabled", "{}{}", run.stdout, run.stderr);
    assert_no_changes(&spec);
}

#[test]
fn two_stacks_applying_at_once_both_get_their_statements_into_one_key_policy() {
    let alias = format!("alias/{}", unique("customer"));
    let id = customer_key(&alias);
    let (a, b) = (unique("shared-a"), unique("shared-b"));
    let spec_a = TempSpec::new(&shared_key_spec(&a, &alias, "StackA"));
    let spec_b = TempSpec::new(&shared_key_spec(&b, &alias, "StackB"));
    let (run_a, run_b) = std::thread::scope(|s| {
        let a = s.spawn(|| plinth_aws(&["apply", "-f", &spec_a.arg(), "--auto-approve"]));
        let b = s.spawn(|| plinth_aws(&["apply", "-f", &spec_b.arg(), "--auto-approve"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    run_a.ok();
    run_b.ok();
    let mut sids = statement_sids(&key_policy(&id));
    sids.sort();
    assert_eq!(
        sids,
        [
            "CustomerApp",
            "Enable IAM User Permissions",
            "StackA",
            "StackB"
        ]
    );
    assert_no_changes(&spec_a);
    assert_no_changes(&spec_b);
}

fn iam() -> aws_sdk_iam::Client {
    runtime().block_on(async { aws_sdk_iam::Client::new(&sdk().await) })
}

/// The customer's role as they made it: their trust statement, an inline policy and an
/// attachment of their own.
fn customer_role(name: &str) {
    let client = iam();
    runtime().block_on(async {
        client
            .create_role()
            .role_name(name)
            .assume_role_policy_document(
                r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .unwrap();
        client
            .put_role_policy()
            .role_name(name)
            .policy_name("theirs")
            .policy_document(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}"#)
            .send()
            .await
            .unwrap();
        client
            .attach_role_policy()
            .role_name(name)
            .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
            .send()
            .await
            .unwrap();
    });
}

/// The role's inline policy names, attached policy ARNs, trust Sids and tag keys.
fn role_parts(name: &str) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let client = iam();
    runtime().block_on(async {
        let inline = client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .policy_names;
        let mut attached: Vec<String> = client
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .attached_policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect();
        attached.sort();
        let role = client
            .get_role()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        let trust =
            percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
                .decode_utf8_lossy()
                .into_owned();
        let trust: serde_json::Value = serde_json::from_str(&trust).unwrap();
        let tags: Vec<String> = client
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .tags
            .into_iter()
            .map(|t| t.key)
            .collect();
        let mut inline = inline;
        inline.sort();
        (inline, attached, statement_sids(&trust), tags)
    })
}

#[test]
fn an_existing_role_gets_the_stacks_policy_attachment_and_trust_statement_and_keeps_the_rest() {
    let stack = unique("shared-role");
    let name = unique("customer-server");
    customer_role(&name);
    let spec = TempSpec::new(&format!(
        r#"
[stack]
name = "{stack}"

[role.server]
name = "{name}"
existing = true
managed_policies = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
trust = {{ Version = "2012-10-17", Statement = [
  {{ Sid = "Lambda", Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }},
] }}

[role.server.policies.tonic]
Version = "2012-10-17"
Statement = [{{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::tonic-data/*" }}]
"#
    ));
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains("role.server (existing role) will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("trust: 1 statement kept (not managed by this stack)"),
        "{}",
        plan.stdout
    );
    apply(&spec);
    let (inline, attached, trust, tags) = role_parts(&name);
    assert_eq!(inline, ["theirs", "tonic"]);
    assert_eq!(
        attached,
        [
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        ]
    );
    assert_eq!(trust, ["Ec2", "Lambda"]);
    assert_eq!(tags, [format!("plinth:shares:{stack}")]);
    assert_no_changes(&spec);

    plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    let (inline, attached, trust, tags) = role_parts(&name);
    assert_eq!(inline, ["theirs"]);
    assert_eq!(attached, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
    assert_eq!(trust, ["Ec2"]);
    assert!(tags.is_empty(), "{tags:?}");
}

fn queue_tags(name: &str) -> Option<BTreeMap<String, String>> {
    let client = runtime().block_on(async { aws_sdk_sqs::Client::new(&sdk().await) });
    runtime().block_on(async {
        let url = crate::support::queue_url(&client, name).await?;
        let tags = client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .unwrap();
        Some(tags.tags.unwrap_or_default().into_iter().collect())
    })
}

#[test]
fn a_released_resource_survives_untagged_when_its_block_is_removed() {
    let stack = unique("release");
    let queue = unique("release-queue");
    let bucket = unique("release-bucket");
    let alias = format!("alias/{}", unique("customer"));
    let key = customer_key(&alias);
    let spec = |release: &str| {
        format!(
            r#"
[stack]
name = "{stack}"

[queue.work]
name = "{queue}"
visibility_timeout = 60
{release}

[bucket.data]
name = "{bucket}"
tags = {{ team = "data" }}
{release}

[key.customer]
existing = true
key_id = "{alias}"
{release}
policy = {{ Version = "2012-10-17", Statement = [
  {{ Sid = "Kept", Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "kms:Decrypt", Resource = "*" }},
] }}
"#
        )
    };
    let owned = TempSpec::new(&spec(""));
    apply(&owned);
    assert_eq!(
        queue_tags(&queue).unwrap().get("plinth:stack"),
        Some(&stack)
    );

    let released = TempSpec::new(&spec("release = true"));
    let plan = plinth_aws(&["plan", "-f", &released.arg()]).ok();
    assert!(
        plan.stdout.contains(
            "queue.work will be released: no longer managed by this stack, its tags are removed and it stays"
        ) && plan.stdout.contains("to release."),
        "{}",
        plan.stdout
    );
    let json = plinth_aws(&["plan", "-f", &released.arg(), "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let queue_change = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "queue.work")
        .unwrap();
    assert_eq!(queue_change["action"], "release");
    assert_eq!(json["summary"]["change"], 0, "{}", json["summary"]);
    // The shared key is let go of too, and its parts stay: the plan says so, and the apply
    // counts all three as released, none as changed.
    assert!(
        plan.stdout.contains(
            "key.customer (existing key) will be released: no longer managed by this stack; plinth removes its own tags and leaves policy statement Kept as they are"
        ),
        "{}",
        plan.stdout
    );
    let applied = apply(&released);
    let said = format!("{}{}", applied.stdout, applied.stderr);
    assert!(
        said.contains("Apply complete: 0 added, 0 changed, 0 replaced, 0 destroyed, 3 released"),
        "{said}"
    );
    let tags = queue_tags(&queue).unwrap();
    assert!(!tags.keys().any(|k| k.starts_with("plinth:")), "{tags:?}");
    let bucket_tags = bucket_state(&bucket).tags;
    assert!(
        !bucket_tags.keys().any(|k| k.starts_with("plinth:")),
        "{bucket_tags:?}"
    );
    assert_eq!(bucket_tags.get("team").map(String::as_str), Some("data"));
    assert!(!key_tags(&key).keys().any(|k| k.starts_with("plinth:")));
    assert_eq!(
        statement_sids(&key_policy(&key)),
        ["Enable IAM User Permissions", "CustomerApp", "Kept"],
        "a shared resource's parts stay, forgotten"
    );
    assert_no_changes(&released);

    let gone = TempSpec::new(&format!("[stack]\nname = \"{stack}\"\n"));
    assert_no_changes(&gone);
    apply(&gone);
    assert!(queue_tags(&queue).is_some(), "the queue survives");
    assert_eq!(
        bucket_state(&bucket).tags.get("team").map(String::as_str),
        Some("data"),
        "the bucket survives"
    );
    assert_eq!(statement_sids(&key_policy(&key)).len(), 3);
}

fn s3() -> aws_sdk_s3::Client {
    runtime().block_on(async { crate::support::s3(&sdk().await) })
}

fn sqs_queue(name: &str) -> String {
    let client = runtime().block_on(async { aws_sdk_sqs::Client::new(&sdk().await) });
    runtime().block_on(async {
        client.create_queue().queue_name(name).send().await.unwrap();
    });
    format!("arn:aws:sqs:us-east-1:123456789012:{name}")
}

/// Another team's bucket policy: one statement of theirs.
fn their_bucket_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"TheirRead","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

/// A bucket as another team set it up: a tag, a policy statement, two CORS rules (one without
/// an id), a queue notification with a filter and one to a topic. (moto drops S3's EventBridge
/// switch, so the unit tests of `aws::shared_bucket` cover keeping it.)
fn their_bucket(bucket: &str, their_queue: &str) {
    use aws_sdk_s3::types::{
        CorsConfiguration, CorsRule, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, Tag, Tagging,
        TopicConfiguration,
    };
    let client = s3();
    runtime().block_on(async {
        client.create_bucket().bucket(bucket).send().await.unwrap();
        let tagging = Tagging::builder()
            .tag_set(Tag::builder().key("owner").value("them").build().unwrap())
            .build()
            .unwrap();
        client
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .unwrap();
        client
            .put_bucket_policy()
            .bucket(bucket)
            .policy(their_bucket_policy(bucket))
            .send()
            .await
            .unwrap();
        let rule = |id: Option<&str>, origin: &str| {
            CorsRule::builder()
                .set_id(id.map(str::to_string))
                .allowed_origins(origin)
                .allowed_methods("GET")
                .max_age_seconds(600)
                .build()
                .unwrap()
        };
        let cors = CorsConfiguration::builder()
            .cors_rules(rule(Some("their-app"), "https://their.example"))
            .cors_rules(rule(None, "https://legacy.example"))
            .build()
            .unwrap();
        client
            .put_bucket_cors()
            .bucket(bucket)
            .cors_configuration(cors)
            .send()
            .await
            .unwrap();
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::Prefix)
                            .value("raw/")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let queue = QueueConfiguration::builder()
            .id("their-events")
            .queue_arn(their_queue)
            .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:Put"))
            .filter(filter)
            .build()
            .unwrap();
        let topic = TopicConfiguration::builder()
            .id("their-topic")
            .topic_arn("arn:aws:sns:us-east-1:123456789012:their-alerts")
            .events(aws_sdk_s3::types::Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap();
        let config = NotificationConfiguration::builder()
            .queue_configurations(queue)
            .topic_configurations(topic)
            .build();
        client
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(config)
            .send()
            .await
            .unwrap();
    });
}

/// The bucket's policy, CORS rules and notifications as S3 returns them, and its tags.
struct BucketState {
    policy: Option<serde_json::Value>,
    cors: Vec<aws_sdk_s3::types::CorsRule>,
    queues: Vec<aws_sdk_s3::types::QueueConfiguration>,
    topics: Vec<aws_sdk_s3::types::TopicConfiguration>,
    tags: BTreeMap<String, String>,
}

fn bucket_state(bucket: &str) -> BucketState {
    let client = s3();
    runtime().block_on(async {
        let policy = client
            .get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .and_then(|o| o.policy)
            .map(|p| serde_json::from_str(&p).unwrap());
        let cors = client
            .get_bucket_cors()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .and_then(|o| o.cors_rules)
            .unwrap_or_default();
        // moto answers a bucket that never had notifications with an empty body.
        let notifications = client
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|_| {
                aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
            });
        let tags = client
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .map(|o| o.tag_set)
            .unwrap_or_default();
        BucketState {
            policy,
            cors,
            queues: notifications.queue_configurations.unwrap_or_default(),
            topics: notifications.topic_configurations.unwrap_or_default(),
            tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
        }
    })
}

fn shared_bucket_spec(stack: &str, bucket: &str, queue: &str) -> String {
    format!(
        r#"
[stack]
name = "{stack}"

[queue.uploads]
name = "{queue}"
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "sqs:SendMessage", Resource = "${{queue.uploads.arn}}" }}] }}

[bucket.shared]
name = "{bucket}"
existing = true
policy = {{ Version = "2012-10-17", Statement = [
  {{ Sid = "StackList", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::123456789012:root" }}, Action = "s3:ListBucket", Resource = "arn:aws:s3:::{bucket}" }},
] }}

[[bucket.shared.cors]]
allowed_origins = ["https://app.example"]
allowed_methods = ["GET", "PUT"]

# Apart from the other team's (prefix raw/): S3 refuses two that one object's event matches.
[[bucket.shared.notification]]
queue = "${{queue.uploads.arn}}"
events = ["s3:ObjectCreated:*"]
prefix = "uploads/"
suffix = ".csv"
"#
    )
}

#[test]
fn an_existing_bucket_gets_the_stacks_entries_and_keeps_another_teams_and_destroy_removes_only_ours(
) {
    let stack = unique("shared-bucket");
    let bucket = unique("theirs-data");
    let their_queue = sqs_queue(&unique("their-events"));
    their_bucket(&bucket, &their_queue);
    let before = bucket_state(&bucket);
    let spec = TempSpec::new(&shared_bucket_spec(
        &stack,
        &bucket,
        &unique("stack-uploads"),
    ));

    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    for line in [
        "bucket.shared (existing bucket) will be updated in place",
        "policy: 1 statement kept (not managed by this stack)",
        "cors: 2 CORS rules kept (not managed by this stack)",
        "notifications: 2 notifications kept (not managed by this stack)",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }

    apply(&spec);
    let after = bucket_state(&bucket);
    let policy = after.policy.clone().unwrap();
    assert_eq!(statement_sids(&policy), ["TheirRead", "StackList"]);
    assert_eq!(
        policy["Statement"][0],
        before.policy.as_ref().unwrap()["Statement"][0]
    );
    assert_eq!(after.cors.len(), 3, "{:?}", after.cors);
    assert_eq!(after.cors[..2], before.cors[..], "theirs first, unchanged");
    let ours_id = format!("plinth-{stack}-shared-cors-1");
    assert_eq!(after.cors[2].id(), Some(ours_id.as_str()));
    assert_eq!(after.queues.len(), 2, "{:?}", after.queues);
    assert!(after.queues.contains(&before.queues[0]), "theirs unchanged");
    assert_eq!(after.topics, before.topics, "the topic's entry stays");
    assert_eq!(before.topics.len(), 1);
    let notification_id = format!("plinth-{stack}-shared-notification-1");
    assert!(after
        .queues
        .iter()
        .any(|q| q.id() == Some(notification_id.as_str())));
    assert_eq!(after.tags.get("owner").map(String::as_str), Some("them"));
    assert_eq!(
        after.tags.get(&format!("plinth:shares:{stack}")),
        Some(&format!(
            "bucket.shared cors/{ours_id} notification/{notification_id} policy/StackList"
        ))
    );
    assert!(!after.tags.contains_key("plinth:stack"), "{:?}", after.tags);
    assert_no_changes(&spec);

    let destroy = plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(destroy.stdout.contains("release"), "{}", destroy.stdout);
    let released = bucket_state(&bucket);
    assert_eq!(released.policy, before.policy);
    assert_eq!(released.cors, before.cors);
    assert_eq!(released.queues, before.queues);
    assert_eq!(released.topics, before.topics);
    assert_eq!(released.tags, before.tags, "plinth's record is gone");
}

#[test]
fn a_second_stack_claiming_a_statement_another_stack_manages_is_a_conflict_and_sends_nothing() {
    let alias = format!("alias/{}", unique("customer"));
    let id = customer_key(&alias);
    let (first, second) = (unique("claim-a"), unique("claim-b"));
    apply(&TempSpec::new(&shared_key_spec(&first, &alias, "Same")));
    let policy = key_policy(&id);

    // The second stack's statement says something else: still a conflict with the first
    // stack, not a takeover of a statement the key's owner wrote.
    let spec = TempSpec::new(&shared_key_spec(&second, &alias, "Same").replace(
        r#""Service": "s3.amazonaws.com""#,
        r#""AWS": "arn:aws:iam::111122223333:role/vendor""#,
    ));
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]);
    let applied = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    for run in [plan, applied] {
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        // miette wraps long messages.
        let stderr = run.stderr.replace("\n  │ ", "");
        assert!(
            stderr.contains("plan::shared-conflict")
                && stderr.contains(&format!(
                    "policy statement Same is already managed by stack `{first}`"
                ))
                && !stderr.contains("plan::shared-takeover"),
            "{stderr}"
        );
    }
    assert_eq!(key_policy(&id), policy, "nothing sent");
    assert!(!key_tags(&id).contains_key(&format!("plinth:shares:{second}")));
}

fn owned_key_spec(stack: &str, alias: &str, description: &str, extra_sid: &str) -> String {
    format!(
        r#"
[stack]
name = "{stack}"

[key.data]
description = "{description}"
aliases = ["{alias}"]
policy = {{ Version = "2012-10-17", Statement = [
  {{ Sid = "Account", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::123456789012:root" }}, Action = "kms:*", Resource = "*" }},
  {{ Sid = "{extra_sid}", Effect = "Allow", Principal = {{ Service = "logs.amazonaws.com" }}, Action = "kms:Decrypt", Resource = "*" }},
] }}
"#
    )
}

#[test]
fn the_owner_of_a_key_another_stack_shares_keeps_that_stacks_statement() {
    let alias = format!("alias/{}", unique("owned"));
    let (owner, sharer) = (unique("owner"), unique("sharer"));
    let owned = TempSpec::new(&owned_key_spec(&owner, &alias, "first", "Logs"));
    apply(&owned);
    apply(&TempSpec::new(&shared_key_spec(
        &sharer, &alias, "SharerS3",
    )));
    let id = {
        let client = kms();
        runtime().block_on(async {
            let out = client.describe_key().key_id(&alias).send().await.unwrap();
            out.key_metadata.unwrap().key_id
        })
    };
    assert_eq!(
        statement_sids(&key_policy(&id)),
        ["Account", "Logs", "SharerS3"]
    );
    assert_no_changes(&owned);

    // The owner changes its policy: the sharer's statement is kept, and the plan says so.
    let changed = TempSpec::new(&owned_key_spec(&owner, &alias, "second", "LogsToo"));
    let plan = plinth_aws(&["plan", "-f", &changed.arg()]).ok();
    assert!(
        plan.stdout.contains(&format!(
            "policy: 1 statement kept (managed by stack `{sharer}`)"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("-  \"Sid\": \"SharerS3\""),
        "{}",
        plan.stdout
    );
    apply(&changed);
    assert_eq!(
        statement_sids(&key_policy(&id)),
        ["Account", "LogsToo", "SharerS3"]
    );
    assert_no_changes(&changed);

    // The owner may not take the sharer's statement over.
    let taking = TempSpec::new(&owned_key_spec(&owner, &alias, "second", "SharerS3"));
    let run = plinth_aws(&["plan", "-f", &taking.arg()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let stderr = run.stderr.replace("\n  │ ", " ");
    assert!(
        stderr.contains("policy statement SharerS3 is already managed by")
            && stderr.contains(&format!("stack `{sharer}`")),
        "{}",
        run.stderr
    );
}

fn owned_bucket_spec(
    stack: &str,
    bucket: &str,
    queue: &str,
    origin: &str,
    rule_id: &str,
) -> String {
    format!(
        r#"
[stack]
name = "{stack}"

[queue.removals]
name = "{queue}"
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "sqs:SendMessage", Resource = "${{queue.removals.arn}}" }}] }}

[bucket.data]
name = "{bucket}"
tags = {{ team = "{origin}" }}

[[bucket.data.cors]]
{rule_id}allowed_origins = ["https://{origin}.example"]
allowed_methods = ["GET"]

[[bucket.data.notification]]
queue = "${{queue.removals.arn}}"
events = ["s3:ObjectRemoved:*"]
"#
    )
}

/// A bucket one stack owns, which another stack shares (`existing = true`) to add its CORS
/// rule and notification: the owner writes both documents whole, and keeps the sharer's
/// entries (and its record among the bucket's tags) when it changes its own.
#[test]
fn the_owner_of_a_bucket_another_stack_shares_keeps_that_stacks_cors_rule_and_notification() {
    let (owner, sharer) = (unique("bucket-owner"), unique("bucket-sharer"));
    let bucket = unique("owned-data");
    let queue = unique("owner-removals");
    let owned = TempSpec::new(&owned_bucket_spec(&owner, &bucket, &queue, "first", ""));
    apply(&owned);
    let shared = TempSpec::new(&shared_bucket_spec(
        &sharer,
        &bucket,
        &unique("sharer-uploads"),
    ));
    apply(&shared);
    let theirs_id = format!("plinth-{sharer}-shared-cors-1");
    let their_notification = format!("plinth-{sharer}-shared-notification-1");
    let record = format!("plinth:shares:{sharer}");
    let before = bucket_state(&bucket);
    assert_eq!(before.cors.len(), 2, "{:?}", before.cors);
    assert_eq!(before.queues.len(), 2, "{:?}", before.queues);
    assert_no_changes(&owned);
    assert_no_changes(&shared);

    // The owner changes its rule and its tags: the sharer's entries and record stay.
    let changed = TempSpec::new(&owned_bucket_spec(&owner, &bucket, &queue, "second", ""));
    let plan = plinth_aws(&["plan", "-f", &changed.arg()]).ok();
    for line in [
        format!("cors: 1 CORS rule kept (managed by stack `{sharer}`)"),
        format!("notifications: 1 notification kept (managed by stack `{sharer}`)"),
    ] {
        assert!(plan.stdout.contains(&line), "{line}\n{}", plan.stdout);
    }
    // The owner's rule changes, entry by entry; the sharer's is kept, so neither removed nor
    // shown.
    assert!(
        plan.stdout.lines().any(|l| l.trim() == "~ cors:"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("+ (no id): ")
                && l.contains("https://second.example"))
            && plan
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with("- (no id): ")
                    && l.contains("https://first.example")),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains(&format!("- {theirs_id}")),
        "{}",
        plan.stdout
    );
    apply(&changed);
    let after = bucket_state(&bucket);
    assert_eq!(after.cors.len(), 2, "{:?}", after.cors);
    assert_eq!(
        after.cors[0].allowed_origins(),
        ["https://second.example".to_string()]
    );
    assert_eq!(
        after.cors[1], before.cors[1],
        "the sharer's rule, unchanged"
    );
    assert_eq!(after.cors[1].id(), Some(theirs_id.as_str()));
    assert!(
        after
            .queues
            .iter()
            .any(|q| q.id() == Some(their_notification.as_str())),
        "{:?}",
        after.queues
    );
    assert_eq!(after.queues.len(), 2, "{:?}", after.queues);
    assert_eq!(after.tags.get("team").map(String::as_str), Some("second"));
    assert_eq!(after.tags.get(&record), before.tags.get(&record));
    assert_no_changes(&changed);
    assert_no_changes(&shared);

    // The owner may not take the sharer's rule over.
    let taking = TempSpec::new(&owned_bucket_spec(
        &owner,
        &bucket,
        &queue,
        "second",
        &format!("id = \"{theirs_id}\"\n"),
    ));
    let run = plinth_aws(&["plan", "-f", &taking.arg()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let stderr = run.stderr.replace("\n  │ ", " ");
    assert!(
        stderr.contains(&format!("CORS rule {theirs_id} is already managed by"))
            && stderr.contains(&format!("stack `{sharer}`")),
        "{}",
        run.stderr
    );
    assert_eq!(bucket_state(&bucket).cors, after.cors, "nothing sent");
}

fn cors_only_spec(stack: &str, bucket: &str, origin: &str) -> String {
    format!(
        r#"
[stack]
name = "{stack}"

[bucket.shared]
name = "{bucket}"
existing = true

[[bucket.shared.cors]]
allowed_origins = ["https://{origin}.example"]
allowed_methods = ["GET"]
"#
    )
}

/// Two stacks adding a CORS rule to one bucket at once: each read-modify-write of the rules
/// and of the tag set (which S3 writes whole) is checked after writing, so both rules and both
/// records end up on the bucket.
#[test]
fn two_stacks_applying_at_once_both_get_their_cors_rule_and_record_onto_one_bucket() {
    let bucket = unique("theirs-concurrent");
    let client = s3();
    runtime().block_on(async {
        client.create_bucket().bucket(&bucket).send().await.unwrap();
    });
    let (a, b) = (unique("bucket-a"), unique("bucket-b"));
    let spec_a = TempSpec::new(&cors_only_spec(&a, &bucket, "a"));
    let spec_b = TempSpec::new(&cors_only_spec(&b, &bucket, "b"));
    let (run_a, run_b) = std::thread::scope(|s| {
        let a = s.spawn(|| plinth_aws(&["apply", "-f", &spec_a.arg(), "--auto-approve"]));
        let b = s.spawn(|| plinth_aws(&["apply", "-f", &spec_b.arg(), "--auto-approve"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    run_a.ok();
    run_b.ok();
    let state = bucket_state(&bucket);
    let mut ids: Vec<&str> = state.cors.iter().filter_map(|r| r.id()).collect();
    ids.sort();
    let mut want = [
        format!("plinth-{a}-shared-cors-1"),
        format!("plinth-{b}-shared-cors-1"),
    ];
    want.sort();
    assert_eq!(ids, want, "{:?}", state.cors);
    for stack in [&a, &b] {
        assert_eq!(
            state.tags.get(&format!("plinth:shares:{stack}")),
            Some(&format!("bucket.shared cors/plinth-{stack}-shared-cors-1")),
            "{:?}",
            state.tags
        );
    }
    assert_no_changes(&spec_a);
    assert_no_changes(&spec_b);
}

/// A shared bucket's block that stops declaring its CORS rule and notification: the plan
/// reads them anyway (the stack's record names them) and shows the real removal, the other
/// team's entries on both sides; apply removes only the stack's.
#[test]
fn a_shared_bucket_block_that_stops_declaring_cors_and_notifications_plans_their_removal() {
    let stack = unique("shared-drop");
    let bucket = unique("theirs-drop");
    let their_queue = sqs_queue(&unique("their-events"));
    their_bucket(&bucket, &their_queue);
    let before = bucket_state(&bucket);
    let queue = unique("stack-uploads");
    let spec = TempSpec::new(&shared_bucket_spec(&stack, &bucket, &queue));
    apply(&spec);
    let ours_cors = format!("plinth-{stack}-shared-cors-1");
    let ours_notification = format!("plinth-{stack}-shared-notification-1");

    let full = shared_bucket_spec(&stack, &bucket, &queue);
    let without = full
        .split("[[bucket.shared.cors]]")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(spec.path(), without).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    // Each list entry by entry: the stack's entry removed, the owner's not repeated.
    let entries = |attribute: &str| -> Vec<String> {
        let lines: Vec<&str> = plan.stdout.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.trim_start() == format!("~ {attribute}:"))
            .unwrap_or_else(|| panic!("no change of {attribute}\n{}", plan.stdout));
        lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("          "))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let cors = entries("cors");
    assert!(
        cors.len() == 1 && cors[0].starts_with(&format!("- {ours_cors}: ")),
        "{cors:?}\n{}",
        plan.stdout
    );
    let notifications = entries("notifications");
    assert!(
        notifications.len() == 1
            && notifications[0].starts_with(&format!("- {ours_notification}: ")),
        "{notifications:?}\n{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("their-app") && !plan.stdout.contains("their-events"),
        "the owner's entries are not repeated:\n{}",
        plan.stdout
    );

    apply(&spec);
    let after = bucket_state(&bucket);
    assert_eq!(after.cors, before.cors);
    assert_eq!(after.queues, before.queues);
    assert_eq!(after.topics, before.topics);
    assert_eq!(
        after.tags.get(&format!("plinth:shares:{stack}")),
        Some(&"bucket.shared policy/StackList".to_string())
    );
    assert_no_changes(&spec);
}

/// A diagnostic's text without the spaces, line breaks and frame miette wraps long lines with
/// (anywhere, also inside an ARN), to look for a sentence in it.
fn flat(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

/// One customer key named by its alias in one block and by its ARN in another: the reads
/// resolve both to one key, and the plan refuses, pointing at the second block.
#[test]
fn a_key_named_by_alias_and_by_arn_in_two_blocks_is_a_located_conflict() {
    let alias = format!("alias/{}", unique("twice"));
    let id = customer_key(&alias);
    let arn = format!("arn:aws:kms:us-east-1:123456789012:key/{id}");
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{}"

[key.by_alias]
existing = true
key_id = "{alias}"

[key.by_arn]
existing = true
key_id = "{arn}"
"#,
        unique("twice")
    ));
    let run = plinth_aws(&["plan", "-f", &spec.arg()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let stderr = flat(&run.stderr);
    for wanted in [
        "plan::duplicate-name".to_string(),
        format!(
            "key.by_alias and key.by_arn name one key: `{alias}` and `{arn}` are both key `{id}`"
        ),
        "plinth.toml:8:1]".to_string(),
        "help: declare each key once".to_string(),
    ] {
        assert!(stderr.contains(&flat(&wanted)), "{wanted}\n{}", run.stderr);
    }
}

/// Another writer's read-modify-write of the bucket's tag set crosses the stack's write of
/// its record: it read the set before and writes it back after, with the record as it was.
/// The check after the write sees the record is not the one written, and writes it again.
#[test]
fn a_record_another_writers_tag_set_put_back_over_is_written_again() {
    use crate::proxy::{Fault, FaultProxy, Faults};
    let stack = unique("crossed");
    let bucket = unique("theirs-crossed");
    let client = s3();
    runtime().block_on(async {
        client.create_bucket().bucket(&bucket).send().await.unwrap();
    });
    let two = format!(
        "{}\n[[bucket.shared.cors]]\nallowed_origins = [\"https://two.example\"]\nallowed_methods = [\"GET\"]\n",
        cors_only_spec(&stack, &bucket, "one")
    );
    let spec = TempSpec::new(&two);
    apply(&spec);
    let record = format!("plinth:shares:{stack}");
    let (one, two) = (
        format!("cors/plinth-{stack}-shared-cors-1"),
        format!("cors/plinth-{stack}-shared-cors-2"),
    );
    assert_eq!(
        bucket_state(&bucket).tags.get(&record),
        Some(&format!("bucket.shared {one} {two}"))
    );

    // The second rule goes: the record's one write (the exact record, after the rules) is
    // crossed, and the set put back still names the second rule.
    std::fs::write(spec.path(), cors_only_spec(&stack, &bucket, "one")).unwrap();
    let proxy = FaultProxy::start(
        crate::support::moto(),
        Faults {
            scripted: vec![("s3:PUT tagging".into(), 1, Fault::Crossed)],
            ..Faults::none()
        },
    );
    crate::support::plinth(&[
        "apply",
        "-f",
        &spec.arg(),
        "--auto-approve",
        "--endpoint-url",
        &proxy.url,
    ])
    .ok();
    assert_eq!(proxy.counts().faults.get("Crossed"), Some(&1));
    assert_eq!(
        proxy.counts().by_operation.get("s3:PUT tagging"),
        Some(&2),
        "written, put back by the other writer, written again"
    );
    assert_eq!(
        bucket_state(&bucket).tags.get(&record),
        Some(&format!("bucket.shared {one}"))
    );
    assert_no_changes(&spec);
}

/// The principals the plan's access changes lose.
fn lost_principals(spec: &TempSpec) -> Vec<String> {
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    json["access_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "lost")
        .map(|c| c["principal"].as_str().unwrap().to_string())
        .collect()
}

/// Writes `declared` back without its `policy` (the block stays): the plan narrows access by
/// removing the statement `sid`, and only the vendor's role loses access.
fn drop_the_policy(spec: &TempSpec, declared: &str, sid: &str) {
    let without = declared.split("policy = ").next().unwrap();
    std::fs::write(spec.path(), without).unwrap();
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    assert!(
        plan.stdout
            .contains(&format!("statement {sid}: narrows access")),
        "{}",
        plan.stdout
    );
    assert_eq!(
        lost_principals(spec),
        ["arn:aws:iam::111122223333:role/vendor"]
    );
}

#[test]
fn a_shared_block_that_stops_declaring_its_statement_removes_it_and_loses_only_its_access() {
    let stack = unique("shared-key-drop");
    let alias = format!("alias/{}", unique("customer"));
    let id = customer_key(&alias);
    // The owner's own statement names one of the owner's roles: access the stack must not be
    // shown to take away.
    let mut owned = key_policy(&id);
    owned["Statement"][1]["Principal"]["AWS"] =
        serde_json::json!("arn:aws:iam::123456789012:role/customer-admin");
    let client = kms();
    runtime().block_on(async {
        client
            .put_key_policy()
            .key_id(&id)
            .policy_name("default")
            .policy(owned.to_string())
            .send()
            .await
            .unwrap()
    });
    let declared = shared_key_spec(&stack, &alias, "Vendor").replace(
        r#""Service": "s3.amazonaws.com""#,
        r#""AWS": "arn:aws:iam::111122223333:role/vendor""#,
    );
    let spec = TempSpec::new(&declared);
    apply(&spec);
    assert_eq!(statement_sids(&key_policy(&id)).len(), 3);

    // The block stays and declares no policy: its statement goes.
    drop_the_policy(&spec, &declared, "Vendor");
    apply(&spec);
    assert_eq!(
        statement_sids(&key_policy(&id)),
        ["Enable IAM User Permissions", "CustomerApp"]
    );
    assert_no_changes(&spec);

    // Declared again, then the block removed: the release loses the stack's statement alone.
    std::fs::write(spec.path(), &declared).unwrap();
    apply(&spec);
    std::fs::write(spec.path(), format!("[stack]\nname = \"{stack}\"\n")).unwrap();
    assert_eq!(
        lost_principals(&spec),
        ["arn:aws:iam::111122223333:role/vendor"]
    );
}

#[test]
fn a_shared_queue_block_that_stops_declaring_its_statement_removes_it() {
    let stack = unique("shared-queue-drop");
    let name = unique("team-queue");
    sqs_queue(&name);
    let declared = format!(
        r#"[stack]
name = "{stack}"

[queue.team]
name = "{name}"
existing = true
policy = '''{{"Version": "2012-10-17", "Statement": [{{"Sid": "VendorSend", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:role/vendor"}}, "Action": "sqs:SendMessage", "Resource": "*"}}]}}'''
"#
    );
    let spec = TempSpec::new(&declared);
    apply(&spec);
    drop_the_policy(&spec, &declared, "VendorSend");
    apply(&spec);
    let attributes = queue_attributes(&name).expect("the queue stays");
    assert!(
        attributes
            .get("Policy")
            .is_none_or(|p| !p.contains("VendorSend")),
        "{attributes:?}"
    );
    assert_no_changes(&spec);

    // Declared again, then the block removed: the queue, found by its record, is released,
    // counted and named as a release, and the vendor's access is shown going with it.
    std::fs::write(spec.path(), &declared).unwrap();
    apply(&spec);
    std::fs::write(spec.path(), format!("[stack]\nname = \"{stack}\"\n")).unwrap();
    assert_eq!(
        lost_principals(&spec),
        ["arn:aws:iam::111122223333:role/vendor"]
    );
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["summary"]["destroy"], 0, "{json}");
    assert_eq!(json["summary"]["release"], 1, "{json}");
    assert_eq!(json["resources"][0]["action"], "release", "{json}");
}

/// Two environments planned together that add one Sid to one customer key, one naming it by
/// its alias and the other by its id: the spec cannot tell they are one key, AWS's answers
/// can. The plan refuses before writing anything, as it does when both write the same name.
#[test]
fn two_environments_naming_one_key_differently_cannot_claim_one_sid() {
    let alias = format!("alias/{}", unique("envkey"));
    let id = customer_key(&alias);
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{}-${{var.env}}"

[vars]
env = "none"
key = "none"

[env.dev]
account_id = "123456789012"
vars = {{ env = "dev", key = "{alias}" }}

[env.prod]
account_id = "123456789012"
vars = {{ env = "prod", key = "{id}" }}

[key.customer]
existing = true
key_id = "${{var.key}}"
policy = {{ Version = "2012-10-17", Statement = [
  {{ Sid = "VendorDecrypt", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::111122223333:root" }}, Action = "kms:Decrypt", Resource = "*" }},
] }}
"#,
        unique("envkey")
    ));
    let out = spec.dir.path().join("both.plinth");
    let out = out.to_str().unwrap();
    let run = plinth_aws(&["plan", "-f", &spec.arg(), "--all-envs", "--out", out]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let wanted = format!(
        "environments `dev` and `prod` both add the policy statement `VendorDecrypt` to the existing key `{id}`"
    );
    assert!(
        run.stderr.contains("spec::environments-share-name")
            && flat(&run.stderr).contains(&flat(&wanted)),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("AWS was read, nothing was changed"),
        "{}",
        run.stderr
    );
    assert!(
        !std::path::Path::new(out).exists(),
        "no plan file is written"
    );
}

/// A bucket's own public access block, declared as it is (as an import writes it), is managed
/// by the stack and kept when the stack lets go: destroying the stack must not leave the
/// bucket less protected than the stack found it.
#[test]
fn a_setting_the_bucket_had_before_the_stack_is_kept_when_the_stack_lets_go() {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    let (stack, bucket) = (unique("found"), unique("found-data"));
    let all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    let client = s3();
    runtime().block_on(async {
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        let block = client.put_public_access_block().bucket(&bucket);
        block
            .public_access_block_configuration(all)
            .send()
            .await
            .unwrap();
    });
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{stack}"

[bucket.data]
name = "{bucket}"
existing = true
public_access_block = {{ block_public_acls = true, ignore_public_acls = true, block_public_policy = true, restrict_public_buckets = true }}
"#
    ));
    apply(&spec);
    assert_no_changes(&spec);
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--destroy"]).ok();
    assert!(
        plan.stdout
            .contains("with the public access block it had before this stack"),
        "{}",
        plan.stdout
    );
    plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
    let block = runtime().block_on(async {
        let got = client
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await;
        got.ok().and_then(|o| o.public_access_block_configuration)
    });
    assert_eq!(
        block.and_then(|b| b.block_public_policy),
        Some(true),
        "the bucket keeps its block"
    );
    assert!(
        !bucket_state(&bucket)
            .tags
            .keys()
            .any(|k| k.starts_with("plinth:")),
        "the stack let go"
    );
}

/// A key another stack shares (`existing = true`) is nobody's to adopt: adopting it would take
/// that stack's statement and aliases, and let this stack delete the key. The plan refuses and
/// names the sharing stack; nothing changes.
#[test]
fn adopting_a_resource_another_stack_shares_is_refused() {
    let sharer = unique("sharer");
    let alias = format!("alias/{}", unique("customer"));
    let id = customer_key(&alias);
    let shared = TempSpec::new(&shared_key_spec(&sharer, &alias, "SharerS3"));
    apply(&shared);
    let before = key_policy(&id);
    let adopter = TempSpec::new(&format!(
        "[stack]\nname = \"{}\"\n\n[key.k]\naliases = [\"{alias}\"]\ndescription = \"taken over\"\nadopt = true\n",
        unique("adopter")
    ));
    let plan = plinth_aws(&["plan", "-f", &adopter.arg()]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains("plan::conflict")
            && plan.stderr.contains("shared by stack `sharer-")
            && plan.stderr.contains("`existing = true`"),
        "{}",
        plan.stderr
    );
    let apply = plinth_aws(&["apply", "-f", &adopter.arg(), "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert_eq!(key_policy(&id), before);
    assert_no_changes(&shared);
}
