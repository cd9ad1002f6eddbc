//! The calls apply sends per resource kind, counted by the test proxy: for one resource of each
//! kind created, updated (a setting and a tag) and deleted, the calls beyond those of the plan
//! that precedes it must be exactly the minimum its declared attributes need
//! (docs/benchmarks.md, section 1, "Applies"). A private moto keeps other tests' resources out
//! of the discovery listings both runs make.

use std::collections::BTreeMap;

use crate::proxy::{FaultProxy, Faults};
use crate::support::{self, PrivateMoto, TempSpec};

/// moto's account.
const ACCOUNT: &str = "123456789012";

/// Calls in `a` beyond those in `b`, by operation.
fn minus(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    a.iter()
        .filter_map(|(op, n)| {
            let extra = n.saturating_sub(b.get(op).copied().unwrap_or(0));
            (extra > 0).then(|| (op.clone(), extra))
        })
        .collect()
}

/// One resource of a kind as declared before and after an update (`{p}` is its name prefix).
struct Case {
    kind: &'static str,
    before: &'static str,
    after: &'static str,
    create: &'static [(&'static str, usize)],
    update: &'static [(&'static str, usize)],
    delete: &'static [(&'static str, usize)],
}

const TRUST: &str = r#"{ Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }"#;

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: "role",
            before: r#"[role.r]
name = "{p}-role"
description = "calls"
trust = {TRUST}
managed_policies = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
tags = { team = "data" }

[role.r.policies.access]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "arn:aws:sqs:*:{ACCOUNT}:{p}-*" }]
"#,
            after: r#"[role.r]
name = "{p}-role"
description = "calls, changed"
trust = {TRUST}
managed_policies = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
tags = { team = "platform" }

