//! Property-based fuzzing of the spec loader and the policy parser (proptest, stable Rust).
//!
//! Whatever the input, loading a spec never panics and either succeeds or reports diagnostics
//! that each point inside a file plinth read; parsing a policy never panics either. The normal
//! test run tries a few hundred cases per target in a few seconds; `PROPTEST_CASES=100000
//! cargo test --test it fuzz` runs a long campaign (see docs/reliability.md). A failing case
//! is shrunk by proptest and belongs in `fixtures/bad/` or in the regressions below.

use std::path::Path;

use plinth::diag::Diagnostics;
use plinth::policy::PolicyDocument;
use plinth::spec::{load, LoadOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use crate::support::root;

/// Cases per target in the normal test run, unless PROPTEST_CASES says otherwise.
const QUICK_CASES: u32 = 256;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(QUICK_CASES);
    // Shrunk failures are kept under tests/it/, next to this file, to be turned into
    // regression tests.
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Every specification the fuzzers start from: the example stacks and the planner's specs.
fn seeds() -> Vec<String> {
    [
        "plans/example-roles.toml",
        "fixtures/specs/planner.toml",
        "fixtures/specs/planner-before.toml",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(root().join(p)).expect("seed spec"))
    .collect()
}

/// Pieces of spec syntax, so that random sequences reach past the TOML parser.
const TOKENS: &[&str] = &[
    "[stack]",
    "name = ",
    "\"tonic\"",
    "[role.a]",
    "[queue.q]",
    "[function.f]",
    "[bucket.b]",
    "[key.k]",
    "[policy.p]",
    "[instance_profile.i]",
    "[oidc_provider.o]",
    "[vars]",
    "[outputs]",
    "[[function.f.trigger]]",
    "trust = ",
    "policy = ",
    "document = ",
    "'''",
    "'",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    "=",
    "\n",
    " ",
    "${",
    "${role.a.arn}",
    "${var.x}",
    "${aws.account_id}",
    "$${",
    "<aws account id>",
    "Statement",
    "\"Effect\": \"Allow\"",
    "\"Action\": \"s3:*\"",
    "\"Principal\": {\"AWS\": \"*\"}",
    "\"Resource\": \"*\"",
    "{ file = \"policies/tonic-lambda.json\" }",
    "tags = { team = \"x\" }",
    "silence",
    "arn:aws:iam::123456789012:role/r",
    "1",
    "-1",
    "9999999999999999999",
    "true",
    "1979-05-27T07:32:00Z",
    "é",
    "\u{0}",
    "\u{feff}",
    "#",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..120).prop_map(|t| t.concat())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: &'static str },
    Duplicate { at: usize, len: usize },
    Replace { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), proptest::sample::select(TOKENS))
            .prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 1..200usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
    ]
}

/// Applies mutations to bytes (not characters: the loader must cope with broken UTF-8 too).
fn mutate(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Delete { at, len } => {
                let at = at % n;
                bytes.drain(at.min(bytes.len())..(at + len).min(bytes.len()));
            }
            Mutation::Insert { at, token } => {
                let at = (at % n).min(bytes.len());
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Duplicate { at, len } => {
                let at = (at % n).min(bytes.len());
                let piece = bytes[at..(at + len).min(bytes.len())].to_vec();
                bytes.splice(at..at, piece);
            }
            Mutation::Replace { at, byte } => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
            }
        }
    }
    bytes
}

/// Loads `bytes` as a spec in `dir` (which holds the policy files the seeds name) and checks
/// the loader's promise.
fn check_load(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join("plinth.toml");
    std::fs::write(&path, bytes).expect("write spec");
    let diagnostics = match load(&path, &LoadOptions::default()) {
        Ok(spec) => spec.warnings,
        Err(diagnostics) => {
            prop_assert!(diagnostics.has_errors(), "a failed load reports an error");
            diagnostics
        }
    };
    check_located(&diagnostics, dir)
}

fn check_located(diagnostics: &Diagnostics, dir: &Path) -> Result<(), TestCaseError> {
    for d in &diagnostics.0 {
        let location = d.location.as_ref();
        prop_assert!(location.is_some(), "{} has no location", d.message);
        let location = location.expect("checked");
        prop_assert!(
            Path::new(&location.file.name).starts_with(dir),
            "{} points into `{}`",
            d.message,
            location.file.name
        );
        let text = &location.file.text;
        prop_assert!(
            location.span.start <= location.span.end && location.span.end <= text.len(),
            "{}: span {:?}",
            d.message,
            location.span
        );
        prop_assert!(
            text.is_char_boundary(location.span.start) && text.is_char_boundary(location.span.end)
        );
        // Rendering draws the snippet: it must not panic either.
        prop_assert!(!d.render(false).is_empty());
    }
    Ok(())
}

