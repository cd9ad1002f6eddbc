//! SQS queues, Lambda functions and S3 buckets end to end against moto: create, no changes,
//! update in place, replace, delete when removed from the spec, and look-alikes that no stack
//! owns left alone.

use std::collections::HashMap;

use crate::support::{self, plinth_aws, queue_attributes, runtime, sdk, unique, Run, TempSpec};

fn apply(spec: &TempSpec) -> Run {
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok()
}

#[track_caller]
fn assert_no_changes(spec: &TempSpec) {
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

#[track_caller]
fn plan_contains(spec: &TempSpec, lines: &[&str]) -> Run {
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]).ok();
    for line in lines {
        assert!(
            plan.stdout.contains(line),
            "expected `{line}` in\n{}",
            plan.stdout
        );
    }
    plan
}

fn sqs() -> aws_sdk_sqs::Client {
    runtime().block_on(async { aws_sdk_sqs::Client::new(&sdk().await) })
}

fn queues_spec(stack: &str, prefix: &str, visibility: u32, fifo_name: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[queue.dlq]
name = "{prefix}-dlq"

[queue.work]
name = "{prefix}-work"
visibility_timeout = {visibility}
receive_wait = 20
redrive = {{ queue = "${{queue.dlq.arn}}", max_receive_count = 5 }}
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "sqs:SendMessage", Resource = "${{queue.work.arn}}" }}] }}
tags = {{ team = "data" }}

[queue.ordered]
name = "{fifo_name}"
content_based_deduplication = true
"#
    )
}

#[test]
fn queues_are_created_updated_replaced_and_deleted() {
    let (stack, prefix) = (unique("queues"), unique("tonic"));
    let stray = format!("{prefix}-stray");
    let client = sqs();
    runtime().block_on(async {
        client
            .create_queue()
            .queue_name(&stray)
            .send()
            .await
            .unwrap()
    });
    let fifo = format!("{prefix}-ordered.fifo");
    let spec = TempSpec::new(&queues_spec(&stack, &prefix, 60, &fifo));

    plan_contains(
        &spec,
        &[
            "+ queue.work will be created",
            "+ queue.dlq will be created",
            "+ queue.ordered will be created",
        ],
    );
    apply(&spec);
    // Retention, delay and the rest are SQS's defaults, which the spec leaves unmanaged.
    assert_no_changes(&spec);
    let work = queue_attributes(&format!("{prefix}-work")).unwrap();
    assert_eq!(work["VisibilityTimeout"], "60");
    assert!(
        work["RedrivePolicy"].contains(&format!("{prefix}-dlq")),
        "{work:?}"
    );
    assert_eq!(
        queue_attributes(&fifo).unwrap()["ContentBasedDeduplication"],
        "true"
    );

    // In place: one attribute and a tag.
    let updated =
        queues_spec(&stack, &prefix, 120, &fifo).replace("team = \"data\"", "team = \"platform\"");
    std::fs::write(spec.path(), &updated).unwrap();
    plan_contains(
        &spec,
        &[
            "~ queue.work will be updated in place",
            "~ visibility_timeout = 60 -> 120",
            "Plan: 0 to add, 1 to change",
        ],
    );
    apply(&spec);
    let work = queue_attributes(&format!("{prefix}-work")).unwrap();
    assert_eq!(work["VisibilityTimeout"], "120");
    assert!(
        work.contains_key("Policy"),
        "the policy survives an attribute update: {work:?}"
    );
    assert_no_changes(&spec);

    // A new name replaces the queue.
    let renamed = format!("{prefix}-sequence.fifo");
    std::fs::write(spec.path(), updated.replace(&fifo, &renamed)).unwrap();
    plan_contains(
        &spec,
        &["-/+ queue.ordered must be replaced", "# forces replacement"],
    );
    apply(&spec);
    assert!(queue_attributes(&fifo).is_none());
    assert_eq!(queue_attributes(&renamed).unwrap()["FifoQueue"], "true");
    assert_no_changes(&spec);

    // Gone from the spec, gone from the account.
    let without_fifo = updated.split("[queue.ordered]").next().unwrap().to_string();
    std::fs::write(spec.path(), without_fifo).unwrap();
    plan_contains(
        &spec,
        &["- queue.ordered will be destroyed (no longer in the spec)"],
    );
    apply(&spec);
    assert!(queue_attributes(&renamed).is_none());
    assert_no_changes(&spec);
    assert!(
        queue_attributes(&stray).is_some(),
        "a queue no stack owns is never touched"
    );
}

