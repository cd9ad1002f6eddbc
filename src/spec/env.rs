//! Environments and the layers variables come from.
//!
//! A spec may declare `[env.NAME]` tables: each names the account the environment must be in
//! and how to reach it, and sets variables. One spec then stands for several stacks, one per
//! environment, each loaded on its own with that environment's variables (so its own stack
//! name, ownership tag, lock and index). Variables are set, highest first, by `--var`,
//! `--var-file`, `PLINTH_VAR_NAME`, the environment's `vars`, its `var_files`, and `[vars]`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::load::{did_you_mean, LoadOptions, Loader};
use super::template::{self, Reference};
use super::{Located, LockConfig, StackConfig, Var};
use crate::diag::{Code, Diagnostic, Diagnostics, Location, SourceFile};

/// The JSON Schema pattern of `[stack] account_id`: 12 digits, or a value with variables.
pub const ACCOUNT_ID_PATTERN: &str = r"^(?:[0-9]{12}|.*\$\{var\.[^}]+\}.*)$";

/// The prefix of environment variables that set spec variables: `PLINTH_VAR_prefix=tonic-dev`.
pub const ENV_VAR_PREFIX: &str = "PLINTH_VAR_";

/// `[env.NAME]`: one environment of the stack.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// The account this environment must be in (12 digits).
    pub account_id: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub assume_role_arn: Option<String>,
    pub role_session_name: Option<String>,
    pub external_id: Option<String>,
    /// Where `account_id` is written.
    pub account_location: Location,
    vars: Vec<(String, Located<String>)>,
    var_files: Vec<Located<String>>,
}

/// The fields of `[env.NAME]` other than `vars`, which is read as `[vars]` is.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Environment")]
pub(crate) struct RawEnv {
    /// The AWS account this environment must be in; plinth refuses any other
    #[schemars(pattern(r"^[0-9]{12}$"))]
    account_id: Located<String>,
    region: Option<Located<String>>,
    /// A named profile of the AWS config and credentials files
    profile: Option<Located<String>>,
    /// A role to assume first, usually in the environment's account
    assume_role_arn: Option<Located<String>>,
    role_session_name: Option<Located<String>>,
    /// The external id the role's trust policy asks for
    external_id: Option<Located<String>>,
    /// Variables of this environment (strings, numbers or booleans)
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    #[allow(dead_code)] // taken out of the table and read as [vars] is; here for the schema
    vars: Option<serde::de::IgnoredAny>,
    /// TOML files of variables, relative to the spec, later files winning
    #[serde(default)]
    var_files: Vec<Located<String>>,
}

/// The environments chosen on the command line: `--env NAME` (repeatable), `--all-envs`, and
/// `--shard I/N` to take one slice of them.
#[derive(Debug, Clone, Default)]
pub struct EnvChoice {
    pub names: Vec<String>,
    pub all: bool,
    pub shard: Option<Shard>,
    /// No choice means every environment (for `validate`), instead of an error.
    pub default_all: bool,
}

impl EnvChoice {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.all
    }
}

