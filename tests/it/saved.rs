//! Saved plans in a pipeline: plan --out on a pull request, apply FILE after review.

use crate::support::{
    command, moto, plinth, plinth_aws, plinth_on_terminal, runtime, sdk, unique, TempSpec,
};

fn spec(stack: &str, prefix: &str) -> String {
    format!(
        r#"[stack]
name = "{stack}"

[role.worker]
name = "{prefix}-worker"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[role.reader]
name = "{prefix}-reader"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = "${{role.worker.arn}}" }}, Action = "sts:AssumeRole" }}] }}
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

#[test]
fn a_saved_plan_applies_exactly_and_without_a_prompt() {
    let (stack, prefix) = (unique("saved"), unique("tonic"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    let file = spec.dir.path().join("plan.json");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--out", file]).ok();
    assert!(
        !role_exists(&format!("{prefix}-worker")),
        "planning changes nothing"
    );

    let shown = plinth(&["show", file, "--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(json["summary"]["add"], 2);

    let apply = plinth_aws(&["apply", file]).ok();
    assert!(
        apply.stderr.contains("Apply complete: 2 added"),
        "{}",
        apply.stderr
    );
    assert!(role_exists(&format!("{prefix}-reader")));
    assert_eq!(
        plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code,
        0
    );
}

/// `destroy FILE` deletes, and only deletes: a plan that creates is refused whole, and a
/// destroy plan is applied. `apply FILE` applies a destroy plan too, and says first that it
/// is one.
#[test]
fn destroy_applies_only_a_destroy_plan() {
    let (stack, prefix) = (unique("saved"), unique("tonic"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    let file = spec.dir.path().join("create.json");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--out", file]).ok();
    let refused = plinth_aws(&["destroy", file]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is not a destroy plan"),
        "{}",
        refused.stderr
    );
    assert!(!role_exists(&format!("{prefix}-worker")), "nothing created");

    plinth_aws(&["apply", file]).ok();
    let file = spec.dir.path().join("destroy.json");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--destroy", "--out", file]).ok();
    let destroyed = plinth_aws(&["destroy", file]).ok();
    assert!(
        destroyed.stderr.contains("2 destroyed"),
        "{}",
        destroyed.stderr
    );
    assert!(!destroyed.stderr.contains("is a destroy plan"));
    assert!(!role_exists(&format!("{prefix}-worker")));

    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    plinth_aws(&["plan", "-f", &spec.arg(), "--destroy", "--out", file]).ok();
    let applied = plinth_aws(&["apply", file]).ok();
    assert!(
        applied.stderr.starts_with(&format!(
            "warning: {file} is a destroy plan (`plinth plan --destroy`)"
        )) && applied.stderr.contains("2 destroyed"),
        "{}",
        applied.stderr
    );
}

#[test]
fn a_saved_plan_is_refused_whole_when_the_account_moved() {
    let (stack, prefix) = (unique("moved"), unique("tonic"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    // The reviewed change: tag the reader.
    std::fs::write(spec.path(), spec_text_with_extra_tag(&spec.path())).unwrap();
    let file = spec.dir.path().join("plan.json");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--out", file]).ok();

    // After the review, someone widens the worker's trust by hand, and the reader's.
    let client = runtime().block_on(async { aws_sdk_iam::Client::new(&sdk().await) });
    runtime().block_on(async {
        for role in ["worker", "reader"] {
            client
                .update_assume_role_policy()
                .role_name(format!("{prefix}-{role}"))
                .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#)
                .send()
                .await
                .unwrap();
        }
    });
    let apply = plinth_aws(&["apply", file]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("none of it was applied"),
        "{}",
        apply.stderr
    );
    assert!(
        apply
            .stderr
            .contains("role.worker: was planned as no-op, now needs update"),
        "{}",
        apply.stderr
    );
    // The reader was to be updated all along: what moved is named.
    assert!(
        apply
            .stderr
            .contains("role.reader: its `trust` changed since the plan"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("hint: plan again"),
        "{}",
        apply.stderr
    );
    runtime().block_on(async {
        let reader = client
            .get_role()
            .role_name(format!("{prefix}-reader"))
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        assert!(
            reader.tags().iter().all(|t| t.key() != "team"),
            "the reviewed tag change was not applied either"
        );
    });
}

/// What the spec leaves unmanaged may change between plan and apply (an account's
/// auto-tagging adds a tag, someone changes the session length) on a resource the plan leaves
/// as it is: the saved plan does the same, and is applied.
#[test]
fn a_saved_plan_is_applied_when_only_unmanaged_settings_moved() {
    let (stack, prefix) = (unique("unmanaged"), unique("tonic"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    std::fs::write(spec.path(), spec_text_with_extra_tag(&spec.path())).unwrap();
    let file = spec.dir.path().join("plan.json");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--out", file]).ok();

    let client = runtime().block_on(async { aws_sdk_iam::Client::new(&sdk().await) });
    runtime().block_on(async {
        client
            .tag_role()
            .role_name(format!("{prefix}-worker"))
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("cost-center")
                    .value("42")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        client
            .update_role()
            .role_name(format!("{prefix}-worker"))
            .max_session_duration(7200)
            .send()
            .await
            .unwrap();
    });
    let apply = plinth_aws(&["apply", file]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stderr.contains("1 changed"), "{}", apply.stderr);
}

#[test]
fn an_edited_plan_file_or_spec_is_refused() {
    let (stack, prefix) = (unique("edited"), unique("tonic"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    let file = spec.dir.path().join("plan.json");
    plinth_aws(&["plan", "-f", &spec.arg(), "--out", file.to_str().unwrap()]).ok();

    let original = std::fs::read_to_string(&file).unwrap();
    let edited = original.replace("ec2.amazonaws.com", "lambda.amazonaws.com");
    assert_ne!(original, edited);
    std::fs::write(&file, &edited).unwrap();
    let apply = plinth_aws(&["apply", file.to_str().unwrap()]);
    assert_eq!(apply.code, 1);
    assert!(
        apply.stderr.contains("was modified after plinth wrote it"),
        "{}",
        apply.stderr
    );
    assert!(!role_exists(&format!("{prefix}-worker")));

    std::fs::write(&file, &original).unwrap();
    std::fs::write(spec.path(), spec_text_with_extra_tag(&spec.path())).unwrap();
    let apply = plinth_aws(&["apply", file.to_str().unwrap()]);
    assert_eq!(apply.code, 1);
    assert!(
        apply
            .stderr
            .contains("the spec changed since the plan was made"),
        "{}",
        apply.stderr
    );
    assert!(!role_exists(&format!("{prefix}-worker")));
}

fn spec_text_with_extra_tag(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap().replace(
        "[role.reader]\n",
        "[role.reader]\ntags = { team = \"data\" }\n",
    )
}

#[test]
fn a_saved_plan_holds_no_secret_and_checks_it_again_at_apply() {
    let (stack, prefix) = (unique("secret"), unique("tonic"));
    let secret = "s3cr3t-token-7f1c9a";
    let spec = TempSpec::new(&format!(
        r#"[stack]
name = "{stack}"

[vars]
token = "placeholder"

[role.lambda]
name = "{prefix}-lambda"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ Service = "lambda.amazonaws.com" }}, Action = "sts:AssumeRole" }}] }}

[function.worker]
name = "{prefix}-worker"
role = "${{role.lambda.arn}}"
runtime = "python3.12"
handler = "main.handler"
code = {{ dir = "src" }}

[function.worker.environment]
API_TOKEN = {{ secret = "${{var.token}}" }}
DB_PASS = {{ secret = "db-pass-4e2b91" }}
MODE = "a"
"#
    ));
    spec.write(
        "src/main.py",
        "def handler(event, context):\n    return None\n",
    );
    let file = spec.dir.path().join("plan.json");
    let file = file.to_str().unwrap();
    let var = format!("token={secret}");
    plinth_aws(&["plan", "-f", &spec.arg(), "--var", &var, "--out", file]).ok();
    let saved = std::fs::read_to_string(file).unwrap();
    assert!(!saved.contains(secret), "the plan file holds the secret");

    let missing = plinth_aws(&["apply", file]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("the plan was made with --var token=...; pass it again"),
        "{}",
        missing.stderr
    );
    let other = plinth_aws(&["apply", file, "--var", "token=another-value"]);
    assert_eq!(other.code, 1);
    assert!(
        other
            .stderr
            .contains("--var token has another value than when the plan was made"),
        "{}",
        other.stderr
    );
    assert!(
        !role_exists(&format!("{prefix}-lambda")),
        "nothing was applied"
    );
    // The secret from the environment instead: planned with one value, applied with another,
    // it is refused as the variable that differs (named, its value not shown), before the
    // account is read, not as a change in the account.
    let env_file = spec.dir.path().join("env-plan.json");
    let env_file = env_file.to_str().unwrap();
    let with_token = |args: &[&str], token: &str| {
        let mut all = args.to_vec();
        all.extend(["--endpoint-url", moto()]);
        let out = command(&all)
            .env("PLINTH_VAR_token", token)
            .output()
            .expect("run plinth");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _) = with_token(&["plan", "-f", &spec.arg(), "--out", env_file], secret);
    assert_eq!(code, Some(0));
    let (code, stderr) = with_token(&["apply", env_file], "another-value");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("PLINTH_VAR_token has another value than when the plan was made")
            && !stderr.contains("the account no longer matches"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(secret) && !stderr.contains("another-value"),
        "{stderr}"
    );

    let run = plinth_aws(&["apply", file, "--var", &var]).ok();
    assert!(
        run.stderr.contains("Apply complete: 2 added"),
        "{}",
        run.stderr
    );
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(secret), "{text}");
    }
    runtime().block_on(async {
        let config = aws_sdk_lambda::Client::new(&sdk().await)
            .get_function_configuration()
            .function_name(format!("{prefix}-worker"))
            .send()
            .await
            .unwrap();
        let env = config.environment().and_then(|e| e.variables()).unwrap();
        assert_eq!(env.get("API_TOKEN").map(String::as_str), Some(secret));
    });

    // Shown from the plan file, a secret is marked changed where the plan marked it: the
    // file holds neither side's secret, only which one differs.
    let text = std::fs::read_to_string(spec.path()).unwrap();
    std::fs::write(spec.path(), text.replace("MODE = \"a\"", "MODE = \"b\"")).unwrap();
    for (token, changed) in [(secret, false), ("rotated-token-2c", true)] {
        let var = format!("token={token}");
        let planned = plinth_aws(&["plan", "-f", &spec.arg(), "--var", &var, "--out", file]).ok();
        let shown = plinth(&["show", file]).ok();
        for out in [&planned.stdout, &shown.stdout] {
            assert!(out.contains("DB_PASS = (sensitive), MODE = \"b\""), "{out}");
            assert_eq!(
                out.contains("API_TOKEN = (sensitive, changed)"),
                changed,
                "{out}"
            );
        }
        let json = plinth(&["show", file, "--format", "json"]).ok();
        let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let environment = json["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == "function.worker")
            .and_then(|r| r["changes"].as_array())
            .and_then(|c| c.iter().find(|a| a["attribute"] == "environment"))
            .map(|a| a["after"].clone())
            .unwrap();
        assert_eq!(
            environment["DB_PASS"],
            serde_json::json!({"sensitive": true})
        );
        assert_eq!(
            environment["API_TOKEN"]["changed"]
                .as_bool()
                .unwrap_or(false),
            changed
        );
        let markdown = plinth(&["show", file, "--format", "markdown"]).ok();
        assert_eq!(
            markdown.stdout.contains("API_TOKEN = (sensitive, changed)"),
            changed,
            "{}",
            markdown.stdout
        );
        for out in [&planned.stdout, &shown.stdout, &markdown.stdout] {
            assert!(
                !out.contains(token) && !out.contains("db-pass-4e2b91"),
                "{out}"
            );
        }
    }
}

/// `plan --live-snapshot FILE` plans against what `plinth snapshot` wrote, in every format, with
/// no AWS at all (the endpoint given here refuses every connection), and refuses to save the
/// plan for apply: it is bound to no live account.
#[test]
fn a_plan_against_a_snapshot_file_needs_no_aws_and_cannot_be_saved() {
    let (stack, prefix) = (unique("offline"), unique("tonic"));
    let spec_file = TempSpec::new(&spec(&stack, &prefix));
    plinth_aws(&["apply", "-f", &spec_file.arg(), "--auto-approve"]).ok();
    let snapshot = plinth_aws(&["snapshot", "-f", &spec_file.arg()]).ok();
    spec_file.write("live.json", &snapshot.stdout);
    let live = spec_file.dir.path().join("live.json");
    // The reader's trust changes; the offline plan compares it with the live role as read.
    let changed =
        spec(&stack, &prefix).replace("${role.worker.arn}", "arn:aws:iam::123456789012:root");
    std::fs::write(spec_file.path(), changed).unwrap();
    let (spec_arg, live_arg) = (spec_file.arg(), live.display().to_string());
    let offline = |extra: &[&str]| {
        let mut args = vec!["plan", "-f", &spec_arg, "--live-snapshot", &live_arg];
        args.extend(["--endpoint-url", "http://127.0.0.1:9"]);
        args.extend(extra);
        plinth(&args)
    };
    let text = offline(&["--detailed-exitcode"]);
    assert_eq!(text.code, 2, "{}{}", text.stdout, text.stderr);
    assert!(text.stdout.contains("role.reader"), "{}", text.stdout);
    assert!(text.stdout.contains("1 to change"), "{}", text.stdout);
    let json = offline(&["--format", "json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["summary"]["change"], 1);
    assert_eq!(json["account"]["account_id"], "123456789012");
    let markdown = offline(&["--format", "markdown"]).ok();
    assert!(
        markdown.stdout.contains("role.reader"),
        "{}",
        markdown.stdout
    );

    let out = spec_file.dir.path().join("plan.json");
    let saved = offline(&["--out", out.to_str().unwrap()]);
    assert_ne!(saved.code, 0);
    assert!(saved.stderr.contains("--out"), "{}", saved.stderr);
    assert!(!out.exists(), "no plan file is written");

    std::fs::write(&live, "{\"by_address\": 7}").unwrap();
    let broken = offline(&[]);
    assert_eq!(broken.code, 1);
    assert!(
        broken.stderr.contains("not a live snapshot") && broken.stderr.contains("plinth snapshot"),
        "{}",
        broken.stderr
    );
    let missing = plinth(&[
        "plan",
        "-f",
        &spec_arg,
        "--live-snapshot",
        &format!("{live_arg}.gone"),
    ]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("cannot plan against") && missing.stderr.contains(".gone"),
        "{}",
        missing.stderr
    );
    // The snapshot is read while the spec loads; a spec with errors is what is reported.
    std::fs::write(spec_file.path(), format!("[stack]\nnmae = \"{stack}\"\n")).unwrap();
    let both = offline(&[]);
    assert_eq!(both.code, 1);
    assert!(
        both.stderr.contains("nmae") && !both.stderr.contains("not a live snapshot"),
        "{}",
        both.stderr
    );
}

/// At a terminal, where stdout and stderr are one screen, a text plan shows each of the spec's
/// warnings once: a lint beside its resource, the rest among the plan's warnings, and nothing
/// more on stderr. When no plan comes of it, the warnings are shown with the error; when the
/// plan goes elsewhere (a file, a pipe), stderr keeps them, unless stderr goes there too.
#[cfg(target_os = "linux")]
#[test]
fn a_warning_is_shown_once_on_a_terminal() {
    let spec_file = TempSpec::new(
        r#"[stack]
name = "warn-once"

[role.app]
name = "warn-once-app"
description = "owned by <team name>"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }
policies.all = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] }
"#,
    );
    spec_file.write(
        "live.json",
        r#"{"account": {"account_id": "123456789012", "region": "us-east-1", "partition": "aws",
            "caller_arn": "arn:aws:iam::123456789012:user/ci"}, "by_address": {}, "owned": []}"#,
    );
    spec_file.write("broken.json", "{}");
    let (spec_arg, dir) = (spec_file.arg(), spec_file.dir.path());
    let live = dir.join("live.json").display().to_string();
    let broken = dir.join("broken.json").display().to_string();
    let placeholder = "`<team name>` looks like a placeholder";
    let lint = "allows every present and future"; // miette wraps the rest at 80 columns

    let (code, screen) = plinth_on_terminal(&["plan", "-f", &spec_arg, "--live-snapshot", &live]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("1 to add"), "{screen}");
    assert_eq!(screen.matches(placeholder).count(), 1, "{screen}");
    assert_eq!(screen.matches(lint).count(), 1, "{screen}");

    let (code, screen) = plinth_on_terminal(&["plan", "-f", &spec_arg, "--live-snapshot", &broken]);
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("not a live snapshot"), "{screen}");
    assert_eq!(screen.matches(placeholder).count(), 1, "{screen}");
    assert_eq!(screen.matches(lint).count(), 1, "{screen}");

    // An apply shows its plan, and with it the warnings, before it asks or applies.
    let (code, screen) = plinth_on_terminal(&[
        "apply",
        "-f",
        &spec_arg,
        "--auto-approve",
        "--endpoint-url",
        moto(),
    ]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("1 to add"), "{screen}");
    assert_eq!(screen.matches(placeholder).count(), 1, "{screen}");
    assert_eq!(screen.matches(lint).count(), 1, "{screen}");

    let piped = plinth(&["plan", "-f", &spec_arg, "--live-snapshot", &live]).ok();
    assert!(
        piped.stderr.contains(placeholder) && piped.stderr.contains(lint),
        "{}",
        piped.stderr
    );
    assert!(
        piped.stdout.contains(placeholder) && piped.stdout.contains(lint),
        "{}",
        piped.stdout
    );

    // Both into one file (`2>&1 | tee plan.log`, a CI job's log) are read in one place too.
    let log = dir.join("plan.log");
    let file = std::fs::File::create(&log).unwrap();
    let status = command(&["plan", "-f", &spec_arg, "--live-snapshot", &live])
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert!(status.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.matches(placeholder).count(), 1, "{logged}");
    assert_eq!(logged.matches(lint).count(), 1, "{logged}");
}

/// A saved plan records the directory `plinth plan` ran in, whose paths the spec's are: it
/// applies from anywhere, and `-f` naming the same spec from elsewhere is the same spec.
#[test]
fn a_saved_plan_applies_from_another_directory() {
    let (stack, prefix) = (unique("saved-dir"), unique("tonic"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    let in_dir = |args: &[&str], dir: &std::path::Path| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--endpoint-url", moto()]);
        let out = command(&all).current_dir(dir).output().unwrap();
        crate::support::Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    // Planned where the spec is, as plinth.toml, the default.
    let planned = in_dir(&["plan", "--out", "saved.plan"], spec.dir.path());
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let elsewhere = tempfile::tempdir().unwrap();
    let file = spec.dir.path().join("saved.plan");
    let file = file.to_str().unwrap();
    let applied = in_dir(&["apply", file, "-f", &spec.arg()], elsewhere.path());
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(
        applied.stderr.contains("where the plan was made")
            && applied.stderr.contains("Apply complete: 2 added"),
        "{}",
        applied.stderr
    );
    assert!(role_exists(&format!("{prefix}-worker")));
}

/// A saved plan is bound to its region, so `apply FILE` in a job that configures none (no
/// AWS_REGION, no profile) applies it there instead of failing for want of one.
#[test]
fn a_saved_plan_applies_in_its_region_when_none_is_configured() {
    let (stack, prefix) = (unique("saved"), unique("saved"));
    let spec = TempSpec::new(&spec(&stack, &prefix));
    let file = spec.dir.path().join("plan.plinth");
    let file = file.to_str().unwrap();
    plinth_aws(&["plan", "-f", &spec.arg(), "--out", file]).ok();
    let out = command(&["apply", file, "--endpoint-url", moto()])
        .env_remove("AWS_REGION")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Apply complete: 2 added"), "{stderr}");
    let no_region = command(&["plan", "-f", &spec.arg(), "--endpoint-url", moto()])
        .env_remove("AWS_REGION")
        .output()
        .unwrap();
    assert_eq!(
        no_region.status.code(),
        Some(1),
        "a plan still needs a region"
    );
    plinth_aws(&["destroy", "-f", &spec.arg(), "--auto-approve"]).ok();
}
