//! Generated benchmark inputs: a realistic stack of any size, the same for the same seed.
//!
//! A stack is made of units of five resources, the shape Tonic Structural's Lambda setup takes
//! when a customer runs several pipelines: a role for the function (trust, an inline policy,
//! an AWS-managed attachment), a KMS key, a queue encrypted with the key, the function with the
//! queue as its trigger, and a server role allowed to send to the queue. The seed chooses the
//! numbers (timeouts, memory, batch sizes) and the order of policy actions, so two seeds give
//! different but equally shaped stacks.

use std::path::{Path, PathBuf};

/// Resources in one unit.
pub const UNIT: usize = 5;

/// A small seeded generator (SplitMix64): the same seed gives the same stack.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One of `choices`.
    pub fn pick<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
        &choices[(self.next_u64() % choices.len() as u64) as usize]
    }

    /// The first `n` of `items` in a seeded order.
    pub fn some<'a>(&mut self, items: &[&'a str], n: usize) -> Vec<&'a str> {
        let mut items = items.to_vec();
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next_u64() % (i as u64 + 1)) as usize);
        }
        items.truncate(n);
        items
    }
}

// The trust policies are files next to the spec, as a vendor's documented JSON usually is.
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const FUNCTION_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
];
const SERVER_ACTIONS: &[&str] = &[
    "sqs:SendMessage",
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
];

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The spec text of a stack of `units` units. Names start with `prefix`, so stacks of several
/// runs can share one account. With `lock`, the stack takes its lock and keeps its index in that
/// bucket.
pub fn spec(seed: u64, stack: &str, prefix: &str, units: usize, lock: Option<&str>) -> String {
    let mut rng = Rng::new(seed);
    // Tables follow each other without blank lines, keys meet their values without spaces, and
    // the managed policy is a variable, so a 10,000-resource spec stays under the 2 MiB plinth
    // reads.
    let lock = lock
        .map(|bucket| format!("lock={{ bucket=\"{bucket}\" }}\n"))
        .unwrap_or_default();
    let mut out = format!(
        "[stack]\nname = \"{stack}\"\n{lock}[vars]\nbasic_execution = \"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole\"\n"
    );
    for i in 0..units {
        let p = format!("{prefix}-{i}");
        // All that Lambda needs to poll the queue (check::function-queue-access), in a seeded order.
        let function_actions = quoted(&rng.some(FUNCTION_ACTIONS, FUNCTION_ACTIONS.len()));
        let server_actions = quoted(&rng.some(SERVER_ACTIONS, 3));
        let timeout = rng.pick(&[30, 60, 300]);
        // The queue outlasts its function, as Lambda requires of a trigger (check::visibility-timeout).
        let visibility = timeout * rng.pick(&[1, 2, 6]);
        let memory = rng.pick(&[256, 512, 1024]);
        let batch = rng.pick(&[1, 5, 10]);
        out.push_str(&format!(
            r#"[role.fn{i}]
name="{p}-fn"
trust={{ file="lambda-trust.json" }}
managed_policies=["${{var.basic_execution}}"]
[role.fn{i}.policies.access]
Version="2012-10-17"
Statement=[{{ Effect="Allow", Action=[{function_actions}], Resource="${{queue.q{i}.arn}}" }},
{{ Effect="Allow", Action="kms:Decrypt", Resource="${{key.k{i}.arn}}" }}]
[key.k{i}]
rotation=true
aliases=["alias/{p}"]
[queue.q{i}]
name="{p}-work"
visibility_timeout={visibility}
kms_key="${{key.k{i}.arn}}"
[function.f{i}]
name="{p}-job"
role="${{role.fn{i}.arn}}"
runtime="python3.12"
handler="main.handler"
code={{ dir="lambda" }}
timeout={timeout}
memory={memory}
[[function.f{i}.trigger]]
queue="${{queue.q{i}.arn}}"
batch_size={batch}
[role.s{i}]
name="{p}-srv"
trust={{ file="ec2-trust.json" }}
[role.s{i}.policies.queue]
Version="2012-10-17"
Statement=[{{ Effect="Allow", Action=[{server_actions}], Resource="${{queue.q{i}.arn}}" }}]
"#
        ));
    }
    out
}

/// Writes the stack's spec and the function code it names into `dir`; returns the spec's path.
pub fn write(
    dir: &Path,
    seed: u64,
    stack: &str,
    prefix: &str,
    units: usize,
    lock: Option<&str>,
) -> PathBuf {
    std::fs::create_dir_all(dir.join("lambda")).expect("create the spec directory");
    std::fs::write(
        dir.join("lambda/main.py"),
        "def handler(event, context):\n    return None\n",
    )
    .expect("write code");
    std::fs::write(dir.join("lambda-trust.json"), LAMBDA_TRUST).expect("write trust policy");
    std::fs::write(dir.join("ec2-trust.json"), EC2_TRUST).expect("write trust policy");
    let path = dir.join("plinth.toml");
    std::fs::write(&path, spec(seed, stack, prefix, units, lock)).expect("write spec");
    path
}