/// A directory with the policy files the seed specs refer to.
fn spec_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("policies")).expect("policies dir");
    std::fs::copy(
        root().join("plans/policies/tonic-lambda.json"),
        dir.path().join("policies/tonic-lambda.json"),
    )
    .expect("copy policy");
    dir
}

#[test]
fn the_loader_survives_arbitrary_bytes() {
    let dir = spec_dir();
    proptest!(config(), |(bytes in proptest::collection::vec(any::<u8>(), 0..4096))| {
        check_load(dir.path(), &bytes)?;
    });
}

#[test]
fn the_loader_survives_token_soup() {
    let dir = spec_dir();
    proptest!(config(), |(text in token_soup())| {
        check_load(dir.path(), text.as_bytes())?;
    });
}

#[test]
fn the_loader_survives_mutated_valid_specs() {
    let dir = spec_dir();
    let seeds = seeds();
    let count = seeds.len();
    proptest!(config(), |(which in 0..count, mutations in proptest::collection::vec(mutation(), 1..6))| {
        check_load(dir.path(), &mutate(&seeds[which], &mutations))?;
    });
}

/// JSON made of policy vocabulary: parsing it must end in a document or an error, and a
/// document must survive its own canonical form.
fn policy_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        proptest::sample::select(
            &[
                "2012-10-17",
                "2008-10-17",
                "Allow",
                "Deny",
                "*",
                "s3:GetObject",
                "s3:*",
                "arn:aws:s3:::b/*",
                "arn:aws:iam::123456789012:root",
                "lambda.amazonaws.com",
                "${aws:username}",
                "",
                "sts:AssumeRole",
            ][..]
        )
        .prop_map(|s| serde_json::Value::String(s.to_string())),
    ];
    let keys = &[
        "Version",
        "Id",
        "Statement",
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "AWS",
        "Service",
        "Federated",
        "CanonicalUser",
        "StringEquals",
        "ForAnyValue:StringLike",
        "aws:SourceArn",
        "Bool",
        "NullIfExists",
    ][..];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(proptest::sample::select(keys), inner, 0..5).prop_map(
                |m| serde_json::Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )
            ),
        ]
    })
}

#[test]
fn the_policy_parser_survives_arbitrary_documents() {
    proptest!(config(), |(json in policy_json())| {
        if let Ok(doc) = PolicyDocument::from_value(&json) {
            let again = PolicyDocument::parse(&doc.to_aws_json());
            prop_assert!(again.as_ref().is_ok_and(|a| a.equivalent(&doc)), "{json} → {again:?}");
        }
    });
    proptest!(config(), |(text in "\\PC{0,300}")| {
        let _ = PolicyDocument::parse(&text);
    });
}

/// A spec of four roles and four managed policies whose names, descriptions and policy
/// documents refer to each other (and to themselves) at random.
#[derive(Debug, Clone)]
struct ReferenceWeb {
    /// Per resource (roles `role.r0..`, then policies `policy.p0..`): whose name its name is
    /// made from, whose name or ARN its description holds (roles only), whose ARN its policy's
    /// `Resource` names.
    names: Vec<Option<usize>>,
    descriptions: Vec<Option<(usize, bool)>>,
    documents: Vec<Option<usize>>,
}

const WEB_ROLES: usize = 4;
const WEB_SIZE: usize = 8;

fn web_address(i: usize) -> String {
    if i < WEB_ROLES {
        format!("role.r{i}")
    } else {
        format!("policy.p{}", i - WEB_ROLES)
    }
}

fn web_reference(target: Option<usize>, attribute: &str) -> String {
    target.map_or(String::new(), |i| {
        format!("${{{}.{attribute}}}", web_address(i))
    })
}