/// `--shard I/N`: the I-th of N slices (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}` is not a shard: write I/N, e.g. 2/5 (the second of five)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "`{s}` is not a shard: I/N needs 1 <= I <= N (shards are counted from 1)"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The items of `all` (in the order given) in this shard: the k-th item (from 0) is in shard
    /// `k mod N + 1`. The N shards of one list are disjoint and together hold every item.
    pub fn slice<T: Clone>(&self, all: &[T]) -> Vec<T> {
        all.iter()
            .enumerate()
            .filter(|(k, _)| k % self.count + 1 == self.index)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// Which environments of the spec at `path` to work on, in name order: `[None]` for a spec
/// without environments (when none was asked for). A spec with environments needs a choice;
/// a name it does not declare is an error. Nothing else of the spec is checked here.
pub fn select(path: &Path, choice: &EnvChoice) -> Result<Vec<Option<String>>, Diagnostics> {
    let name = path.display().to_string();
    let Ok(file) = super::load::read_source(path, &name, None) else {
        // Loading reports it, located.
        return Ok(vec![None]);
    };
    let declared = declared_environments(&file);
    let Some((declared, span)) = declared else {
        if choice.is_empty() {
            let all = vec![None];
            return Ok(choice.shard.map_or(all.clone(), |s| s.slice(&all)));
        }
        let asked = if choice.all {
            "--all-envs".to_string()
        } else {
            format!("--env {}", choice.names.join(", --env "))
        };
        return Err(Diagnostics(vec![Diagnostic::error(
            Code::SpecNoEnvironments,
            format!("{asked}: `{name}` declares no environments"),
        )
        .hint(
            "declare them as [env.NAME] tables with account_id, or leave out --env and --all-envs",
        )]));
    };
    let names: Vec<&str> = declared.iter().map(String::as_str).collect();
    if choice.is_empty() && !choice.default_all {
        return Err(Diagnostics(vec![Diagnostic::error(
            Code::SpecChooseEnvironment,
            format!(
                "`{name}` declares environments ({}): choose one or more",
                names.join(", ")
            ),
        )
        .at(&file, span)
        .hint(format!(
            "pass --env NAME (e.g. --env {}), or --all-envs",
            names[0]
        ))]));
    }
    let mut diags = Diagnostics::default();
    for asked in &choice.names {
        if !declared.contains(asked) {
            diags.push(
                Diagnostic::error(
                    Code::SpecUnknownEnvironment,
                    format!("--env {asked}: `{name}` declares no environment `{asked}`"),
                )
                .at(&file, span.clone())
                .hint(
                    did_you_mean(asked, &names)
                        .unwrap_or_else(|| format!("the environments are: {}", names.join(", "))),
                ),
            );
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let chosen: Vec<Option<String>> = declared
        .iter()
        .filter(|d| choice.all || choice.is_empty() || choice.names.contains(d))
        .map(|d| Some(d.clone()))
        .collect();
    Ok(match choice.shard {
        Some(shard) => shard.slice(&chosen),
        None => chosen,
    })
}

/// The environments a spec declares, sorted, and where `[env...]` is first written; `None`
/// when it declares none (or is not TOML: loading reports that).
fn declared_environments(file: &Arc<SourceFile>) -> Option<(BTreeSet<String>, Range<usize>)> {
    if !may_declare_environments(&file.text) {
        return None;
    }
    // A spec that is not valid TOML is read as far as it goes: loading reports the error.
    let (root, _) = DeTable::parse_recoverable(&file.text);
    let root = root.into_inner();
    let (key, value) = root.iter().find(|(k, _)| k.get_ref() == "env")?;
    let DeValue::Table(table) = value.get_ref() else {
        return Some((BTreeSet::new(), key.span()));
    };
    let names: BTreeSet<String> = table.keys().map(|k| k.get_ref().to_string()).collect();
    let first = table
        .keys()
        .map(|k| k.span())
        .min_by_key(|s| s.start)
        .unwrap_or_else(|| key.span());
    (!names.is_empty()).then_some((names, first))
}

/// Could the document have a top-level `env` key? Only a line that starts with `env` as a key
/// or table header (bare or quoted, possibly dotted) can declare one, so a spec without such a
/// line is not parsed a second time just to learn it declares no environments.
fn may_declare_environments(text: &str) -> bool {
    // Only the lines where `env` occurs are looked at: a search for it skips the rest of a
    // large spec far faster than going through it line by line.
    memchr::memmem::find_iter(text.as_bytes(), b"env").any(|at| {
        let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
        let line = &text[start..end];
        let rest = line.trim_start().trim_start_matches('[').trim_start();
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
        rest.strip_prefix("env").is_some_and(|after| {
            after.is_empty() || after.starts_with([' ', '\t', '.', '=', ']', '"', '\''])
        })
    })
}

/// The account a loaded spec must be in, and where that is written: its environment's
/// `account_id`, else `[stack] account_id`.
#[derive(Debug, Clone)]
pub struct ExpectedAccount {
    pub account_id: String,
    pub location: Location,
    /// The environment it comes from, if any.
    pub env: Option<String>,
}

impl Loader {
    /// The environment `options` asks for, if any.
    pub(super) fn chosen_environment(
        &mut self,
        environments: &BTreeMap<String, Environment>,
        options: &LoadOptions,
    ) -> Option<Environment> {
        let name = options.env.as_ref()?;
        let found = environments.get(name).cloned();
        // An environment with an error of its own is missing here, and its error says why.
        if found.is_none() && !self.diags.has_errors() {
            let names: Vec<&str> = environments.keys().map(String::as_str).collect();
            self.diags.push(
                Diagnostic::error(
                    Code::SpecUnknownEnvironment,
                    format!("--env {name}: the spec declares no environment `{name}`"),
                )
                .hint(if names.is_empty() {
                    "declare it as an [env.NAME] table with account_id".to_string()
                } else {
                    format!("the environments are: {}", names.join(", "))
                }),
            );
        }
        found
    }

    /// `[stack]` for the chosen environment: its name (and lock) with variables filled in, and
    /// the account it must be in.
    pub(super) fn stack_config(
        &mut self,
        raw: super::load::RawStack,
        vars: &BTreeMap<String, Var>,
        env: Option<Environment>,
    ) -> Option<StackConfig> {
        let name_span = raw.name.span();
        let name = self.with_vars(raw.name.get_ref(), name_span.clone(), vars, "name")?;
        if let Err(msg) = super::rules::stack_name(&name) {
            let substituted = crate::policy::pattern::find_open(raw.name.get_ref()).is_some();
            let message = if substituted {
                format!("{msg} (after its variables are filled in)")
            } else {
                msg
            };
            self.err(Code::SpecInvalidName, message, name_span.clone())
                .set_hint("letters, digits, `-` and `_`, at most 64 characters");
        }
        let lock = match &raw.lock {
            None => None,
            Some(l) => Some(self.lock_of(l, Some(&name), vars)?),
        };
        let account = match (&env, raw.account_id) {
            (Some(env), _) => Some(ExpectedAccount {
                account_id: env.account_id.clone(),
                location: env.account_location.clone(),
                env: Some(env.name.clone()),
            }),
            (None, Some(id)) => {
                let value = self.with_vars(id.get_ref(), id.span(), vars, "account_id")?;
                if !is_account_id(&value) {
                    self.err(
                        Code::SpecAccountId,
                        format!("`{value}` is not an AWS account id"),
                        id.span(),
                    )
                    .set_hint("an account id is 12 digits, as `aws sts get-caller-identity` prints it (keep leading zeros, and quote it)");
                }
                Some(ExpectedAccount {
                    account_id: value,
                    location: Location::new(&self.file, id.span()),
                    env: None,
                })
            }
            (None, None) => None,
        };
        Some(StackConfig {
            name,
            location: Location::new(&self.file, name_span),
            lock,
            account,
            env,
        })
    }

    /// `[env]`: every environment, checked.
    pub(super) fn environments(
        &mut self,
        value: toml::Spanned<DeValue<'_>>,
    ) -> BTreeMap<String, Environment> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.err(
                Code::SpecType,
                "`env` must be a table of environments, as in [env.NAME]",
                span,
            )
            .set_hint(
                "write each environment as a table: [env.NAME] followed by account_id = \"...\"",
            );
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (name, body) in table {
            let name_span = name.span();
            let name = name.get_ref().to_string();
            if let Err(msg) = super::rules::logical_name(&name) {
                self.err(Code::SpecInvalidName, msg, name_span.clone())
                    .set_hint("an environment's name is letters, digits, `-` and `_`");
            }
            let body_span = body.span();
            let DeValue::Table(mut fields) = body.into_inner() else {
                self.err(
                    Code::SpecType,
                    format!("`env.{name}` must be a table"),
                    body_span,
                )
                .set_hint(format!(
                    "write [env.{name}] followed by account_id = \"...\" and its settings"
                ));
                continue;
            };
            let vars = match super::load::take_key(&mut fields, "vars") {
                Some(v) => self.string_table(v, &format!("env.{name}.vars")),
                None => Vec::new(),
            };
            let body = toml::Spanned::new(body_span, DeValue::Table(fields));
            let Some(raw) = self.deserialize::<RawEnv>(body) else {
                continue;
            };
            let account_id = raw.account_id.get_ref().clone();
            if !is_account_id(&account_id) {
                self.err(
                    Code::SpecAccountId,
                    format!("`{account_id}` is not an AWS account id"),
                    raw.account_id.span(),
                )
                .set_hint("an account id is 12 digits, as `aws sts get-caller-identity` prints it (keep leading zeros, and quote it)");
            }
            // Where and as whom to connect: refused here, located, before anything is sent.
            type Rule = fn(&str) -> Result<(), String>;
            let connection: [(&Option<Located<String>>, &str, Rule, &str); 4] = [
                (
                    &raw.region,
                    "region",
                    super::rules::region_name,
                    "a region such as us-east-1 or eu-west-1",
                ),
                (
                    &raw.assume_role_arn,
                    "assume_role_arn",
                    super::rules::role_arn,
                    "a role's ARN, arn:aws:iam::ACCOUNT:role/NAME",
                ),
                (
                    &raw.role_session_name,
                    "role_session_name",
                    super::rules::session_name,
                    "2 to 64 letters, digits and `_+=,.@-`",
                ),
                (
                    &raw.external_id,
                    "external_id",
                    super::rules::external_id,
                    "2 to 1,224 letters, digits and `_+=,.@:/-`, as the role's trust policy asks",
                ),
            ];
            for (value, field, rule, hint) in connection {
                let Some(value) = value else { continue };
                if let Err(why) = rule(value.get_ref()) {
                    let message = if why.starts_with('`') {
                        format!("env.{name}.{field}: {why}")
                    } else {
                        format!("env.{name}.{field} {why}")
                    };
                    self.err(Code::SpecInvalidValue, message, value.span())
                        .set_hint(format!("write {hint}"));
                }
            }
            let text = |v: Option<Located<String>>| v.map(Located::into_inner);
            out.insert(
                name.clone(),
                Environment {
                    name,
                    account_location: Location::new(&self.file, raw.account_id.span()),
                    account_id,
                    region: text(raw.region),
                    profile: text(raw.profile),
                    assume_role_arn: text(raw.assume_role_arn),
                    role_session_name: text(raw.role_session_name),
                    external_id: text(raw.external_id),
                    vars,
                    var_files: raw.var_files,
                },
            );
        }
        out
    }

    /// Sets the variables of `[vars]` from every other layer, lowest first, so each layer
    /// overrides those below it: the environment's `var_files`, its `vars`, `PLINTH_VAR_*`,
    /// `--var-file`, `--var`. A layer that sets a variable `[vars]` does not declare is an
    /// error, located where the layer is written.
    pub(super) fn layer_vars(
        &mut self,
        vars: &mut BTreeMap<String, Var>,
        env: Option<&Environment>,
        options: &LoadOptions,
    ) {
        if let Some(env) = env {
            for file in &env.var_files {
                let cited = Location::new(&self.file, file.span());
                let path = self.dir.join(file.get_ref());
                self.var_file(vars, &path, Some(cited));
            }
            for (name, value) in &env.vars {
                let at = Location::new(&self.file, value.span());
                self.set_var(
                    vars,
                    name,
                    value.get_ref(),
                    Some(at),
                    &format!("env.{}.vars", env.name),
                );
            }
        }
        for (name, value) in &options.env_vars {
            self.set_var(vars, name, value, None, &format!("{ENV_VAR_PREFIX}{name}"));
        }
        for path in &options.var_files {
            self.var_file(vars, path, None);
        }
        for (name, value) in &options.var_overrides {
            self.set_var(vars, name, value, None, &format!("--var {name}"));
        }
        // A value the chosen environment sets, replaced from outside the spec (a
        // `PLINTH_VAR_env` left in a pipeline's environment): the environment may then be
        // another's stack under its name, so it is said.
        if let Some(env) = env {
            for (name, value) in &env.vars {
                if vars.get(name).is_none_or(|v| v.value == *value.get_ref()) {
                    continue;
                }
                let by = if options.var_overrides.iter().any(|(n, _)| n == name) {
                    format!("--var {name}")
                } else if options.env_vars.iter().any(|(n, _)| n == name) {
                    format!("{ENV_VAR_PREFIX}{name}")
                } else {
                    "a --var-file".to_string()
                };
                self.diags.push(
                    Diagnostic::warning(
                        crate::diag::WarningCode::EnvVarOverridden,
                        format!(
                            "{by} sets `{name}` for environment `{}` otherwise than its own `vars` (the value is not shown: it may be a secret)",
                            env.name
                        ),
                    )
                    .at(&self.file, value.span())
                    .hint("if this run is for this environment, leave the variable unset (in CI, check the job's environment for a PLINTH_VAR_ left over)"),
                );
            }
        }
    }

    fn set_var(
        &mut self,
        vars: &mut BTreeMap<String, Var>,
        name: &str,
        value: &str,
        at: Option<Location>,
        source: &str,
    ) {
        match vars.get_mut(name) {
            Some(var) => {
                var.value = value.to_string();
                var.location = at;
            }
            None => {
                let known: Vec<&str> = vars.keys().map(String::as_str).collect();
                let d = Diagnostic::error(
                    Code::SpecUnknownVar,
                    format!("{source}: the spec declares no variable `{name}` in [vars]"),
                )
                .hint(
                    did_you_mean(name, &known)
                        .unwrap_or_else(|| "declare it in [vars] first".into()),
                )
                .at_location(at);
                self.diags.push(d);
            }
        }
    }

    /// One `--var-file` or `var_files` entry: a TOML table of strings, numbers and booleans.
    /// Its values may be secrets, so a diagnostic shows the file with its values starred.
    fn var_file(&mut self, vars: &mut BTreeMap<String, Var>, path: &Path, cited: Option<Location>) {
        let name = path.display().to_string();
        let file = match super::load::read_source(path, &name, cited.clone()) {
            Ok(f) => f,
            Err(mut d) => {
                if cited.is_none() {
                    for d in &mut d.0 {
                        d.hint = Some("--var-file takes a TOML file of NAME = value lines, relative to the current directory".into());
                    }
                }
                // A file that is not UTF-8 is shown as far as it reads, its values starred.
                for d in d.0.iter_mut().filter(|d| d.code == Code::SpecEncoding) {
                    if let Some(location) = &mut d.location {
                        let text = location.file.text.clone();
                        let (root, _) = DeTable::parse_recoverable(&text);
                        location.file = starred(&location.file, &root, true);
                    }
                }
                self.diags.extend(d);
                return;
            }
        };
        self.inputs.push(super::InputFile {
            path: name.clone(),
            sha256: super::sha256_hex(file.text.as_bytes()),
        });
        let (root, errors) = DeTable::parse_recoverable(&file.text);
        let shown = starred(&file, &root, !errors.is_empty());
        if !errors.is_empty() {
            for e in errors {
                self.diags.push(
                    Diagnostic::error(
                        Code::SpecVarFile,
                        format!(
                            "`{name}` is not a TOML table of variables: {}",
                            e.message().trim()
                        ),
                    )
                    .at(&shown, e.span().unwrap_or(0..0))
                    .hint("a var file holds NAME = value lines (strings, numbers or booleans)"),
                );
            }
            return;
        }
        let mut entries: Vec<_> = root.into_inner().into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (key, value) in entries {
            let key_name = key.get_ref().to_string();
            let text = match value.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i.as_str().to_string(),
                DeValue::Float(f) => f.as_str().to_string(),
                DeValue::Boolean(b) => b.to_string(),
                other => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::SpecVarFile,
                            format!(
                                "`{key_name}` in `{name}` must be a string, number or boolean, not {}",
                                super::load::with_article(other.type_str())
                            ),
                        )
                        .at(&shown, key.span())
                        .hint("a var file holds NAME = value lines at its top level, no tables"),
                    );
                    continue;
                }
            };
            let at = Location::new(&shown, key.span());
            self.set_var(vars, &key_name, &text, Some(at), &format!("`{name}`"));
        }
    }

    /// Two environments in one account must be two stacks: with one stack name, each takes the
    /// other's resources (tagged with that name) for its own, and a plan of one replaces or
    /// deletes what the other made. The chosen environment's stack name is compared with each
    /// other environment's in the same account, as that one's own `vars` and `var_files` name
    /// it. When this run sets a variable of the name itself (`--var`, `--var-file`,
    /// `PLINTH_VAR_*`), the name it makes is compared all the same: a `PLINTH_VAR_env=dev` left
    /// in a pipeline would otherwise make `--env prod` plan, apply or destroy dev's stack.
    pub(super) fn check_environments_apart(
        &mut self,
        stack: &StackConfig,
        (raw_name, raw_lock): (&Located<String>, Option<&super::load::RawLock>),
        declared: &BTreeMap<String, Var>,
        environments: &BTreeMap<String, Environment>,
        options: &LoadOptions,
    ) {
        let Some(chosen) = &stack.env else {
            return;
        };
        if let (Some(lock), Some(raw_lock)) = (&stack.lock, raw_lock) {
            self.check_locks_apart(
                stack,
                chosen,
                lock,
                (raw_name, raw_lock),
                declared,
                environments,
            );
        }
        let Ok(pieces) = template::parse(raw_name.get_ref()) else {
            return;
        };
        let named_by: Vec<&str> = template::references(&pieces)
            .filter_map(|(r, _)| match r {
                Reference::Var(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let set_by_run: Vec<String> = options
            .var_overrides
            .iter()
            .map(|(name, _)| (name, format!("--var {name}")))
            .chain(
                options
                    .env_vars
                    .iter()
                    .map(|(name, _)| (name, format!("{ENV_VAR_PREFIX}{name}"))),
            )
            .filter(|(name, _)| named_by.contains(&name.as_str()))
            .map(|(_, by)| by)
            .chain(
                (!options.var_files.is_empty() && !named_by.is_empty())
                    .then(|| "a --var-file".to_string()),
            )
            .collect();
        for other in environments.values() {
            if other.name == chosen.name {
                continue;
            }
            let (name, _) = self.as_its_own_run(other, declared, raw_name, None);
            if name.as_deref() != Some(stack.name.as_str()) {
                continue;
            }
            // In another account, a stack of another environment's name is that environment's
            // stack as it would be there: a run made so (a variable left over) works on the
            // wrong stack, and would report nothing to do where there is.
            if !set_by_run.is_empty() {
                let (whose, harm) = if other.account_id == chosen.account_id {
                    (
                        format!(
                            "the stack of environment `{}` in the same account ({})",
                            other.name, chosen.account_id
                        ),
                        format!("this run would change `{}`'s resources", other.name),
                    )
                } else {
                    (
                        format!("the stack name of environment `{}` (in account {})", other.name, other.account_id),
                        format!("this run would work on that stack in `{}`'s account {}, not on `{}`'s own", chosen.name, chosen.account_id, chosen.name),
                    )
                };
                self.err(
                    Code::SpecEnvironmentsShareStack,
                    format!(
                        "{} makes environment `{}`'s stack `{}`, {whose}: {harm}",
                        set_by_run.join(" and "),
                        chosen.name,
                        stack.name,
                    ),
                    raw_name.span(),
                )
                .set_hint(format!(
                    "to work on `{}`, leave the variable unset and let [env.{}] set it (in CI, check the job's environment for a PLINTH_VAR_ left over); to work on `{}`, pass --env {}",
                    chosen.name, chosen.name, other.name, other.name
                ));
                return;
            }
            if other.account_id != chosen.account_id {
                continue;
            }
            let (first, second) = if chosen.name < other.name {
                (&chosen.name, &other.name)
            } else {
                (&other.name, &chosen.name)
            };
            let hint = if named_by.is_empty() {
                format!(
                    "name the stack after its environment: `name = \"{}-${{var.env}}\"`, with \
                     `env` declared in [vars] and `vars = {{ env = \"{second}\" }}` in [env.{second}]",
                    stack.name
                )
            } else {
                format!(
                    "set the variables of the name differently in [env.{first}] and [env.{second}]"
                )
            };
            self.err(
                Code::SpecEnvironmentsShareStack,
                format!(
                    "environments `{first}` and `{second}` are both in account {} and both name \
                     the stack `{}`: each would take the other's resources for its own, and a \
                     plan of one would replace or delete what the other made",
                    chosen.account_id, stack.name
                ),
                raw_name.span(),
            )
            .set_hint(hint);
            return;
        }
    }

    /// Two environments whose stacks would take one lock, and keep their index beside it, in
    /// one bucket (S3's names are global, so across accounts too): each apply would take the
    /// other's lock for its own, and overwrite the other's record of what it owns. Environments
    /// of one account with one stack name are refused as sharing the stack instead.
    fn check_locks_apart(
        &mut self,
        stack: &StackConfig,
        chosen: &Environment,
        lock: &LockConfig,
        (raw_name, raw_lock): (&Located<String>, &super::load::RawLock),
        declared: &BTreeMap<String, Var>,
        environments: &BTreeMap<String, Environment>,
    ) {
        for other in environments.values().filter(|o| o.name != chosen.name) {
            let (name, other_lock) = self.as_its_own_run(other, declared, raw_name, Some(raw_lock));
            let same_stack = name.as_deref() == Some(stack.name.as_str())
                && other.account_id == chosen.account_id;
            if same_stack || other_lock.as_ref() != Some(lock) {
                continue;
            }
            let (first, second) = if chosen.name < other.name {
                (&chosen.name, &other.name)
            } else {
                (&other.name, &chosen.name)
            };
            self.err(
                Code::SpecEnvironmentsShareStack,
                format!(
                    "environments `{first}` and `{second}` would both lock the stack with s3://{}/{}, and keep their index of what they own beside it: each apply would take the other's lock, and overwrite the other's index",
                    lock.bucket, lock.key
                ),
                raw_lock.bucket.span(),
            )
            .set_hint(format!(
                "name the stack after its environment (`name = \"{}-${{var.env}}\"`), or give each environment a lock of its own (`key = \"plinth/locks/${{var.env}}.lock\"`)",
                raw_name.get_ref().replace("${var.env}", "").trim_end_matches('-')
            ));
            return;
        }
    }

    /// The lock a stack named `name` takes: the bucket, and the key (its name's own by default,
    /// none when the name is not known), with `vars` filled in.
    fn lock_of(
        &mut self,
        raw: &super::load::RawLock,
        name: Option<&str>,
        vars: &BTreeMap<String, Var>,
    ) -> Option<LockConfig> {
        let bucket =
            self.with_vars(raw.bucket.get_ref(), raw.bucket.span(), vars, "lock.bucket")?;
        let key = match &raw.key {
            None => format!("plinth/locks/{}.lock", name?),
            Some(k) => self.with_vars(k.get_ref(), k.span(), vars, "lock.key")?,
        };
        Some(LockConfig { bucket, key })
    }

    /// Another environment's stack name, and its lock (for `raw_lock`), as its own run would
    /// make them from its `vars` and `var_files`; what goes wrong there is reported when that
    /// environment is loaded, not here.
    fn as_its_own_run(
        &mut self,
        other: &Environment,
        declared: &BTreeMap<String, Var>,
        raw_name: &Located<String>,
        raw_lock: Option<&super::load::RawLock>,
    ) -> (Option<String>, Option<LockConfig>) {
        let (diags, inputs) = (self.diags.0.len(), self.inputs.len());
        let mut vars = declared.clone();
        self.layer_vars(&mut vars, Some(other), &LoadOptions::default());
        let name = self.with_vars(raw_name.get_ref(), raw_name.span(), &vars, "name");
        let lock = raw_lock.and_then(|raw| self.lock_of(raw, name.as_deref(), &vars));
        self.diags.0.truncate(diags);
        self.inputs.truncate(inputs);
        (name, lock)
    }

    /// `[stack]`'s strings after variables are filled in: a stack name (or lock) may depend on
    /// the environment. Only `${var.NAME}` may appear there; the error points at `span`.
    pub(super) fn with_vars(
        &mut self,
        value: &str,
        span: Range<usize>,
        vars: &BTreeMap<String, Var>,
        field: &str,
    ) -> Option<String> {
        if crate::policy::pattern::find_open(value).is_none() {
            return Some(value.to_string());
        }
        let pieces = match template::parse(value) {
            Ok(p) => p,
            Err(e) => {
                let d = self.err(Code::SpecTemplate, e.message, span);
                d.hint = e.hint;
                return None;
            }
        };
        for (r, _) in template::references(&pieces) {
            let problem = match r {
                Reference::Var(name) => match vars.get(name) {
                    None => Some("declare the variable in [vars] (each environment can set it in its `vars`)"),
                    Some(var) if var.known().is_none() => Some("the stack must be named before AWS is read: use a variable with a plain value"),
                    Some(_) => None,
                },
                _ => Some("use ${var.NAME}: the stack must be named before AWS is read"),
            };
            if let Some(hint) = problem {
                self.err(
                    Code::SpecStackReference,
                    format!(
                        "`[stack] {field}` may only refer to variables with a value, not to `{}`",
                        template::reference_text(r)
                    ),
                    span,
                )
                .set_hint(hint);
                return None;
            }
        }
        template::render(&pieces, |r| match r {
            Reference::Var(name) => vars.get(name).and_then(Var::known),
            _ => None,
        })
    }
}

/// `true` for 12 ASCII digits, the form of every AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The var file with every value replaced by stars, byte for byte, so spans still hold and a
/// diagnostic's snippet shows no value (a var file often carries secrets). When the file does
/// not parse (`broken`), what its parse did not reach is starred by line: everything after a
/// line's first `=`, and every line without one that is not a table header or a comment
/// (the inside of a multi-line string).
fn starred(
    file: &Arc<SourceFile>,
    root: &toml::Spanned<DeTable<'_>>,
    broken: bool,
) -> Arc<SourceFile> {
    let mut bytes = file.text.clone().into_bytes();
    let star = |bytes: &mut [u8]| {
        for b in bytes {
            if !matches!(*b, b'"' | b'\'' | b'\n' | b'\r') {
                *b = b'*';
            }
        }
    };
    // Every value, however deep: a var file with a table header (`[vars]`), a dotted key or
    // an array of tables is refused, but its snippet must still show none of its values.
    fn leaves(value: &toml::Spanned<DeValue<'_>>, out: &mut Vec<std::ops::Range<usize>>) {
        match value.get_ref() {
            DeValue::Table(table) => table.iter().for_each(|(_, v)| leaves(v, out)),
            DeValue::Array(array) => array.iter().for_each(|v| leaves(v, out)),
            _ => out.push(value.span()),
        }
    }
    let mut spans = Vec::new();
    for (_, value) in root.get_ref().iter() {
        leaves(value, &mut spans);
    }
    for span in spans {
        if span.end <= bytes.len() && span.start < span.end {
            star(&mut bytes[span]);
        }
    }
    if broken {
        let mut start = 0;
        for line in file.text.split_inclusive('\n') {
            let end = start + line.len();
            let head = line.trim_start();
            match line.find('=') {
                // The blanks between `=` and the value stay, as in a file that parses.
                Some(eq) => {
                    let value = &line[eq + 1..];
                    let blanks = value.len() - value.trim_start_matches([' ', '\t']).len();
                    star(&mut bytes[start + eq + 1 + blanks..end]);
                }
                None if head.starts_with('[') || head.starts_with('#') => {}
                None => star(&mut bytes[start..end]),
            }
            start = end;
        }
    }
    let text = String::from_utf8(bytes).unwrap_or_default();
    SourceFile::new(file.name.clone(), text)
}

/// `PLINTH_VAR_NAME=value` variables of the process environment, sorted by name.
pub fn vars_from_environment() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let name = k.strip_prefix(ENV_VAR_PREFIX)?.to_string();
            Some((name, v.into_string().ok()?))
        })
        .filter(|(name, _)| !name.is_empty())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod shipped;

