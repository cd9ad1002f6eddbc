//! Policies in the exact shapes vendors publish on their setup pages, with the vendors'
//! placeholders filled the way plinth users fill them (`${...}` variables) or, where a
//! question needs a concrete value, with a concrete value.

use serde_json::Value;

use super::eval::{is_allowed, Decision};
use super::*;

/// Tonic Structural's Lambda role policy, as the AWS console's visual editor writes it
/// (tab-indented, `Statement` opened on the same line).
const TONIC_LAMBDA_POLICY: &str = r#"{
	"Version": "2012-10-17",
	"Statement": [{
		"Sid": "VisualEditor0",
		"Effect": "Allow",
		"Action": [
			"s3:PutObject",
			"s3:GetObject",
			"s3:ListBucket",
			"sqs:ReceiveMessage",
			"sqs:GetQueueAttributes",
			"sqs:GetQueueUrl",
			"sqs:SendMessage",
			"sqs:DeleteMessage",
			"logs:CreateLogGroup",
			"logs:PutLogEvents",
			"logs:CreateLogStream"
		],
		"Resource": [
			"arn:aws:sqs:*:${aws.account_id}:tonic-*",
			"arn:aws:s3:::tonic-*",
			"arn:aws:logs:*:*:*"
		]
	}]
}"#;

const TONIC_LAMBDA_TRUST: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {
                "Service": "lambda.amazonaws.com"
            },
            "Action": "sts:AssumeRole"
        }
    ]
}"#;

/// A statement to add to the KMS key policy, published without its document.
const TONIC_KMS_KEY_STATEMENT: &str = r#"{
    "Sid": "Allow access for Amazon S3 Event Notifications to Amazon SQS",
    "Effect": "Allow",
    "Principal": {
        "Service": "s3.amazonaws.com"
    },
    "Action": [
        "kms:Decrypt",
        "kms:GenerateDataKey"
    ],
    "Resource": "*"
}"#;

/// Published with a quoted placeholder, which is valid JSON and so must be caught by a lint.
const TONIC_KMS_ROLE_POLICY: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey"
            ],
            "Resource": "<ARN to AWS KMS key>"
        }
    ]
}"#;

const TONIC_INSTANCE_PROFILE_V2: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:ListBucket",
                "s3:GetBucketNotification",
                "s3:PutBucketNotification"
            ],
            "Resource": "arn:aws:s3:::tonic-*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion"
            ],
            "Resource": "arn:aws:s3:::tonic-*/*"
        }
    ]
}"#;

/// Published with an unquoted placeholder, `<ARN to Structural Lambda Role>`, filled here with
/// a plinth variable; `${region}` and `${account_id}` are left as the vendor wrote them.
const TONIC_INSTANCE_PROFILE_LEGACY: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ListQueues",
                "lambda:CreateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
                "lambda:GetEventSourceMapping",
                "lambda:ListFunctions",
                "ecr:DescribeRepositories",
                "ecr:ListImages"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:CreateQueue",
                "sqs:DeleteMessage",
                "sqs:DeleteQueue",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListDeadLetterSourceQueues",
                "sqs:ListQueueTags",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sqs:SetQueueAttributes",
                "s3:ListBucket",
                "s3:GetBucketNotification",
                "s3:PutBucketNotification",
                "lambda:CreateFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionConfiguration"
            ],
            "Resource": [
                "arn:aws:sqs:*:*:tonic-*",
                "arn:aws:s3:::tonic-*",
                "arn:aws:lambda:*:*:function:tonic-*"

            ]
        },
        {
            "Effect": "Allow",
            "Action": [
                "iam:PassRole"
            ],
            "Resource": [
                "${role.tonic_lambda.arn}"
            ]
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion"
            ],
            "Resource": "arn:aws:s3:::tonic-*/*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "logs:DescribeLogStreams",
                "logs:GetQueryResults",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:StopQuery"
            ],
            "Resource": ["arn:aws:logs:${region}:${account_id}:log-group:/aws/lambda/tonic-*"]
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::tonic-*",
            "Condition": {
                "StringLike": {
                    "s3:prefix": [
                        "*"
                    ]
                }
            }
        }
    ]
}"#;

const GANYMEDE_BUCKET_POLICY: &str = r#"{
"Version": "2012-10-17",
"Statement": [
{
"Sid": "ListObjectsInBucket",
"Effect": "Allow",
"Action": [
"s3:ListBucket"
],
"Resource": [
"arn:aws:s3:::my-bucket"
]
},
{
"Sid": "AllObjectActions",
"Effect": "Allow",
"Action": "s3:*Object",
"Resource": [
"arn:aws:s3:::my-bucket/*"
]
}
]
}"#;

