use super::*;
use crate::spec::{load, Spec};

const SPEC: &str = r#"[stack]
name = "tonic-${var.env}"

[vars]
env = "default"
from_env_files = "spec"
from_env_vars = "spec"
from_process = "spec"
from_var_files = "spec"
from_var = "spec"
untouched = "spec"

[env.dev]
account_id = "111111111111"
var_files = ["dev.toml"]
vars = { env = "dev", from_env_vars = "env vars", from_process = "env vars", from_var_files = "env vars", from_var = "env vars" }

[env.prod]
account_id = "222222222222"
region = "eu-west-1"
vars = { env = "prod" }
"#;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(spec: &str) -> Dir {
        let dir = Dir(tempfile::tempdir().unwrap());
        dir.write("plinth.toml", spec);
        dir
    }

    fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn spec(&self) -> std::path::PathBuf {
        self.0.path().join("plinth.toml")
    }

    fn load(&self, options: &LoadOptions) -> Result<Spec, Diagnostics> {
        load(&self.spec(), options)
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Each variable is set by every layer up to the one named after it, so its value says
/// which layer won: `--var` over `--var-file` over `PLINTH_VAR_` over the environment's
/// `vars` over its `var_files` over `[vars]`.
#[test]
fn variables_take_the_value_of_the_highest_layer_that_sets_them() {
    let dir = Dir::new(SPEC);
    dir.write(
            "dev.toml",
            "from_env_files = \"env files\"\nfrom_env_vars = \"env files\"\nfrom_process = \"env files\"\nfrom_var_files = \"env files\"\nfrom_var = \"env files\"\n",
        );
    let first = dir.write(
        "a.toml",
        "from_var_files = \"var file a\"\nfrom_var = \"var file a\"\n",
    );
    let second = dir.write("b.toml", "from_var_files = \"var file b\"\n");
    let options = LoadOptions {
        env: Some("dev".into()),
        env_vars: pairs(&[
            ("from_process", "process"),
            ("from_var_files", "process"),
            ("from_var", "process"),
        ]),
        var_files: vec![first, second],
        var_overrides: pairs(&[("from_var", "var")]),
    };
    let spec = dir
        .load(&options)
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let table = [
        ("untouched", "spec"),
        ("from_env_files", "env files"),
        ("from_env_vars", "env vars"),
        ("from_process", "process"),
        ("from_var_files", "var file b"),
        ("from_var", "var"),
        ("env", "dev"),
    ];
    for (name, expected) in table {
        assert_eq!(spec.vars[name].value, expected, "{name}");
    }
    assert_eq!(spec.stack.name, "tonic-dev");
    let account = spec.stack.account.as_ref().unwrap();
    assert_eq!(account.account_id, "111111111111");
    assert_eq!(account.env.as_deref(), Some("dev"));
    assert!(
        spec.inputs.iter().any(|i| i.path.ends_with("dev.toml"))
            && spec.inputs.iter().any(|i| i.path.ends_with("b.toml")),
        "var files are inputs a saved plan is bound to"
    );
}

#[test]
fn each_environment_is_its_own_stack() {
    let dir = Dir::new(SPEC);
    dir.write("dev.toml", "");
    let load_env = |env: &str| {
        dir.load(&LoadOptions {
            env: Some(env.into()),
            ..LoadOptions::default()
        })
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
    };
    let (dev, prod) = (load_env("dev"), load_env("prod"));
    assert_eq!(dev.stack.name, "tonic-dev");
    assert_eq!(prod.stack.name, "tonic-prod");
    assert_eq!(
        prod.stack.env.as_ref().unwrap().region.as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(dev.environments.len(), 2);
}

/// The error codes of `spec`, each with `file:line:col` when it has a location.
fn errors(dir: &Dir, options: &LoadOptions) -> Vec<String> {
    let diags = dir.load(options).expect_err("the spec has errors");
    diags
        .0
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = d.location.as_ref().map(|l| {
                let (line, col) = l.file.line_col(l.span.start);
                let file = std::path::Path::new(&l.file.name);
                format!(
                    " {}:{line}:{col}",
                    file.file_name().unwrap().to_string_lossy()
                )
            });
            assert!(d.hint.is_some(), "{} has a hint", d.message);
            format!("{}{}", d.code, at.unwrap_or_default())
        })
        .collect()
}

