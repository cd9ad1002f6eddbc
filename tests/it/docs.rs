//! The documentation a new user reads first: every relative link and every repository path it
//! names resolves, and the README's spec example is complete and valid as printed.

use std::path::{Path, PathBuf};

use crate::support::{plinth, root};

/// The documents whose links and paths must resolve: the README, the architecture map, every
/// page of docs/, and the header comment of every ready-made stack.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    for dir in ["docs", "plans"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let ext = p.extension().and_then(|e| e.to_str());
                ext == Some(if dir == "docs" { "md" } else { "toml" })
            })
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// The text of a document that names paths: a Markdown page whole, a stack's leading comment.
fn named_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "toml") {
        text.lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text
    }
}

/// Targets of Markdown links `[text](target)`, without their `#fragment`; web links and
/// in-page anchors are left out.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].trim();
        let target = target.split('#').next().unwrap_or_default();
        let external = target.contains("://") || target.starts_with("mailto:");
        if !target.is_empty() && !external {
            targets.push(target.to_string());
        }
        rest = &rest[end..];
    }
    targets
}

/// The repository's top-level directories and files: a word that begins with one of them
/// (`plans/ganymede-s3.toml`, `scripts/moto.sh`, `../README.md`) names a file of the repository.
fn top_level_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "target" && n != ".git" && !n.starts_with(".venv"))
        .collect();
    names.sort();
    names
}

/// Words naming repository paths: they start with a top-level name followed by `/`, or are a
/// top-level Markdown file. A path written with a placeholder (`plans/STACK.toml`), a glob
/// (`src/**`) or a command-line token around it is not a path of the repository.
fn named_paths(text: &str, top: &[String]) -> Vec<String> {
    let mut paths = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "`()[]\"'<>,;|".contains(c)) {
        let word = word.trim_end_matches(['.', ':']);
        let bare = word.strip_prefix("../").unwrap_or(word);
        let first = bare.split('/').next().unwrap_or_default();
        let is_repo_path = top.iter().any(|t| t == first)
            && (bare.contains('/') || first.ends_with(".md"))
            && !bare.contains('*')
            && !bare.contains("${");
        let placeholder = bare.split('/').any(|segment| {
            let stem = segment.split('.').next().unwrap_or_default();
            stem.len() > 1
                && stem.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && !matches!(stem, "README" | "ARCHITECTURE")
        });
        if is_repo_path && !placeholder {
            paths.push(word.to_string());
        }
    }
    paths
}

#[test]
fn every_relative_link_and_repository_path_in_the_docs_resolves() {
    let root = root();
    let top = top_level_names();
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = named_text(&doc);
        let dir = doc.parent().unwrap();
        let shown = doc.strip_prefix(root).unwrap().display().to_string();
        for target in link_targets(&text) {
            checked += 1;
            if !dir.join(&target).exists() {
                missing.push(format!("{shown}: link ({target})"));
            }
        }
        for path in named_paths(&text, &top) {
            checked += 1;
            // Relative to the document (`../README.md` in a stack), else to the root.
            if !dir.join(&path).exists() && !root.join(&path).exists() {
                missing.push(format!("{shown}: {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these links and paths do not resolve:\n{}",
        missing.join("\n")
    );
    assert!(checked > 50, "only {checked} links and paths found");
}

#[test]
fn the_link_check_finds_what_dangles() {
    let top = top_level_names();
    let text = "See docs/stacks.md. Run `scripts/moto.sh start` for plans/STACK.toml or src/**, \
                [the map](ARCHITECTURE.md#code-map) and [web](https://example.com/x).";
    assert_eq!(
        named_paths(text, &top),
        ["docs/stacks.md", "scripts/moto.sh"]
    );
    assert_eq!(link_targets(text), ["ARCHITECTURE.md"]);
    assert!(!root().join("docs/stacks.md").exists());
}

/// The fenced block of `lang` that follows `after` in `text`.
fn fenced_block<'a>(text: &'a str, after: &str, lang: &str) -> &'a str {
    let start = text.find(after).expect("the section") + after.len();
    let open = format!("```{lang}\n");
    let body = start + text[start..].find(&open).expect("the block") + open.len();
    &text[body..body + text[body..].find("```").expect("the block's end")]
}

#[test]
fn the_readme_spec_example_is_complete_and_valid_as_printed() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let spec = fenced_block(&readme, "## A spec\n", "toml");
    let policy = fenced_block(&readme, "## A spec\n", "json");
    assert!(spec.contains("file = \"policies/tonic-lambda.json\""));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plinth.toml"), spec).unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/tonic-lambda.json"), policy).unwrap();
    let path = dir.path().join("plinth.toml").display().to_string();
    let run = plinth(&["validate", "-f", &path]).ok();
    assert!(
        !run.stderr.contains("warning"),
        "the example validates without warnings:\n{}",
        run.stderr
    );
}
