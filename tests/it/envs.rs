//! Environments against moto: several environments of one spec in one account, each its own
//! stack; the account guard; profiles as the AWS CLI takes them; saved plans of several
//! environments.

use crate::proxy::{FaultProxy, Faults};
use crate::support::{command, moto, plinth, plinth_aws, runtime, sdk, unique, Run, TempSpec};

/// moto's account.
const MOTO_ACCOUNT: &str = "123456789012";

/// Two environments (dev, prod) in moto's account, each with its own role and queue.
fn spec(stack: &str, prefix: &str, prod_account: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}-${{var.env}}"

[vars]
env = "none"
prefix = "{prefix}"

[env.dev]
account_id = "{MOTO_ACCOUNT}"
vars = {{ env = "dev" }}

[env.prod]
account_id = "{prod_account}"
vars = {{ env = "prod" }}

[role.worker]
name = "${{var.prefix}}-${{var.env}}-worker"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[queue.work]
name = "${{var.prefix}}-${{var.env}}-work"
"#
    )
}

fn role_exists(name: &str) -> bool {
    runtime().block_on(async {
        aws_sdk_iam::Client::new(&sdk().await)
            .get_role()
            .role_name(name)
            .send()
            .await
            .is_ok()
    })
}

fn queue_exists(name: &str) -> bool {
    runtime().block_on(async {
        aws_sdk_sqs::Client::new(&sdk().await)
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .is_ok()
    })
}

/// Destroys both environments of a spec made by [`spec`].
fn destroy_both(spec: &TempSpec) {
    for env in ["dev", "prod"] {
        plinth_aws(&["destroy", "-f", &spec.arg(), "--env", env, "--auto-approve"]).ok();
    }
}

fn intact(prefix: &str, env: &str) -> bool {
    role_exists(&format!("{prefix}-{env}-worker")) && queue_exists(&format!("{prefix}-{env}-work"))
}