#[test]
fn bad_environments_and_variables_are_located_errors() {
    let dir = Dir::new(
        r#"[stack]
name = "x-${var.env}"

[vars]
env = "a"

[env.nocount]
region = "us-east-1"

[env.short]
account_id = "12345"

[env.typo]
account_id = "123456789012"
acount = "x"
"#,
    );
    assert_eq!(
        errors(&dir, &LoadOptions::default()),
        [
            "spec::missing-field plinth.toml:7:1",
            "spec::account-id plinth.toml:11:14",
            "spec::unknown-field plinth.toml:15:1",
        ]
    );
}

#[test]
fn bad_var_files_and_undeclared_variables_are_errors_with_their_place() {
    let dir = Dir::new("[stack]\nname = \"x\"\n\n[vars]\nenv = \"a\"\n");
    let not_table = dir.write("bad.toml", "env = \"b\"\n[nested]\nx = 1\n");
    let undeclared = dir.write("undeclared.toml", "env = \"b\"\nenb = \"secret-value\"\n");
    let broken = dir.write(
        "broken.toml",
        "env = \"first-secret\"\nenv = \"second-secret\"\nkey = \"\"\"\nmulti-secret\n\"\"\"\n",
    );
    let options = LoadOptions {
        var_files: vec![
            dir.0.path().join("missing.toml"),
            not_table,
            undeclared,
            broken,
        ],
        env_vars: pairs(&[("nope", "x")]),
        ..LoadOptions::default()
    };
    assert_eq!(
        errors(&dir, &options),
        [
            "spec::unknown-var",
            "spec::read",
            "spec::var-file bad.toml:2:2",
            "spec::var-file broken.toml:2:1",
            "spec::unknown-var undeclared.toml:2:1",
        ]
    );
    let rendered = dir.load(&options).unwrap_err().render(false);
    for secret in [
        "secret-value",
        "first-secret",
        "second-secret",
        "multi-secret",
    ] {
        assert!(!rendered.contains(secret), "{rendered}");
    }
    assert!(rendered.contains("broken.toml:2:1"), "{rendered}");
    assert!(rendered.contains("PLINTH_VAR_nope"), "{rendered}");
    // The stars keep the file's layout: the blank after `=` stays blank.
    assert!(rendered.contains("env = \"*************\""), "{rendered}");
    assert!(!rendered.contains("=*"), "{rendered}");
}

#[test]
fn a_stack_name_invalid_after_substitution_is_an_error_at_the_name() {
    let dir = Dir::new(
            "[stack]\nname = \"tonic-${var.env}\"\naccount_id = \"${var.account}\"\n\n[vars]\nenv = \"a b\"\naccount = \"12\"\n",
        );
    assert_eq!(
        errors(&dir, &LoadOptions::default()),
        [
            "spec::invalid-name plinth.toml:2:8",
            "spec::account-id plinth.toml:3:14"
        ]
    );
    let dir = Dir::new("[stack]\nname = \"tonic-${aws.region}\"\n");
    assert_eq!(
        errors(&dir, &LoadOptions::default()),
        ["spec::stack-reference plinth.toml:2:8"]
    );
}

/// A mistake inside the chosen environment's table is reported as itself, not as a missing
/// environment (which the table's error would have made it).
#[test]
fn a_mistake_inside_the_chosen_environment_is_reported_as_itself() {
    let text = "[stack]\nname = \"x-${var.env}\"\n\n[vars]\nenv = \"a\"\n\n[env.dev]\naccount_id = \"123456789012\"\nregoin = \"us-east-1\"\n";
    let dir = Dir::new(text);
    let options = LoadOptions {
        env: Some("dev".into()),
        ..LoadOptions::default()
    };
    assert_eq!(
        errors(&dir, &options),
        ["spec::unknown-field plinth.toml:9:1"]
    );
    // A duplicate key makes the spec invalid TOML: choosing among its environments still
    // works, and loading reports the syntax error where it is.
    let dir = Dir::new(&text.replace("regoin = \"us-east-1\"", "account_id = \"12345\""));
    assert_eq!(
        select(&dir.spec(), &choose(&["dev"], false, None)).unwrap(),
        [Some("dev".to_string())]
    );
    assert_eq!(errors(&dir, &options), ["spec::syntax plinth.toml:9:1"]);
}

