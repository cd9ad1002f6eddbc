//! `envs`: one spec planned in many environments at once (`plan --all-envs`), through the
//! proxy's 25 ms per call, against the lower bound max(longest chain, calls / requests in
//! flight) × 25 ms, and the peak memory of the plinth process, to see it grow linearly with
//! the number of environments.
//!
//! Each plan runs once against moto through the recorder (common/replay.rs), and is then timed
//! replayed from that recording, so that the emulator's own processing is not counted.
//!
//! The spec is Tonic Structural's shipped stack with N environments, all in moto's account,
//! each with its own stack name and prefix; the account holds none of them (the plans are all
//! creates, each environment listing the account for what its stack owns, as without a lock).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::proxy::{FaultProxy, Faults};
use crate::replay::Recorder;
use crate::support::{self, PrivateMoto};

/// Tonic's stack with `n` environments, written next to the shipped one so that its policy
/// files and code resolve; removed when dropped.
struct EnvSpec(PathBuf);

impl EnvSpec {
    fn new(n: usize) -> EnvSpec {
        let shipped = support::root().join("plans/tonic-structural-redshift.toml");
        let text = std::fs::read_to_string(&shipped).expect("the shipped Tonic stack");
        let mut out = text
            .replacen(
                "name = \"tonic-structural\"",
                "name = \"tonic-structural-${var.env}\"",
                1,
            )
            .replacen("[vars]\n", "[vars]\nenv = \"none\"\n", 1);
        for i in 0..n {
            out.push_str(&format!(
                "\n[env.e{i:03}]\naccount_id = \"123456789012\"\nvars = {{ env = \"e{i:03}\", prefix = \"tonic-e{i:03}\" }}\n"
            ));
        }
        let path = shipped.with_extension(format!("bench-envs-{n}.toml"));
        std::fs::write(&path, out).expect("write the spec");
        EnvSpec(path)
    }
}

impl Drop for EnvSpec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs plinth through `proxy`: wall time, calls by operation, and peak resident memory (the
/// kernel's high-water mark, read until the process ends).
fn measured(proxy: &FaultProxy, spec: &Path, extra: &[&str]) -> (Duration, usize, u64) {
    proxy.reset_counts();
    let spec = spec.display().to_string();
    let mut args = vec![
        "plan",
        "-f",
        spec.as_str(),
        "--endpoint-url",
        proxy.url.as_str(),
    ];
    args.extend(extra);
    let started = Instant::now();
    let mut child = support::command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run plinth");
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(code) = child.try_wait().expect("wait for plinth") {
            break code;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    let out = child.wait_with_output().expect("plinth's stderr");
    assert!(
        code.success(),
        "plinth {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = proxy.counts().by_operation.values().sum();
    (elapsed, calls, peak_kib)
}

pub fn run(sizes: &[usize], latency: Duration, in_flight: usize) {
    println!(
        "\n== envs. plan --all-envs of Tonic Structural's stack in N environments, every call +{} ms (replayed)",
        latency.as_millis()
    );
    // Every plan is made once against moto through the recorder, then timed replayed from the
    // recording with the latency added: moto spends milliseconds of processor time on every
    // call, on the machine's own cores, which would time the emulator (850 calls at 50
    // environments) rather than plinth.
    let moto = PrivateMoto::start();
    let recorder = Recorder::start(&moto.url);
    let proxy = FaultProxy::start(&recorder.url, Faults::none());
    let one = EnvSpec::new(1);
    let specs: Vec<(usize, EnvSpec)> = sizes.iter().map(|&n| (n, EnvSpec::new(n))).collect();
    measured(&proxy, &one.0, &["--all-envs"]);
    for (_, spec) in &specs {
        measured(&proxy, &spec.0, &["--all-envs"]);
    }
    recorder.replay();
    // One environment, at 0 ms and at 25 ms: the sequential round trips of one plan, its chain.
    let (t0, _, _) = measured(&proxy, &one.0, &["--all-envs"]);
    proxy.set_faults(Faults {
        latency,
        ..Faults::none()
    });
    let (t25, _, _) = measured(&proxy, &one.0, &["--all-envs"]);
    let chain = ((t25.saturating_sub(t0)).as_secs_f64() / latency.as_secs_f64()).round() as usize;
    println!(
        "  one environment's chain: {chain} round trips ({t0:.0?} at 0 ms, {t25:.0?} at 25 ms)"
    );
    let mut memory: BTreeMap<usize, u64> = BTreeMap::new();
    for (n, spec) in &specs {
        let n = *n;
        let (t, calls, peak) = measured(&proxy, &spec.0, &["--all-envs"]);
        let bound = (chain.max(calls.div_ceil(in_flight))) as f64 * latency.as_secs_f64();
        memory.insert(n, peak);
        println!(
            "  {n:>3} environments: {:>7.0} ms, {calls} calls, bound {:>6.0} ms ({:.2}×), peak memory {:.1} MiB",
            t.as_secs_f64() * 1000.0,
            bound * 1000.0,
            t.as_secs_f64() / bound,
            peak as f64 / 1024.0
        );
    }
    if recorder.unmatched() > 0 {
        println!(
            "  NOT A FAITHFUL REPLAY: {} requests were not recorded and went to moto",
            recorder.unmatched()
        );
    }
    if let (Some((&a, &ma)), Some((&b, &mb))) = (memory.iter().next(), memory.iter().last()) {
        if b > a {
            println!(
                "  memory per environment: {:.0} KiB ({a} to {b} environments)",
                (mb as f64 - ma as f64) / (b - a) as f64
            );
        }
    }
}
