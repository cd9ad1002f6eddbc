use super::*;
use crate::spec::load;

/// Follows the recipe each shipped stack's comment gives: the stack named per environment,
/// `env` in [vars], the [env] tables uncommented.
fn with_environments(text: &str) -> String {
    let (before, after) = text
        .split_once("# [env.dev]\n")
        .expect("the example tables");
    let (tables, rest) = after.split_once("\n\n").expect("a blank line after them");
    let tables: String = format!("# [env.dev]\n{tables}\n")
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .unwrap_or(l.strip_prefix('#').unwrap_or(l))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let named = regex_free_rename(before);
    format!(
        "{named}{tables}\n{}",
        rest.replacen("[vars]\n", "[vars]\nenv = \"dev\"\n", 1)
    )
}

/// `name = "X"` in [stack] becomes `name = "X-${var.env}"`.
fn regex_free_rename(text: &str) -> String {
    let head = "[stack]\nname = \"";
    let start = text.find(head).expect("[stack] name") + head.len();
    let end = start + text[start..].find('"').expect("a quoted name");
    format!("{}-${{var.env}}{}", &text[..end], &text[end..])
}

#[test]
fn every_shipped_stack_runs_per_environment_as_its_comment_says() {
    let plans = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut checked = 0;
    for entry in std::fs::read_dir(&plans).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let shipped = load(&path, &LoadOptions::default()).unwrap();
        // Written next to the original, so the stack's own files resolve.
        let copy = path.with_extension("envs-test.toml");
        std::fs::write(&copy, with_environments(&text)).unwrap();
        let mut names = Vec::new();
        for env in ["dev", "prod"] {
            let options = LoadOptions {
                env: Some(env.into()),
                ..LoadOptions::default()
            };
            let spec = load(&copy, &options);
            let spec = spec.unwrap_or_else(|d| {
                let _ = std::fs::remove_file(&copy);
                panic!("{}: {}", path.display(), d.render(false))
            });
            assert_eq!(spec.stack.name, format!("{}-{env}", shipped.stack.name));
            let account = crate::state::Account::unknown("us-east-1");
            let resolver = crate::spec::resolve::Resolver::new(&spec, &account, None);
            names.push(
                spec.resources
                    .values()
                    .filter_map(|r| r.body.physical_id(&resolver).ok().flatten())
                    .collect::<Vec<_>>(),
            );
        }
        let _ = std::fs::remove_file(&copy);
        let has_prefix = text.contains("`prefix`") || text.contains("`role_name`");
        if has_prefix {
            assert!(
                names[0].iter().all(|n| !names[1].contains(n)),
                "{}: dev and prod share names {:?}",
                path.display(),
                names[0]
                    .iter()
                    .filter(|n| names[1].contains(n))
                    .collect::<Vec<_>>()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
}
