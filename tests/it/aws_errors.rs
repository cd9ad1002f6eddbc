//! What plinth says when AWS fails, and how long it takes to say it: every AWS error is one or
//! two lines (the operation, the resource, AWS's code and message, a hint), never a debug dump;
//! a dead or refused endpoint fails in bounded time, naming the endpoint, with a line on stderr
//! for each retry.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::proxy::{Fault, FaultProxy, Faults};
use crate::support::{command, moto, Run, TempSpec};

const TRUST: &str = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;

fn one_role(stack: &str) -> TempSpec {
    TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\n\n[role.app]\nname = \"{stack}-app\"\ntrust = '{TRUST}'\n"
    ))
}

fn run(cmd: &mut std::process::Command) -> (Run, Duration) {
    let started = Instant::now();
    let out = cmd.output().expect("run plinth");
    (
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        started.elapsed(),
    )
}

/// What varies between runs (ports, stack names) replaced, for snapshots.
fn stable(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in replacements {
        out = out.replace(from, to);
    }
    out
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The error and hint lines, with the operation (which of the concurrent first calls met the
/// failure is chance) left out.
fn error_lines(stderr: &str, url: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.starts_with("error:") || l.starts_with("hint:"))
        .map(|l| match l.find(url) {
            Some(at) if l.starts_with("error:") => format!("error: OPERATION: {}", &l[at..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(url, "http://127.0.0.1:PORT")
}

/// A loopback server that accepts every connection and never answers, for `seconds`.
fn silent_endpoint(seconds: u64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(seconds);
        let mut held = Vec::new();
        while Instant::now() < until {
            match listener.accept() {
                Ok((connection, _)) => held.push(connection),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    url
}

/// A loopback endpoint that reads each request and closes the connection without answering,
/// as a proxy or load balancer that drops connections does.
fn dropping_endpoint() -> String {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(mut connection) = connection else {
                continue;
            };
            let mut buffer = [0u8; 4096];
            let _ = connection.read(&mut buffer);
            drop(connection);
        }
    });
    url
}

/// A loopback endpoint that answers every request with `status` and an HTML page, as a
/// corporate proxy or a gateway does.
fn html_endpoint(status: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(mut connection) = connection else {
                continue;
            };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 65536];
                let _ = connection.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = connection.read(&mut buffer);
                let body = "<html><body><h1>Bad Gateway</h1></body></html>";
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = connection.write_all(answer.as_bytes());
            });
        }
    });
    url
}

/// A loopback address where nothing listens.
fn refusing_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}

#[track_caller]
fn assert_short_and_plain(what: &str, stderr: &str) {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error:") || l.starts_with("hint:"))
        .collect();
    assert!(
        (1..=2).contains(&errors.len()),
        "{what}: one error line and a hint\n{stderr}"
    );
    for forbidden in [
        "Error {",
        "ErrorKind",
        "Some(",
        "source:",
        "DispatchFailure",
        "ConnectorError",
        "ConstructionFailure",
        "as i128",
        "::",
        "{ ",
    ] {
        let found = errors
            .iter()
            .find(|l| l.contains(forbidden) && !l.contains("arn:aws"));
        assert!(found.is_none(), "{what}: `{forbidden}` in {found:?}");
    }
    assert!(
        errors.iter().all(|l| l.len() < 400),
        "{what}: a line a person reads\n{stderr}"
    );
}

#[test]
fn a_plan_against_an_endpoint_that_never_answers_fails_within_a_minute_naming_it() {
    let url = silent_endpoint(120);
    let spec = one_role(&crate::support::unique("silent"));
    let (run, took) =
        run(command(&["plan", "-f", &spec.arg(), "--endpoint-url", &url]).env("NO_COLOR", "1"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        took < Duration::from_secs(60),
        "took {took:?}\n{}",
        run.stderr
    );
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains(&url) && error.contains("no answer"),
        "{}",
        run.stderr
    );
    assert!(error.contains("given up"), "says what was tried: {error}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("retrying") && l.contains(&url)),
        "each retry is shown:\n{}",
        run.stderr
    );
    assert_short_and_plain("a silent endpoint", &run.stderr);
    snapshot("a_silent_endpoint", &error_lines(&run.stderr, &url));
}

