//! The offline planner at scale: planning and rendering a 10,000-resource stack against a
//! generated live snapshot, with no AWS; and the policy canonicalizer it leans on.
//!
//! `cargo bench --bench planner` first prints one cold run (load, snapshot, plan, render) with
//! the heap's peak, counted by the allocator below, then runs divan's benchmarks. Inputs come
//! from `common/stack.rs` and a seed (`PLINTH_BENCH_SEED`, default 3), so runs are comparable.
//! `PLINTH_BENCH_KEEP=DIR` writes the spec and its snapshot to `DIR` instead, and times nothing.

#[path = "common/stack.rs"]
mod stack;

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use mimalloc::MiMalloc;

use plinth::diag::Diagnostics;
use plinth::model::{Address, Kind, Value};
use plinth::plan::{plan, Plan, PlanOptions};
use plinth::policy::PolicyDocument;
use plinth::render::text::{render, TextOptions};
use plinth::spec::kinds::key::{DEFAULT_KEY_SPEC, DEFAULT_KEY_USAGE};
use plinth::spec::resolve::Resolver;
use plinth::spec::{self, LoadOptions, Spec};
use plinth::state::Account;
use plinth::state::{LiveResource, LiveSnapshot};

/// The allocator the binary uses (mimalloc), counting the bytes in use and their peak while
/// `COUNTING` is set. Two counters shared by every thread and updated on every allocation are
/// not free: once planning and the access review ran on two threads, the two cores fought over
/// the counters' cache line, and counting took a quarter of the samples of
/// `plan_and_render_10k` (`perf annotate` of `__rust_alloc`). So nothing timed is counted:
/// the cold run measures the heap in a second pass of its own, and divan's benchmarks run with
/// counting off. Counts are signed: a block allocated before counting began and freed during
/// it subtracts, which only lowers a figure that is a difference anyway.
struct PeakAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn counted(grown: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        let grown = grown as isize;
        let now = IN_USE.fetch_add(grown, Ordering::Relaxed) + grown;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn uncounted(shrunk: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        IN_USE.fetch_sub(shrunk as isize, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = MiMalloc.alloc(layout);
        if !ptr.is_null() {
            counted(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = MiMalloc.alloc_zeroed(layout);
        if !ptr.is_null() {
            counted(layout.size());
        }
        ptr
    }

    // mimalloc's own, which grows a block in place where it can, as the binary's allocator
    // does (the trait's default allocates, copies and frees).
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = MiMalloc.realloc(ptr, layout, new_size);
        if !moved.is_null() {
            if new_size >= layout.size() {
                counted(new_size - layout.size());
            } else {
                uncounted(layout.size() - new_size);
            }
        }
        moved
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        MiMalloc.dealloc(ptr, layout);
        uncounted(layout.size());
    }
}

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const RESOURCES: usize = 10_000;
const STACK: &str = "bench";

fn seed() -> u64 {
    std::env::var("PLINTH_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

fn account() -> Account {
    Account {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        caller_arn: "arn:aws:iam::123456789012:user/bench".into(),
        caller_role_arn: None,
    }
}

fn load(dir: &Path) -> Spec {
    let path = stack::write(dir, seed(), STACK, "t", RESOURCES / stack::UNIT, None);
    spec::load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// What AWS would hold for `spec` after an earlier apply, then some drift: per resource, the
/// seed makes it unchanged (88%), drifted (6%: a tag, the description, a number or an inline
/// policy differs) or missing (6%: it will be created); and one resource in fifty that the
/// stack owns has left the spec (it will be deleted).
fn snapshot(spec: &Spec) -> LiveSnapshot {
    let account = account();
    let exports = |address: &Address, name: &str| -> BTreeMap<String, String> {
        let arn = match address.kind {
            Kind::Key => format!("arn:aws:kms:us-east-1:123456789012:key/{}", key_id(address)),
            Kind::Queue => format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
            Kind::Function => format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            _ => format!("arn:aws:iam::123456789012:{}/{name}", address.kind),
        };
        BTreeMap::from([
            ("arn".to_string(), arn),
            ("name".to_string(), name.to_string()),
            ("key_id".to_string(), key_id(address)),
            (
                "unique_id".to_string(),
                format!("AROA{:016}", address.name.len()),
            ),
            (
                "url".to_string(),
                format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}"),
            ),
        ])
    };
    // First the exports alone, so references to assigned values (a key's ARN) resolve.
    let mut live = LiveSnapshot {
        account: Some(account.clone()),
        ..LiveSnapshot::default()
    };
    let ids = plinth::plan::physical_ids(spec, &Resolver::new(spec, &account, None))
        .expect("names resolve");
    for address in spec.resources.keys() {
        let id = ids.get(address).cloned().unwrap_or_else(|| key_id(address));
        let physical_id = if address.kind == Kind::Key {
            key_id(address)
        } else {
            id.clone()
        };
        live.by_address.insert(
            address.clone(),
            LiveResource {
                kind: address.kind,
                physical_id,
                owner: Some(STACK.into()),
                address_tag: Some(address.clone()),
                // A key exports its ARN only when it is the kind of key the spec declares.
                attributes: match address.kind {
                    Kind::Key => BTreeMap::from([
                        ("key_usage".to_string(), Value::str(DEFAULT_KEY_USAGE)),
                        ("key_spec".to_string(), Value::str(DEFAULT_KEY_SPEC)),
                    ]),
                    _ => BTreeMap::new(),
                }
                .into(),
                exports: exports(address, &id),
                deletion_date: None,
            },
        );
    }
    let resolver = Resolver::new(spec, &account, Some(&live));
    let mut rng = stack::Rng::new(seed());
    let mut attributes = BTreeMap::new();
    for resource in spec.resources.values() {
        let mut desired = resource
            .body
            .desired(&resolver, &mut Diagnostics::default());
        match rng.next_u64() % 100 {
            0..=5 => drift(&mut desired),
            6..=11 => {
                attributes.insert(resource.address.clone(), None);
                continue;
            }
            _ => {}
        }
        attributes.insert(resource.address.clone(), Some(desired));
    }
    drop(resolver);
    for (address, attrs) in attributes {
        match attrs {
            Some(attrs) => {
                live.by_address
                    .get_mut(&address)
                    .expect("inserted above")
                    .attributes = attrs.into()
            }
            None => {
                live.by_address.remove(&address);
            }
        }
    }
    for i in 0..RESOURCES / 50 {
        let name = format!("t-gone-{i}");
        let address = Address::new(Kind::Role, format!("gone{i}"));
        let trust = PolicyDocument::parse(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .expect("a valid policy");
        live.owned.push(LiveResource {
            kind: Kind::Role,
            physical_id: name.clone(),
            owner: Some(STACK.into()),
            address_tag: Some(address.clone()),
            attributes: BTreeMap::from([
                ("name".to_string(), Value::str(&name)),
                ("trust".to_string(), Value::policy(trust)),
            ])
            .into(),
            exports: exports(&address, &name),
            deletion_date: None,
        });
    }
    live
}

fn key_id(address: &Address) -> String {
    format!(
        "00000000-0000-0000-0000-{:012}",
        address
            .name
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse::<u64>()
            .unwrap_or(0)
    )
}

/// One difference of the kind people make by hand in the console.
fn drift(attrs: &mut plinth::model::Attributes) {
    if let Some(Value::Map(tags)) = attrs.get_mut("tags") {
        tags.insert("owner".into(), Value::str("someone"));
    } else if let Some(Value::Str(d)) = attrs.get_mut("description") {
        d.push_str(" (edited)");
    } else if let Some(Value::Int(t)) = attrs.get_mut("timeout") {
        *t += 1;
    } else if let Some(Value::Map(policies)) = attrs.get_mut("policies") {
        policies.clear();
    }
}

fn plan_of(spec: &Spec, live: &LiveSnapshot) -> Plan {
    plan(spec, live, PlanOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

/// One cold run with timings, then the heap's peak in a second pass counted by the allocator
/// (so that counting is not timed), printed before divan's figures.
fn cold_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let spec = load(dir.path());
    let loaded = t.elapsed();
    let t = Instant::now();
    let live = snapshot(&spec);
    let generated = t.elapsed();
    let t = Instant::now();
    let plan = plan_of(&spec, &live);
    let planned = t.elapsed();
    let t = Instant::now();
    let text = render(&plan, TextOptions::default());
    let rendered = t.elapsed();
    // The access review's share of rendering: every format computes the plan's access changes.
    let t = Instant::now();
    let access = plinth::access::changes(&plan);
    let reviewed = t.elapsed();
    let s = plan.summary();
    println!("offline planner, {} resources (seed {}): {} to add, {} to change, {} to destroy; {} lines of plan", spec.resources.len(), seed(), s.add, s.change, s.destroy, text.lines().count());
    println!("  load spec        {:>8.1} ms", loaded.as_secs_f64() * 1e3);
    println!(
        "  (generate live)  {:>8.1} ms",
        generated.as_secs_f64() * 1e3
    );
    println!("  plan             {:>8.1} ms", planned.as_secs_f64() * 1e3);
    println!(
        "  render text      {:>8.1} ms",
        rendered.as_secs_f64() * 1e3
    );
    println!(
        "    of which access  {:>6.1} ms   ({} rows gained or lost)",
        reviewed.as_secs_f64() * 1e3,
        access.len()
    );
    println!(
        "  plan + render    {:>8.1} ms   (goal < 150 ms)",
        (planned + rendered).as_secs_f64() * 1e3
    );
    drop((access, text, plan, live, spec, dir));

    COUNTING.store(true, Ordering::Relaxed);
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = load(dir.path());
    let live = snapshot(&spec);
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let plan = plan_of(&spec, &live);
    let text = render(&plan, TextOptions::default());
    let peak = PEAK.load(Ordering::Relaxed);
    COUNTING.store(false, Ordering::Relaxed);
    drop((text, plan, live, spec, dir));
    println!("  heap: spec + snapshot {:.1} MB, peak while planning and rendering {:.1} MB   (goal < 150 MB)", before as f64 / 1e6, peak as f64 / 1e6);
}

/// With `PLINTH_BENCH_KEEP=DIR`, leaves the spec (`DIR/plinth.toml`) and its live snapshot
/// (`DIR/snapshot.json`, as `plinth snapshot` writes one) in `DIR`, to time and measure plinth
/// itself on them: `plinth plan -f DIR/plinth.toml --live-snapshot DIR/snapshot.json`.
fn keep(dir: &Path) {
    let spec = load(dir);
    let live = snapshot(&spec);
    let json = serde_json::to_string_pretty(&live).expect("a snapshot serializes");
    std::fs::write(dir.join("snapshot.json"), json).expect("write the snapshot");
    println!(
        "kept {} resources in {}: plinth.toml, snapshot.json",
        spec.resources.len(),
        dir.display()
    );
}

fn main() {
    plinth::memory::configure();
    if let Some(dir) = std::env::var_os("PLINTH_BENCH_KEEP") {
        keep(Path::new(&dir));
        return;
    }
    cold_run();
    divan::main();
}

/// Spec and snapshot, built once for the benchmarks below.
fn inputs() -> &'static (Spec, LiveSnapshot) {
    static INPUTS: std::sync::OnceLock<(Spec, LiveSnapshot)> = std::sync::OnceLock::new();
    INPUTS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = load(dir.path());
        let live = snapshot(&spec);
        (spec, live)
    })
}

#[divan::bench(sample_count = 10)]
fn plan_10k() -> Plan {
    let (spec, live) = inputs();
    plan_of(spec, live)
}

/// Returns the plan with its text, so that freeing the plan is not timed (as in `plan_10k`).
#[divan::bench(sample_count = 10)]
fn plan_and_render_10k() -> (Plan, String) {
    let (spec, live) = inputs();
    let plan = plan_of(spec, live);
    let text = render(&plan, TextOptions::default());
    (plan, text)
}

#[divan::bench(sample_count = 10)]
fn render_json_10k(bencher: divan::Bencher) {
    let (spec, live) = inputs();
    let plan = plan_of(spec, live);
    bencher.bench(|| plinth::render::json::render(&plan));
}

/// The access review alone: the grants of the groups of resources the plan's changes reach,
/// on both sides, and their difference.
#[divan::bench(sample_count = 10)]
fn access_changes_10k(bencher: divan::Bencher) {
    let (spec, live) = inputs();
    let plan = plan_of(spec, live);
    bencher.bench(|| plinth::access::changes(&plan));
}

/// Its reference, in the same run: every grant of both sides, and their difference (the same
/// result).
#[divan::bench(sample_count = 10)]
fn access_changes_in_full_10k(bencher: divan::Bencher) {
    let (spec, live) = inputs();
    let plan = plan_of(spec, live);
    assert_eq!(
        plinth::access::changes(&plan),
        plinth::access::changes_in_full(&plan)
    );
    bencher.bench(|| plinth::access::changes_in_full(&plan));
}

mod policy {
    use super::*;

    /// The largest vendor policy plinth ships as a seed: Tonic Structural's server policy.
    fn server_policy() -> PolicyDocument {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/policies/seeds/tonic-server-pipeline-v2.json");
        PolicyDocument::parse(&std::fs::read_to_string(path).expect("read seed policy"))
            .expect("parse seed policy")
    }

    #[divan::bench]
    fn parse(bencher: divan::Bencher) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/policies/seeds/tonic-server-pipeline-v2.json");
        let text = std::fs::read_to_string(path).expect("read seed policy");
        bencher.bench(|| PolicyDocument::parse(divan::black_box(&text)).expect("parse"));
    }

    #[divan::bench]
    fn normalize(bencher: divan::Bencher) {
        let doc = server_policy();
        bencher.bench(|| divan::black_box(&doc).normalized());
    }

    #[divan::bench]
    fn equivalent(bencher: divan::Bencher) {
        // Equivalent but written differently, so the comparison normalizes both.
        let (a, b) = (server_policy(), server_policy().normalized());
        assert!(a != b && a.equivalent(&b));
        bencher.bench(|| divan::black_box(&a).equivalent(divan::black_box(&b)));
    }

    #[divan::bench]
    fn to_pretty(bencher: divan::Bencher) {
        let doc = server_policy();
        bencher.bench(|| divan::black_box(&doc).to_pretty());
    }
}