/// Environments of one spec planned together (`--all-envs`) that are in one account and name
/// the same AWS resource: applying them would have the second take over what the first made
/// (a queue SQS hands back, a role's policies rewritten), and destroying one would delete the
/// other's. One error per resource, at its block, naming both environments. IAM's names and
/// buckets are the account's (buckets the world's); the other kinds' are the region's.
pub fn names_shared_across(specs: &[super::Spec]) -> Diagnostics {
    use crate::model::{Address, Kind};
    // (account, region for a regional kind, kind, name) → the first environment naming it.
    type Claim = (String, Option<String>, Kind, String);
    let mut first: BTreeMap<Claim, (&str, &Address)> = BTreeMap::new();
    let mut out = Diagnostics::default();
    // The names each environment writes, by environment and address.
    let mut written: BTreeMap<(&str, &Address), String> = BTreeMap::new();
    for spec in specs {
        let (Some(env), Some(account)) = (&spec.stack.env, &spec.stack.account) else {
            continue;
        };
        let stand_in = crate::state::Account {
            account_id: account.account_id.clone(),
            region: env.region.clone().unwrap_or_else(|| "us-east-1".into()),
            partition: "aws".into(),
            caller_arn: String::new(),
            caller_role_arn: None,
        };
        let resolver = super::resolve::Resolver::new(spec, &stand_in, None);
        for resource in spec.resources.values().filter(|r| r.body.must_exist()) {
            if let Ok(Some(id)) = resource.body.physical_id(&resolver) {
                written.insert((env.name.as_str(), &resource.address), id);
            }
        }
        for resource in spec.resources.values().filter(|r| !r.body.must_exist()) {
            let Ok(Some(id)) = resource.body.physical_id(&resolver) else {
                continue;
            };
            let kind = resource.kind();
            let iam = matches!(kind, Kind::Role | Kind::Policy | Kind::InstanceProfile);
            let global = iam || matches!(kind, Kind::Bucket | Kind::OidcProvider);
            let region = (!global).then(|| env.region.clone().unwrap_or_default());
            let claim = if iam { id.to_lowercase() } else { id.clone() };
            // A bucket's name is taken in every account of the partition at once.
            let world = kind == Kind::Bucket;
            let owner = if world {
                String::new()
            } else {
                account.account_id.clone()
            };
            let key = (owner, region, kind, claim);
            match first.get(&key) {
                None => {
                    first.insert(key, (env.name.as_str(), &resource.address));
                }
                Some((other, address)) if world => out.push(
                    Diagnostic::error(
                        Code::SpecEnvironmentsShareName,
                        format!(
                            "environments `{other}` and `{}` both name bucket `{id}` ({address} and {}): a bucket's name is unique across all AWS accounts, so applying both would give one environment's bucket to the other, or fail with BucketAlreadyExists in another account",
                            env.name, resource.address
                        ),
                    )
                    .at_location(Some(resource.location.clone()))
                    .hint("give each environment its own bucket names, from a variable each `[env.NAME]` sets (name = \"${var.prefix}-data\")"),
                ),
                Some((other, address)) => out.push(
                    Diagnostic::error(
                        Code::SpecEnvironmentsShareName,
                        format!(
                            "environments `{other}` and `{}` both name {kind} `{id}` in account {} ({address} and {}): applying both would give one environment's {kind} to the other",
                            env.name, account.account_id, resource.address
                        ),
                    )
                    .at_location(Some(resource.location.clone()))
                    .hint("give each environment its own names, from a variable each `[env.NAME]` sets (name = \"${var.prefix}-jobs\"), or put them in different accounts"),
                ),
            }
        }
    }
    let specs: Vec<&super::Spec> = specs.iter().collect();
    out.extend(sids_shared_across(&specs, |spec, resource| {
        let env = spec.stack.env.as_ref()?;
        written
            .get(&(env.name.as_str(), &resource.address))
            .cloned()
    }));
    out
}

