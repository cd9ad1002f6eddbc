//! Policies in the exact shapes the setup pages print: applied to moto, read back (IAM returns
//! them URL-encoded and reformatted), and planned again with no false differences.

use crate::support::{plinth_aws, root, unique, TempSpec};

fn seed(name: &str) -> String {
    root()
        .join("fixtures/policies/seeds")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn every_seed_policy_applied_then_planned_shows_no_changes() {
    let (stack, prefix) = (unique("seeds"), unique("tonic"));
    let spec = format!(
        r#"[stack]
name = "{stack}"

[vars]
ganymede_audience = "113365414184548411233"
openmetadata_account = "210987654321"

[role.lambda]
name = "{prefix}-lambda"
trust = '''
{{
    "Version": "2012-10-17",
    "Statement": [
        {{
            "Effect": "Allow",
            "Principal": {{
                "Service": "lambda.amazonaws.com"
            }},
            "Action": "sts:AssumeRole"
        }}
    ]
}}
'''

[role.lambda.policies]
tonic = {{ file = "{lambda}" }}
kms = {{ file = "{kms}" }}

[role.server]
name = "{prefix}-server"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[role.server.policies]
pipeline-v2 = {{ file = "{v2}" }}
previous = {{ file = "{previous}" }}

[role.ganymede]
name = "{prefix}-ganymede"
trust = {{ file = "{google}" }}
policies = {{ bucket = {{ file = "{bucket}" }} }}

[role.openmetadata]
name = "{prefix}-openmetadata"
trust = {{ file = "{om_trust}" }}
policies = {{ glue = {{ file = "{glue}" }} }}
"#,
        lambda = seed("tonic-lambda.json"),
        kms = seed("tonic-kms-for-roles.json"),
        v2 = seed("tonic-server-pipeline-v2.json"),
        previous = seed("tonic-server-previous.json"),
        google = seed("ganymede-google-trust.json"),
        bucket = seed("ganymede-bucket-access.json"),
        om_trust = seed("openmetadata-trust.json"),
        glue = seed("openmetadata-glue.json"),
    );
    let spec = TempSpec::new(&spec);
    let validate = crate::support::plinth(&["validate", "-f", &spec.arg()]).ok();
    assert!(
        validate.stdout.contains("is valid (4 resources)"),
        "{}",
        validate.stdout
    );

    let apply = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(
        apply.stderr.contains("Apply complete: 4 added"),
        "{}",
        apply.stderr
    );
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}
