//! `plinth import` against moto: setups made by hand with the SDK, the way a person following
//! each vendor page in ../shared/seeds/ makes them, imported into a spec whose plan shows only
//! their adoption; after apply, the plan shows no changes.

use std::path::{Path, PathBuf};

use crate::support::{plinth_aws, root, runtime, s3, sdk, unique, Run};

/// An import into a fresh directory, and the plans of what it wrote.
struct Imported {
    dir: tempfile::TempDir,
    run: Run,
}

impl Imported {
    #[track_caller]
    fn new(args: &[&str]) -> Imported {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out");
        let out = out.display().to_string();
        let mut all = vec!["import", "--out", out.as_str()];
        all.extend(args);
        let run = plinth_aws(&all);
        assert_eq!(run.code, 0, "import failed\n{}{}", run.stdout, run.stderr);
        Imported { dir, run }
    }

    fn spec(&self) -> PathBuf {
        self.dir.path().join("out/plinth.toml")
    }

    fn file(&self, relative: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("out").join(relative))
            .unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    fn plan_json(&self) -> serde_json::Value {
        let spec = self.spec().display().to_string();
        let run = plinth_aws(&["plan", "-f", &spec, "--format", "json"]);
        assert_eq!(
            run.code,
            0,
            "plan failed\n{}{}\n--- spec\n{}",
            run.stdout,
            run.stderr,
            std::fs::read_to_string(self.spec()).unwrap()
        );
        serde_json::from_str(&run.stdout).expect("a JSON plan")
    }

    /// The plan adopts every resource and changes nothing else: no policy, no setting, no
    /// access; only the bookkeeping an existing bucket or key records in its tags.
    #[track_caller]
    fn assert_plan_only_adopts(&self, resources: usize) {
        let plan = self.plan_json();
        let spec = std::fs::read_to_string(self.spec()).unwrap();
        let all = plan["resources"].as_array().expect("resources");
        assert_eq!(all.len(), resources, "{plan:#}\n{spec}");
        for r in all {
            // A shared resource (an existing key or bucket) records which of its parts the
            // stack manages, or, when its block declares none, is left as it is.
            let shared = matches!(r["kind"].as_str(), Some("key" | "bucket"));
            if shared {
                assert!(
                    matches!(r["action"].as_str(), Some("update" | "no-op")),
                    "{r:#}\n{spec}"
                );
            } else {
                assert_eq!(r["action"], "update", "{r:#}\n{spec}");
                let reason = r["action_reason"].as_str().unwrap_or_default();
                assert!(reason.starts_with("adopting"), "{r:#}\n{spec}");
            }
            assert_eq!(r["policy_changes"], serde_json::json!([]), "{r:#}\n{spec}");
            for change in r["changes"].as_array().expect("changes") {
                let name = change["attribute"]
                    .as_str()
                    .or(change["name"].as_str())
                    .unwrap_or_default();
                assert!(
                    matches!(name, "existing" | "manages"),
                    "only ownership may change: {r:#}\n{spec}"
                );
            }
        }
        assert_eq!(plan["access_changes"], serde_json::json!([]), "{plan:#}");
    }

