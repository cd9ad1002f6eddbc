//! `plinth fmt` and `plinth graph` on the shipped stacks.

use std::path::{Path, PathBuf};

use crate::support::{plinth, root};

fn shipped_specs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("plans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn fmt(dir: &Path, text: &str) -> String {
    let path = dir.join("plinth.toml");
    std::fs::write(&path, text).unwrap();
    plinth(&["fmt", &path.display().to_string()]).ok();
    std::fs::read_to_string(&path).unwrap()
}

/// The spec with its layout spoiled and its meaning kept: keys without spaces around `=`,
/// followed by trailing white space, in reverse order within a resource's table (whose order
/// fmt decides; `[vars]` and `[outputs]` keep the author's), runs of blank lines.
fn badly_formatted(text: &str) -> String {
    let mut out = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut in_resource = false;
    let flush = |run: &mut Vec<String>, out: &mut Vec<String>, reverse: bool| {
        if reverse {
            run.reverse();
        }
        out.append(run);
    };
    for line in text.lines() {
        if line.starts_with('[') {
            flush(&mut run, &mut out, in_resource);
            let header = line.trim_matches(['[', ']']);
            in_resource = !line.starts_with("[[") && header.split('.').count() == 2;
        }
        let simple_key = line.split_once(" = ").is_some_and(|(k, v)| {
            !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && (v.starts_with('"') || v.chars().all(|c| c.is_ascii_digit()) || v == "true")
                && !v.ends_with('[')
        });
        // A key under a comment keeps its place: the comment is about it.
        let under_comment =
            run.is_empty() && out.last().is_some_and(|l: &String| l.starts_with('#'));
        if simple_key && under_comment {
            out.push(format!("{}   ", line.replacen(" = ", "=", 1)));
        } else if simple_key {
            run.push(format!("{}   ", line.replacen(" = ", "=", 1)));
        } else {
            flush(&mut run, &mut out, in_resource);
            out.push(if line.is_empty() {
                "\n\n".to_string()
            } else {
                line.to_string()
            });
        }
    }
    flush(&mut run, &mut out, in_resource);
    out.join("\n")
}

#[test]
fn fmt_leaves_every_shipped_spec_as_it_is_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for spec in shipped_specs() {
        let text = std::fs::read_to_string(&spec).unwrap();
        let formatted = fmt(dir.path(), &text);
        assert_eq!(formatted, text, "{} is in plinth's layout", spec.display());
        let spoiled = badly_formatted(&text);
        assert_ne!(spoiled, text, "{}: the copy is spoiled", spec.display());
        let check = plinth(&[
            "fmt",
            "--check",
            &dir.path().join("plinth.toml").display().to_string(),
        ]);
        assert_eq!(check.code, 0, "{}", check.stdout);
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, &spoiled).unwrap();
        let check = plinth(&["fmt", "--check", &path.display().to_string()]);
        assert_eq!(check.code, 1, "--check finds {} spoiled", spec.display());
        assert!(
            check.stdout.contains("(formatted)") && check.stdout.contains("\n+"),
            "a diff: {}",
            check.stdout
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            spoiled,
            "--check changes nothing"
        );
        let repaired = fmt(dir.path(), &spoiled);
        assert_eq!(
            repaired,
            text,
            "{}: the spoiled copy formats back",
            spec.display()
        );
        assert_eq!(fmt(dir.path(), &repaired), repaired, "idempotent");
    }
}

#[test]
fn fmt_reports_a_file_that_is_not_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(&path, "[stack\nname = \"x\"\n").unwrap();
    let run = plinth(&["fmt", &path.display().to_string()]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("line 1"), "{}", run.stderr);
}

#[test]
fn graph_of_the_tonic_stack() {
    // With the previous data generation process: its queue, function and bucket are the
    // references worth drawing (Data Pipeline V2 has only the server's role and profile).
    let spec = "plans/tonic-structural-redshift.toml";
    let previous = "previous_process=true";
    let dot = plinth(&["graph", "-f", spec, "--var", previous])
        .ok()
        .stdout;
    let mermaid = plinth(&[
        "graph", "-f", spec, "--format", "mermaid", "--var", previous,
    ])
    .ok()
    .stdout;
    assert!(
        dot.contains("\"function.worker\" -> \"role.lambda\" [label = \"arn\"];"),
        "{dot}"
    );
    insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("graph_tonic_dot", dot);
        insta::assert_snapshot!("graph_tonic_mermaid", mermaid);
    });
}
