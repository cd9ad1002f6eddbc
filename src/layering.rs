//! The layering rule of ARCHITECTURE.md, checked on the source: arrows only point down; only
//! `aws/` calls the SDK; only the command line touches the terminal; `state` and `model` import
//! nothing above them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module's floor, lowest first. A module may import from a lower floor, or from
/// itself; never from its own floor's other modules or from above.
const FLOORS: &[(&str, u8)] = &[
    ("policy", 0),
    ("diag", 0),
    ("graph", 0),
    ("archive", 0),
    ("parallel", 0),
    ("hash", 0),
    ("stop", 0),
    ("memory", 0),
    ("model", 1),
    ("state", 2),
    ("spec", 3),
    ("plan", 4),
    ("fmt", 4),
    ("aws", 5),
    ("access", 5),
    ("graph_view", 5),
    ("render", 6),
    ("saved", 5),
    ("apply", 6),
    ("lock", 6),
    ("permissions", 6),
    ("workflow", 7),
    ("import", 7),
    ("cli", 8),
];

/// Crates that talk to AWS: only `src/aws/` may name them.
const SDK_CRATES: &[&str] = &[
    "aws_sdk_",
    "aws_config",
    "aws_credential_types",
    "aws_smithy_http",
    "aws_smithy_runtime",
];

/// What touches the terminal: only `src/cli/` (and `main.rs`) may use them.
const TERMINAL: &[&str] = &[
    "println!",
    "eprintln!",
    "print!(",
    "eprint!(",
    "std::io::stdout",
    "std::io::stderr",
    "std::io::stdin",
    "indicatif",
    "IsTerminal",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each source file under `src/` (but this one and test modules), by its top-level module,
/// without its tests.
fn modules() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let top = relative
                .split(['/', '.'])
                .next()
                .unwrap_or_default()
                .to_string();
            // Test modules (`tests.rs`) may use anything to check what they test.
            if matches!(top.as_str(), "lib" | "main" | "layering") || relative.ends_with("tests.rs")
            {
                return None;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            Some((relative, top, code))
        })
        .collect()
}

/// The top-level modules `code` imports through `crate::`.
fn imports(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

fn violations() -> Vec<String> {
    let floors: BTreeMap<&str, u8> = FLOORS.iter().copied().collect();
    let mut found = Vec::new();
    for (file, top, code) in modules() {
        let Some(&floor) = floors.get(top.as_str()) else {
            found.push(format!("src/{file}: module `{top}` has no floor in FLOORS"));
            continue;
        };
        for imported in imports(&code) {
            if imported == top {
                continue;
            }
            match floors.get(imported.as_str()) {
                Some(&other) if other < floor => {}
                Some(&other) => found.push(format!(
                    "src/{file}: `{top}` (floor {floor}) imports `{imported}` (floor {other})"
                )),
                None => found.push(format!("src/{file}: imports unknown module `{imported}`")),
            }
        }
        if top != "aws" {
            for name in SDK_CRATES.iter().filter(|name| code.contains(*name)) {
                found.push(format!(
                    "src/{file}: names the SDK crate `{name}` outside src/aws/"
                ));
            }
        }
        if top != "cli" {
            for name in TERMINAL.iter().filter(|name| code.contains(*name)) {
                found.push(format!(
                    "src/{file}: touches the terminal (`{name}`) outside src/cli/"
                ));
            }
        }
    }
    found
}

#[test]
fn imports_only_point_down() {
    let found = violations();
    assert!(
        found.is_empty(),
        "layering violations:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_imports_and_terminal_use() {
    assert_eq!(
        imports("use crate::aws::{Aws};\nuse crate::spec::Spec;"),
        ["aws", "spec"]
    );
    // The scan must see real modules, so that an empty scan cannot pass.
    let tops: Vec<String> = modules().into_iter().map(|(_, top, _)| top).collect();
    for expected in ["state", "model", "aws", "plan", "spec", "cli", "workflow"] {
        assert!(
            tops.iter().any(|t| t == expected),
            "no source of `{expected}`"
        );
    }
}