    #[track_caller]
    fn apply_then_no_changes(&self) {
        let spec = self.spec().display().to_string();
        plinth_aws(&["apply", "-f", &spec, "--auto-approve"]).ok();
        let plan = plinth_aws(&["plan", "-f", &spec, "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    }
}

fn iam() -> aws_sdk_iam::Client {
    runtime().block_on(async { aws_sdk_iam::Client::new(&sdk().await) })
}

const ACCOUNT: &str = "123456789012";

fn plans_file(relative: &str) -> String {
    std::fs::read_to_string(root().join("plans").join(relative)).unwrap()
}

fn create_role(name: &str, trust: &str, description: Option<&str>) {
    let client = iam();
    runtime().block_on(async {
        client
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .set_description(description.map(str::to_string))
            .send()
            .await
            .unwrap();
    });
}

fn put_role_policy(role: &str, name: &str, document: &str) {
    let client = iam();
    runtime().block_on(async {
        client
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .unwrap();
    });
}

/// OpenMetadata's Glue connector page: a role the ingestion account assumes, with the three
/// Glue permissions, its session limited to an hour.
#[test]
fn an_openmetadata_glue_role_made_by_hand_imports_to_a_spec_that_only_adopts_it() {
    let role = unique("om-glue");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}"#;
    create_role(
        &role,
        trust,
        Some("Assumed by OpenMetadata's Glue ingestion"),
    );
    let client = iam();
    runtime().block_on(async {
        client
            .update_role()
            .role_name(&role)
            .max_session_duration(7200)
            .send()
            .await
            .unwrap();
    });
    put_role_policy(&role, "glue", &plans_file("openmetadata-glue/glue.json"));

    let imported = Imported::new(&["--stack", &unique("om"), "--role", &role]);
    let spec = std::fs::read_to_string(imported.spec()).unwrap();
    assert!(spec.contains("adopt = true"), "{spec}");
    assert!(spec.contains("max_session_hours = 2"), "{spec}");
    assert!(
        spec.contains(&format!("[role.{role}.policies.glue]")),
        "{spec}"
    );
    // The customer's document, pretty-printed: the same statement, nothing added.
    let glue: serde_json::Value =
        serde_json::from_str(&imported.file(&format!("policies/role-{role}-glue.json"))).unwrap();
    assert_eq!(
        glue["Statement"][0]["Action"],
        serde_json::json!(["glue:ListWorkflows", "glue:GetWorkflow", "glue:GetJobRuns"])
    );
    assert_eq!(glue["Statement"][0]["Resource"], "*");
    imported.assert_plan_only_adopts(1);
    imported.apply_then_no_changes();
    // A second import into the same directory leaves the first spec alone.
    let before = std::fs::read_to_string(imported.spec()).unwrap();
    let out = imported.dir.path().join("out").display().to_string();
    let again = plinth_aws(&["import", "--stack", "again", "--out", &out, "--role", &role]);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("exists already; nothing was written"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read_to_string(imported.spec()).unwrap(), before);
}

/// Ganymede's "Connecting to an S3 Bucket": a policy for the customer's bucket, a role per
/// environment trusted through Google with the environment's audience, the policy attached,
/// and the CORS rule the Integration panel lists on the bucket.
#[test]
fn a_ganymede_setup_made_by_hand_imports_with_references_between_its_resources() {
    let prefix = unique("gany");
    let bucket = format!("{prefix}-lab-data");
    let config = runtime().block_on(sdk());
    let s3 = s3(&config);
    let client = iam();
    let policy_arn = runtime().block_on(async {
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3.put_bucket_cors()
            .bucket(&bucket)
            .cors_configuration(
                aws_sdk_s3::types::CorsConfiguration::builder()
                    .cors_rules(
                        aws_sdk_s3::types::CorsRule::builder()
                            .allowed_origins("https://app.ganymede.bio")
                            .allowed_methods("GET")
                            .allowed_methods("PUT")
                            .allowed_methods("POST")
                            .allowed_methods("HEAD")
                            .allowed_headers("*")
                            .expose_headers("ETag")
                            .max_age_seconds(3000)
                            .build()
                            .unwrap(),
                    )
                    // A rule of another team's, named.
                    .cors_rules(
                        aws_sdk_s3::types::CorsRule::builder()
                            .id("reports-app")
                            .allowed_origins("https://reports.example")
                            .allowed_methods("GET")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let document = plans_file("ganymede-s3/bucket-access.json")
            .replace("${aws.partition}", "aws")
            .replace("${var.bucket}", &bucket);
        client
            .create_policy()
            .policy_name(&prefix)
            .policy_document(document)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap()
    });
    let mut roles = Vec::new();
    for (environment, audience) in [
        ("production", "113365414184548411233"),
        ("development", "109876543210987654321"),
    ] {
        let role = format!("{prefix}-{environment}");
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"accounts.google.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"accounts.google.com:aud":"{audience}"}}}}}}]}}"#
        );
        create_role(&role, &trust, None);
        runtime().block_on(async {
            client
                .attach_role_policy()
                .role_name(&role)
                .policy_arn(&policy_arn)
                .send()
                .await
                .unwrap();
        });
        roles.push(role);
    }

    let imported = Imported::new(&[
        "--stack",
        &prefix,
        "--policy",
        &policy_arn,
        "--role",
        &roles[0],
        "--role",
        &roles[1],
        "--bucket",
        &bucket,
    ]);
    let spec = std::fs::read_to_string(imported.spec()).unwrap();
    // The roles name the policy, and the policy the bucket, by reference.
    assert!(
        spec.contains(&format!(
            "managed_policies = [\"${{policy.{prefix}.arn}}\"]"
        )),
        "{spec}"
    );
    let document = imported.file(&format!("policies/policy-{prefix}-document.json"));
    assert!(
        document.contains(&format!("\"${{bucket.{bucket}.arn}}\"")),
        "{document}"
    );
    assert!(
        document.contains(&format!("\"arn:aws:s3:::${{bucket.{bucket}.name}}/*\"")),
        "{document}"
    );
    assert!(spec.contains("existing = true"), "{spec}");
    // On an existing bucket plinth owns the CORS rules it names by id: the rule made without
    // one stays as it is, undeclared, and the import says so.
    assert!(
        !spec.contains("allowed_origins = [\"https://app.ganymede.bio\"]"),
        "{spec}"
    );
    assert!(
        imported
            .run
            .stderr
            .contains("1 CORS rule without an id plinth can record is kept as it is"),
        "{}",
        imported.run.stderr
    );
    assert!(spec.contains("id = \"reports-app\""), "{spec}");
    imported.assert_plan_only_adopts(4);
    imported.apply_then_no_changes();
}

#[test]
fn importing_a_name_that_does_not_exist_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let present = unique("import-present");
    create_role(
        &present,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        None,
    );
    let missing = unique("import-missing");
    let run = plinth_aws(&[
        "import",
        "--stack",
        "s",
        "--out",
        &out.display().to_string(),
        "--role",
        &present,
        "--queue",
        &missing,
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: queue `{missing}` does not exist in account {ACCOUNT}"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert!(!Path::new(&out).exists());
}

/// What CloudFormation made carries AWS's own `aws:` tags, which no caller may set or remove
/// and a spec may not declare: they are left out of what import writes and of what a plan
/// compares, so a queue CloudFormation made imports to a spec that validates and plans only
/// its adoption, and no apply tries to remove them.
#[test]
fn aws_system_tags_are_neither_imported_nor_removed() {
    let name = unique("import-cfn");
    let url = runtime().block_on(async {
        aws_sdk_sqs::Client::new(&sdk().await)
            .create_queue()
            .queue_name(&name)
            .tags("aws:cloudformation:stack-name", "data-stack")
            .tags("team", "data")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    });
    let imported = Imported::new(&["--stack", &unique("cfn"), "--queue", &name]);
    let spec = imported.file("plinth.toml");
    assert!(!spec.contains("aws:cloudformation"), "{spec}");
    assert!(spec.contains("team"), "{spec}");
    imported.assert_plan_only_adopts(1);
    imported.apply_then_no_changes();
    let tags = runtime().block_on(async {
        aws_sdk_sqs::Client::new(&sdk().await)
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default()
    });
    assert_eq!(
        tags.get("aws:cloudformation:stack-name")
            .map(String::as_str),
        Some("data-stack"),
        "{tags:?}"
    );
}

fn kms() -> aws_sdk_kms::Client {
    runtime().block_on(async { aws_sdk_kms::Client::new(&sdk().await) })
}

const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Tonic Structural's page, followed by hand: the Lambda role with the page's policy and its
/// KMS statement, the server's EC2 role (the Data Pipeline V2 permissions) in an instance
/// profile, and a key for SQS whose policy gets the page's S3 statement. Returns the key's ARN.
fn tonic_by_hand(prefix: &str, lambda_policy: &str, server_policy: &str) -> String {
    let client = iam();
    create_role(&format!("{prefix}-server"), EC2_TRUST, None);
    put_role_policy(&format!("{prefix}-server"), "pipeline-v2", server_policy);
    runtime().block_on(async {
        let profile = format!("{prefix}-server");
        client
            .create_instance_profile()
            .instance_profile_name(&profile)
            .send()
            .await
            .unwrap();
        client
            .add_role_to_instance_profile()
            .instance_profile_name(&profile)
            .role_name(&profile)
            .send()
            .await
            .unwrap();
    });
    create_role(&format!("{prefix}-lambda"), LAMBDA_TRUST, None);
    put_role_policy(&format!("{prefix}-lambda"), "structural", lambda_policy);
    let kms = kms();
    let key = runtime().block_on(async {
        let key = kms
            .create_key()
            .description("SQS messages")
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        kms.create_alias()
            .alias_name(format!("alias/{prefix}-sqs"))
            .target_key_id(key.key_id())
            .send()
            .await
            .unwrap();
        let policy = kms
            .get_key_policy()
            .key_id(key.key_id())
            .policy_name("default")
            .send()
            .await
            .unwrap()
            .policy
            .unwrap();
        let mut policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
        policy["Statement"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "Sid": "Allow access for Amazon S3 Event Notifications to Amazon SQS",
                "Effect": "Allow",
                "Principal": { "Service": "s3.amazonaws.com" },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*"
            }));
        kms.put_key_policy()
            .key_id(key.key_id())
            .policy_name("default")
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
        key.arn.unwrap()
    });
    let kms_statement = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"],"Resource":"{key}"}}]}}"#
    );
    put_role_policy(&format!("{prefix}-lambda"), "kms", &kms_statement);
    key
}

/// The page's policy for the Lambda role, for this account.
fn tonic_lambda_policy() -> String {
    plans_file("tonic-structural-redshift/lambda-role.json").replace("${aws.account_id}", ACCOUNT)
}

#[test]
fn import_like_a_ready_made_stack_reports_missing_and_extra_permissions_per_statement() {
    let prefix = unique("tonic-like");
    // By hand, the Lambda role lacks s3:PutObject, and the server may also delete buckets.
    let lambda = tonic_lambda_policy().replace("\"s3:PutObject\",", "");
    let mut server: serde_json::Value = serde_json::from_str(&plans_file(
        "tonic-structural-redshift/server-pipeline-v2.json",
    ))
    .unwrap();
    server["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Sid": "Cleanup", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::tonic-*"
    }));
    tonic_by_hand(&prefix, &lambda, &server.to_string());

    let like = root().join("plans/tonic-structural-redshift.toml");
    let imported = Imported::new(&[
        "--like",
        &like.display().to_string(),
        "--var",
        &format!("prefix={prefix}"),
        "--var",
        "previous_process=true",
        "--var",
        &format!("kms_key=alias/{prefix}-sqs"),
    ]);
    let report = &imported.run.stdout;
    assert!(
        report.contains(&format!("~ role.lambda ({prefix}-lambda):")),
        "{report}"
    );
    // The statement of the Lambda role's policy, with the permission it lacks.
    let lambda_part = report
        .split_once("~ role.lambda")
        .unwrap()
        .1
        .split_once("\n\n")
        .map_or(report.as_str(), |(a, _)| a);
    assert!(
        lambda_part.contains("policies.structural: narrows access"),
        "{report}"
    );
    assert!(
        lambda_part.contains("~ VisualEditor0: different permissions (narrows access)"),
        "{report}"
    );
    assert!(lambda_part.contains("-    \"s3:PutObject\","), "{report}");
    // The server's extra statement widens.
    assert!(
        report.contains("+ Cleanup: extra permissions (widens access)"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "= instance_profile.server ({prefix}-server): as the ready-made stack has it"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "- queue.work ({prefix}-work): not found; the ready-made stack would create it"
        )),
        "{report}"
    );
    assert!(
        report.contains("rotation: ready-made true, hand-made false"),
        "{report}"
    );
    assert!(!report.contains("deletion_window_days"), "{report}");
    // What was found is imported under the ready-made stack's addresses.
    let spec = std::fs::read_to_string(imported.spec()).unwrap();
    assert!(spec.contains("[role.lambda]\n"), "{spec}");
    assert!(spec.contains("[instance_profile.server]\n"), "{spec}");
    assert!(spec.contains("role = \"${role.server.name}\""), "{spec}");
    assert!(
        spec.contains(&format!("key_id = \"alias/{prefix}-sqs\"")),
        "{spec}"
    );
    assert!(!spec.contains("[queue."), "{spec}");
    assert!(imported
        .file("policies/role-lambda-kms.json")
        .contains("\"Resource\": \"${key.sqs.arn}\""));
    // And, as written, it only adopts them (the page's Sids hold spaces: the key shares nothing).
    imported.assert_plan_only_adopts(4);

    // The same stack with its environments uncommented, as its comments say: --env chooses
    // the environment whose variables (here the prefix) name what to look for.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&like).unwrap();
    let text = text
        .replace("name = \"tonic-structural\"", "name = \"tonic-structural-${var.env}\"")
        .replace(
            "# [env.dev]\n# account_id = \"111111111111\"\n# vars = { env = \"dev\", prefix = \"tonic-structural-dev\", kms_key = \"alias/tonic-structural-dev-sqs\" }",
            &format!("[env.dev]\naccount_id = \"{ACCOUNT}\"\nvars = {{ env = \"dev\", prefix = \"{prefix}\" }}"),
        )
        .replacen("[vars]\n", "[vars]\nenv = \"none\"\n", 1);
    assert!(
        text.contains("[env.dev]\naccount_id"),
        "the ready-made stack's comment moved"
    );
    // Its files stay where they are: the copy names them by their full paths.
    let files = root().join("plans/tonic-structural-redshift");
    let text = text.replace(
        "\"tonic-structural-redshift/",
        &format!("\"{}/", files.display()),
    );
    let enved = dir.path().join("tonic.toml");
    std::fs::write(&enved, text).unwrap();
    let enved = enved.display().to_string();
    let kms = format!("kms_key=alias/{prefix}-sqs");
    let args = [
        "--like",
        &enved,
        "--var",
        "previous_process=true",
        "--var",
        &kms,
    ];
    let out = dir.path().join("out").display().to_string();
    let mut without: Vec<&str> = vec!["import", "--out", &out];
    without.extend(args);
    let refused = plinth_aws(&without);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("--env"), "{}", refused.stderr);
    let mut with_env = args.to_vec();
    with_env.extend(["--env", "dev"]);
    let imported = Imported::new(&with_env);
    assert!(
        imported
            .run
            .stdout
            .contains(&format!("~ role.lambda ({prefix}-lambda):")),
        "{}",
        imported.run.stdout
    );
}