/// The trust policy the IAM console writes for Ganymede's "Web Identity, Google, audience"
/// steps.
const GANYMEDE_TRUST: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {
                "Federated": "accounts.google.com"
            },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "accounts.google.com:aud": "${ganymede.environment_id}"
                }
            }
        }
    ]
}"#;

/// OpenMetadata's Glue connector lists the permissions; this is the policy they imply.
const OPENMETADATA_GLUE: &str = r#"{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "glue:ListWorkflows",
                "glue:GetWorkflow",
                "glue:GetJobRuns"
            ],
            "Resource": "*"
        }
    ]
}"#;

fn key_policy() -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{TONIC_KMS_KEY_STATEMENT}]}}"#)
}

/// What plinth does before parsing: substitute its variables.
fn with_account(json: &str) -> String {
    json.replace("${aws.account_id}", "123456789012")
}

fn parse(json: &str) -> PolicyDocument {
    PolicyDocument::parse(json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

/// Each seed with the kind of document it is and the lint codes it draws.
#[rustfmt::skip]
fn seeds() -> Vec<(&'static str, String, DocumentKind, &'static [&'static str])> {
    let key_policy_kind = DocumentKind::Resource("a KMS key policy");
    vec![
        ("tonic lambda policy", TONIC_LAMBDA_POLICY.into(), DocumentKind::Identity, &[]),
        ("tonic lambda trust", TONIC_LAMBDA_TRUST.into(), DocumentKind::Trust, &[]),
        ("tonic key policy", key_policy(), key_policy_kind, &[]),
        ("tonic kms role policy", TONIC_KMS_ROLE_POLICY.into(), DocumentKind::Identity, &["P008"]),
        ("tonic instance profile v2", TONIC_INSTANCE_PROFILE_V2.into(), DocumentKind::Identity, &[]),
        // logs:StopQuery acts on no resource type, so the log-group ARN grants it nothing.
        ("tonic instance profile legacy", TONIC_INSTANCE_PROFILE_LEGACY.into(), DocumentKind::Identity, &["P001", "P018"]),
        ("ganymede bucket policy", GANYMEDE_BUCKET_POLICY.into(), DocumentKind::Identity, &[]),
        ("ganymede trust", GANYMEDE_TRUST.into(), DocumentKind::Trust, &[]),
        ("openmetadata glue", OPENMETADATA_GLUE.into(), DocumentKind::Identity, &[]),
    ]
}

/// Every array and every object's keys in reverse order, which reorders statements, list
/// elements and keys at once.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().rev().map(reversed).collect()),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed(v)))
                .collect(),
        ),
        scalar => scalar.clone(),
    }
}

#[test]
fn seeds_parse_and_reordered_copies_are_equivalent() {
    for (name, json, _, _) in seeds() {
        let doc = parse(&json);
        let value: Value = serde_json::from_str(&json).unwrap();
        let copy = parse(&reversed(&value).to_string());
        assert!(doc.equivalent(&copy), "{name}");
        assert!(diff(Some(&doc), Some(&copy), None).is_empty(), "{name}");
        assert!(doc.equivalent(&parse(&doc.to_compact())), "{name}");
    }
}

#[test]
fn hand_reformatted_lambda_policy_is_equivalent() {
    let reformatted = r#"{"Statement": [{"Resource": ["arn:aws:logs:*:*:*", "arn:aws:s3:::tonic-*", "arn:aws:sqs:*:${aws.account_id}:tonic-*", "arn:aws:s3:::tonic-*"],
        "Action": ["logs:createlogstream", "LOGS:PutLogEvents", "logs:CreateLogGroup", "sqs:DeleteMessage", "sqs:SendMessage", "sqs:GetQueueUrl",
                   "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "s3:ListBucket", "s3:GetObject", "s3:PutObject"],
        "Effect": "Allow", "Sid": "VisualEditor0"}], "Version": "2012-10-17"}"#;
    assert!(parse(TONIC_LAMBDA_POLICY).equivalent(&parse(reformatted)));
    let renamed = TONIC_LAMBDA_POLICY.replace("VisualEditor0", "TonicLambda");
    assert!(!parse(TONIC_LAMBDA_POLICY).equivalent(&parse(&renamed)));
}

