//! Access denials told against the policy `plinth permissions` prints for the spec: either the
//! printed policy grants what was refused (attach it), or it does not, and plinth needed it (a
//! bug in the printed policy, to be reported).

use crate::apply::{ApplyReport, StepStatus};
use crate::aws::denied::Denial;
use crate::aws::{Aws, AwsError};
use crate::model::{Address, Kind};
use crate::permissions::{self, Target};
use crate::policy::eval::{is_allowed, may_allow_action, Decision};
use crate::policy::PolicyDocument;
use crate::spec::Spec;

/// `e` with a hint that says whether the printed policy grants what AWS refused.
pub async fn explain_error(aws: &Aws, spec: &Spec, mut e: AwsError) -> AwsError {
    if let Some(denial) = e.denial() {
        if let Some(printed) = Printed::of(aws, spec).await {
            e.hint = Some(printed.explain(&denial, &e.operation));
        }
        // S3 answers a read of a name another account holds with Access Denied too: that is
        // the likelier cause for a bucket the stack is to create, and said first.
        if let Some(name) = bucket_to_create(spec, &e.operation) {
            e.hint = Some(format!(
                "S3 bucket names are global: if `{name}` is another AWS account's, choose another name (with your account id or a prefix of your own in it); if it is yours, this identity lacks `{}`, which `plinth permissions -f SPEC` grants",
                denial.action
            ));
        }
    }
    e
}

/// The name of a bucket the spec would create (not `existing = true`) that a refused S3 read
/// was about: another account may hold the name, and S3 answers that with Access Denied.
fn bucket_to_create<'o>(spec: &Spec, operation: &'o str) -> Option<&'o str> {
    if !operation.starts_with("s3:") {
        return None;
    }
    spec.resources
        .values()
        .filter(|r| r.kind() == crate::model::Kind::Bucket && !r.body.must_exist())
        .find_map(|r| {
            // `about` names the resource as `(ADDRESS, NAME)`.
            let after = &operation[operation.find(&format!("({}, ", r.address))?..];
            let name = after.split_once(", ")?.1;
            name.split_once(')').map(|(name, _)| name)
        })
}

/// [`explain_error`] for every refused step of an apply; the policy is printed once.
pub async fn explain_report(aws: &Aws, spec: &Spec, report: &mut ApplyReport) {
    let refused = |o: &crate::apply::StepOutcome| {
        matches!(
            o.status,
            StepStatus::Failed {
                denial: Some(_),
                ..
            }
        )
    };
    if !report.outcomes.iter().any(refused) {
        return;
    }
    let Some(printed) = Printed::of(aws, spec).await else {
        return;
    };
    for outcome in &mut report.outcomes {
        if let StepStatus::Failed {
            error,
            hint,
            denial: Some(denial),
        } = &mut outcome.status
        {
            *hint = Some(printed.explain(denial, error));
        }
    }
}

/// The policy `plinth permissions` prints for the spec, in the account plinth runs in.
struct Printed<'s> {
    spec: &'s Spec,
    target: Target,
    policy: PolicyDocument,
}

impl<'s> Printed<'s> {
    async fn of(aws: &Aws, spec: &'s Spec) -> Option<Printed<'s>> {
        // The account is known by now: every read and write waits for it.
        let account = aws.sts.account().await.ok()?;
        let target = Target {
            partition: account.partition,
            account_id: account.account_id,
            region: account.region,
        };
        let policy = PolicyDocument::from_value(&permissions::policy(spec, &target)).ok()?;
        Some(Printed {
            spec,
            target,
            policy,
        })
    }

    fn explain(&self, denial: &Denial, operation: &str) -> String {
        denial.hint_with_printed(grants(
            &self.policy,
            denial,
            operation,
            self.spec,
            &self.target,
        ))
    }
}

/// Whether `printed` grants the refused action on the refused resource: the one AWS names, else
/// the resource of the spec the operation was about, else any resource.
fn grants(
    printed: &PolicyDocument,
    denial: &Denial,
    operation: &str,
    spec: &Spec,
    target: &Target,
) -> bool {
    let resource = denial.resource_arn().map(str::to_string).or_else(|| {
        let address = address_in(operation)?;
        let arn = permissions::arn_of(spec, target, &address)?;
        Some(
            if address.kind == Kind::Bucket && is_object_action(&denial.action) {
                format!("{arn}/*")
            } else {
                arn
            },
        )
    });
    match resource {
        Some(resource) => !matches!(
            is_allowed(&[printed], None, &denial.action, &resource),
            Decision::ImplicitDeny | Decision::ExplicitDeny
        ),
        None => may_allow_action(&[printed], &denial.action),
    }
}

/// The address an operation names: `s3:PutBucketCors (bucket.data, NAME)` is `bucket.data`.
fn address_in(operation: &str) -> Option<Address> {
    let inside = operation.split_once(" (")?.1;
    let first = inside.split([',', ')']).next()?.trim();
    let (kind, name) = first.split_once('.')?;
    Some(Address::new(Kind::parse(kind)?, name))
}

fn is_object_action(action: &str) -> bool {
    matches!(
        action,
        "s3:DeleteObject" | "s3:DeleteObjectVersion" | "s3:GetObject" | "s3:PutObject"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::denied::parse;

    fn ganymede() -> (Spec, Target, PolicyDocument) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/ganymede-s3.toml");
        let spec = crate::spec::load(&path, &Default::default()).expect("the shipped stack loads");
        let target = Target {
            partition: "aws".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        let printed = PolicyDocument::from_value(&permissions::policy(&spec, &target)).unwrap();
        (spec, target, printed)
    }

    #[test]
    fn a_refused_call_is_decided_on_the_resource_it_was_about() {
        let (spec, target, printed) = ganymede();
        let bucket = spec
            .resources
            .keys()
            .find(|a| a.kind == Kind::Bucket)
            .unwrap();
        // S3 names neither action nor resource: both come from the call and its address.
        let operation = format!("s3:PutBucketCors ({bucket}, name)");
        let cors = parse(&operation, Some("AccessDenied"), "Access Denied").unwrap();
        assert!(grants(&printed, &cors, &operation, &spec, &target));
        // The customer's bucket is never deleted, so the printed policy cannot delete it: a
        // refused DeleteBucket on it would be plinth's bug, and is told so.
        let operation = format!("s3:DeleteBucket ({bucket}, name)");
        let delete = parse(&operation, Some("AccessDenied"), "Access Denied").unwrap();
        assert!(!grants(&printed, &delete, &operation, &spec, &target));
        assert!(delete
            .hint_with_printed(false)
            .contains("bug in plinth's printed policy"));
    }

    #[test]
    fn the_resource_aws_names_wins_over_the_address() {
        let (spec, target, printed) = ganymede();
        let bucket = spec
            .resources
            .keys()
            .find(|a| a.kind == Kind::Bucket)
            .unwrap();
        let operation = format!("s3:PutBucketCors ({bucket}, name)");
        let elsewhere = parse(
            &operation,
            Some("AccessDenied"),
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: s3:PutBucketCORS on resource: \"arn:aws:s3:::someone-elses-bucket\" because no identity-based policy allows the s3:PutBucketCORS action",
        )
        .unwrap();
        assert!(!grants(&printed, &elsewhere, &operation, &spec, &target));
    }

    #[test]
    fn operations_name_their_address() {
        assert_eq!(
            address_in("iam:GetRole (role.lambda, tonic-lambda)"),
            Some(Address::new(Kind::Role, "lambda"))
        );
        assert_eq!(address_in("s3:ListBuckets"), None);
        assert_eq!(address_in("load AWS credentials"), None);
    }
}