/// Tonic Structural's page followed by hand (`tonic_by_hand`), imported by name: the roles, the
/// instance profile, and the key the customer made, which becomes `existing = true`.
#[test]
fn a_tonic_structural_setup_made_by_hand_imports_to_a_spec_that_only_adopts_it() {
    let prefix = unique("tonic-rt");
    let server = plans_file("tonic-structural-redshift/server-pipeline-v2.json");
    tonic_by_hand(&prefix, &tonic_lambda_policy(), &server);
    let imported = Imported::new(&[
        "--stack",
        &prefix,
        "--role",
        &format!("{prefix}-lambda"),
        "--role",
        &format!("{prefix}-server"),
        "--instance-profile",
        &format!("{prefix}-server"),
        "--key",
        &format!("alias/{prefix}-sqs"),
    ]);
    let spec = std::fs::read_to_string(imported.spec()).unwrap();
    assert!(
        spec.contains(&format!("role = \"${{role.{prefix}-server.name}}\"")),
        "{spec}"
    );
    // The page's Sids hold spaces: the shared key policy cannot name them, and says so.
    assert!(
        spec.contains("\"Allow access for Amazon S3 Event Notifications to Amazon SQS\""),
        "{spec}"
    );
    let kms = imported.file(&format!("policies/role-{prefix}-lambda-kms.json"));
    assert!(
        kms.contains(&format!("\"${{key.{prefix}-sqs.arn}}\"")),
        "{kms}"
    );
    imported.assert_plan_only_adopts(4);
    imported.apply_then_no_changes();
}

