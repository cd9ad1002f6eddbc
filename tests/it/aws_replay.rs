//! plinth against AWS's own answers, replayed from `fixtures/aws/` (bodies recorded against real
//! AWS; see each folder's README): every read a plan makes parses, a live value in AWS's normal
//! form of what the spec says is no change, each protocol's not-found error is "absent" and its
//! other errors are one line naming the call, and a damaged answer is an error naming the call
//! and the resource, never a panic and never "absent".

use crate::replay::{empty_listings, Replay, Route};
use crate::support::{plinth, Run, TempSpec};

/// Plans `spec` against a replay of `routes` (plus the empty discovery listings).
fn plan(spec: &TempSpec, routes: Vec<Route>) -> (Run, Vec<String>) {
    let mut all = routes;
    all.extend(empty_listings());
    let replay = Replay::start(all);
    let path = spec.arg();
    let run = plinth(&[
        "plan",
        "-f",
        &path,
        "--detailed-exitcode",
        "--endpoint-url",
        &replay.url,
        "--max-attempts",
        "1",
    ]);
    (run, replay.unmatched())
}

#[track_caller]
fn assert_no_changes((run, unmatched): (Run, Vec<String>)) {
    assert!(
        unmatched.is_empty(),
        "requests without a fixture: {unmatched:?}"
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

/// The trust policy as a person writes it: lists of one, a bare account id, and the condition
/// value that holds percent signs of its own (IAM encodes the document once more).
const ROLE_SPEC: &str = r#"[stack]
name = "replay"

[role.worker]
name = "replay-worker"
description = "Replayed role"
tags = { test = "value" }
trust = '''
{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": { "Service": ["lambda.amazonaws.com"] },
            "Action": ["sts:AssumeRole"],
            "Condition": { "StringEquals": { "aws:SourceArn": ["arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Faaeeieije"] } }
        },
        {
            "Effect": "Allow",
            "Principal": { "AWS": ["${aws.account_id}"] },
            "Action": "sts:AssumeRole"
        }
    ]
}
'''

[role.worker.policies.apigateway-tags]
Version = "2012-10-17"
Statement = [
  { Effect = "Allow", Action = "apigatway:PUT", Resource = "arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2Faaeeieije" },
]

[[role.worker.silence]]
lint = "P016"
policy = "policies.apigateway-tags"
reason = "the recorded AWS document's own misspelled prefix, which IAM accepted"

[policy.read]
name = "replay-read"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetBucketLocation", "s3:ListAllMyBuckets"], Resource = ["arn:aws:s3:::*"] }] }

[[policy.read.silence]]
lint = "P018"
reason = "the recorded AWS document, as it was written"
"#;

fn iam_routes() -> Vec<Route> {
    vec![
        Route::ok("iam:GetRole", "iam/GetRole.xml"),
        Route::ok("iam:ListRolePolicies", "iam/ListRolePolicies.xml"),
        Route::ok("iam:GetRolePolicy", "iam/GetRolePolicy.xml"),
        Route::ok("iam:GetPolicy", "iam/GetPolicy.xml"),
        Route::ok("iam:GetPolicyVersion", "iam/GetPolicyVersion.xml"),
    ]
}

#[test]
fn iam_roles_and_policies_in_iams_normal_form_are_no_change() {
    assert_no_changes(plan(&TempSpec::new(ROLE_SPEC), iam_routes()));
}

/// KMS's default key policy, written with the bare account id.
const KEY_SPEC: &str = r#"[stack]
name = "replay"

[key.data]
description = "test key 123"
aliases = ["alias/replay-data"]
rotation = true
policy = '''
{
    "Version": "2012-10-17",
    "Id": "key-default-1",
    "Statement": [
        { "Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": { "AWS": "${aws.account_id}" }, "Action": ["kms:*"], "Resource": "*" }
    ]
}
'''

[[key.data.silence]]
lint = "P003"
statement = "Enable IAM User Permissions"
reason = "KMS's default key policy"
"#;

fn kms_routes() -> Vec<Route> {
    vec![
        Route::ok("kms:DescribeKey", "kms/DescribeKey.json"),
        Route::ok("kms:ListResourceTags", "kms/ListResourceTags.json"),
        Route::ok("kms:ListAliases", "kms/ListAliases.json").when("KeyId"),
        Route::ok("kms:GetKeyPolicy", "kms/GetKeyPolicy-default.json"),
        Route::ok("kms:GetKeyRotationStatus", "kms/GetKeyRotationStatus.json"),
    ]
}

#[test]
fn a_key_with_kmss_default_policy_is_no_change() {
    assert_no_changes(plan(&TempSpec::new(KEY_SPEC), kms_routes()));
}

/// SQS hands back the policy and the redrive policy as strings of JSON, the policy's action
/// with SQS's own capitals.
const QUEUE_SPEC: &str = r#"[stack]
name = "replay"

[queue.work]
name = "replay-work"
visibility_timeout = 20
receive_wait = 10
redrive = { queue = "arn:aws:sqs:us-east-1:${aws.account_id}:replay-dlq", max_receive_count = 5 }
policy = '''
{
    "Version": "2008-10-17",
    "Id": "arn:aws:sqs:us-east-1:123456789012:replay-work/SQSDefaultPolicy",
    "Statement": [
        { "Sid": "crossaccountpermission", "Effect": "Allow", "Principal": { "AWS": ["${aws.account_id}"] }, "Action": ["sqs:ReceiveMessage"], "Resource": "${queue.work.arn}" }
    ]
}
'''
"#;

fn sqs_routes() -> Vec<Route> {
    vec![
        Route::ok("sqs:GetQueueUrl", "sqs/GetQueueUrl.json"),
        Route::ok("sqs:GetQueueAttributes", "sqs/GetQueueAttributes.json"),
        Route::ok("sqs:ListQueueTags", "sqs/ListQueueTags.json"),
    ]
}

#[test]
fn a_queue_whose_policies_come_back_as_strings_is_no_change() {
    assert_no_changes(plan(&TempSpec::new(QUEUE_SPEC), sqs_routes()));
}

const FUNCTION_SPEC: &str = r#"[stack]
name = "replay"

[function.worker]
name = "replay-worker"
description = "Changed-Description"
role = "arn:aws:iam::${aws.account_id}:role/replay-worker"
runtime = "python3.11"
handler = "handler.handler"
code = { dir = "code" }
timeout = 10
memory = 512
environment = { ENV_A = "a" }

[[function.worker.trigger]]
queue = "arn:aws:sqs:us-east-1:${aws.account_id}:replay-work"
batch_size = 10
"#;

fn function_spec() -> TempSpec {
    let spec = TempSpec::new(FUNCTION_SPEC);
    spec.write(
        "code/handler.py",
        "def handler(event, context):\n    return None\n",
    );
    spec
}

fn lambda_routes() -> Vec<Route> {
    vec![
        Route::ok("lambda:GET functions", "lambda/GetFunction.json")
            .when("/functions/replay-worker"),
        Route::ok(
            "lambda:GET event-source-mappings",
            "lambda/ListEventSourceMappings.json",
        ),
    ]
}

#[test]
fn a_function_with_its_state_update_status_and_a_creating_mapping_is_no_change() {
    assert_no_changes(plan(&function_spec(), lambda_routes()));
}

const BUCKET_SPEC: &str = r#"[stack]
name = "replay"

[bucket.data]
name = "replay-data"
policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = "*", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::replay-data/*" }] }

[[bucket.data.cors]]
allowed_origins = ["https://test.com", "https://app.test.com", "http://test.com:80"]
allowed_methods = ["GET", "PUT", "HEAD"]
allowed_headers = ["x-amz-expected-bucket-owner", "x-amz-server-side-encryption-customer-algorithm"]
max_age = 3000

[[bucket.data.notification]]
queue = "arn:aws:sqs:us-east-1:${aws.account_id}:replay-events"
events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]
prefix = "testupload/"
suffix = "testfile.txt"

[[bucket.data.silence]]
lint = "P002"
policy = "policy"
reason = "a public bucket in a recorded answer"
"#;

fn s3_routes() -> Vec<Route> {
    vec![
        Route::ok("s3:GET tagging", "s3/GetBucketTagging.xml"),
        Route::ok("s3:GET policy", "s3/GetBucketPolicy.json"),
        Route::ok("s3:GET cors", "s3/GetBucketCors.xml"),
        Route::ok(
            "s3:GET notification",
            "s3/GetBucketNotificationConfiguration.xml",
        ),
    ]
}

#[test]
fn a_bucket_with_aws_generated_notification_ids_is_no_change() {
    assert_no_changes(plan(&TempSpec::new(BUCKET_SPEC), s3_routes()));
}

/// One resource of each service, none of them there: every protocol's not-found error.
const ABSENT_SPEC: &str = r#"[stack]
name = "replay"

[role.worker]
name = "replay-worker"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[key.data]
description = "test key 123"
aliases = ["alias/replay-data"]

[queue.work]
name = "replay-work"

[function.worker]
name = "replay-worker"
role = "arn:aws:iam::${aws.account_id}:role/replay-worker"
runtime = "python3.11"
handler = "handler.handler"
code = { dir = "code" }

[bucket.data]
name = "replay-data"
"#;

fn not_found_routes() -> Vec<Route> {
    vec![
        Route::error("iam:GetRole", 404, "iam/NoSuchEntity.xml"),
        Route::error("kms:DescribeKey", 400, "kms/NotFoundException.json"),
        Route::error("sqs:GetQueueUrl", 400, "sqs/QueueDoesNotExist.json").header(
            "x-amzn-query-error",
            "AWS.SimpleQueueService.NonExistentQueue;Sender",
        ),
        Route::error(
            "lambda:GET functions",
            404,
            "lambda/ResourceNotFoundException.json",
        )
        .when("/functions/replay-worker")
        .header("x-amzn-errortype", "ResourceNotFoundException"),
        Route::error("s3:GET tagging", 404, "s3/NoSuchBucket.xml"),
    ]
}

#[test]
fn each_protocols_not_found_error_is_a_resource_to_create() {
    let spec = TempSpec::new(ABSENT_SPEC);
    spec.write(
        "code/handler.py",
        "def handler(event, context):\n    return None\n",
    );
    let (run, unmatched) = plan(&spec, not_found_routes());
    assert!(
        unmatched.is_empty(),
        "requests without a fixture: {unmatched:?}"
    );
    // 2: changes; a role trusted by Lambda alone lets no one in from outside the account, so
    // the default gate (`--fail-on external`) does not fire.
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for address in [
        "role.worker",
        "key.data",
        "queue.work",
        "function.worker",
        "bucket.data",
    ] {
        assert!(
            run.stdout.contains(&format!("+ {address} will be created")),
            "{address} in\n{}",
            run.stdout
        );
    }
}

/// Each protocol's AccessDenied: the plan stops with one line naming the call, the resource and
/// AWS's message, and the hint.
#[test]
fn each_protocols_access_denied_names_the_call_and_the_resource() {
    let cases: [(&str, Route, &str); 5] = [
        (
            ROLE_SPEC,
            Route::error("iam:GetRole", 403, "iam/AccessDenied.xml"),
            "iam:GetRole (role.worker, replay-worker): AccessDenied: User: arn:aws:iam::123456789012:user/replay-deployer is not authorized to perform: iam:GetRole",
        ),
        (
            KEY_SPEC,
            Route::error("kms:DescribeKey", 400, "kms/AccessDeniedException.json"),
            "kms:DescribeKey (key.data, alias/replay-data): AccessDeniedException: User:",
        ),
        (
            QUEUE_SPEC,
            Route::error("sqs:GetQueueUrl", 400, "sqs/AccessDenied.json")
                .header("x-amzn-query-error", "AccessDenied;Sender"),
            "(queue.work, replay-work): AccessDenied: User:",
        ),
        (
            FUNCTION_SPEC,
            Route::error("lambda:GET functions", 403, "lambda/AccessDeniedException.json")
                .when("/functions/replay-worker")
                .header("x-amzn-errortype", "AccessDeniedException"),
            "lambda:GetFunction (function.worker, replay-worker): AccessDeniedException: User:",
        ),
        (
            BUCKET_SPEC,
            Route::error("s3:GET tagging", 403, "s3/AccessDenied.xml"),
            "(bucket.data, replay-data): AccessDenied: Access Denied",
        ),
    ];
    for (spec, route, expected) in cases {
        let spec = TempSpec::new(spec);
        spec.write(
            "code/handler.py",
            "def handler(event, context):\n    return None\n",
        );
        // The first route that matches answers: the refusal, then the account's other
        // answers, so that the refusal is the one error whichever read finishes first.
        let mut routes = vec![route];
        routes.extend(iam_routes());
        let (run, _) = plan(&spec, routes);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(expected),
            "`{expected}` in\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("plinth permissions"),
            "the hint in\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

/// A damaged answer is an error naming the call and the resource: never a panic, never absent.
#[test]
fn a_damaged_answer_is_an_error_naming_the_call_and_the_resource() {
    let get_role =
        std::fs::read_to_string(crate::support::root().join("fixtures/aws/iam/GetRole.xml"))
            .unwrap();
    let truncated = &get_role[..get_role.len() / 2];
    let attributes = std::fs::read_to_string(
        crate::support::root().join("fixtures/aws/sqs/GetQueueAttributes.json"),
    )
    .unwrap();
    let bad_redrive = attributes.replace(
        r#""RedrivePolicy": "{"#,
        r#""RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:1234"#,
    );
    assert_ne!(bad_redrive, attributes);
    let get_function = std::fs::read_to_string(
        crate::support::root().join("fixtures/aws/lambda/GetFunction.json"),
    )
    .unwrap();
    let cases: Vec<(&str, Vec<Route>, &str)> = vec![
        (
            ROLE_SPEC,
            {
                let mut routes = iam_routes();
                routes[0] = routes[0].clone().with_body(truncated);
                routes
            },
            "iam:GetRole (role.worker, replay-worker)",
        ),
        (
            ROLE_SPEC,
            {
                let mut routes = iam_routes();
                routes[2] = Route::ok("iam:GetRolePolicy", "iam/GetRolePolicy-not-json.xml");
                routes
            },
            "iam:GetRolePolicy (role.worker, replay-worker): AWS answered with a policies that is not JSON",
        ),
        (
            QUEUE_SPEC,
            {
                let mut routes = sqs_routes();
                routes[1] = routes[1].clone().with_body(&bad_redrive);
                routes
            },
            "sqs:GetQueueAttributes (queue.work, replay-work): AWS answered with a redrive that is not JSON",
        ),
        (
            FUNCTION_SPEC,
            {
                let mut routes = lambda_routes();
                routes[0] = routes[0].clone().with_body(&get_function[..get_function.len() - 40]);
                routes
            },
            "lambda:GetFunction (function.worker, replay-worker)",
        ),
    ];
    for (spec, routes, expected) in cases {
        let spec = TempSpec::new(spec);
        spec.write(
            "code/handler.py",
            "def handler(event, context):\n    return None\n",
        );
        let (run, _) = plan(&spec, routes);
        assert_eq!(run.code, 1, "{expected}\n{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(expected),
            "`{expected}` in\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("ServiceError {"),
            "no debug dump in\n{}",
            run.stderr
        );
        assert!(run.stderr.lines().count() <= 3, "{}", run.stderr);
    }
}

/// Values a newer API may send in fields the spec does not declare are ignored.
#[test]
fn unknown_enum_values_in_undeclared_fields_are_ignored() {
    let get_function = std::fs::read_to_string(
        crate::support::root().join("fixtures/aws/lambda/GetFunction.json"),
    )
    .unwrap()
    .replace(r#""State": "Active""#, r#""State": "Hibernating""#)
    .replace(
        r#""LastUpdateStatus": "Successful""#,
        r#""LastUpdateStatus": "Deferred""#,
    )
    .replace(r#""Mode": "PassThrough""#, r#""Mode": "Sampled""#)
    .replace(r#""LogFormat": "Text""#, r#""LogFormat": "Parquet""#);
    let mut routes = lambda_routes();
    routes[0] = routes[0].clone().with_body(&get_function);
    assert_no_changes(plan(&function_spec(), routes));
}

/// GetFunction answers a caller not allowed lambda:ListTags without the tags and says why
/// (`TagsError`): read as no tags, the stack's own function would be someone else's. It is an
/// error naming the permission.
#[test]
fn a_function_s_tags_refused_is_an_error_not_a_function_without_tags() {
    let path = crate::support::root().join("fixtures/aws/lambda/GetFunction.json");
    let mut answer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let object = answer.as_object_mut().unwrap();
    assert!(object.remove("Tags").is_some());
    object.insert(
        "TagsError".into(),
        serde_json::json!({
            "ErrorCode": "AccessDeniedException",
            "Message": "User: arn:aws:sts::111122223333:assumed-role/ci/plan is not authorized to perform: lambda:ListTags on resource: arn:aws:lambda:us-east-1:111122223333:function:replay-worker because no identity-based policy allows the lambda:ListTags action"
        }),
    );
    let body = answer.to_string();
    let mut routes = lambda_routes();
    routes[0] = routes[0].clone().with_body(&body);
    let (run, _) = plan(&function_spec(), routes);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("lambda:ListTags (replay-worker)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("plan::conflict"), "{}", run.stderr);
    assert!(run.stderr.contains("lambda:ListTags"), "{}", run.stderr);
}