#[test]
fn queue_rules_are_checked_before_anything_is_sent() {
    let spec = TempSpec::new(
        "[stack]\nname = \"q\"\n\n[queue.q]\nname = \"plain\"\ncontent_based_deduplication = true\nvisibility_timeout = 50000\nkms_data_key_reuse = 300\n",
    );
    let run = crate::support::plinth(&["validate", "-f", &spec.arg()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("content_based_deduplication applies only to FIFO queues"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("visibility_timeout is 50000; AWS allows 0 to 43200"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("kms_data_key_reuse applies only to queues encrypted with kms_key"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("plinth.toml:"),
        "located: {}",
        run.stderr
    );
}

const LAMBDA_TRUST: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;

fn function_spec(
    stack: &str,
    prefix: &str,
    function: &str,
    memory: u32,
    batch_size: u32,
) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.lambda]
name = "{prefix}-lambda"
trust = '{LAMBDA_TRUST}'
policies = {{ queue = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource = "${{queue.work.arn}}" }}] }} }}

[queue.work]
name = "{prefix}-work"
visibility_timeout = 120

[function.worker]
name = "{function}"
role = "${{role.lambda.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ dir = "src" }}
timeout = 60
memory = {memory}
description = "Processes Structural's data files"
tags = {{ team = "data" }}

[function.worker.environment]
QUEUE_URL = "${{queue.work.url}}"
API_TOKEN = {{ secret = "hunter2-the-secret" }}

[[function.worker.trigger]]
queue = "${{queue.work.arn}}"
batch_size = {batch_size}
batching_window = 5
function_response_types = ["ReportBatchItemFailures"]
"#
    )
}

fn lambda() -> aws_sdk_lambda::Client {
    runtime().block_on(async { aws_sdk_lambda::Client::new(&sdk().await) })
}

fn function_config(name: &str) -> Option<aws_sdk_lambda::types::FunctionConfiguration> {
    let client = lambda();
    runtime()
        .block_on(async {
            client
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .ok()
        })
        .map(|o| {
            aws_sdk_lambda::types::FunctionConfiguration::builder()
                .set_memory_size(o.memory_size)
                .set_code_sha256(o.code_sha256)
                .set_environment(o.environment)
                .build()
        })
}

fn mappings(function: &str) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
    let client = lambda();
    runtime().block_on(async {
        client
            .list_event_source_mappings()
            .function_name(function)
            .send()
            .await
            .unwrap()
            .event_source_mappings
            .unwrap_or_default()
    })
}

