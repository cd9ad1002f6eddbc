//! The stack lock: two applies of one stack never run at once.

use std::time::Duration;

use crate::proxy::{FaultProxy, Faults};
use crate::support::{command, moto, plinth_aws, runtime, sdk, unique, Run, TempSpec};

fn spec(stack: &str, prefix: &str, bucket: &str) -> String {
    let mut s = format!("[stack]\nname = \"{stack}\"\nlock = {{ bucket = \"{bucket}\" }}\n");
    for i in 0..6 {
        s.push_str(&format!(
            "\n[role.r{i}]\nname = \"{prefix}-{i}\"\ntrust = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Principal = {{ Service = \"ec2.amazonaws.com\" }}, Action = \"sts:AssumeRole\" }}] }}\n"
        ));
    }
    s
}

fn lock_bucket() -> String {
    let bucket = unique("plinth-locks");
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
    });
    bucket
}

fn lock_exists(bucket: &str, stack: &str) -> bool {
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        s3.head_object().bucket(bucket).key(format!("plinth/locks/{stack}.lock")).send().await.is_ok()
    })
}

#[test]
fn a_held_lock_refuses_an_apply_and_unlock_removes_a_stale_one() {
    let (stack, prefix, bucket) = (unique("locked"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&spec(&stack, &prefix, &bucket));
    // A lock left by a process that was killed.
    runtime().block_on(async {
        let config = sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let body = r#"{"stack":"x","holder":"arn:aws:iam::123456789012:user/ci","operation":"apply","host":"runner-7","pid":4242,"since":0}"#;
        s3.put_object().bucket(&bucket).key(format!("plinth/locks/{stack}.lock")).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    });
    let refused = plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains(&format!("stack `{stack}` is locked: apply by arn:aws:iam::123456789012:user/ci (pid 4242 on runner-7)")), "{}", refused.stderr);
    assert!(refused.stderr.contains("hint: wait for it to finish; if that process is gone, run `plinth unlock`"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "nothing was planned: {}", refused.stdout);

    let unlock = plinth_aws(&["unlock", "-f", &spec.arg()]).ok();
    assert!(unlock.stderr.contains("held by arn:aws:iam::123456789012:user/ci"), "{}", unlock.stderr);
    assert!(!lock_exists(&bucket, &stack));
    plinth_aws(&["apply", "-f", &spec.arg(), "--auto-approve"]).ok();
    assert!(!lock_exists(&bucket, &stack), "a finished apply releases its lock");
}

#[test]
fn two_applies_started_together_one_proceeds_and_the_other_is_refused() {
    let (stack, prefix, bucket) = (unique("race"), unique("tonic"), lock_bucket());
    let spec = TempSpec::new(&spec(&stack, &prefix, &bucket));
    // Latency stretches the apply so the two overlap.
    let proxy = FaultProxy::start(moto(), Faults { latency: Duration::from_millis(40), ..Faults::none() });
    let start = || {
        let mut cmd = command(&["apply", "-f", &spec.arg(), "--auto-approve", "--endpoint-url", &proxy.url]);
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (start(), start());
    let outcome = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let mut runs = [outcome(a), outcome(b)];
    runs.sort_by_key(|r| r.code);
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert!(runs[0].stderr.contains("Apply complete: 6 added"), "{}", runs[0].stderr);
    assert_eq!(runs[1].code, 1, "{}", runs[1].stderr);
    assert!(runs[1].stderr.contains("is locked: apply by"), "{}", runs[1].stderr);
    assert_eq!(plinth_aws(&["plan", "-f", &spec.arg(), "--detailed-exitcode"]).code, 0);
    assert!(!lock_exists(&bucket, &stack));
}
