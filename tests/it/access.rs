//! The access model end to end: the plan's gate by risk class, and `plinth access` reading the
//! grants back from the account.

use crate::support::{plinth_aws, unique, TempSpec};

/// A stack of one role, `PREFIX-vendor`, that account 210987654321 may assume with the external
/// id `x1`.
fn vendor_role(stack: &str, prefix: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.vendor]
name = "{prefix}-vendor"
trust = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::210987654321:root"}}, "Action": "sts:AssumeRole", "Condition": {{"StringEquals": {{"sts:ExternalId": "x1"}}}}}}]}}'''
"#
    )
}

#[test]
fn the_gate_follows_the_risk_class_and_access_reads_grants_back() {
    let (stack, prefix) = (unique("access"), unique("vendor"));
    let spec = TempSpec::new(&format!(
        r#"{}
[role.vendor.policies]
read = '''{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": "*"}}]}}'''
"#,
        vendor_role(&stack, &prefix)
    ));
    let plan = |fail_on: &[&str]| {
        let file = spec.arg();
        let mut args = vec!["plan", "-f", &file, "--detailed-exitcode"];
        args.extend_from_slice(fail_on);
        plinth_aws(&args)
    };
    // Another account gains a role: external, at the default gate.
    let default = plan(&[]);
    assert_eq!(default.code, 3, "{}{}", default.stdout, default.stderr);
    assert!(
        default.stdout.contains("Access changes"),
        "{}",
        default.stdout
    );
    assert!(
        default.stdout.contains(
            "+ external   sts:AssumeRole on role.vendor if StringEquals sts:ExternalId x1"
        ),
        "{}",
        default.stdout
    );
    assert_eq!(plan(&["--fail-on", "public"]).code, 2);
    assert_eq!(plan(&["--fail-on", "any"]).code, 3);
    // The gate only means something with --detailed-exitcode: alone, it is refused.
    let alone = plinth_aws(&["plan", "-f", &spec.arg(), "--fail-on", "any"]);
    assert_eq!(alone.code, 1, "{}", alone.stderr);
    assert!(
        alone.stderr.contains("--detailed-exitcode"),
        "{}",
        alone.stderr
    );
    let json = plinth_aws(&["plan", "-f", &spec.arg(), "--format", "json"]).ok();
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        parsed["access_changes"][0]["risk"], "external",
        "{}",
        json.stdout
    );

    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let access = plinth_aws(&["access", "-f", &spec.arg(), "--format", "json"]).ok();
    let grants: serde_json::Value = serde_json::from_str(&access.stdout).unwrap();
    let rows = grants["grants"].as_array().unwrap();
    assert!(
        rows.iter().any(|g| g["principal"] == "210987654321"
            && g["resource"] == "role.vendor"
            && g["risk"] == "external"),
        "{}",
        access.stdout
    );
    assert!(
        rows.iter().any(|g| g["principal"] == "210987654321"
            && g["via"].as_array().unwrap().len() == 2
            && g["actions"][0] == "sqs:getqueueattributes"),
        "through the role: {}",
        access.stdout
    );
    let text = plinth_aws(&["access", "-f", &spec.arg()]).ok();
    assert!(text.stdout.starts_with("210987654321\n"), "{}", text.stdout);
    // Applied, the plan has no changes and no access changes.
    let again = plan(&[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
}

/// A trust policy opened to everyone by hand is drift that widens access: the drift report
/// says so (the trust from the spec's to the account's), shows everyone gaining the role, and
/// its gate fails. A managed policy attached by hand shows in `plinth access`.
#[test]
fn access_gained_outside_plinth_shows_in_the_drift_report_and_in_access() {
    let (stack, prefix) = (unique("drift"), unique("drift"));
    let spec = TempSpec::new(&vendor_role(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    let opened = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}"#;
    crate::support::runtime().block_on(async {
        let iam = aws_sdk_iam::Client::new(&crate::support::sdk().await);
        let update = iam
            .update_assume_role_policy()
            .role_name(format!("{prefix}-vendor"));
        update.policy_document(opened).send().await.unwrap();
    });

    let file = spec.arg();
    let report = plinth_aws(&["plan", "-f", &file, "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(report.code, 3, "{}{}", report.stdout, report.stderr);
    assert!(
        report.stdout.contains("trust (widens and narrows access)")
            || report.stdout.contains("trust (widens access)"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("+ public     sts:AssumeRole on role.vendor"),
        "{}",
        report.stdout
    );
    let json = plinth_aws(&["plan", "-f", &file, "--refresh-only", "--format", "json"]).ok();
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed["summary"]["widens_access"], true, "{}", json.stdout);
    // A plan puts the trust back: that narrows access.
    let plan = plinth_aws(&["plan", "-f", &file]).ok();
    assert!(plan.stdout.contains("- public"), "{}", plan.stdout);

    // A managed policy attached by hand is no part of the spec, and the plan leaves it; who
    // can do what in the account is another matter: `access` reads it.
    crate::support::runtime().block_on(async {
        let iam = aws_sdk_iam::Client::new(&crate::support::sdk().await);
        let attach = iam
            .attach_role_policy()
            .role_name(format!("{prefix}-vendor"));
        let admin = attach.policy_arn("arn:aws:iam::aws:policy/AdministratorAccess");
        admin.send().await.unwrap();
    });
    let access = plinth_aws(&["access", "-f", &file]).ok();
    assert!(
        access.stdout.contains("through role.vendor: * on *"),
        "{}",
        access.stdout
    );
}