/// Gretel Hybrid's page followed by hand: the EKS cluster's OIDC provider, the workflow
/// worker's role trusted through it for the worker's service account only, and the key for
/// connection credentials whose policy lets the worker decrypt and denies everyone else.
#[test]
fn a_gretel_hybrid_setup_made_by_hand_imports_to_a_spec_that_only_adopts_it() {
    let prefix = unique("gretel-rt");
    let issuer = format!(
        "oidc.eks.us-west-2.amazonaws.com/id/{}",
        prefix.to_uppercase().replace('-', "")
    );
    let client = iam();
    let provider = runtime().block_on(async {
        client
            .create_open_id_connect_provider()
            .url(format!("https://{issuer}"))
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_arn
            .unwrap()
    });
    let role = format!("{prefix}-workflow-worker");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{issuer}:aud":"sts.amazonaws.com","{issuer}:sub":"system:serviceaccount:gretel-hybrid:gretel-workflow-worker"}}}}}}]}}"#
    );
    create_role(&role, &trust, Some("Gretel Hybrid workflow worker pods"));
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "KeyAdministration", "Effect": "Allow", "Principal": { "AWS": format!("arn:aws:iam::{ACCOUNT}:root") }, "Action": "kms:*", "Resource": "*" },
            { "Sid": "WorkerDecrypts", "Effect": "Allow", "Principal": { "AWS": role_arn }, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*" },
            { "Sid": "NobodyElseDecrypts", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
              "Condition": { "ArnNotEquals": { "aws:PrincipalArn": role_arn } } }
        ]
    });
    let kms = kms();
    let key_arn = runtime().block_on(async {
        let key = kms
            .create_key()
            .description("Gretel Hybrid connection credentials")
            .policy(policy.to_string())
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        kms.enable_key_rotation()
            .key_id(key.key_id())
            .send()
            .await
            .unwrap();
        key.arn.unwrap()
    });

    let imported = Imported::new(&[
        "--stack",
        &prefix,
        "--oidc-provider",
        &format!("https://{issuer}"),
        "--role",
        &role,
        "--key",
        &key_arn,
    ]);
    let spec = std::fs::read_to_string(imported.spec()).unwrap();
    assert!(spec.contains("[oidc_provider."), "{spec}");
    assert!(spec.contains("existing = true"), "{spec}");
    assert!(
        spec.contains("key_id = \"arn:aws:kms:${aws.region}:${aws.account_id}:key/"),
        "{spec}"
    );
    let trust = imported.file(&format!("policies/role-{role}-trust.json"));
    assert!(
        trust.contains("\"Federated\": \"${oidc_provider."),
        "{trust}"
    );
    let key_id = key_arn.rsplit('/').next().unwrap();
    let key_policy = imported.file(&format!("policies/key-{key_id}-policy.json"));
    assert!(
        key_policy.contains(&format!("\"aws:PrincipalArn\": \"${{role.{role}.arn}}\"")),
        "{key_policy}"
    );
    imported.assert_plan_only_adopts(3);
    imported.apply_then_no_changes();
}