#[test]
fn a_refused_connection_fails_within_ten_seconds_naming_the_endpoint() {
    let url = refusing_endpoint();
    let spec = one_role(&crate::support::unique("refused"));
    let (run, took) =
        run(command(&["plan", "-f", &spec.arg(), "--endpoint-url", &url]).env("NO_COLOR", "1"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("connection refused") && run.stderr.contains(&url),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.lines().any(|l| l.contains("retrying")),
        "{}",
        run.stderr
    );
    assert_short_and_plain("a refused connection", &run.stderr);
    snapshot("a_refused_connection", &error_lines(&run.stderr, &url));
}

/// An endpoint that takes each request and closes the connection without answering: each
/// retry is a warning, and the error says the connection was closed, not that plinth could not
/// connect.
#[test]
fn a_connection_closed_without_an_answer_is_retried_aloud_and_said_so() {
    let url = dropping_endpoint();
    let spec = one_role(&crate::support::unique("dropped"));
    let (run, _) = run(command(&[
        "plan",
        "-f",
        &spec.arg(),
        "--endpoint-url",
        &url,
        "--max-attempts",
        "2",
    ])
    .env("NO_COLOR", "1"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("retrying") && l.contains(&url)),
        "each retry is shown:\n{}",
        run.stderr
    );
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains("closed the connection without answering")
            && !error.contains("cannot connect"),
        "{}",
        run.stderr
    );
    assert_short_and_plain("a dropped connection", &run.stderr);
}

/// An endpoint that is not a URL, or a region that is not one, is refused before any request,
/// in one line naming where it came from, with no SDK internals; a refused endpoint given by
/// AWS_ENDPOINT_URL is named in the hint as `--endpoint-url`'s is.
#[test]
fn a_malformed_endpoint_or_region_is_refused_in_one_line() {
    let spec = one_role(&crate::support::unique("malformed"));
    /// Options, environment, and what the error says.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (
            &["--endpoint-url", "not a url"],
            &[],
            "--endpoint-url `not a url` is not a URL",
        ),
        (
            &[],
            &[("AWS_ENDPOINT_URL", "localhost:4566")],
            "AWS_ENDPOINT_URL `localhost:4566` is not a URL",
        ),
        (
            &["--region", "bad region"],
            &[],
            "`bad region` is not an AWS region name",
        ),
        (&["--region", ""], &[], "`` is not an AWS region name"),
    ];
    let path = spec.arg();
    for (args, env, expected) in cases {
        let mut full = vec!["plan", "-f", path.as_str()];
        full.extend_from_slice(args);
        let mut cmd = command(&full);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (run, _) = run(cmd.env("NO_COLOR", "1"));
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("Request {"), "{}", run.stderr);
        assert_short_and_plain("a malformed option", &run.stderr);
    }
    let url = refusing_endpoint();
    let (run, _) = run(command(&["plan", "-f", &path])
        .env("AWS_ENDPOINT_URL", &url)
        .env("NO_COLOR", "1"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&url) && !run.stderr.contains("AWS in us-east-1"),
        "names the endpoint it was sent to: {}",
        run.stderr
    );
}

/// An answer that is not one of AWS's errors (an HTML page from a proxy) is named for what it
/// is, with its HTTP status and where requests go, not as the SDK's "unhandled error".
#[test]
fn an_answer_that_is_not_aws_names_its_status_and_the_endpoint() {
    let spec = one_role(&crate::support::unique("html"));
    for status in ["403 Forbidden", "404 Not Found", "502 Bad Gateway"] {
        let url = html_endpoint(status);
        let (run, _) = run(command(&["plan", "-f", &spec.arg(), "--max-attempts", "1"])
            .env("AWS_ENDPOINT_URL", &url)
            .env("NO_COLOR", "1"));
        assert_eq!(run.code, 1, "{}", run.stderr);
        let code = &status[..3];
        assert!(
            run.stderr.contains(&format!(
                "answered HTTP {code} with something that is not an AWS error"
            )),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(&url), "{}", run.stderr);
        assert!(!run.stderr.contains("unhandled error"), "{}", run.stderr);
        assert_short_and_plain("a proxy's page", &run.stderr);
    }
}