#[test]
fn functions_with_code_secrets_and_triggers_are_created_updated_replaced_and_deleted() {
    let (stack, prefix) = (unique("functions"), unique("tonic"));
    let function = format!("{prefix}-worker");
    let spec = TempSpec::new(&function_spec(&stack, &prefix, &function, 1024, 10));
    spec.write(
        "src/main.py",
        "def handler(event, context):\n    return 1\n",
    );

    // A look-alike no stack owns, made with the same role.
    let stray = format!("{prefix}-stray");
    let plan = plan_contains(
        &spec,
        &[
            "+ function.worker will be created",
            "API_TOKEN = (sensitive)",
        ],
    );
    assert!(
        !plan.stdout.contains("hunter2") && !plan.stderr.contains("hunter2"),
        "a secret is never shown\n{}",
        plan.stdout
    );
    apply(&spec);
    let client = lambda();
    runtime().block_on(async {
        let role = client
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        client
            .create_function()
            .function_name(&stray)
            .role(role)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .handler("main.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(
                        b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
                    ))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    // The default timeout, ephemeral storage and architecture are unmanaged; the secret
    // compares by hash; the directory zips to the same bytes.
    assert_no_changes(&spec);
    let live = function_config(&function).unwrap();
    assert_eq!(live.memory_size(), Some(1024));
    let vars = live.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(vars["API_TOKEN"], "hunter2-the-secret");
    assert!(
        vars["QUEUE_URL"].ends_with(&format!("{prefix}-work")),
        "{vars:?}"
    );
    let m = mappings(&function);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].batch_size(), Some(10));

    // In place: memory, a secret, and the trigger's batch size.
    let updated = function_spec(&stack, &prefix, &function, 2048, 100)
        .replace("hunter2-the-secret", "correct-horse");
    std::fs::write(spec.path(), &updated).unwrap();
    let plan = plan_contains(
        &spec,
        &[
            "~ function.worker will be updated in place",
            "~ memory",
            "Plan: 0 to add, 1 to change",
        ],
    );
    assert!(
        !plan.stdout.contains("hunter2") && !plan.stdout.contains("correct-horse"),
        "{}",
        plan.stdout
    );
    apply(&spec);
    let live = function_config(&function).unwrap();
    assert_eq!(live.memory_size(), Some(2048));
    assert_eq!(
        live.environment().and_then(|e| e.variables()).unwrap()["API_TOKEN"],
        "correct-horse"
    );
    assert_eq!(mappings(&function)[0].batch_size(), Some(100));
    assert_no_changes(&spec);

    // New code is an in-place update of the code.
    let before = function_config(&function)
        .unwrap()
        .code_sha256()
        .unwrap()
        .to_string();
    spec.write(
        "src/main.py",
        "def handler(event, context):\n    return 2\n",
    );
    plan_contains(&spec, &["~ code = \"sha256:"]);
    apply(&spec);
    assert_ne!(
        function_config(&function).unwrap().code_sha256().unwrap(),
        before
    );
    assert_no_changes(&spec);

    // A new name replaces the function, trigger included.
    let renamed = format!("{prefix}-processor");
    std::fs::write(spec.path(), updated.replace(&function, &renamed)).unwrap();
    plan_contains(&spec, &["-/+ function.worker must be replaced"]);
    apply(&spec);
    assert!(function_config(&function).is_none());
    assert!(
        mappings(&function).is_empty(),
        "the old function's trigger went with it"
    );
    assert_eq!(mappings(&renamed).len(), 1);
    assert_no_changes(&spec);

    // Gone from the spec, gone from the account.
    let without = updated.replace(&function, &renamed);
    let without = without.split("[function.worker]").next().unwrap();
    std::fs::write(spec.path(), without).unwrap();
    plan_contains(
        &spec,
        &["- function.worker will be destroyed (no longer in the spec)"],
    );
    apply(&spec);
    assert!(function_config(&renamed).is_none());
    assert!(mappings(&renamed).is_empty());
    assert_no_changes(&spec);
    assert!(
        function_config(&stray).is_some(),
        "a function no stack owns is never touched"
    );
}

#[test]
fn function_rules_are_checked_before_anything_is_sent() {
    let spec = TempSpec::new(
        r#"[stack]
name = "f"

[function.f]
name = "f"
role = "arn:aws:iam::123456789012:role/r"
runtime = "python3.12"
code = { dir = "missing" }
memory = 64
timeout = 901

[[function.f.trigger]]
queue = "arn:aws:sqs:us-east-1:123456789012:q"
batch_size = 50
function_response_types = ["Everything"]
"#,
    );
    let run = crate::support::plinth(&["validate", "-f", &spec.arg()]);
    assert_eq!(run.code, 1);
    for expected in [
        "cannot zip",
        "memory is 64; AWS allows 128 to 10240",
        "timeout is 901; AWS allows 1 to 900",
        "batch_size above 10 needs a batching_window",
        "`Everything` is not a function response type",
    ] {
        assert!(
            run.stderr.contains(expected),
            "expected `{expected}` in\n{}",
            run.stderr
        );
    }
}