fn choose(names: &[&str], all: bool, shard: Option<&str>) -> EnvChoice {
    EnvChoice {
        names: names.iter().map(|n| n.to_string()).collect(),
        all,
        shard: shard.map(|s| s.parse().unwrap()),
        default_all: false,
    }
}

#[test]
fn a_spec_with_environments_needs_a_choice_and_knows_its_names() {
    let dir = Dir::new(SPEC);
    let refused = select(&dir.spec(), &choose(&[], false, None)).unwrap_err();
    let text = refused.render(false);
    assert!(text.contains("declares environments (dev, prod)"), "{text}");
    assert!(text.contains("--all-envs"), "{text}");
    let unknown = select(&dir.spec(), &choose(&["prd"], false, None)).unwrap_err();
    assert!(unknown.render(false).contains("did you mean `prod`?"));
    assert_eq!(
        select(&dir.spec(), &choose(&[], true, None)).unwrap(),
        [Some("dev".to_string()), Some("prod".to_string())]
    );
    assert_eq!(
        select(&dir.spec(), &choose(&["prod"], false, None)).unwrap(),
        [Some("prod".to_string())]
    );
    let plain = Dir::new("[stack]\nname = \"x\"\n");
    assert_eq!(
        select(&plain.spec(), &choose(&[], false, None)).unwrap(),
        [None]
    );
    assert!(select(&plain.spec(), &choose(&["dev"], false, None)).is_err());
}