#[test]
fn a_stack_name_plinth_cannot_use_is_refused_before_aws_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // No endpoint: any call to AWS would fail differently.
    let run = crate::support::plinth(&[
        "import",
        "--stack",
        "my stack",
        "--out",
        &out.display().to_string(),
        "--role",
        "r",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("error: --stack: stack name `my stack` may hold only"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was sent to AWS"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

/// A function made by hand, with its code uploaded as a zip, behind the test proxy: Lambda's
/// GetFunction names a presigned location for the code (here a server on loopback that
/// serves `served`, with a query standing in for the signature). Returns the function's and
/// its role's names and the proxy.
fn function_by_hand(prefix: &str, zip: &[u8], served: Vec<u8>) -> (String, String, Served) {
    let role = format!("{prefix}-role");
    let function = format!("{prefix}-fn");
    create_role(&role, LAMBDA_TRUST, None);
    runtime().block_on(async {
        let client = aws_sdk_lambda::Client::new(&sdk().await);
        client
            .create_function()
            .function_name(&function)
            .role(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .handler("index.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.to_vec()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let served = bytes::Bytes::from(served);
    let (server, server_runtime) = crate::proxy::serve(move |_, _| {
        let body = served.clone();
        async move { Ok(hyper::Response::new(http_body_util::Full::new(body))) }
    });
    let proxy = crate::proxy::FaultProxy::start(
        crate::support::moto(),
        crate::proxy::Faults {
            code_location: Some(format!(
                "{server}/snapshots/{function}.zip?X-Amz-Signature=presigned0sig"
            )),
            ..crate::proxy::Faults::none()
        },
    );
    (
        function,
        role,
        Served {
            proxy,
            _server: server_runtime,
        },
    )
}

/// The proxy that rewrites Lambda's code location, and the server the location points at.
struct Served {
    proxy: crate::proxy::FaultProxy,
    _server: tokio::runtime::Runtime,
}

fn function_zip(source: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.py"), source).unwrap();
    plinth::archive::zip_directory(dir.path()).unwrap()
}

/// The import downloads the function's zip from the location GetFunction names, checks it
/// against `CodeSha256`, and writes it where the spec says, so the plan right after shows no
/// code change; the presigned location is never shown.
#[test]
fn an_imported_function_gets_its_code_downloaded_and_plans_no_code_change() {
    let prefix = unique("import-fn");
    let zip = function_zip("def handler(event, context):\n    return 'made by hand'\n");
    let (function, role, served) = function_by_hand(&prefix, &zip, zip.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = crate::support::plinth(&[
        "import",
        "--stack",
        &prefix,
        "--out",
        &out.display().to_string(),
        "--function",
        &function,
        "--role",
        &role,
        "--endpoint-url",
        &served.proxy.url,
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let written = std::fs::read(out.join(format!("functions/{function}.zip"))).unwrap();
    assert_eq!(written, zip);
    assert!(
        !run.stderr.contains("deployment package"),
        "no note asks for the package: {}",
        run.stderr
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("presigned0sig"), "{all}");
    assert!(!all.contains("/snapshots/"), "{all}");
    let imported = Imported { dir, run };
    let spec = std::fs::read_to_string(imported.spec()).unwrap();
    assert!(
        spec.contains(&format!("code = {{ zip = \"functions/{function}.zip\" }}")),
        "{spec}"
    );
    imported.assert_plan_only_adopts(2);
    imported.apply_then_no_changes();
}

/// Bytes that do not match the function's `CodeSha256` are refused, and nothing is written.
#[test]
fn an_imported_functions_code_that_does_not_match_its_sha256_is_refused() {
    let prefix = unique("import-fn-bad");
    let zip = function_zip("def handler(event, context):\n    return 1\n");
    let other = function_zip("def handler(event, context):\n    return 2\n");
    let (function, _, served) = function_by_hand(&prefix, &zip, other);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = crate::support::plinth(&[
        "import",
        "--stack",
        &prefix,
        "--out",
        &out.display().to_string(),
        "--function",
        &function,
        "--endpoint-url",
        &served.proxy.url,
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: download the code of function `{function}`: what was downloaded has SHA-256"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert!(!run.stderr.contains("presigned0sig"), "{}", run.stderr);
    assert!(!out.exists());
}

/// One resource named twice, by the same name or a key by two of its aliases, is one block:
/// two would name one resource, and the spec would not plan.
#[test]
fn a_resource_named_twice_is_imported_once() {
    let queue = unique("import-twice");
    let alias = unique("alias/import-twice");
    runtime().block_on(async {
        let config = sdk().await;
        aws_sdk_sqs::Client::new(&config)
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .unwrap();
        let kms = aws_sdk_kms::Client::new(&config);
        let key = kms.create_key().send().await.unwrap();
        let id = key.key_metadata.unwrap().key_id;
        for name in [alias.clone(), format!("{alias}-2")] {
            kms.create_alias()
                .alias_name(name)
                .target_key_id(&id)
                .send()
                .await
                .unwrap();
        }
    });
    let second = format!("{alias}-2");
    let imported = Imported::new(&[
        "--stack",
        &unique("twice"),
        "--queue",
        &queue,
        "--queue",
        &queue,
        "--key",
        &alias,
        "--key",
        &second,
    ]);
    let spec = imported.file("plinth.toml");
    assert_eq!(spec.matches("[queue.").count(), 1, "{spec}");
    assert_eq!(spec.matches("[key.").count(), 1, "{spec}");
    imported.plan_json();
}

/// Resources named by ARN (a queue by its URL), as the console and the CLI show them, are
/// imported as if named by name.
#[test]
fn resources_named_by_arn_or_url_are_imported() {
    let (role, queue, bucket) = (
        unique("import-arn"),
        unique("import-arn"),
        unique("import-arn"),
    );
    create_role(
        &role,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#,
        None,
    );
    let url = runtime().block_on(async {
        let config = sdk().await;
        s3(&config)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        aws_sdk_sqs::Client::new(&config)
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    });
    let role_arn = format!("arn:aws:iam::123456789012:role/{role}");
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let imported = Imported::new(&[
        "--stack",
        &unique("by-arn"),
        "--role",
        &role_arn,
        "--queue",
        &url,
        "--bucket",
        &bucket_arn,
    ]);
    let spec = imported.file("plinth.toml");
    for name in [&role, &queue, &bucket] {
        assert!(spec.contains(&format!("name = \"{name}\"")), "{spec}");
    }
    assert!(!spec.contains("arn_aws"), "{spec}");
    imported.plan_json();
}
