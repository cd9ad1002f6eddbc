//! plinth against a real round trip: the AWS calls a plan makes per resource kind, plan and
//! apply time of generated stacks against their lower bound, and start-up time.
//!
//! Run by hand, in a release build (docs/benchmarks.md):
//!
//! ```text
//! cargo bench --bench aws -- [calls] [stacks] [startup] [peer] [envs] [--sizes 20,200,1000] [--envs 1,10,50] [--seed N] [--keep DIR] [--runs N] [--timeline]
//! ```
//!
//! `--keep DIR` writes each generated stack to `DIR/SIZE/` and leaves it there, to run plinth
//! on it by hand (a profiler, another latency). `--runs N` (5 by default) times each plan of a
//! generated stack N times and reports the median. `--timeline` prints, for every run, when
//! each of its calls reached the proxy.
//!
//! With no section named, all four run (`peer` only when Ansible is installed, see
//! scripts/bench-ansible.sh). Every call goes through the test suite's loopback
//! proxy (tests/it/proxy.rs), which counts calls by operation and adds a fixed latency, to a
//! moto server started for the section (fresh ones per stack size, so each stack meets an
//! account holding nothing else). The stack runs are also replayed from a recording of moto's
//! answers (common/replay.rs), to time plinth without the emulator's own processing.

#[allow(dead_code)]
#[path = "../tests/it/enforce.rs"]
mod enforce;
#[path = "common/envs.rs"]
mod envs;
#[path = "common/stack.rs"]
mod stack;
// Shared with the integration tests, which use more of them than the benchmarks do.
#[allow(dead_code)]
#[path = "../tests/it/proxy.rs"]
mod proxy;
#[path = "common/replay.rs"]
mod replay;
#[allow(dead_code)]
#[path = "../tests/it/strict.rs"]
mod strict;
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proxy::{FaultProxy, Faults};
use replay::Recorder;
use support::PrivateMoto;

/// The round trip every call pays in the stack benchmarks.
const LATENCY: Duration = Duration::from_millis(25);
/// plinth's default: reads in flight (`state::READ_CONCURRENCY`) and apply's `--parallelism`.
const PARALLELISM: usize = 16;
/// moto's account.
const ACCOUNT: &str = "123456789012";

struct Options {
    calls: bool,
    stacks: bool,
    startup: bool,
    peer: bool,
    /// `envs`: plan one spec in many environments (common/envs.rs); run only when named.
    envs: bool,
    env_counts: Vec<usize>,
    sizes: Vec<usize>,
    seed: u64,
    keep: Option<std::path::PathBuf>,
    /// Plans per stack and variant; the report takes their median.
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        calls: false,
        stacks: false,
        startup: false,
        peer: false,
        envs: false,
        env_counts: vec![1, 10, 50],
        sizes: vec![20, 200],
        seed: 3,
        keep: None,
        runs: 5,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "calls" => o.calls = true,
            "stacks" => o.stacks = true,
            "startup" => o.startup = true,
            "peer" => o.peer = true,
            "envs" => o.envs = true,
            "--envs" => {
                let counts = args.next().expect("--envs takes a list: 1,10,50");
                o.env_counts = counts
                    .split(',')
                    .map(|s| s.parse().expect("a number of environments"))
                    .collect();
            }
            "--sizes" => {
                let sizes = args.next().expect("--sizes takes a list: 20,200,1000");
                o.sizes = sizes
                    .split(',')
                    .map(|s| s.parse().expect("a resource count"))
                    .collect();
            }
            "--seed" => {
                o.seed = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seed takes a number")
            }
            "--keep" => o.keep = Some(args.next().expect("--keep takes a directory").into()),
            "--timeline" => TIMELINE.store(true, std::sync::atomic::Ordering::Relaxed),
            "--runs" => {
                o.runs = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--runs takes a number above 0")
            }
            // cargo bench passes --bench to every benchmark binary.
            "--bench" => {}
            other => panic!("unknown argument `{other}`; see the top of benches/aws.rs"),
        }
    }
    if !(o.calls || o.stacks || o.startup || o.peer || o.envs) {
        (o.calls, o.stacks, o.startup, o.peer) = (true, true, true, true);
    }
    o
}