#[test]
fn the_shards_of_a_list_are_disjoint_and_cover_it() {
    for count in 1..=7 {
        for len in 0..=23 {
            let all: Vec<usize> = (0..len).collect();
            let mut seen = Vec::new();
            for index in 1..=count {
                let shard = Shard { index, count };
                let slice = shard.slice(&all);
                assert_eq!(slice, shard.slice(&all), "deterministic");
                assert!(slice.len() <= len.div_ceil(count), "balanced");
                seen.extend(slice);
            }
            seen.sort();
            assert_eq!(seen, all, "{count} shards of {len}: each item exactly once");
        }
    }
    for bad in ["0/3", "4/3", "1/0", "x/2", "2"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn every_way_of_writing_an_env_table_is_seen_before_the_spec_is_parsed_again() {
    let declares = [
        "[env.dev]\naccount_id = \"111111111111\"\n",
        "[ env . dev ]\naccount_id = \"111111111111\"\n",
        "[\"env\".dev]\n",
        "['env'.dev]\n",
        "[env]\ndev = { account_id = \"111111111111\" }\n",
        "env.dev.account_id = \"111111111111\"\n",
        "  env = { dev = { account_id = \"111111111111\" } }\n",
        "\"env\" = {}\n",
        "[function.f]\nenvironment = { A = \"env\" }\n\n[env.dev]\n",
    ];
    for text in declares {
        assert!(may_declare_environments(text), "{text}");
        // The parse agrees: each declares an `env` key.
        let root = DeTable::parse(text).expect("valid TOML").into_inner();
        assert!(root.iter().any(|(k, _)| k.get_ref() == "env"), "{text}");
    }
    for text in [
        "[stack]\nname = \"x\"\n",
        "[function.f]\nenvironment = { A = \"1\" }\n",
        "[environments]\n",
        "envoy = 1\n",
        "tag = \"env\"\n# env = 1\nname = \"prod-env\"",
    ] {
        assert!(!may_declare_environments(text), "{text}");
    }
}

/// Two environments in one account with one stack name would take each other's resources for
/// their own: refused, whichever is chosen, with the names as each environment's own files set
/// them; environments in other accounts, or with names of their own, load.
#[test]
fn two_environments_in_one_account_need_two_stack_names() {
    let two = |name: &str, prod_vars: &str| {
        format!(
            "[stack]\nname = \"{name}\"\n\n[vars]\nenv = \"dev\"\n\n[env.dev]\naccount_id = \"111111111111\"\n\n[env.prod]\naccount_id = \"111111111111\"\n{prod_vars}\n\n[env.elsewhere]\naccount_id = \"222222222222\"\n"
        )
    };
    let chosen = |env: &str| LoadOptions {
        env: Some(env.into()),
        ..LoadOptions::default()
    };
    let refused = |dir: &Dir, env: &str| {
        let diags = dir
            .load(&chosen(env))
            .expect_err("one stack for two environments");
        let d = &diags.0[0];
        assert_eq!(
            d.code,
            Code::SpecEnvironmentsShareStack,
            "{}",
            diags.render(false)
        );
        assert!(
            d.message
                .starts_with("environments `dev` and `prod` are both in account 111111111111"),
            "{}",
            d.message
        );
        d.hint.clone().unwrap_or_default()
    };

    // A name with no variable: every environment of the account has it.
    let dir = Dir::new(&two("app", ""));
    assert!(refused(&dir, "dev").contains("name = \"app-${var.env}\""));
    refused(&dir, "prod");
    // The environment of another account is a stack of its own there.
    assert_eq!(dir.load(&chosen("elsewhere")).unwrap().stack.name, "app");

    // Made of a variable neither environment sets: the same name.
    let dir = Dir::new(&two("app-${var.env}", ""));
    assert!(refused(&dir, "prod").contains("[env.dev] and [env.prod]"));
    // Unless this run sets it apart from the other's.
    let mut by_flag = chosen("prod");
    by_flag.var_overrides = pairs(&[("env", "prod")]);
    assert_eq!(dir.load(&by_flag).unwrap().stack.name, "app-prod");
    // A run that sets it to the other's name is refused, naming what set it.
    by_flag.var_overrides = pairs(&[("env", "dev")]);
    let refused = dir.load(&by_flag).expect_err("dev's stack");
    assert!(
        refused.0[0]
            .message
            .starts_with("--var env makes environment `prod`'s stack `app-dev`"),
        "{}",
        refused.render(false)
    );

    // Set apart by the environment's `vars`, or by its `var_files`.
    let dir = Dir::new(&two("app-${var.env}", "vars = { env = \"prod\" }"));
    assert_eq!(dir.load(&chosen("dev")).unwrap().stack.name, "app-dev");
    assert_eq!(dir.load(&chosen("prod")).unwrap().stack.name, "app-prod");
    let dir = Dir::new(&two("app-${var.env}", "var_files = [\"prod.toml\"]"));
    dir.write("prod.toml", "env = \"prod\"\n");
    let dev = dir.load(&chosen("dev")).unwrap();
    assert_eq!(dev.stack.name, "app-dev");
    // Reading prod's file to name prod's stack does not make it one of dev's inputs.
    assert!(
        dev.inputs.iter().all(|i| !i.path.ends_with("prod.toml")),
        "{:?}",
        dev.inputs.iter().map(|i| &i.path).collect::<Vec<_>>()
    );
}

/// What [`super::names_shared_across`] finds in `text` planned for `envs` together.
fn shared_by(text: &str, envs: &[&str]) -> String {
    let dir = Dir::new(text);
    let specs: Vec<Spec> = envs
        .iter()
        .map(|env| {
            let options = LoadOptions {
                env: Some(env.to_string()),
                ..LoadOptions::default()
            };
            dir.load(&options).unwrap_or_else(|d| panic!("{d}"))
        })
        .collect();
    super::names_shared_across(&specs).render(false)
}

/// Two environments of one account whose stacks differ but whose resources are named alike
/// would take each other's resources when applied together; the names are compared once
/// every environment is loaded. Names set apart by the environment's variables, another
/// account, or a resource both share on purpose (`existing = true`) are fine.
#[test]
fn environments_of_one_account_naming_one_resource_are_refused_together() {
    let spec = |queue: &str, account_b: &str| {
        format!(
            r#"[stack]
name = "coll-${{var.env}}"

[vars]
env = "a"
prefix = "coll"

[env.a]
account_id = "123456789012"
vars = {{ env = "a" }}

[env.b]
account_id = "{account_b}"
vars = {{ env = "b" }}

[queue.q]
name = "{queue}"

[bucket.shared]
name = "coll-shared-data"
existing = true
"#
        )
    };
    let both = |text: &str| shared_by(text, &["a", "b"]);
    let shared = both(&spec("${var.prefix}-q", "123456789012"));
    assert!(shared.contains("spec::environments-share-name"), "{shared}");
    assert!(
        shared
            .contains("environments `a` and `b` both name queue `coll-q` in account 123456789012"),
        "{shared}"
    );
    assert!(!shared.contains("coll-shared-data"), "{shared}");
    assert_eq!(
        both(&spec("${var.prefix}-${var.env}-q", "123456789012")),
        ""
    );
    assert_eq!(both(&spec("${var.prefix}-q", "210987654321")), "");
    // A bucket's name is the world's: another account does not set two apart.
    let buckets = spec("${var.prefix}-${var.env}-q", "210987654321").replace(
        "name = \"coll-shared-data\"\nexisting = true",
        "name = \"coll-data\"",
    );
    let shared = both(&buckets);
    assert!(
        shared.contains("environments `a` and `b` both name bucket `coll-data`")
            && shared.contains("unique across all AWS accounts"),
        "{shared}"
    );
}

/// A value the chosen environment sets, replaced by `PLINTH_VAR_*` or `--var` (a variable left
/// in a pipeline's environment), is a warning at the environment's value: the run may be
/// another environment's stack under this one's name.
#[test]
fn a_value_the_environment_sets_replaced_from_outside_is_a_warning() {
    let dir = Dir::new(
        r#"[stack]
name = "app-${var.env}"

[vars]
env = "dev"

[env.staging]
account_id = "123456789012"
vars = { env = "staging" }

[env.dev]
account_id = "123456789012"
"#,
    );
    let with = |env_vars: &[(&str, &str)]| {
        let options = LoadOptions {
            env: Some("staging".into()),
            env_vars: pairs(env_vars),
            ..LoadOptions::default()
        };
        let spec = dir.load(&options).unwrap_or_else(|d| panic!("{d}"));
        (spec.stack.name.clone(), spec.warnings.render(false))
    };
    let (name, warnings) = with(&[("env", "qa")]);
    assert_eq!(name, "app-qa");
    assert!(warnings.contains("spec::env-var-overridden"), "{warnings}");
    assert!(
        warnings.contains("PLINTH_VAR_env sets `env` for environment `staging`"),
        "{warnings}"
    );
    // Replaced with the value that names another environment's stack of the account: refused,
    // since the run would change that environment's resources.
    let options = LoadOptions {
        env: Some("staging".into()),
        env_vars: pairs(&[("env", "dev")]),
        ..LoadOptions::default()
    };
    let refused = dir.load(&options).expect_err("dev's stack").render(false);
    assert!(
        refused.contains("spec::environments-share-stack")
            && refused.contains("PLINTH_VAR_env makes environment `staging`'s stack `app-dev`, the stack of environment `dev`"),
        "{refused}"
    );
    let (name, warnings) = with(&[]);
    assert_eq!(name, "app-staging");
    assert!(!warnings.contains("spec::env-var-overridden"), "{warnings}");
    // The same value is no replacement.
    let (_, warnings) = with(&[("env", "staging")]);
    assert!(!warnings.contains("spec::env-var-overridden"), "{warnings}");
}

/// Environments of one account adding a statement to one existing resource must each add
/// their own: the same Sid from two is refused together, and a Sid made of a variable each
/// environment sets (a Sid may hold variables, nothing else) gives each its own.
#[test]
fn environments_sharing_an_existing_resource_each_add_their_own_statement() {
    let spec = |sid: &str| {
        format!(
            r#"[stack]
name = "sh-${{var.env}}"

[vars]
env = "a"

[env.dev]
account_id = "123456789012"
vars = {{ env = "dev" }}

[env.prod]
account_id = "123456789012"
vars = {{ env = "prod" }}

[queue.shared]
name = "their-queue"
existing = true
policy = {{ Version = "2012-10-17", Statement = [{{ Sid = "{sid}", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::123456789012:role/${{var.env}}-x" }}, Action = "sqs:SendMessage", Resource = "${{queue.shared.arn}}" }}] }}
"#
        )
    };
    let both = |text: &str| shared_by(text, &["dev", "prod"]);
    let same = both(&spec("Send"));
    assert!(
        same.contains("environments `dev` and `prod` both add the policy statement `Send`")
            && same.contains("`their-queue`"),
        "{same}"
    );
    assert_eq!(both(&spec("Send${var.env}")), "");
    // Any other reference in a shared Sid is refused at load.
    let dir = Dir::new(&spec("Send${aws.region}"));
    let options = LoadOptions {
        env: Some("dev".into()),
        ..LoadOptions::default()
    };
    let refused = dir.load(&options).expect_err("a Sid known only from AWS");
    assert!(
        refused.render(false).contains("spec::shared-sid"),
        "{}",
        refused.render(false)
    );
}

/// A var file shaped like a spec's table (`[vars]`), with a dotted key or an array of tables is
/// refused, and its snippet shows none of its values.
#[test]
fn a_var_file_with_tables_shows_no_value() {
    let dir = Dir::new("[stack]\nname = \"x\"\n\n[vars]\napi_token = \"a\"\n");
    for (name, text) in [
        ("section.toml", "[vars]\napi_token = \"SekrTable1\"\n"),
        (
            "two.toml",
            "api_token = \"SekrTwo1\"\n[extra]\ndb_password = \"SekrTwo2\"\n",
        ),
        ("dotted.toml", "api_token.value = \"SekrDotted1\"\n"),
        (
            "aot.toml",
            "[[vars]]\napi_token = \"SekrArray1\"\nn = 12345\n",
        ),
    ] {
        let file = dir.write(name, text);
        let options = LoadOptions {
            var_files: vec![file],
            ..LoadOptions::default()
        };
        let rendered = dir.load(&options).unwrap_err().render(false);
        assert!(rendered.contains(name), "{rendered}");
        for secret in [
            "SekrTable1",
            "SekrTwo",
            "SekrDotted1",
            "SekrArray1",
            "12345",
        ] {
            assert!(!rendered.contains(secret), "{rendered}");
        }
    }
}

/// A spec or var file that is not UTF-8 is shown where it breaks, without its secrets: the
/// spec's, and every value of a var file.
#[test]
fn a_file_that_is_not_utf8_shows_no_secret() {
    let spec = "[stack]\nname = \"x\"\n\n[vars]\ntok = \"SekrVarU1\"\n\n[function.f]\nname = \"f\"\nruntime = \"python3.12\"\nhandler = \"a.b\"\ncode = { zip = \"f.zip\" }\nenvironment = { A = { secret = \"SekrLitU2\" }, B = { secret = \"${var.tok}\" } }\nx = \"BAD\"\n";
    let dir = Dir::new("[stack]\nname = \"x\"\n\n[vars]\napi_token = \"a\"\n");
    let broken = spec.replace("BAD", "\u{1}").into_bytes();
    let broken: Vec<u8> = broken
        .into_iter()
        .map(|b| if b == 1 { 0xff } else { b })
        .collect();
    std::fs::write(dir.spec(), &broken).unwrap();
    let rendered = dir.load(&LoadOptions::default()).unwrap_err().render(false);
    assert!(rendered.contains("not valid UTF-8"), "{rendered}");
    assert!(
        !rendered.contains("SekrVarU1") && !rendered.contains("SekrLitU2"),
        "{rendered}"
    );

    let dir = Dir::new("[stack]\nname = \"x\"\n\n[vars]\napi_token = \"a\"\n");
    let path = dir.0.path().join("binary.toml");
    std::fs::write(
        &path,
        b"api_token = \"\xff\xfeSekrBin1\"\nother = \"SekrBin2\"\n",
    )
    .unwrap();
    let options = LoadOptions {
        var_files: vec![path],
        ..LoadOptions::default()
    };
    let rendered = dir.load(&options).unwrap_err().render(false);
    assert!(rendered.contains("not valid UTF-8"), "{rendered}");
    assert!(!rendered.contains("SekrBin"), "{rendered}");
}

/// A value made invalid by a variable given from outside the spec is named by the variable,
/// never quoted: the variable may be a secret.
#[test]
fn a_given_variable_is_not_quoted_in_an_error() {
    let dir = Dir::new(
        "[stack]\nname = \"x\"\n\n[vars]\ntok = \"fine\"\n\n[role.r]\nname = \"h62-${var.tok}\"\ntrust = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Principal = { Service = \"lambda.amazonaws.com\" }, Action = \"sts:AssumeRole\" }] }\n",
    );
    for options in [
        LoadOptions {
            var_overrides: pairs(&[("tok", "Sekr has spaces!")]),
            ..LoadOptions::default()
        },
        LoadOptions {
            env_vars: pairs(&[("tok", "Sekr has spaces!")]),
            ..LoadOptions::default()
        },
    ] {
        let rendered = dir.load(&options).unwrap_err().render(false);
        assert!(
            rendered.contains("`h62-${var.tok}` contains ` `"),
            "{rendered}"
        );
        assert!(!rendered.contains("Sekr"), "{rendered}");
    }
    // A value the spec itself holds is quoted as it is.
    let dir = Dir::new(
        "[stack]\nname = \"x\"\n\n[vars]\ntok = \"in spec\"\n\n[role.r]\nname = \"h62-${var.tok}\"\ntrust = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Principal = { Service = \"lambda.amazonaws.com\" }, Action = \"sts:AssumeRole\" }] }\n",
    );
    let rendered = dir.load(&LoadOptions::default()).unwrap_err().render(false);
    assert!(
        rendered.contains("`h62-in spec` contains ` `"),
        "{rendered}"
    );
}

/// Where and as whom an environment connects is checked when the spec loads, located, before
/// anything is sent: its region, the role to assume, the session name and the external id.
#[test]
fn an_environments_connection_is_checked_where_it_is_written() {
    let dir = Dir::new(
        "[stack]\nname = \"x\"\n\n[env.dev]\naccount_id = \"123456789012\"\nregion = \"us east 1\"\nassume_role_arn = \"not-an-arn\"\nrole_session_name = \"bad name!\"\nexternal_id = \"x\"\n",
    );
    let good = Dir::new(
        "[stack]\nname = \"x\"\n\n[env.ok]\naccount_id = \"123456789012\"\nregion = \"eu-west-1\"\nassume_role_arn = \"arn:aws:iam::123456789012:role/ops/deployer\"\nrole_session_name = \"plinth@ci\"\nexternal_id = \"vendor:1234-abcd\"\n",
    );
    let options = |env: &str| LoadOptions {
        env: Some(env.to_string()),
        ..LoadOptions::default()
    };
    assert_eq!(
        errors(&dir, &options("dev")),
        [
            "spec::invalid-value plinth.toml:6:10",
            "spec::invalid-value plinth.toml:7:19",
            "spec::invalid-value plinth.toml:8:21",
            "spec::invalid-value plinth.toml:9:15",
        ]
    );
    assert!(good.load(&options("ok")).is_ok());
}

/// Two environments in different accounts may share a stack name, but not a lock: one bucket
/// (S3's names are global) would hold one lock and one index for both.
#[test]
fn environments_that_would_share_a_lock_are_refused() {
    let spec = |name: &str, key: &str| {
        format!(
            "[stack]\nname = \"{name}\"\nlock = {{ bucket = \"central-state\"{key} }}\n\n[vars]\nenv = \"dev\"\n\n[env.dev]\naccount_id = \"111111111111\"\n\n[env.prod]\naccount_id = \"222222222222\"\nvars = {{ env = \"prod\" }}\n"
        )
    };
    let dev = LoadOptions {
        env: Some("dev".into()),
        ..LoadOptions::default()
    };
    let dir = Dir::new(&spec("tonic", ""));
    assert_eq!(
        errors(&dir, &dev),
        ["spec::environments-share-stack plinth.toml:3:19"]
    );
    let rendered = dir.load(&dev).unwrap_err().render(false);
    assert!(
        rendered.contains("s3://central-state/plinth/locks/"),
        "{rendered}"
    );
    // Each environment's own stack name, or its own key, keeps them apart.
    assert!(Dir::new(&spec("tonic-${var.env}", "")).load(&dev).is_ok());
    assert!(
        Dir::new(&spec("tonic", ", key = \"locks/${var.env}.lock\""))
            .load(&dev)
            .is_ok()
    );
}

/// A variable left over from another environment's run that names the chosen environment's
/// stack after another's is refused whichever accounts they are in: in another account it
/// would work on a stack of the wrong name there, and say there is nothing to do.
#[test]
fn a_leftover_variable_naming_another_environments_stack_is_refused_across_accounts() {
    let dir = Dir::new(
        "[stack]\nname = \"tonic-${var.env}\"\n\n[vars]\nenv = \"dev\"\n\n[env.dev]\naccount_id = \"111111111111\"\n\n[env.prod]\naccount_id = \"222222222222\"\nvars = { env = \"prod\" }\n",
    );
    let prod = |env_vars: &[(&str, &str)]| LoadOptions {
        env: Some("prod".into()),
        env_vars: pairs(env_vars),
        ..LoadOptions::default()
    };
    assert_eq!(
        errors(&dir, &prod(&[("env", "dev")])),
        ["spec::environments-share-stack plinth.toml:2:8"]
    );
    let rendered = dir
        .load(&prod(&[("env", "dev")]))
        .unwrap_err()
        .render(false);
    assert!(rendered.contains("PLINTH_VAR_env"), "{rendered}");
    assert!(dir.load(&prod(&[])).is_ok());
}