[role.r.policies.access]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "arn:aws:sqs:*:{ACCOUNT}:{p}-*" }]
"#,
            create: &[
                ("iam:AttachRolePolicy", 1),
                ("iam:CreateRole", 1),
                ("iam:GetRole", 1),
                ("iam:PutRolePolicy", 1),
            ],
            update: &[("iam:TagRole", 1), ("iam:UpdateRole", 1)],
            delete: &[
                ("iam:DeleteRole", 1),
                ("iam:DeleteRolePolicy", 1),
                ("iam:DetachRolePolicy", 1),
                ("iam:ListAttachedRolePolicies", 1),
                ("iam:ListInstanceProfilesForRole", 1),
                ("iam:ListRolePolicies", 1),
            ],
        },
        Case {
            kind: "policy",
            before: r#"[policy.p]
name = "{p}-policy"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::{p}-*/*" }] }
tags = { team = "data" }
"#,
            after: r#"[policy.p]
name = "{p}-policy"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = "arn:aws:s3:::{p}-*/*" }] }
tags = { team = "platform" }
"#,
            create: &[("iam:CreatePolicy", 1)],
            update: &[("iam:CreatePolicyVersion", 1), ("iam:TagPolicy", 1)],
            delete: &[
                ("iam:DeletePolicy", 1),
                ("iam:DeletePolicyVersion", 1),
                ("iam:ListEntitiesForPolicy", 1),
                ("iam:ListPolicyVersions", 1),
            ],
        },
        Case {
            kind: "instance_profile",
            before: r#"[instance_profile.i]
name = "{p}-profile"
role = "{p}-role"
tags = { team = "data" }
"#,
            after: r#"[instance_profile.i]
name = "{p}-profile"
role = "{p}-role"
tags = { team = "platform" }
"#,
            create: &[
                ("iam:AddRoleToInstanceProfile", 1),
                ("iam:CreateInstanceProfile", 1),
            ],
            update: &[("iam:TagInstanceProfile", 1)],
            delete: &[
                ("iam:DeleteInstanceProfile", 1),
                ("iam:GetInstanceProfile", 1),
                ("iam:RemoveRoleFromInstanceProfile", 1),
            ],
        },
        Case {
            kind: "oidc_provider",
            before: r#"[oidc_provider.o]
url = "https://{p}.example.com"
client_ids = ["sts.amazonaws.com"]
tags = { team = "data" }
"#,
            after: r#"[oidc_provider.o]
url = "https://{p}.example.com"
client_ids = ["sts.amazonaws.com"]
tags = { team = "platform" }
"#,
            create: &[("iam:CreateOpenIDConnectProvider", 1)],
            update: &[("iam:TagOpenIDConnectProvider", 1)],
            delete: &[("iam:DeleteOpenIDConnectProvider", 1)],
        },
        Case {
            kind: "key",
            before: r#"[key.k]
description = "calls"
rotation = true
aliases = ["alias/{p}-key"]
tags = { team = "data" }
"#,
            after: r#"[key.k]
description = "calls, changed"
rotation = true
aliases = ["alias/{p}-key"]
tags = { team = "platform" }
"#,
            create: &[
                ("kms:CreateAlias", 1),
                ("kms:CreateKey", 1),
                ("kms:EnableKeyRotation", 1),
                ("kms:ListAliases", 1),
                ("kms:ListKeys", 1),
            ],
            update: &[
                ("kms:DescribeKey", 1),
                ("kms:TagResource", 1),
                ("kms:UpdateKeyDescription", 1),
            ],
            delete: &[
                ("kms:DeleteAlias", 1),
                ("kms:DescribeKey", 1),
                ("kms:ListAliases", 1),
                ("kms:ScheduleKeyDeletion", 1),
            ],
        },
        Case {
            kind: "queue",
            before: r#"[queue.q]
name = "{p}-queue"
visibility_timeout = 120
tags = { team = "data" }
"#,
            after: r#"[queue.q]
name = "{p}-queue"
visibility_timeout = 60
tags = { team = "platform" }
"#,
            // The queue is looked for again just before it is created: SQS would answer
            // CreateQueue with a same-named queue made since the plan.
            create: &[("sqs:CreateQueue", 1), ("sqs:GetQueueUrl", 1)],
            update: &[
                ("sqs:GetQueueAttributes", 1),
                ("sqs:GetQueueUrl", 1),
                ("sqs:SetQueueAttributes", 1),
                ("sqs:TagQueue", 1),
            ],
            delete: &[("sqs:DeleteQueue", 1), ("sqs:GetQueueUrl", 1)],
        },
        Case {
            kind: "function",
            before: r#"[function.f]
name = "{p}-function"
role = "arn:aws:iam::{ACCOUNT}:role/{p}-role"
runtime = "python3.12"
handler = "main.handler"
code = { dir = "lambda" }
timeout = 60
tags = { team = "data" }

[[function.f.trigger]]
queue = "arn:aws:sqs:us-east-1:{ACCOUNT}:{p}-queue"
batch_size = 5
"#,
            after: r#"[function.f]
name = "{p}-function"
role = "arn:aws:iam::{ACCOUNT}:role/{p}-role"
runtime = "python3.12"
handler = "main.handler"
code = { dir = "lambda" }
timeout = 30
tags = { team = "platform" }

[[function.f.trigger]]
queue = "arn:aws:sqs:us-east-1:{ACCOUNT}:{p}-queue"
batch_size = 5
"#,
            create: &[
                ("lambda:POST event-source-mappings", 1),
                ("lambda:POST functions", 1),
            ],
            update: &[
                ("lambda:POST tags", 1),
                ("lambda:PUT functions/configuration", 1),
            ],
            delete: &[
                ("lambda:DELETE event-source-mappings", 1),
                ("lambda:DELETE functions", 1),
                ("lambda:GET event-source-mappings", 1),
            ],
        },
        Case {
            kind: "bucket",
            before: r#"[bucket.b]
name = "{p}-bucket"
encryption = { sse = "s3" }
public_access_block = { block_public_acls = true, ignore_public_acls = true, block_public_policy = true, restrict_public_buckets = true }
tags = { team = "data" }
"#,
            after: r#"[bucket.b]
name = "{p}-bucket"
encryption = { sse = "s3" }
public_access_block = { block_public_acls = true, ignore_public_acls = true, block_public_policy = false, restrict_public_buckets = true }
tags = { team = "platform" }
"#,
            // In us-east-1 S3 answers CreateBucket with success for a bucket the account
            // has: its tags are read first, so that one made since the plan is not taken over.
            create: &[
                ("s3:GET tagging", 1),
                ("s3:PUT ", 1),
                ("s3:PUT encryption", 1),
                ("s3:PUT publicAccessBlock", 1),
                ("s3:PUT tagging", 1),
            ],
            // S3 writes the tag set whole: it is read again so that other stacks' records
            // on the bucket stay.
            update: &[
                ("s3:GET tagging", 1),
                ("s3:PUT publicAccessBlock", 1),
                ("s3:PUT tagging", 1),
            ],
            delete: &[("s3:DELETE ", 1)],
        },
    ]
}

fn expected(calls: &[(&str, usize)]) -> BTreeMap<String, usize> {
    calls.iter().map(|(op, n)| (op.to_string(), *n)).collect()
}

/// The calls of `apply` beyond those of the plan before it, which reads the same account.
fn apply_only(proxy: &FaultProxy, spec: &TempSpec) -> BTreeMap<String, usize> {
    let arg = spec.arg();
    let run = |command: &str| {
        proxy.reset_counts();
        let mut args = vec![command, "-f", &arg, "--endpoint-url", &proxy.url];
        if command == "apply" {
            args.push("--auto-approve");
        }
        support::plinth(&args).ok();
        proxy.counts().by_operation
    };
    let plan = run("plan");
    minus(&run("apply"), &plan)
}