#[test]
#[rustfmt::skip]
fn seed_questions() {
    let lambda = parse(&with_account(TONIC_LAMBDA_POLICY));
    let key = parse(&key_policy());
    let trust = parse(TONIC_LAMBDA_TRUST);
    let bucket = parse(GANYMEDE_BUCKET_POLICY);
    let ganymede = parse(GANYMEDE_TRUST);
    let legacy = parse(TONIC_INSTANCE_PROFILE_LEGACY);
    let glue = parse(OPENMETADATA_GLUE);
    let s3 = Principal::service("s3.amazonaws.com");
    let lambda_service = Principal::service("lambda.amazonaws.com");
    let google = Principal::federated("accounts.google.com");
    let queue = "arn:aws:sqs:us-east-1:123456789012:tonic-queue";
    let role = "arn:aws:iam::123456789012:role/tonic-lambda";
    let object = "arn:aws:s3:::my-bucket/run/1.csv";
    let cases: &[(&PolicyDocument, Option<&Principal>, &str, &str, Decision)] = &[
        (&lambda, None, "sqs:ReceiveMessage", queue, Decision::Allowed),
        (&lambda, None, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:210987654321:tonic-queue", Decision::ImplicitDeny),
        (&lambda, None, "sqs:DeleteQueue", queue, Decision::ImplicitDeny),
        (&key, Some(&s3), "kms:GenerateDataKey", "*", Decision::Allowed),
        (&key, Some(&s3), "kms:ScheduleKeyDeletion", "*", Decision::ImplicitDeny),
        (&trust, Some(&lambda_service), "sts:AssumeRole", role, Decision::Allowed),
        (&bucket, None, "s3:GetObject", object, Decision::Allowed),
        (&bucket, None, "s3:GetObjectAcl", object, Decision::ImplicitDeny),
        (&bucket, None, "s3:ListBucket", "arn:aws:s3:::my-bucket", Decision::Allowed),
        (&ganymede, Some(&google), "sts:AssumeRoleWithWebIdentity", role, Decision::AllowedIfConditions),
        (&legacy, None, "s3:ListBucket", "arn:aws:s3:::tonic-data", Decision::Allowed),
        (&glue, None, "glue:GetWorkflow", "arn:aws:glue:us-east-1:123456789012:workflow/w", Decision::Allowed),
    ];
    for (policy, principal, action, resource, expected) in cases {
        assert_eq!(is_allowed(&[policy], *principal, action, resource), *expected, "{action} on {resource}");
    }
}

#[test]
fn the_published_legacy_policy_is_not_json_until_its_placeholder_is_filled() {
    let published = TONIC_INSTANCE_PROFILE_LEGACY.replace(
        "\"${role.tonic_lambda.arn}\"",
        "<ARN to Structural Lambda Role>",
    );
    let error = PolicyDocument::parse(&published).unwrap_err();
    let offset = error.offset.expect("syntax error offset");
    assert!(
        published[offset..].starts_with("<ARN to Structural Lambda Role>"),
        "{error}"
    );
}

#[test]
fn seed_lints() {
    for (name, json, kind, expected) in seeds() {
        let ctx = LintContext {
            known_accounts: vec!["123456789012".to_string()],
            ..LintContext::new(kind)
        };
        let lints = lint(&parse(&json), &ctx);
        assert_eq!(
            lints.iter().map(|l| l.code.as_str()).collect::<Vec<_>>(),
            expected,
            "{name}"
        );
    }
    let lints = lint(
        &parse(TONIC_INSTANCE_PROFILE_LEGACY),
        &LintContext::new(DocumentKind::Identity),
    );
    assert_eq!(lints[0].statement.as_deref(), Some("Statement[0]"));
    assert_eq!(
        lints[0].message,
        "write actions lambda:CreateEventSourceMapping, lambda:DeleteEventSourceMapping are \
         allowed on Resource \"*\""
    );
}

#[test]
fn widening_a_seed_is_reported() {
    let before = parse(TONIC_INSTANCE_PROFILE_V2);
    let after = parse(&TONIC_INSTANCE_PROFILE_V2.replace(
        "\"s3:DeleteObjectVersion\"",
        "\"s3:DeleteObjectVersion\", \"s3:PutObjectAcl\"",
    ));
    let diff = diff(Some(&before), Some(&after), None);
    assert!(diff.widens());
    assert_eq!(diff.statements.len(), 1);
    assert_eq!(diff.statements[0].label, "Statement[1]");
    assert_eq!(diff.statements[0].access, AccessChange::Widens);
    assert!(
        diff.statements[0]
            .unified
            .contains("+    \"s3:PutObjectAcl\"\n"),
        "{}",
        diff.statements[0].unified
    );
}
