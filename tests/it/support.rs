//! Test support: one moto server per test binary, and a runner for the real plinth binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The endpoint of this test binary's moto server, started on first use. It stops by itself
/// when the test process ends.
pub fn moto() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        start_moto(
            &tempfile::Builder::new()
                .prefix("plinth-moto-")
                .tempdir()
                .expect("temp dir")
                .keep(),
        )
    })
}

fn start_moto(dir: &Path) -> String {
    let out = Command::new("bash")
        .arg(root().join("scripts/moto.sh"))
        .arg("start")
        .arg(dir)
        .arg(std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/moto.sh");
    assert!(
        out.status.success(),
        "moto did not start; see {}",
        dir.display()
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// A moto server for one test or benchmark, for an account whose contents it must know exactly
/// (the shared server holds every other test's resources); stopped when dropped.
pub struct PrivateMoto {
    dir: tempfile::TempDir,
    pub url: String,
}

impl PrivateMoto {
    pub fn start() -> PrivateMoto {
        let dir = tempfile::Builder::new()
            .prefix("plinth-moto-")
            .tempdir()
            .expect("temp dir");
        let url = start_moto(dir.path());
        PrivateMoto { dir, url }
    }

    /// An SDK config pointing at this server.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_for(&self.url).await
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/moto.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A unique name for one test's stack and resources: moto isolates nothing between tests.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs plinth from the project root with no AWS credentials or settings from the machine.
pub fn plinth(args: &[&str]) -> Run {
    Run::from(command(args).output().expect("run plinth"))
}

pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plinth"));
    cmd.args(args).current_dir(root()).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k == "NO_COLOR" || k == "PLINTH_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// `openpty(3)`, in the C library since glibc 2.34.
    fn openpty(
        master: *mut std::ffi::c_int,
        slave: *mut std::ffi::c_int,
        name: *mut std::ffi::c_char,
        termios: *const std::ffi::c_void,
        winsize: *const std::ffi::c_void,
    ) -> std::ffi::c_int;
}

/// Runs plinth with its stdout and stderr on one pseudo-terminal, as a person at a terminal
/// runs it (colours off), and returns its exit code and everything the screen showed.
#[cfg(target_os = "linux")]
pub fn plinth_on_terminal(args: &[&str]) -> (i32, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: both out-pointers are valid; no name, settings or size are asked for.
    let made = unsafe {
        openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(made, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two open descriptors that nothing else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = command(args)
        .env("NO_COLOR", "1")
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave)
        .spawn()
        .expect("run plinth");
    // The child holds the terminal's only other end now: reading ends (EIO) when it exits.
    let mut screen = Vec::new();
    let mut master = std::fs::File::from(master);
    let mut buf = [0u8; 8192];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => screen.extend_from_slice(&buf[..n]),
        }
    }
    let status = child.wait().expect("wait for plinth");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&screen).replace("\r\n", "\n"),
    )
}

/// Runs plinth against the test's moto server.
pub fn plinth_aws(args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", moto()]);
    plinth(&all)
}

/// An SDK config pointing at moto, for tests that look at or change the account directly.
pub async fn sdk() -> aws_config::SdkConfig {
    sdk_for(moto()).await
}

/// An SDK config pointing at `url` (a test proxy in front of moto).
pub async fn sdk_at(url: &str) -> aws_config::SdkConfig {
    sdk_for(url).await
}

async fn sdk_for(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "plinth-tests",
        ))
        .load()
        .await
}

/// An S3 client for `config`'s moto, which serves buckets by path (there is no DNS for
/// bucket-named hosts on loopback).
pub fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// A spec written to a fresh temporary directory (with any extra files), for one test.
pub struct TempSpec {
    pub dir: tempfile::TempDir,
}

impl TempSpec {
    pub fn new(spec: &str) -> TempSpec {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("plinth.toml"), spec).expect("write spec");
        TempSpec { dir }
    }

    /// Writes a file next to the spec (a policy, function code).
    pub fn write(&self, name: &str, text: &str) -> &Self {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a file in the spec's directory"))
            .expect("create directories");
        std::fs::write(path, text).expect("write file");
        self
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("plinth.toml")
    }

    pub fn arg(&self) -> String {
        self.path().display().to_string()
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A queue's URL; `None` when there is no such queue.
pub async fn queue_url(client: &aws_sdk_sqs::Client, name: &str) -> Option<String> {
    client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()?
        .queue_url
}

/// A queue's attributes, all of them, by their SQS names; `None` when there is no such queue.
pub fn queue_attributes(name: &str) -> Option<std::collections::HashMap<String, String>> {
    let client = runtime().block_on(async { aws_sdk_sqs::Client::new(&sdk().await) });
    runtime().block_on(async {
        let url = queue_url(&client, name).await?;
        let out = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        Some(
            out.attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect(),
        )
    })
}

/// `plinth apply --auto-approve` of `spec` through `url`, started and left running, its output
/// captured.
pub fn spawn_apply(spec: &TempSpec, url: &str) -> std::process::Child {
    let mut cmd = command(&[
        "apply",
        "-f",
        &spec.arg(),
        "--auto-approve",
        "--endpoint-url",
        url,
    ]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().unwrap()
}