#[test]
fn apply_sends_the_minimal_calls_per_kind_created_updated_and_deleted() {
    let moto = PrivateMoto::start();
    let proxy = FaultProxy::start(&moto.url, Faults::none());
    let p = "calls";
    let mut seen = Vec::new();
    let mut wrong = Vec::new();
    // In order: the function needs the role and the queue, the instance profile the role. Each
    // kind is a stack of its own, deleted only after every kind was created and updated.
    let cases = cases();
    let specs: Vec<(TempSpec, TempSpec)> = cases
        .iter()
        .map(|case| {
            let stack = format!(
                "[stack]\nname = \"calls-{}\"\n\n",
                case.kind.replace('_', "-")
            );
            let fill = |body: &str| {
                body.replace("{TRUST}", TRUST)
                    .replace("{ACCOUNT}", ACCOUNT)
                    .replace("{p}", p)
            };
            let spec = |body: &str| {
                let spec = TempSpec::new(&format!("{stack}{}", fill(body)));
                spec.write(
                    "lambda/main.py",
                    "def handler(event, context):\n    return None\n",
                );
                spec
            };
            (spec(case.before), spec(case.after))
        })
        .collect();
    let mut check = |kind: &str, what: &str, got: BTreeMap<String, usize>, want| {
        seen.push(format!("{kind} {what}: {got:?}"));
        if got != expected(want) {
            wrong.push(format!("{kind} {what}: got {got:?}, want {want:?}"));
        }
    };
    for (case, (before, after)) in cases.iter().zip(&specs) {
        check(case.kind, "create", apply_only(&proxy, before), case.create);
        check(case.kind, "update", apply_only(&proxy, after), case.update);
    }
    for (case, (before, _)) in cases.iter().zip(&specs).rev() {
        let stack = format!(
            "[stack]\nname = \"calls-{}\"\n",
            case.kind.replace('_', "-")
        );
        std::fs::write(before.path(), stack).expect("write spec");
        check(case.kind, "delete", apply_only(&proxy, before), case.delete);
    }
    assert!(
        wrong.is_empty(),
        "{}\n\nall:\n{}",
        wrong.join("\n"),
        seen.join("\n")
    );
}

/// A policy update lists its versions only when IAM refuses a sixth: then the oldest version
/// that is not the default makes room, and the new document becomes the default.
#[test]
fn a_policy_with_five_versions_makes_room_for_a_new_one() {
    let proxy = FaultProxy::start(support::moto(), Faults::none());
    let (stack, name) = (support::unique("versions"), support::unique("versions"));
    let spec = |actions: usize| {
        let actions: Vec<String> = (0..actions)
            .map(|i| format!("\"s3:GetObject{}\"", "*".repeat(i)))
            .collect();
        format!(
            "[stack]\nname = \"{stack}\"\n\n[policy.p]\nname = \"{name}\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = [{}], Resource = \"*\" }}] }}\n",
            actions.join(", ")
        )
    };
    let file = TempSpec::new(&spec(1));
    let apply = || {
        support::plinth(&[
            "apply",
            "-f",
            &file.arg(),
            "--auto-approve",
            "--endpoint-url",
            &proxy.url,
        ])
        .ok()
    };
    apply();
    // Versions 2 to 5: IAM's limit, reached without listing.
    for n in 2..=5 {
        std::fs::write(file.path(), spec(n)).expect("write spec");
        apply();
    }
    let version_calls = |counts: &BTreeMap<String, usize>| -> BTreeMap<String, usize> {
        counts
            .iter()
            .filter(|(op, _)| op.contains("PolicyVersion"))
            .map(|(op, n)| (op.clone(), *n))
            .collect()
    };
    assert_eq!(
        version_calls(&proxy.counts().by_operation),
        expected(&[("iam:CreatePolicyVersion", 4), ("iam:GetPolicyVersion", 4)]),
    );
    proxy.reset_counts();
    std::fs::write(file.path(), spec(6)).expect("write spec");
    apply();
    assert_eq!(
        version_calls(&proxy.counts().by_operation),
        expected(&[
            ("iam:CreatePolicyVersion", 2),
            ("iam:DeletePolicyVersion", 1),
            ("iam:GetPolicyVersion", 1),
            ("iam:ListPolicyVersions", 1),
        ]),
    );
    let plan = support::plinth(&[
        "plan",
        "-f",
        &file.arg(),
        "--detailed-exitcode",
        "--endpoint-url",
        &proxy.url,
    ]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}