impl ReferenceWeb {
    fn toml(&self) -> String {
        let mut out = String::from("[stack]\nname = \"web\"\n");
        for i in 0..WEB_SIZE {
            let name = format!("n{i}{}", web_reference(self.names[i], "name"));
            let resource = match self.documents[i] {
                Some(_) => web_reference(self.documents[i], "arn"),
                None => "*".to_string(),
            };
            let statement = format!(
                r#"{{"Statement": [{{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "{resource}"}}]}}"#
            );
            out.push_str(&format!("\n[{}]\nname = \"{name}\"\n", web_address(i)));
            if i < WEB_ROLES {
                let description = match self.descriptions[i] {
                    Some((t, arn)) => web_reference(Some(t), if arn { "arn" } else { "name" }),
                    None => String::new(),
                };
                out.push_str(&format!("description = \"d{description}\"\n"));
                out.push_str(
                    r#"trust = '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'"#,
                );
                out.push_str(&format!(
                    "\n[{}.policies]\ninline = '{statement}'\n",
                    web_address(i)
                ));
            } else {
                out.push_str(&format!("document = '{statement}'\n"));
            }
        }
        out
    }

    /// Whether the spec must be refused: a name made from itself (through any chain of names),
    /// or resources whose strings refer to each other in a circle (any reference outside a
    /// policy orders creation, so such resources can never be created in order).
    // Floyd–Warshall reads best with indices.
    #[allow(clippy::needless_range_loop)]
    fn has_cycle(&self) -> bool {
        let mut edges = [[false; WEB_SIZE]; WEB_SIZE];
        for i in 0..WEB_SIZE {
            if let Some(t) = self.names[i] {
                // A name made from its own name is a cycle; other self-references are not.
                edges[i][t] = true;
            }
            if let Some((t, _)) = self.descriptions[i] {
                // Only roles are given a description.
                if t != i && i < WEB_ROLES {
                    edges[i][t] = true;
                }
            }
        }
        // Transitive closure (Floyd–Warshall on eight nodes).
        for k in 0..WEB_SIZE {
            for i in 0..WEB_SIZE {
                for j in 0..WEB_SIZE {
                    edges[i][j] |= edges[i][k] && edges[k][j];
                }
            }
        }
        (0..WEB_SIZE).any(|i| edges[i][i])
    }
}

fn reference_web() -> impl Strategy<Value = ReferenceWeb> {
    let list = |t: BoxedStrategy<Option<usize>>| proptest::collection::vec(t, WEB_SIZE);
    let target = || proptest::option::of(0..WEB_SIZE).boxed();
    (
        list(target()),
        proptest::collection::vec(proptest::option::of((0..WEB_SIZE, any::<bool>())), WEB_SIZE),
        list(target()),
    )
        .prop_map(|(names, descriptions, documents)| ReferenceWeb {
            names,
            descriptions,
            documents,
        })
}

/// Self- and mutual references never crash the loader or the resolver (a name made from
/// itself used to recurse until the stack overflowed): a spec with a cycle is refused with
/// located `spec::reference-cycle` diagnostics only, and one the loader accepts resolves every
/// name and ARN without meeting a cycle.
#[test]
fn the_loader_refuses_names_made_from_themselves_and_resolves_the_rest() {
    use plinth::spec::template::Reference;
    let dir = spec_dir();
    let account = plinth::state::Account {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        caller_arn: String::new(),
        caller_role_arn: None,
    };
    proptest!(config(), |(web in reference_web())| {
        let text = web.toml();
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, &text).expect("write spec");
        match load(&path, &LoadOptions::default()) {
            Ok(spec) => {
                prop_assert!(!web.has_cycle(), "a cycle was let through:\n{text}");
                let resolver = plinth::spec::resolve::Resolver::new(&spec, &account, None);
                for address in spec.resources.keys() {
                    for attribute in ["name", "arn"] {
                        let reference = Reference::Resource {
                            address: address.clone(),
                            attribute: attribute.into(),
                        };
                        prop_assert!(
                            resolver.lookup(&reference).is_some(),
                            "{address}.{attribute} unknown:\n{text}"
                        );
                    }
                }
                prop_assert!(resolver.cycles().is_empty());
            }
            Err(diagnostics) => {
                check_located(&diagnostics, dir.path())?;
                prop_assert!(
                    web.has_cycle(),
                    "refused without a cycle:\n{text}\n{}",
                    diagnostics.render(false)
                );
                prop_assert!(
                    diagnostics.0.iter().all(|d| d.code.as_str() == "spec::reference-cycle"),
                    "{}",
                    diagnostics.render(false)
                );
            }
        }
    });
}