#[test]
fn two_environments_in_one_account_are_two_stacks_that_never_touch_each_other() {
    let (stack, prefix) = (unique("envs"), unique("env"));
    let spec = TempSpec::new(&spec(&stack, &prefix, MOTO_ACCOUNT));
    let file = spec.arg();
    plinth_aws(&["apply", "-f", &file, "--env", "dev", "--auto-approve"]).ok();
    let prod = plinth_aws(&["apply", "-f", &file, "--env", "prod", "--auto-approve"]).ok();
    assert!(
        prod.stderr.contains("Apply complete: 2 added"),
        "applying prod adds its own and deletes nothing of dev's: {}",
        prod.stderr
    );
    assert!(intact(&prefix, "dev") && intact(&prefix, "prod"));

    let plan = plinth_aws(&["plan", "-f", &file, "--all-envs", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("=== environment dev ==="),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("=== environment prod ==="),
        "{}",
        plan.stdout
    );

    plinth_aws(&["destroy", "-f", &file, "--env", "dev", "--auto-approve"]).ok();
    assert!(!role_exists(&format!("{prefix}-dev-worker")));
    assert!(intact(&prefix, "prod"), "destroying dev leaves prod");
    let plan = plinth_aws(&["plan", "-f", &file, "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    plinth_aws(&["destroy", "-f", &file, "--env", "prod", "--auto-approve"]).ok();
}

#[test]
fn a_spec_with_environments_refuses_to_run_without_a_choice() {
    let spec = TempSpec::new(&spec(&unique("envs"), &unique("env"), MOTO_ACCOUNT));
    for args in [
        vec!["plan", "-f", &spec.arg()],
        vec!["apply", "-f", &spec.arg(), "--auto-approve"],
        vec!["outputs", "-f", &spec.arg()],
    ] {
        let run = plinth_aws(&args);
        assert_eq!(run.code, 1, "{args:?}");
        assert!(
            run.stderr.contains("declares environments (dev, prod)")
                && run.stderr.contains("--all-envs"),
            "{}",
            run.stderr
        );
    }
    let unknown = plinth_aws(&["plan", "-f", &spec.arg(), "--env", "prdo"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("did you mean `prod`?"),
        "{}",
        unknown.stderr
    );
    let validate = plinth(&["validate", "-f", &spec.arg()]).ok();
    assert!(
        validate.stdout.contains("(environment `prod`) is valid"),
        "{}",
        validate.stdout
    );
}

/// Runs plinth through a proxy that counts the calls, to see what was sent.
fn through_proxy(args: &[&str]) -> (Run, Vec<String>) {
    let proxy = FaultProxy::start(moto(), Faults::none());
    let mut all = args.to_vec();
    all.extend(["--endpoint-url", &proxy.url]);
    let run = plinth(&all);
    let calls = proxy.counts().by_operation.keys().cloned().collect();
    (run, calls)
}

#[test]
fn the_account_guard_refuses_another_account_before_reading_anything() {
    let spec = TempSpec::new(&spec(&unique("envs"), &unique("env"), "222222222222"));
    let (run, calls) = through_proxy(&["plan", "-f", &spec.arg(), "--env", "prod"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("environment `prod` must be in account 222222222222")
            && run
                .stderr
                .contains(&format!("credentials are for account {MOTO_ACCOUNT}")),
        "{}",
        run.stderr
    );
    assert_eq!(
        calls,
        ["sts:GetCallerIdentity"],
        "nothing but who the caller is"
    );

    let (apply, calls) = through_proxy(&[
        "apply",
        "-f",
        &spec.arg(),
        "--env",
        "prod",
        "--auto-approve",
    ]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert_eq!(
        calls,
        ["sts:GetCallerIdentity"],
        "no lock, no read, no change"
    );

    let plain = TempSpec::new(&format!(
        "[stack]\nname = \"{}\"\naccount_id = \"210987654321\"\n\n[queue.q]\nname = \"{}\"\n",
        unique("guard"),
        unique("guard")
    ));
    let run = plinth_aws(&["plan", "-f", &plain.arg()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("must be in account 210987654321"),
        "{}",
        run.stderr
    );
}

/// Credentials of moto's account `account`, from AssumeRole (moto hands out keys of the
/// role's account).
fn keys_in(account: &str) -> (String, String, String) {
    runtime().block_on(async {
        let out = aws_sdk_sts::Client::new(&sdk().await)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/deployer"))
            .role_session_name("tests")
            .send()
            .await
            .expect("moto assumes a role");
        let c = out.credentials().expect("credentials");
        (
            c.access_key_id().to_string(),
            c.secret_access_key().to_string(),
            c.session_token().to_string(),
        )
    })
}

#[test]
fn an_explicit_profile_beats_credentials_in_the_environment_and_a_missing_one_is_an_error() {
    let other = "210987654321";
    let (key, secret, token) = keys_in(other);
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{}\"\naccount_id = \"{other}\"\n\n[queue.q]\nname = \"{}\"\n",
        unique("profile"),
        unique("profile")
    ));
    spec.write(
        "credentials",
        &format!("[other]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\naws_session_token = {token}\n"),
    );
    let credentials = spec.dir.path().join("credentials");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--endpoint-url", moto()]);
        let out = command(&all)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .output()
            .expect("run plinth");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // AWS_ACCESS_KEY_ID=testing (moto's own account) is set, as in every test.
    let (code, stderr) = run(&["plan", "-f", &spec.arg(), "--profile", "other"]);
    assert_eq!(
        code,
        Some(0),
        "the profile's account, not the environment's keys: {stderr}"
    );
    let (code, stderr) = run(&["plan", "-f", &spec.arg()]);
    assert_eq!(
        code,
        Some(1),
        "without the profile, the environment's keys: {stderr}"
    );

    let (code, stderr) = run(&["plan", "-f", &spec.arg(), "--profile", "nope"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("the profile `nope` is not defined in /dev/null or")
            && stderr.contains(&credentials.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn an_environment_reaches_its_account_through_its_role_and_profile() {
    let other = "210987654322";
    let (stack, prefix) = (unique("envs"), unique("env"));
    let text = spec(&stack, &prefix, other).replace(
        &format!("account_id = \"{other}\""),
        &format!("account_id = \"{other}\"\nassume_role_arn = \"arn:aws:iam::{other}:role/deployer\"\nexternal_id = \"tests\""),
    );
    let spec = TempSpec::new(&text);
    let plan = plinth_aws(&["plan", "-f", &spec.arg(), "--all-envs", "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let envs = json["environments"].as_array().unwrap();
    assert_eq!(envs[0]["account_id"], MOTO_ACCOUNT);
    assert_eq!(envs[1]["name"], "prod");
    assert_eq!(
        envs[1]["account_id"], other,
        "prod's plan is made in prod's account"
    );

    let missing = TempSpec::new(&spec_text_with_profile(&stack, &prefix));
    let run = plinth_aws(&["plan", "-f", &missing.arg(), "--env", "dev"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("the profile `dev-admin` is not defined"),
        "{}",
        run.stderr
    );
}

fn spec_text_with_profile(stack: &str, prefix: &str) -> String {
    spec(stack, prefix, MOTO_ACCOUNT).replace(
        "vars = { env = \"dev\" }",
        "profile = \"dev-admin\"\nvars = { env = \"dev\" }",
    )
}

#[test]
fn a_saved_plan_of_several_environments_applies_each_and_refuses_one_that_moved() {
    let (stack, prefix) = (unique("envs"), unique("env"));
    let text =
        spec(&stack, &prefix, MOTO_ACCOUNT) + "\n[outputs]\nWORKER_ROLE = \"${role.worker.arn}\"\n";
    let spec = TempSpec::new(&text);
    let file = spec.dir.path().join("plan.plinth");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--all-envs", "--out", file]).ok();
    let shown = plinth(&["show", file, "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(json["environments"].as_array().unwrap().len(), 2);

    let apply = plinth_aws(&["apply", file]).ok();
    assert!(
        apply.stderr.contains("dev          123456789012  applied")
            && apply.stderr.contains("prod         123456789012  applied"),
        "{}",
        apply.stderr
    );
    // The environments apply at once, so each progress line says whose it is.
    for env in ["dev", "prod"] {
        assert!(
            apply
                .stderr
                .contains(&format!("[{env}] role.worker: creating done in"))
                && apply
                    .stderr
                    .contains(&format!("[{env}] Apply complete: 2 added")),
            "{}",
            apply.stderr
        );
    }
    assert!(intact(&prefix, "dev") && intact(&prefix, "prod"));
    // Each environment's outputs, after its name.
    for env in ["dev", "prod"] {
        assert!(
            apply.stdout.contains(&format!(
                "# environment {env}\nWORKER_ROLE=arn:aws:iam::123456789012:role/{prefix}-{env}-worker\n"
            )),
            "{}",
            apply.stdout
        );
    }

    // A second change, planned for both; then prod moves before the apply.
    std::fs::write(
        spec.path(),
        std::fs::read_to_string(spec.path())
            .unwrap()
            .replace("[queue.work]\n", "[queue.work]\nvisibility_timeout = 60\n"),
    )
    .unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--all-envs", "--out", file]).ok();
    runtime().block_on(async {
        let sqs = aws_sdk_sqs::Client::new(&sdk().await);
        let url = sqs
            .get_queue_url()
            .queue_name(format!("{prefix}-prod-work"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        sqs.delete_queue().queue_url(url).send().await.unwrap();
    });
    let apply = plinth_aws(&["apply", file, "--env-parallelism", "1"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("dev          123456789012  applied"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains(
            "prod         123456789012  failed: the account no longer matches the saved plan"
        ),
        "{}",
        apply.stderr
    );
    assert!(
        !queue_exists(&format!("{prefix}-prod-work")),
        "nothing of prod's plan applied"
    );
    destroy_both(&spec);
}

#[test]
fn shards_plan_disjoint_slices_and_show_merges_their_files_into_one_comment() {
    let (stack, prefix) = (unique("envs"), unique("env"));
    let spec = TempSpec::new(&spec(&stack, &prefix, MOTO_ACCOUNT));
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let file = spec.dir.path().join(format!("plan-{}.plinth", &shard[..1]));
        let file = file.to_str().unwrap().to_string();
        let args = [
            "plan",
            "-f",
            &spec.arg(),
            "--all-envs",
            "--shard",
            shard,
            "--out",
            &file,
        ];
        plinth_aws(&args).ok();
        files.push(file);
    }
    let one = plinth(&["show", &files[0], "--format", "json"]).ok();
    let one: serde_json::Value = serde_json::from_str(&one.stdout).unwrap();
    assert_eq!(
        one["stack"],
        format!("{stack}-dev"),
        "shard 1 of 2 is dev alone"
    );
    let merged = plinth(&[
        "show", "--merge", &files[0], &files[1], "--format", "markdown",
    ])
    .ok();
    assert!(
        merged.stdout.contains("### plinth plan: 2 environments"),
        "{}",
        merged.stdout
    );
    assert!(merged.stdout.contains("| dev |") && merged.stdout.contains("| prod |"));
    let twice = plinth(&["show", "--merge", &files[0], &files[0]]);
    assert_eq!(twice.code, 1);
    assert!(
        twice.stderr.contains("in more than one of the plan files"),
        "{}",
        twice.stderr
    );
}

/// A saved plan applies the environments chosen (`--env`, `--shard`), though another one's var
/// file is not read for them, and refuses variables it was not made with: a `PLINTH_VAR_env`
/// set in the apply's environment would apply one environment's plan as another's stack.
#[test]
fn apply_of_a_saved_plan_honours_env_and_refuses_what_the_plan_was_not_made_from() {
    let (stack, prefix) = (unique("envs"), unique("env"));
    // prod takes its variables from a file, which applying dev alone does not read.
    let text = spec(&stack, &prefix, MOTO_ACCOUNT)
        .replace("vars = { env = \"prod\" }", "var_files = [\"prod.toml\"]");
    assert!(text.contains("prod.toml"));
    let spec = TempSpec::new(&text);
    spec.write("prod.toml", "env = \"prod\"\n");
    let file = spec.dir.path().join("plan.plinth");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--all-envs", "--out", file]).ok();
    let moved_by_variable = command(&["apply", file, "--shard", "2/2", "--endpoint-url", moto()])
        .env("PLINTH_VAR_env", "dev")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&moved_by_variable.stderr);
    assert_eq!(moved_by_variable.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PLINTH_VAR_env is set, and was not when the plan was made"),
        "{stderr}"
    );

    let unknown = plinth_aws(&["apply", file, "--env", "staging"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .contains("the saved plan holds no environment `staging`")
            && unknown.stderr.contains("it holds: dev, prod"),
        "{}",
        unknown.stderr
    );
    spec.write("other.toml", "[stack]\nname = \"other\"\n");
    let other = spec.dir.path().join("other.toml");
    let moved = plinth_aws(&["apply", file, "-f", other.to_str().unwrap()]);
    assert_eq!(moved.code, 1, "{}", moved.stderr);
    assert!(
        moved.stderr.contains("this saved plan was made from"),
        "{}",
        moved.stderr
    );
    let var_file = plinth_aws(&["apply", file, "--var-file", other.to_str().unwrap()]);
    assert_eq!(var_file.code, 1, "{}", var_file.stderr);
    assert!(
        !intact(&prefix, "dev") && !intact(&prefix, "prod"),
        "a refused apply changes nothing"
    );

    let dev = plinth_aws(&["apply", file, "--env", "dev", "-f", &spec.arg()]).ok();
    assert!(
        dev.stderr.contains("Apply complete: 2 added"),
        "{}",
        dev.stderr
    );
    assert!(intact(&prefix, "dev"), "dev was chosen");
    assert!(
        !role_exists(&format!("{prefix}-prod-worker"))
            && !queue_exists(&format!("{prefix}-prod-work")),
        "prod was not chosen, so nothing of its plan is applied"
    );
    let prod = plinth_aws(&["apply", file, "--shard", "2/2"]).ok();
    assert!(
        prod.stderr.contains("Apply complete: 2 added"),
        "{}",
        prod.stderr
    );
    assert!(
        intact(&prefix, "prod"),
        "the second shard of (dev, prod) is prod"
    );
    destroy_both(&spec);
}

#[test]
fn a_shard_without_an_environment_still_writes_an_empty_plan_and_document() {
    let (stack, prefix) = (unique("envs"), unique("env"));
    let spec = TempSpec::new(&spec(&stack, &prefix, MOTO_ACCOUNT));
    let file = spec.dir.path().join("plan-3.plinth");
    let file = file.to_str().unwrap();
    let args = [
        "plan",
        "-f",
        &spec.arg(),
        "--all-envs",
        "--shard",
        "3/3",
        "--out",
        file,
        "--format",
        "json",
    ];
    let empty = plinth_aws(&args).ok();
    let json: serde_json::Value = serde_json::from_str(&empty.stdout).unwrap();
    assert_eq!(
        json["environments"],
        serde_json::json!([]),
        "{}",
        empty.stdout
    );
    let applied = plinth_aws(&["apply", file]).ok();
    assert!(
        applied.stderr.contains("nothing to apply"),
        "{}",
        applied.stderr
    );
    let first = spec.dir.path().join("plan-1.plinth");
    let first = first.to_str().unwrap();
    plinth_aws(&[
        "plan",
        "-f",
        &spec.arg(),
        "--all-envs",
        "--shard",
        "1/3",
        "--out",
        first,
    ])
    .ok();
    let merged = plinth(&["show", "--merge", first, file, "--format", "markdown"]).ok();
    assert!(
        merged.stdout.contains("### plinth plan: 1 environment"),
        "{}",
        merged.stdout
    );
}

/// Environments planned at once log their warnings (a retry, here) under their own names, so a
/// pipeline's log says whose request was throttled.
#[test]
fn a_warning_while_environments_plan_at_once_names_its_environment() {
    let spec = TempSpec::new(&spec(&unique("envs"), &unique("env"), MOTO_ACCOUNT));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![("iam:GetRole".into(), 2, crate::proxy::Fault::Throttle)],
            ..Faults::none()
        },
    );
    let run = plinth(&[
        "plan",
        "-f",
        &spec.arg(),
        "--all-envs",
        "--endpoint-url",
        &proxy.url,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let retries: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("retrying") && l.contains("throttled"))
        .collect();
    assert!(!retries.is_empty(), "{}", run.stderr);
    assert!(
        retries
            .iter()
            .all(|l| l.contains("env{name=dev}") || l.contains("env{name=prod}")),
        "{}",
        run.stderr
    );
}

/// An environment whose apply fails part way (a managed policy that does not exist) counts
/// against `--max-failures`: with none tolerated, the next environment does not start. The
/// report's command to run again names the environment, which a spec with environments needs.
#[test]
fn an_environment_that_fails_part_way_stops_the_next_and_its_hint_names_it() {
    let (stack, prefix) = (unique("envfail"), unique("envf"));
    let text = spec(&stack, &prefix, MOTO_ACCOUNT)
        .replace(
            "vars = { env = \"dev\" }",
            "vars = { env = \"dev\", policy = \"arn:aws:iam::aws:policy/NoSuchPolicyForThisTest\" }",
        )
        .replace(
            "[vars]\n",
            "[vars]\npolicy = \"arn:aws:iam::aws:policy/ReadOnlyAccess\"\n",
        )
        .replace(
            "trust = { Version",
            "managed_policies = [\"${var.policy}\"]\ntrust = { Version",
        );
    assert!(
        text.contains("NoSuchPolicyForThisTest") && text.contains("managed_policies"),
        "{text}"
    );
    let spec = TempSpec::new(&text);
    let file = spec.dir.path().join("plan.plinth");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--all-envs", "--out", file]).ok();
    let apply = plinth_aws(&[
        "apply",
        file,
        "--env-parallelism",
        "1",
        "--max-failures",
        "0",
    ]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains(&format!(
            "Run `plinth apply -f {} --env dev` again to finish",
            spec.arg()
        )),
        "the command to run again names the spec and the environment: {}",
        apply.stderr
    );
    assert!(
        apply
            .stderr
            .contains("not started (--max-failures reached)"),
        "{}",
        apply.stderr
    );
    assert!(
        !queue_exists(&format!("{prefix}-prod-work")),
        "prod did not start"
    );
    for env in ["dev", "prod"] {
        plinth_aws(&["destroy", "-f", &spec.arg(), "--env", env, "--auto-approve"]);
    }
}