fn s3() -> aws_sdk_s3::Client {
    runtime().block_on(async {
        let config = sdk().await;
        support::s3(&config)
    })
}

fn bucket_tags(name: &str) -> Option<HashMap<String, String>> {
    let client = s3();
    runtime().block_on(async {
        client.head_bucket().bucket(name).send().await.ok()?;
        let tags = client
            .get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map(|o| o.tag_set)
            .unwrap_or_default();
        Some(tags.into_iter().map(|t| (t.key, t.value)).collect())
    })
}

fn cors_max_age(name: &str) -> Option<i32> {
    let client = s3();
    runtime().block_on(async {
        let out = client.get_bucket_cors().bucket(name).send().await.ok()?;
        out.cors_rules()[0].max_age_seconds()
    })
}

fn notification_queues(name: &str) -> Vec<String> {
    let client = s3();
    runtime().block_on(async {
        match client
            .get_bucket_notification_configuration()
            .bucket(name)
            .send()
            .await
        {
            Ok(out) => out
                .queue_configurations()
                .iter()
                .map(|q| q.queue_arn().to_string())
                .collect(),
            // moto answers an empty body (which the SDK cannot parse) when there are none.
            Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => Vec::new(),
            Err(e) => panic!("{e:?}"),
        }
    })
}

fn buckets_spec(stack: &str, prefix: &str, owned: &str, theirs: &str, max_age: u32) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[queue.uploads]
name = "{prefix}-uploads"
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "sqs:SendMessage", Resource = "${{queue.uploads.arn}}" }}] }}