/// Environments planned together that add a statement of one Sid to one existing resource
/// (`existing = true`): each would overwrite the other's when applied. `id_of` names the
/// resource each environment means: as the spec writes it before AWS is read, or as AWS
/// answered after (one key named by its alias in one environment and by its id in another).
/// Every such resource is shared by design, each environment adding and removing only its own
/// statements by Sid; one error per statement, at the policy, naming both environments.
pub fn sids_shared_across<'a>(
    specs: &'a [&'a super::Spec],
    id_of: impl Fn(&super::Spec, &super::Resource) -> Option<String>,
) -> Diagnostics {
    use crate::model::Kind;
    type Claim = (String, Option<String>, Kind, String);
    let mut first: BTreeMap<Claim, &str> = BTreeMap::new();
    let mut out = Diagnostics::default();
    for spec in specs {
        let (Some(env), Some(account)) = (&spec.stack.env, &spec.stack.account) else {
            continue;
        };
        for resource in spec.resources.values().filter(|r| r.body.must_exist()) {
            let Some(id) = id_of(spec, resource) else {
                continue;
            };
            let kind = resource.kind();
            let global = matches!(kind, Kind::Role | Kind::Bucket);
            let region = (!global).then(|| env.region.clone().unwrap_or_default());
            for (document, _, template) in resource.body.documents() {
                for sid in template.sids_with_vars(&spec.vars) {
                    let key = (
                        account.account_id.clone(),
                        region.clone(),
                        kind,
                        format!("{id}\u{0}{document}\u{0}{sid}"),
                    );
                    match first.get(&key) {
                        None => {
                            first.insert(key, env.name.as_str());
                        }
                        Some(other) => out.push(
                            Diagnostic::error(
                                Code::SpecEnvironmentsShareName,
                                format!(
                                    "environments `{other}` and `{}` both add the {document} statement `{sid}` to the existing {kind} `{id}` in account {}: each would overwrite the other's, and neither could be planned after",
                                    env.name, account.account_id
                                ),
                            )
                            .at_location(Some(template.location.clone()))
                            .hint("make the Sid each environment's own with a variable its `[env.NAME]` sets: \"Sid\": \"Send${var.env}\""),
                        ),
                    }
                }
            }
        }
    }
    out
}