fn main() {
    let o = options();
    println!(
        "machine: {} cores; plinth {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        env!("CARGO_BIN_EXE_plinth")
    );
    if o.calls {
        calls();
    }
    if o.stacks {
        for &size in &o.sizes {
            stack_times(size, o.seed, o.keep.as_deref(), o.runs);
        }
    }
    if o.startup {
        startup();
    }
    if o.peer {
        peer();
    }
    if o.envs {
        envs::run(&o.env_counts, LATENCY, PARALLELISM);
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator and the binary

/// Creates a bucket in `moto`'s account, as its owner would before plinth runs.
fn create_bucket(moto: &PrivateMoto, name: &str) {
    support::runtime().block_on(async {
        let config = moto.sdk().await;
        let s3 = support::s3(&config);
        s3.create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create the bucket");
    });
}

/// Runs plinth through `proxy`; returns the wall time and the calls it made by operation.
fn timed(proxy: &FaultProxy, args: &[&str]) -> (Duration, BTreeMap<String, usize>) {
    proxy.reset_counts();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--endpoint-url", &proxy.url]);
    let started = Instant::now();
    let out = support::command(&all).output().expect("run plinth");
    let elapsed = started.elapsed();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "plinth {args:?} failed\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = proxy.counts();
    if TIMELINE.load(std::sync::atomic::Ordering::Relaxed) {
        println!(
            "    {} {}",
            args[0],
            timeline(&counts.requests, started, elapsed)
        );
    }
    (elapsed, counts.by_operation)
}

/// Print every run's calls on a timeline (`--timeline`).
static TIMELINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// When each call reached the proxy, in ms after plinth was started, in groups that arrived
/// within 10 ms of each other: `12: GetRole GetRole ... | 42: ListRoles ...`, then the end.
fn timeline(requests: &[proxy::Seen], started: Instant, elapsed: Duration) -> String {
    let mut groups: Vec<String> = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for proxy::Seen {
        operation, arrived, ..
    } in requests
    {
        let at = ms(arrived.duration_since(started));
        if at - last > 10.0 {
            groups.push(format!("{at:.0}:"));
        }
        last = at;
        let op = operation
            .split_once(':')
            .map_or(operation.as_str(), |(_, op)| op);
        groups
            .last_mut()
            .expect("a group")
            .push_str(&format!(" {op}"));
    }
    groups.push(format!("ended {:.0}", ms(elapsed)));
    groups.join(" | ")
}

fn total(counts: &BTreeMap<String, usize>) -> usize {
    counts.values().sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// 1. Calls per resource kind

/// One resource of a kind, declaring the attributes a vendor's setup page usually asks for,
/// and the calls those attributes need at the least, with why.
struct KindCase {
    kind: &'static str,
    body: String,
    minimal: usize,
    why: &'static str,
}

fn kind_cases(p: &str) -> Vec<KindCase> {
    let trust = r#"{ Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }"#;
    vec![
        KindCase {
            kind: "role",
            body: format!(
                "[role.r]\nname = \"{p}-role\"\ndescription = \"bench\"\ntrust = {trust}\nmanaged_policies = [\"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole\"]\ntags = {{ team = \"data\" }}\n\n[role.r.policies.access]\nVersion = \"2012-10-17\"\nStatement = [{{ Effect = \"Allow\", Action = \"sqs:SendMessage\", Resource = \"arn:aws:sqs:*:{ACCOUNT}:{p}-*\" }}]\n"
            ),
            minimal: 4,
            why: "GetRole (trust, description, tags); ListRolePolicies + GetRolePolicy per policy (inline policies, extras to delete); ListAttachedRolePolicies",
        },
        KindCase {
            kind: "policy",
            body: format!(
                "[policy.p]\nname = \"{p}-policy\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"arn:aws:s3:::{p}-*/*\" }}] }}\ntags = {{ team = \"data\" }}\n"
            ),
            minimal: 2,
            why: "GetPolicy (name, default version, tags) + GetPolicyVersion (document)",
        },
        KindCase {
            kind: "instance_profile",
            body: format!("[instance_profile.i]\nname = \"{p}-profile\"\nrole = \"{p}-role\"\ntags = {{ team = \"data\" }}\n"),
            minimal: 1,
            why: "GetInstanceProfile (roles and tags included)",
        },
        KindCase {
            kind: "oidc_provider",
            body: format!(
                "[oidc_provider.o]\nurl = \"https://{p}.example.com\"\nclient_ids = [\"sts.amazonaws.com\"]\ntags = {{ team = \"data\" }}\n"
            ),
            minimal: 1,
            why: "GetOpenIDConnectProvider (client ids, thumbprints and tags included)",
        },
        KindCase {
            kind: "key",
            body: format!("[key.k]\ndescription = \"bench\"\nrotation = true\naliases = [\"alias/{p}-key\"]\ntags = {{ team = \"data\" }}\n"),
            minimal: 4,
            why: "DescribeKey by alias; ListResourceTags (ownership); ListAliases (extras); GetKeyRotationStatus. GetKeyPolicy only when `policy` is declared",
        },
        KindCase {
            kind: "queue",
            body: format!("[queue.q]\nname = \"{p}-queue\"\nvisibility_timeout = 120\ntags = {{ team = \"data\" }}\n"),
            minimal: 3,
            why: "GetQueueUrl; GetQueueAttributes; ListQueueTags",
        },
        KindCase {
            kind: "function",
            body: format!(
                "[function.f]\nname = \"{p}-function\"\nrole = \"arn:aws:iam::{ACCOUNT}:role/{p}-role\"\nruntime = \"python3.12\"\nhandler = \"main.handler\"\ncode = {{ dir = \"lambda\" }}\ntimeout = 60\n\n[[function.f.trigger]]\nqueue = \"arn:aws:sqs:us-east-1:{ACCOUNT}:{p}-queue\"\nbatch_size = 5\n"
            ),
            minimal: 2,
            why: "GetFunction (configuration, code, tags, concurrency); ListEventSourceMappings (triggers)",
        },
        KindCase {
            kind: "bucket",
            body: format!(
                "[bucket.b]\nname = \"{p}-bucket\"\nencryption = {{ sse = \"s3\" }}\npublic_access_block = {{ block_public_acls = true, ignore_public_acls = true, block_public_policy = true, restrict_public_buckets = true }}\ntags = {{ team = \"data\" }}\n"
            ),
            minimal: 3,
            why: "GetBucketTagging (existence, ownership); GetBucketEncryption; GetPublicAccessBlock",
        },
    ]
}

fn ops(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(op, n)| {
            if *n == 1 {
                op.clone()
            } else {
                format!("{op} ×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Calls in `a` beyond those in `b`, by operation.
fn minus(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    a.iter()
        .filter_map(|(op, n)| {
            let extra = n.saturating_sub(b.get(op).copied().unwrap_or(0));
            (extra > 0).then(|| (op.clone(), extra))
        })
        .collect()
}

/// The fastest of `runs` plans of `spec`, with its calls.
fn fastest_of(runs: usize, proxy: &FaultProxy, spec: &str) -> (Duration, BTreeMap<String, usize>) {
    fastest_of_args(runs, proxy, &["plan", "-f", spec])
}

/// The fastest of `runs` runs of plinth with `args`, with its calls.
fn fastest_of_args(
    runs: usize,
    proxy: &FaultProxy,
    args: &[&str],
) -> (Duration, BTreeMap<String, usize>) {
    (0..runs)
        .map(|_| timed(proxy, args))
        .min_by_key(|(t, _)| *t)
        .expect("at least one run")
}

fn calls() {
    println!(
        "\n== 1. AWS calls to plan one resource of each kind (fresh moto, counted by the proxy)"
    );
    let moto = PrivateMoto::start();
    let proxy = FaultProxy::start(&moto.url, Faults::none());
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("lambda")).expect("mkdir");
    std::fs::write(
        dir.path().join("lambda/main.py"),
        "def handler(event, context):\n    return None\n",
    )
    .expect("write code");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write spec");
        path.display().to_string()
    };

    // Discovery alone: a spec that declares nothing, in an account that holds nothing.
    let empty = write("empty.toml", "[stack]\nname = \"calls-empty\"\n");
    let (_, discovery_empty) = timed(&proxy, &["plan", "-f", &empty]);
    let sts: BTreeMap<String, usize> = BTreeMap::from([("sts:GetCallerIdentity".to_string(), 1)]);
    let discovery_empty = minus(&discovery_empty, &sts);
    println!(
        "discovery in an empty account: {} calls: {}",
        total(&discovery_empty),
        ops(&discovery_empty)
    );

    println!(
        "\n{:<17} {:>5} {:>7} {:>9} {:>6}  read calls (plan, less discovery)",
        "kind", "read", "minimal", "plan rtt", "apply"
    );
    let mut notes = Vec::new();
    for case in kind_cases("calls") {
        let stack = format!("calls-{}", case.kind.replace('_', "-"));
        let spec = write(
            &format!("{}.toml", case.kind),
            &format!("[stack]\nname = \"{stack}\"\n\n{}", case.body),
        );
        let nothing = write(
            &format!("{}-empty.toml", case.kind),
            &format!("[stack]\nname = \"{stack}\"\n"),
        );
        // Discovery of the account as it is before this resource exists: the plan after the
        // apply costs that, plus reading the resource by name (discovery skips what the spec
        // names).
        let (_, discovery) = timed(&proxy, &["plan", "-f", &nothing]);
        let (_, plan_create) = timed(&proxy, &["plan", "-f", &spec]);
        let (_, apply) = timed(&proxy, &["apply", "-f", &spec, "--auto-approve"]);
        let apply_only = minus(&apply, &plan_create);
        let (t0, plan) = fastest_of(3, &proxy, &spec);
        let read = minus(&plan, &discovery);
        proxy.set_faults(Faults {
            latency: LATENCY,
            ..Faults::none()
        });
        let (t25, _) = fastest_of(3, &proxy, &spec);
        proxy.set_faults(Faults::none());
        // Every sequential round trip adds the latency once: the difference counts them.
        let round_trips = (t25.saturating_sub(t0)).as_secs_f64() / LATENCY.as_secs_f64();
        println!(
            "{:<17} {:>5} {:>7} {:>9.1} {:>6}  {}",
            case.kind,
            total(&read),
            case.minimal,
            round_trips,
            total(&apply_only),
            ops(&read)
        );
        notes.push(format!("{:<17} minimal: {}", case.kind, case.why));
        notes.push(format!("{:<17} apply (create): {}", "", ops(&apply_only)));
    }
    println!("(plan rtt: sequential round trips of the whole plan, sts and discovery included: the fastest of 3 plans at 25 ms less the fastest of 3 at 0 ms, over 25 ms)");
    for note in notes {
        println!("{note}");
    }
    let all = write("all-empty.toml", "[stack]\nname = \"calls-none\"\n");
    let (_, discovery_full) = timed(&proxy, &["plan", "-f", &all]);
    let discovery_full = minus(&discovery_full, &sts);
    println!(
        "\ndiscovery in the account now (one of each kind, owned by other stacks): {} calls: {}",
        total(&discovery_full),
        ops(&discovery_full)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Plan and apply of generated stacks, against the lower bound

/// Sequential calls in one read of a kind the generated stack uses (see src/aws/*.rs):
/// role GetRole → ListRolePolicies → GetRolePolicy (ListAttachedRolePolicies alongside);
/// key DescribeKey → its tags, aliases, policy and rotation together; queue GetQueueUrl →
/// attributes and tags together; function GetFunction → ListEventSourceMappings.
const READ_CHAIN: usize = 3;

/// Pages of a listing of `n` items.
fn pages(n: usize, page: usize) -> usize {
    n.div_ceil(page).max(1)
}

/// The longest chain of dependent calls in a plan of a stack of `units` units with no index,
/// in an account that holds only the stack's `existing` units: the longest of the reads by
/// name (one call when the resource does not exist; they need no account id, so they start at
/// once) and of GetCallerIdentity followed by the discovery listings (each page after the one
/// before; KMS's aliases and keys side by side). The spec names every resource, so discovery
/// reads no tags.
fn plan_chain(existing: usize) -> usize {
    let read = if existing == 0 { 1 } else { READ_CHAIN };
    let roles = pages(2 * existing, 1000);
    let keys = pages(existing, 100).max(pages(existing, 1000));
    let functions = pages(existing, 50);
    read.max(1 + roles.max(keys).max(functions))
}

/// A plan of a stack with an index lists nothing, and reads the resources whose names need no
/// account id while GetCallerIdentity and the index are asked for: the longest read.
const INDEXED_PLAN_CHAIN: usize = READ_CHAIN;

/// What the stack's lock and index add to an apply's chain: taking the lock (after
/// GetCallerIdentity), reading the index (after the lock), writing it before the first step and
/// after the last, and releasing the lock.
const LOCK_AND_INDEX: usize = 5;

/// The longest chain in creating the stack: key → queue → function role → function.
/// The first key's create looks for copies an interrupted apply left (ListAliases and ListKeys
/// together, once per apply; a fresh account holds no key whose tags to read), then CreateKey,
/// EnableKeyRotation, CreateAlias; a queue's is CreateQueue; a role's CreateRole,
/// PutRolePolicy, AttachRolePolicy, GetRole (until IAM shows it); a function's CreateFunction,
/// CreateEventSourceMapping.
const CREATE_CHAIN: usize = 4 + 1 + 4 + 2;

fn bound(chain: usize, calls: usize) -> Duration {
    let by_chain = LATENCY * chain as u32;
    let by_calls = LATENCY * calls as u32 / PARALLELISM as u32;
    by_chain.max(by_calls)
}

/// Prints a replayed run's time next to its lower bound, and the same run replayed with no
/// latency (plinth's own time), against the emulator with the same latency, and against the
/// emulator with none: the emulator runs on this machine's cores and takes its own time over
/// every call, which the replay does not.
fn report(what: &str, chain: usize, [replayed, own, emulated, unlatent]: [&Run; 4]) {
    let calls = total(&replayed.1);
    let b = bound(chain, calls);
    let ratio = |d: Duration| d.as_secs_f64() / b.as_secs_f64();
    println!(
        "  {what:<20} replayed {:>6.0} ms, {:.2}× the bound {:>6.0} ms (chain {chain} × 25 ms, {calls} calls × 25 ms / {PARALLELISM}); replayed at 0 ms {:>5.0} ms;   moto +25 ms {:>6.0} ms ({:.2}×, {} calls), moto at 0 ms {:>6.0} ms",
        ms(replayed.0),
        ratio(replayed.0),
        ms(b),
        ms(own.0),
        ms(emulated.0),
        ratio(emulated.0),
        total(&emulated.1),
        ms(unlatent.0),
    );
}

/// A timed run and its calls by operation.
type Run = (Duration, BTreeMap<String, usize>);

/// Plan (everything to create), apply, and plan again (no changes) of one stack, each timed
/// with the calls it made, through `proxy` adding `latency` per call, against an account that
/// holds nothing yet. Each plan runs `runs` times and counts by its median (an apply runs once:
/// it changes the account). A first plan, not timed, wakes the emulator (moto loads each
/// service on its first call).
fn stack_runs(proxy: &FaultProxy, spec: &str, latency: Duration, runs: usize) -> [Run; 3] {
    proxy.set_faults(Faults::none());
    timed(proxy, &["plan", "-f", spec]);
    proxy.set_faults(Faults {
        latency,
        ..Faults::none()
    });
    let create = median_of(runs, proxy, &["plan", "-f", spec]);
    let apply = timed(proxy, &["apply", "-f", spec, "--auto-approve"]);
    let plan = median_of(runs, proxy, &["plan", "-f", spec, "--detailed-exitcode"]);
    [create, apply, plan]
}

/// The run of median time of `runs` runs of plinth with `args` (all make the same calls).
fn median_of(runs: usize, proxy: &FaultProxy, args: &[&str]) -> Run {
    let mut all: Vec<Run> = (0..runs).map(|_| timed(proxy, args)).collect();
    all.sort_by_key(|(t, _)| *t);
    all.swap_remove(runs / 2)
}

fn stack_times(size: usize, seed: u64, keep: Option<&std::path::Path>, runs: usize) {
    let units = size / stack::UNIT;
    println!("\n== 2. A generated stack of {} resources (seed {seed}), every call +25 ms; plans: median of {runs}", units * stack::UNIT);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = keep.map_or_else(|| temp.path().to_path_buf(), |k| k.join(size.to_string()));
    // The stack keeps its lock, and its index, in a bucket of its own.
    let state = format!("b{size}-state");
    let spec = stack::write(
        &dir,
        seed,
        &format!("bench-{size}"),
        &format!("b{size}"),
        units,
        Some(&state),
    )
    .display()
    .to_string();
    // The same runs four times: against a fresh emulator with no added latency, recording
    // every answer; answered from that recording with 25 ms on every call (the emulator's time
    // taken out, as against AWS), then with none (plinth's own time); and against another
    // fresh emulator with 25 ms on every call.
    let moto = PrivateMoto::start();
    create_bucket(&moto, &state);
    let recorder = Recorder::start(&moto.url);
    let proxy = FaultProxy::start(&recorder.url, Faults::none());
    let unlatent = stack_runs(&proxy, &spec, Duration::ZERO, runs);
    recorder.replay();
    let replayed = stack_runs(&proxy, &spec, LATENCY, runs);
    let (mut unmatched, mut miscounted) = (recorder.unmatched(), recorder.miscounted());
    recorder.replay();
    let own = stack_runs(&proxy, &spec, Duration::ZERO, runs);
    unmatched += recorder.unmatched();
    miscounted.extend(recorder.miscounted());
    drop((proxy, recorder, moto));
    let moto = PrivateMoto::start();
    create_bucket(&moto, &state);
    let proxy = FaultProxy::start(&moto.url, Faults::none());
    let emulated = stack_runs(&proxy, &spec, LATENCY, runs);
    let chains = [
        plan_chain(0),
        plan_chain(0) + LOCK_AND_INDEX + CREATE_CHAIN,
        INDEXED_PLAN_CHAIN,
    ];
    for (i, what) in ["plan (all to create)", "apply", "plan (no changes)"]
        .into_iter()
        .enumerate()
    {
        report(
            what,
            chains[i],
            [&replayed[i], &own[i], &emulated[i], &unlatent[i]],
        );
    }
    if unmatched > 0 || !miscounted.is_empty() {
        println!("  NOT A FAITHFUL REPLAY: {unmatched} requests of the replayed runs were not recorded and went to moto; made a different number of times:");
        for (request, recorded, replayed) in miscounted {
            println!("    replayed {replayed} times, recorded {recorded}: {request}");
        }
    }
    println!("  plan calls:  {}", ops(&replayed[2].1));
    println!("  apply calls: {}", ops(&replayed[1].1));
}

// ---------------------------------------------------------------------------------------------
// 4. Start-up

fn startup() {
    println!(
        "\n== 4. Start-up (mean and fastest of 50 runs; `hyperfine` gives the same with spread)"
    );
    let example = support::root()
        .join("plans/example-roles.toml")
        .display()
        .to_string();
    for args in [vec!["--help"], vec!["validate", "-f", example.as_str()]] {
        let mut times = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let out = support::command(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run plinth");
            times.push(started.elapsed());
            assert!(out.success(), "plinth {args:?} failed");
        }
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let fastest = times.iter().min().copied().unwrap_or_default();
        println!(
            "  plinth {:<40} mean {:>5.1} ms, fastest {:>5.1} ms   (goal < 20 ms)",
            args.join(" ")
                .replace(&*support::root().display().to_string(), "."),
            ms(mean),
            ms(fastest)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. A peer: Ansible's AWS modules in check mode over the same resources

fn peer() {
    println!("\n== 5. plinth plan next to ansible-playbook --check: Tonic Structural's stack, every call +25 ms");
    let script = support::root().join("scripts/bench-ansible.sh");
    let venv = std::env::var("PLINTH_ANSIBLE_VENV")
        .map_or_else(|_| support::root().join(".venv-ansible"), Into::into);
    if !venv.join("bin/ansible-playbook").exists() {
        println!(
            "  skipped: no Ansible in {}; `scripts/bench-ansible.sh install` makes one",
            venv.display()
        );
        return;
    }
    let moto = PrivateMoto::start();
    let proxy = FaultProxy::start(&moto.url, Faults::none());
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = support::root()
        .join("plans/tonic-structural-redshift.toml")
        .display()
        .to_string();
    let args = ["-f", spec.as_str(), "--var", "previous_process=true"];
    timed(&proxy, &[&["apply", "--auto-approve"][..], &args].concat());
    let mut snapshot = support::command(
        &[
            &["snapshot", "--endpoint-url", proxy.url.as_str()][..],
            &args,
        ]
        .concat(),
    );
    let out = snapshot.output().expect("run plinth snapshot");
    assert!(
        out.status.success(),
        "plinth snapshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot_path = dir.path().join("snapshot.json");
    std::fs::write(&snapshot_path, &out.stdout).expect("write snapshot");

    proxy.set_faults(Faults {
        latency: LATENCY,
        ..Faults::none()
    });
    let (t_plan, c_plan) = fastest_of_args(3, &proxy, &[&["plan"][..], &args].concat());
    proxy.reset_counts();
    let started = Instant::now();
    let ansible = Command::new("bash")
        .arg(&script)
        .arg("run")
        .arg(&proxy.url)
        .arg(&snapshot_path)
        .env("PLINTH_ANSIBLE_VENV", &venv)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/bench-ansible.sh");
    let t_ansible = started.elapsed();
    let c_ansible = proxy.counts().by_operation;
    if !ansible.status.success() {
        println!("  ansible-playbook failed (its log is above)");
        return;
    }
    println!(
        "  plinth plan              {:>8.0} ms, {} calls",
        ms(t_plan),
        total(&c_plan)
    );
    println!(
        "  ansible-playbook --check {:>8.0} ms, {} calls",
        ms(t_ansible),
        total(&c_ansible)
    );
    println!("  ansible calls: {}", ops(&c_ansible));
}