[bucket.data]
name = "{owned}"
public_access_block = {{ block_public_acls = true, ignore_public_acls = true, block_public_policy = true, restrict_public_buckets = true }}
encryption = {{ sse = "s3" }}
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::${{aws.account_id}}:root" }}, Action = "s3:GetObject", Resource = "arn:aws:s3:::{owned}/*" }}] }}
tags = {{ team = "data" }}

[[bucket.data.cors]]
allowed_origins = ["https://app.ganymede.bio"]
allowed_methods = ["GET", "PUT"]
allowed_headers = ["*"]
max_age = {max_age}

[[bucket.data.notification]]
queue = "${{queue.uploads.arn}}"
events = ["s3:ObjectCreated:*"]
prefix = "incoming/"

[bucket.theirs]
name = "{theirs}"
existing = true

[[bucket.theirs.notification]]
queue = "${{queue.uploads.arn}}"
events = ["s3:ObjectCreated:*"]
suffix = ".csv"
"#
    )
}

#[test]
fn buckets_owned_and_existing_are_created_updated_replaced_and_released() {
    let (stack, prefix) = (unique("buckets"), unique("tonic"));
    let (owned, theirs, stray) = (
        format!("{prefix}-data"),
        format!("{prefix}-theirs"),
        format!("{prefix}-stray"),
    );
    let spec = TempSpec::new(&buckets_spec(&stack, &prefix, &owned, &theirs, 3000));

    // An existing bucket is never created.
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stderr
            .contains(&format!("bucket `{theirs}` does not exist")),
        "{}",
        plan.stderr
    );

    let client = s3();
    runtime().block_on(async {
        for name in [&theirs, &stray] {
            client.create_bucket().bucket(name).send().await.unwrap();
        }
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .tag_set(
                aws_sdk_s3::types::Tag::builder()
                    .key("owner")
                    .value("them")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        client
            .put_bucket_tagging()
            .bucket(&theirs)
            .tagging(tagging)
            .send()
            .await
            .unwrap();
    });
    plan_contains(
        &spec,
        &[
            "+ bucket.data will be created",
            "~ bucket.theirs (existing bucket) will be updated in place",
        ],
    );
    apply(&spec);
    assert_no_changes(&spec);
    assert_eq!(cors_max_age(&owned), Some(3000));
    assert_eq!(notification_queues(&theirs).len(), 1);
    assert_eq!(
        bucket_tags(&theirs).unwrap()["owner"],
        "them",
        "an existing bucket keeps its own tags"
    );

    // In place.
    let updated = buckets_spec(&stack, &prefix, &owned, &theirs, 600);
    std::fs::write(spec.path(), &updated).unwrap();
    plan_contains(
        &spec,
        &[
            "~ bucket.data will be updated in place",
            "Plan: 0 to add, 1 to change",
        ],
    );
    apply(&spec);
    assert_eq!(cors_max_age(&owned), Some(600));
    assert_no_changes(&spec);

    // A new name replaces the owned bucket.
    let renamed = format!("{prefix}-archive");
    let renamed_spec = updated
        .replace(&format!("\"{owned}\""), &format!("\"{renamed}\""))
        .replace(&format!(":::{owned}/"), &format!(":::{renamed}/"));
    std::fs::write(spec.path(), &renamed_spec).unwrap();
    plan_contains(&spec, &["-/+ bucket.data must be replaced"]);
    apply(&spec);
    assert!(bucket_tags(&owned).is_none());
    assert_eq!(cors_max_age(&renamed), Some(600));
    assert_no_changes(&spec);

    // A bucket holding objects is deleted only with force_destroy.
    runtime().block_on(async {
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"a,b\n");
        client
            .put_object()
            .bucket(&renamed)
            .key("incoming/x.csv")
            .body(body)
            .send()
            .await
            .unwrap();
    });
    let only_queue = renamed_spec
        .split("[bucket.data]")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(spec.path(), &only_queue).unwrap();
    plan_contains(
        &spec,
        &[
            "- bucket.data will be destroyed",
            // Someone else's bucket is released: its settings and plinth's tags go, it stays.
            "~ bucket.theirs (existing bucket) will be released: plinth removes the parts it manages (",
        ],
    );
    let refused = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("plinth deletes them only with force_destroy = true"),
        "{}",
        refused.stderr
    );
    assert!(bucket_tags(&renamed).is_some());
    // Releasing the existing bucket went ahead: its notification is gone, the bucket stays.
    assert!(notification_queues(&theirs).is_empty());
    let tags = bucket_tags(&theirs).expect("an existing bucket is never deleted");
    assert_eq!(tags.get("owner").map(String::as_str), Some("them"));
    assert!(!tags.contains_key("plinth:stack"), "{tags:?}");

    std::fs::write(
        spec.path(),
        renamed_spec
            .replace("[bucket.data]\n", "[bucket.data]\nforce_destroy = true\n")
            .split("[bucket.theirs]")
            .next()
            .unwrap(),
    )
    .unwrap();
    plan_contains(&spec, &["~ force_destroy = false -> true"]);
    apply(&spec);
    std::fs::write(spec.path(), &only_queue).unwrap();
    apply(&spec);
    assert!(bucket_tags(&renamed).is_none(), "emptied and deleted");
    assert_no_changes(&spec);
    assert!(
        bucket_tags(&stray).is_some(),
        "a bucket no stack owns is never touched"
    );
}

#[test]
fn two_blocks_for_one_bucket_are_refused() {
    let (stack, prefix) = (unique("twice"), unique("tonic"));
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\n\n[bucket.a]\nname = \"{prefix}-b\"\n\n[bucket.b]\nname = \"{prefix}-b\"\ncors = [{{ allowed_origins = [\"*\"], allowed_methods = [\"GET\"] }}]\n"
    ));
    let plan = plinth_aws(&["plan", "-f", &spec.arg()]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stderr.contains(&format!(
            "bucket.a and bucket.b both name bucket `{prefix}-b`"
        )),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("plinth.toml:"),
        "located: {}",
        plan.stderr
    );
}

/// Creating a queue is one `CreateQueue`: its ARN follows from the URL SQS returns, so apply
/// asks for no attribute afterwards, and the ARN it reports is the queue's.
#[test]
fn creating_a_queue_asks_for_no_attribute_afterwards() {
    use crate::proxy::{FaultProxy, Faults};
    let (stack, name) = (unique("qcalls"), unique("tonic-q"));
    let spec = TempSpec::new(&format!(
        r#"
[stack]
name = "{stack}"

[queue.work]
name = "{name}"
visibility_timeout = 120

[outputs]
QUEUE_ARN = "${{queue.work.arn}}"
"#
    ));
    let proxy = FaultProxy::start(support::moto(), Faults::none());
    let apply = support::plinth(&[
        "apply",
        "-f",
        &spec.arg(),
        "--auto-approve",
        "--endpoint-url",
        &proxy.url,
    ])
    .ok();
    let calls = proxy.counts().by_operation;
    assert_eq!(calls.get("sqs:CreateQueue"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("sqs:GetQueueAttributes"), None, "{calls:?}");
    assert!(
        apply.stdout.contains(&format!(
            "QUEUE_ARN=arn:aws:sqs:us-east-1:123456789012:{name}"
        )),
        "{}",
        apply.stdout
    );
    assert_eq!(
        queue_attributes(&name).unwrap()["QueueArn"],
        format!("arn:aws:sqs:us-east-1:123456789012:{name}")
    );
}

/// References in a CORS rule and in a notification's filter are filled in like any other
/// string: S3 holds the values, and a variable given another value is a change.
#[test]
fn cors_rules_and_notification_filters_fill_in_their_references() {
    let (stack, name) = (unique("corsvars"), unique("corsvars"));
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{stack}"

[vars]
app = "app.example.com"
area = "incoming"

[queue.q]
name = "{name}"
policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "s3.amazonaws.com" }}, Action = "sqs:SendMessage", Resource = "${{queue.q.arn}}", Condition = {{ ArnLike = {{ "aws:SourceArn" = "${{bucket.b.arn}}" }} }} }}] }}

[bucket.b]
name = "{name}"

[[bucket.b.cors]]
id = "web-${{var.area}}"
allowed_origins = ["https://${{var.app}}"]
allowed_methods = ["GET"]

[[bucket.b.notification]]
id = "new-${{var.area}}"
queue = "${{queue.q.arn}}"
events = ["s3:ObjectCreated:*"]
prefix = "${{var.area}}/"
"#
    ));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let client = s3();
    let (origins, id, prefix) = runtime().block_on(async {
        let cors = client.get_bucket_cors().bucket(&name).send().await.unwrap();
        let rule = &cors.cors_rules()[0];
        let notifications = client
            .get_bucket_notification_configuration()
            .bucket(&name)
            .send()
            .await
            .unwrap();
        let queue = &notifications.queue_configurations()[0];
        let prefix = queue
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules()[0].value().unwrap_or_default().to_string());
        (
            rule.allowed_origins().to_vec(),
            rule.id().map(str::to_string),
            prefix,
        )
    });
    assert_eq!(origins, ["https://app.example.com"]);
    assert_eq!(id.as_deref(), Some("web-incoming"));
    assert_eq!(prefix.as_deref(), Some("incoming/"));
    let other = plinth_aws(&[
        "plan",
        "-f",
        &spec.arg(),
        "--var",
        "app=other.example.com",
        "--detailed-exitcode",
    ]);
    assert_eq!(other.code, 2, "{}{}", other.stdout, other.stderr);
    assert!(
        other.stdout.contains("\"https://other.example.com\""),
        "{}",
        other.stdout
    );
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}