/// S3 answers a read of a bucket name another account holds with Access Denied: the hint
/// says that bucket names are global, beside what the printed policy grants.
#[test]
fn a_refused_read_of_a_bucket_to_create_says_the_name_may_be_taken() {
    const DENIED: Fault = Fault::Error {
        status: 403,
        code: "AccessDenied",
        message: "Access Denied",
    };
    let stack = crate::support::unique("taken");
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\n\n[bucket.data]\nname = \"{stack}-data\"\n"
    ));
    let proxy = FaultProxy::start(
        moto(),
        Faults {
            scripted: vec![("s3:GET tagging".into(), 100, DENIED)],
            ..Faults::none()
        },
    );
    let (run, _) = run(
        command(&["plan", "-f", &spec.arg(), "--endpoint-url", &proxy.url]).env("NO_COLOR", "1"),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "if `{stack}-data` is another AWS account's, choose another name"
        )),
        "{}",
        run.stderr
    );
    assert_short_and_plain("a bucket name another account holds", &run.stderr);
}

/// Throttling or AWS's own failure that outlasts every retry ends with what to do: run again,
/// or allow more retries. And a count of 0 for retries or parallelism is refused up front.
#[test]
fn errors_that_outlast_the_retries_say_what_to_do() {
    let spec = one_role(&crate::support::unique("outlast"));
    for (fault, expected) in [
        (
            Fault::Throttle,
            "AWS kept throttling the requests after every retry",
        ),
        (
            Fault::InternalError,
            "AWS failed on its side and kept failing",
        ),
    ] {
        let proxy = FaultProxy::start(
            moto(),
            Faults {
                scripted: vec![("iam:GetRole".into(), 100, fault)],
                ..Faults::none()
            },
        );
        let (run, _) = run(command(&[
            "plan",
            "-f",
            &spec.arg(),
            "--endpoint-url",
            &proxy.url,
            "--max-attempts",
            "1",
        ])
        .env("NO_COLOR", "1"));
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert_short_and_plain("an error that outlasts the retries", &run.stderr);
    }
    for option in ["--max-attempts", "--parallelism"] {
        let (run, _) = run(&mut command(&["apply", "-f", &spec.arg(), option, "0"]));
        assert_ne!(run.code, 0, "{option} 0: {}", run.stderr);
        assert!(run.stderr.contains(option), "{}", run.stderr);
    }
}

#[test]
fn missing_credentials_say_where_plinth_looked() {
    let spec = one_role(&crate::support::unique("nocreds"));
    let (run, _) = run(
        command(&["plan", "-f", &spec.arg(), "--endpoint-url", moto()])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("HOME", "/nonexistent"),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_short_and_plain("no credentials", &run.stderr);
    snapshot("no_credentials", &run.stderr);
}

/// AWS's own refusals, scripted by the proxy in each protocol's shape.
#[test]
fn aws_refusals_name_the_operation_the_resource_and_what_to_do() {
    const DENIED: Fault = Fault::Error {
        status: 403,
        code: "AccessDenied",
        message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:GetRole on resource: role app",
    };
    const EXPIRED: Fault = Fault::Error {
        status: 403,
        code: "ExpiredToken",
        message: "The security token included in the request is expired",
    };
    const ASSUME_DENIED: Fault = Fault::Error {
        status: 403,
        code: "AccessDenied",
        message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/deployer",
    };
    let proxy = FaultProxy::start(moto(), Faults::none());
    let stack = crate::support::unique("refusals");
    let spec = one_role(&stack);
    let file = spec.arg();
    let cases: [(&str, (&str, Fault), Vec<&str>); 3] = [
        ("access_denied", ("iam:GetRole", DENIED), vec![]),
        ("expired_token", ("sts:GetCallerIdentity", EXPIRED), vec![]),
        (
            "assume_role_denied",
            ("sts:AssumeRole", ASSUME_DENIED),
            vec![
                "--assume-role-arn",
                "arn:aws:iam::123456789012:role/deployer",
            ],
        ),
    ];
    for (name, (operation, fault), extra) in cases {
        proxy.set_faults(Faults {
            scripted: vec![(operation.into(), 100, fault)],
            ..Faults::none()
        });
        let mut args = vec![
            "plan",
            "-f",
            &file,
            "--endpoint-url",
            &proxy.url,
            "--max-attempts",
            "1",
        ];
        args.extend(extra);
        let (run, _) = run(&mut command(&args));
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert_short_and_plain(name, &run.stderr);
        snapshot(name, &stable(&run.stderr, &[(&stack, "STACK")]));
    }
}

/// A refused step names the IAM action a policy must grant, not the API call (S3's `Access
/// Denied` names neither), and says whether `plinth permissions` prints it.
#[test]
fn a_refused_step_names_the_iam_action_and_what_the_printed_policy_says() {
    const DENIED: Fault = Fault::Error {
        status: 403,
        code: "AccessDenied",
        message: "Access Denied",
    };
    let proxy = FaultProxy::start(moto(), Faults::none());
    let bucket = crate::support::unique("refused-cors");
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{bucket}\"\n\n[bucket.data]\nname = \"{bucket}\"\nforce_destroy = true\n\n[[bucket.data.cors]]\nallowed_origins = [\"https://app.example.com\"]\nallowed_methods = [\"GET\"]\n"
    ));
    proxy.set_faults(Faults {
        scripted: vec![("s3:PUT cors".into(), 100, DENIED)],
        ..Faults::none()
    });
    let file = spec.arg();
    let apply = [
        "apply",
        "-f",
        &file,
        "--endpoint-url",
        &proxy.url,
        "--max-attempts",
        "1",
        "--auto-approve",
    ];
    let (applied, _) = run(&mut command(&apply));
    assert_eq!(applied.code, 1, "{}", applied.stderr);
    let hint = applied
        .stderr
        .lines()
        .find(|l| l.contains("hint:") && l.contains("s3:PutBucketCORS"))
        .unwrap_or_else(|| panic!("no hint names s3:PutBucketCORS:\n{}", applied.stderr));
    assert!(
        hint.contains("the IAM action of the s3:PutBucketCors call")
            && hint.contains("`plinth permissions -f SPEC` prints grants it"),
        "{hint}"
    );
    // Clean up without the fault.
    proxy.set_faults(Faults::none());
    let (destroyed, _) = run(&mut command(&[
        "destroy",
        "-f",
        &file,
        "--endpoint-url",
        &proxy.url,
        "--auto-approve",
    ]));
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
}

/// With no credentials at all, the error says so (not what EC2's instance metadata answered,
/// the last place the SDK looks) and names the environment and the account it must be in.
#[test]
fn no_credentials_for_an_environment_name_it_and_its_account() {
    let stack = crate::support::unique("nocreds");
    let spec = TempSpec::new(&format!(
        "[stack]\nname = \"{stack}\"\n\n[env.dev]\naccount_id = \"111111111111\"\n\n[role.app]\nname = \"{stack}-app\"\ntrust = '{TRUST}'\n"
    ));
    let (run, _) = run(command(&[
        "plan",
        "-f",
        &spec.arg(),
        "--env",
        "dev",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ])
    .env_remove("AWS_ACCESS_KEY_ID")
    .env_remove("AWS_SECRET_ACCESS_KEY")
    .env("NO_COLOR", "1"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no AWS credentials were found"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("environment `dev` must be in account 111111111111"),
        "{}",
        run.stderr
    );
    assert_short_and_plain("no credentials", &run.stderr);
}
