//! Reading a spec file: TOML with spans → typed spec, collecting every problem on the way.

mod explain;
mod json_keys;
mod policies;
mod positions;

use explain::*;
pub(crate) use explain::{did_you_mean, with_article};
pub(crate) use policies::policy_size_findings;
use positions::*;
pub(crate) use positions::{lint_diagnostic, lint_message};

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};

use crate::parallel::Runs;
use crate::spec::{Located, PolicyValue};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::template::{self, reference_text, Reference};
use super::{rules, InputFile, PolicyTemplate, Resource, Silence, Spec, Text, Var};
use crate::diag::{Code, Diagnostic, Diagnostics, Location, SourceFile, WarningCode};
use crate::model::{Address, Kind};
use crate::policy::PolicyDocument;

/// Specs and the files they include are small; anything bigger is a mistake or an attack.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// `--var NAME=VALUE`: overrides a variable declared in `[vars]`.
    pub var_overrides: Vec<(String, String)>,
    /// `--var-file FILE`, later files winning.
    pub var_files: Vec<PathBuf>,
    /// `PLINTH_VAR_NAME=value` from the process environment, as `(NAME, value)`.
    pub env_vars: Vec<(String, String)>,
    /// The `[env.NAME]` to load the spec for (`spec::env::select` chooses it).
    pub env: Option<String>,
}

/// Loads `text` as the spec `plinth.toml` of a directory of its own, for tests; the directory
/// is returned with the spec, for files written beside it.
#[cfg(test)]
pub(crate) fn load_text(text: &str) -> (tempfile::TempDir, Spec) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.toml");
    std::fs::write(&path, text).unwrap();
    let spec =
        load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)));
    (dir, spec)
}

/// Loads and validates the spec at `path`. Errors come back all together, sorted by position.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Spec, Diagnostics> {
    let name = path.display().to_string();
    let file = read_source(path, &name, None)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader {
        file: Arc::clone(&file),
        dir: if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        },
        diags: Diagnostics::default(),
        // Its digest is taken below, beside the loading.
        inputs: vec![InputFile {
            path: name,
            sha256: String::new(),
        }],
        zipped: BTreeMap::new(),
        policy_files: BTreeMap::new(),
        copy_blocks: false,
    };
    // A large spec's digest (1 ms for 2 MB) is taken on another core while it is parsed.
    let (sha256, spec) = crate::parallel::two_at_once(
        file.text.len() >= DIGEST_ASIDE_BYTES,
        || sha256_hex(file.text.as_bytes()),
        || loader.load(options),
    );
    let mut diags = std::mem::take(&mut loader.diags).sorted();
    super::redact::redact_secrets(&file, &mut diags);
    match spec {
        Some(mut spec) if !diags.has_errors() => {
            // The spec's own file is the first it read.
            spec.inputs[0].sha256 = sha256;
            spec.warnings = diags;
            Ok(spec)
        }
        _ => Err(diags),
    }
}

/// A resource block's fields include those every kind takes, which the loader reads before
/// the kind's own (`release`, `when`, `silence`): an unknown field's list of the expected ones
/// names them too, so that they can be suggested. A resource block is told by the one field
/// every kind has and nothing else does, `prevent_destroy`.
fn with_block_fields(message: String) -> String {
    if message.starts_with("unknown field `") && message.contains("`prevent_destroy`") {
        format!("{message}, `release`, `when`, `silence`")
    } else {
        message
    }
}

/// From this size, [`load`] takes the spec's digest on a thread of its own.
const DIGEST_ASIDE_BYTES: usize = 256 * 1024;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a UTF-8 file of bounded size. `cited_at` is where the spec names the file, so that a
/// missing include points at the line that asked for it. At most one byte more than the limit
/// is read, so a huge file, a device (`/dev/zero`) or a pipe cannot exhaust memory.
pub(super) fn read_source(
    path: &Path,
    name: &str,
    cited_at: Option<Location>,
) -> Result<Arc<SourceFile>, Diagnostics> {
    let fail = |d: Diagnostic| Err(Diagnostics(vec![d.at_location(cited_at.clone())]));
    let read = std::fs::File::open(path).and_then(|file| {
        // Sized from the start: a 2 MB spec read into a growing buffer is copied as it grows.
        let size = file
            .metadata()
            .map_or(0, |m| m.len())
            .min(MAX_FILE_BYTES as u64 + 1);
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    });
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            let hint = if cited_at.is_some() {
                "paths are relative to the directory of the spec file".to_string()
            } else {
                "pass the spec with -f PATH, or run plinth where plinth.toml is".to_string()
            };
            return fail(
                Diagnostic::error(Code::SpecRead, format!("cannot read `{name}`: {e}")).hint(hint),
            );
        }
    };
    if bytes.len() > MAX_FILE_BYTES {
        let d = Diagnostic::error(
            Code::SpecTooLarge,
            format!("`{name}` is larger than {MAX_FILE_BYTES} bytes, the most plinth reads"),
        )
        .hint("a spec or policy this large is almost certainly not the file you meant");
        // The file itself is where the problem is, when no spec line names it.
        let at = cited_at
            .clone()
            .unwrap_or_else(|| Location::new(&SourceFile::new(name, ""), 0..0));
        return Err(Diagnostics(vec![d.at_location(Some(at))]));
    }
    match String::from_utf8(bytes) {
        // A byte order mark (Notepad and PowerShell write one) is no part of the text: JSON
        // does not allow it, and it would be an invisible first character in a snippet.
        Ok(text) => Ok(SourceFile::new(
            name,
            match text.strip_prefix('\u{feff}') {
                Some(rest) => rest.to_string(),
                None => text,
            },
        )),
        Err(e) if cited_at.is_some() => {
            fail({
                // A file the spec names may not be a policy at all: none of it is shown, only
                // where the first byte that is not UTF-8 is.
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
                let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
                Diagnostic::error(
                Code::SpecEncoding,
                format!("`{name}` is not valid UTF-8 (line {line}, byte {column} of the line)"),
            )
                .hint("a policy file is a UTF-8 JSON document; check the path, or save the file as UTF-8")
            })
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // A replacement character is three bytes where the bad byte was one: the spans of
            // the text before it hold, and so does the masking of the spec's secrets.
            let file = SourceFile::new(name, super::redact::mask_secrets(&lossy));
            Err(Diagnostics(vec![Diagnostic::error(
                Code::SpecEncoding,
                format!("`{name}` is not valid UTF-8"),
            )
            .at(&file, valid..valid + 1)
            .label("this byte is not UTF-8")
            .hint("save the file as UTF-8")]))
        }
    }
}

pub(crate) struct Loader {
    pub(super) file: Arc<SourceFile>,
    pub(super) dir: PathBuf,
    pub(super) diags: Diagnostics,
    pub(super) inputs: Vec<InputFile>,
    /// Code directories zipped so far, or why they could not be: functions that share a
    /// directory share its archive, zipped once.
    zipped: BTreeMap<PathBuf, Result<Arc<[u8]>, String>>,
    /// Policy files read so far, with what they hold: roles that share a trust policy file
    /// share one read and one parse of it (and its diagnostics are reported once).
    pub(super) policy_files: BTreeMap<PathBuf, Option<PolicyTemplate>>,
    /// Set once a block read without a copy had errors: this loader copies the blocks it
    /// reads from then on, so that the spec is parsed again at most once per loader
    /// ([`Loader::deserialize_block`]).
    copy_blocks: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Stack")]
pub(crate) struct RawStack {
    #[schemars(pattern(rules::stack_name_pattern()))]
    pub(super) name: Located<String>,
    pub(super) lock: Option<RawLock>,
    /// The account the stack must be in (12 digits), for a spec without environments
    #[schemars(pattern(super::env::ACCOUNT_ID_PATTERN))]
    pub(super) account_id: Option<Located<String>>,
}

#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Lock")]
pub(crate) struct RawLock {
    pub(super) bucket: Located<String>,
    pub(super) key: Option<Located<String>>,
}

const TOP_LEVEL: &[&str] = &["stack", "vars", "outputs", "env"];

/// Below this many resource blocks per core, loading them on one core is as fast.
const BLOCKS_PER_WORKER: usize = 500;

/// Blocks a worker takes at a time: enough that taking a run costs nothing, few enough that
/// the workers finish within a run of each other.
const BLOCKS_PER_RUN: usize = 64;

/// The policies' lints are taken this many resources at a time by the threads of
/// [`beside_lints`].
const LINT_RUN: usize = 64;

/// `first()`, on a thread of its own when `parallel`, and `second()`, each followed by runs of
/// the policies' lints ([`Loader::lint_runs`]) until none is left: the thread free first lints
/// the most. Without a second thread, `second()` and every lint, then `first()`. The lints are
/// reported in the spec's order however the runs fell.
fn beside_lints<A: Send, B>(
    parallel: bool,
    spec: &Spec,
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B,
) -> (A, B, Diagnostics) {
    let resources: Vec<&Resource> = spec.resources.values().collect();
    let ((a, first_lints), (b, second_lints)) = crate::parallel::in_runs(
        parallel,
        &resources,
        LINT_RUN,
        |runs| (first(), Loader::lint_runs(spec, runs)),
        |runs| (second(), Loader::lint_runs(spec, runs)),
    );
    let lints = crate::parallel::in_order([first_lints, second_lints]);
    (a, b, Diagnostics(lints))
}

/// One resource block of the spec, `[KIND.NAME]`, not yet read.
struct Block<'i> {
    kind: Kind,
    name: toml::Spanned<std::borrow::Cow<'i, str>>,
    body: toml::Spanned<DeValue<'i>>,
}

/// Takes the value of `key` out of a TOML table, keeping the order of the rest.
pub(crate) fn take_key<'i>(
    table: &mut DeTable<'i>,
    key: &str,
) -> Option<toml::Spanned<DeValue<'i>>> {
    let key = table.keys().find(|k| k.get_ref().as_ref() == key)?.clone();
    table.remove(&key)
}

/// The setting of every block that silences lints ([`Loader::take_silences`]).
const SILENCE: &str = "silence";

/// A resource block's table as its kind reads it ([`Loader::deserialize_block`]): the
/// settings every kind shares (`silence`, `when`, `release`) are taken out of it.
pub(crate) struct BlockValue<'a, 'i> {
    address: &'a Address,
    value: toml::Spanned<DeValue<'i>>,
}

impl BlockValue<'_, '_> {
    pub(crate) fn span(&self) -> Range<usize> {
        self.value.span()
    }
}

/// The block at `address` in the spec's `text` parsed again, without the settings every kind
/// shares (taken out by [`Loader::take_silences`] and `switch::take`): a block read without a
/// copy and found wrong, for its errors to be reported.
fn block_again<'i>(text: &'i str, address: &Address) -> Option<toml::Spanned<DeValue<'i>>> {
    let (root, _) = DeTable::parse_recoverable(text);
    let mut root = root.into_inner();
    let DeValue::Table(mut blocks) = take_key(&mut root, address.kind.as_str())?.into_inner()
    else {
        return None;
    };
    let block = take_key(&mut blocks, &address.name)?;
    let span = block.span();
    let DeValue::Table(mut table) = block.into_inner() else {
        return None;
    };
    for setting in std::iter::once(SILENCE).chain(crate::spec::switch::SETTINGS) {
        take_key(&mut table, setting);
    }
    Some(toml::Spanned::new(span, DeValue::Table(table)))
}

/// What a worker loaded of one run of blocks: the run's place, what it found, the files it
/// read first, its resources and the addresses of its blocks with errors.
struct RunLoaded {
    index: usize,
    diags: Diagnostics,
    inputs: Vec<InputFile>,
    resources: BTreeMap<Address, Resource>,
    broken: BTreeSet<Address>,
}

impl Loader {
    pub(crate) fn err(
        &mut self,
        code: Code,
        message: impl Into<String>,
        span: Range<usize>,
    ) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error(code, message).at(&self.file, span));
        self.diags.0.last_mut().expect("just pushed")
    }

    fn load(&mut self, options: &LoadOptions) -> Option<Spec> {
        let file = Arc::clone(&self.file);
        let (root, errors) = DeTable::parse_recoverable(&file.text);
        if !errors.is_empty() {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                self.err(
                    Code::SpecSyntax,
                    format!("invalid TOML: {}", e.message().trim()),
                    span,
                )
                .set_hint("see https://toml.io for the syntax");
            }
            return None;
        }
        for (name, span) in super::redact::secret_vars_shown(&file.text) {
            self.diags.push(
                Diagnostic::warning(
                    crate::diag::WarningCode::SecretShown,
                    format!(
                        "`${{var.{name}}}` is a secret's value, but here it is shown: plans, saved plans and outputs print it"
                    ),
                )
                .at(&file, span)
                .hint("give the secret a variable of its own, or leave the value out of this field"),
            );
        }
        let root_span = root.span();
        let root = root.into_inner();
        let mut entries: Vec<_> = root.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);

        let mut stack = None;
        let mut vars = BTreeMap::new();
        let mut raw_outputs = Vec::new();
        let mut environments = BTreeMap::new();
        let mut blocks = Vec::new();
        for (key, value) in entries {
            let key_span = key.span();
            match key.get_ref().as_ref() {
                "stack" => stack = self.deserialize::<RawStack>(value),
                "vars" => vars = self.vars(value),
                "outputs" => raw_outputs = self.string_table(value, "outputs"),
                "env" => environments = self.environments(value),
                other => match Kind::parse(other) {
                    Some(kind) => self.resource_blocks(kind, value, &mut blocks),
                    None => {
                        let known: Vec<&str> = TOP_LEVEL
                            .iter()
                            .copied()
                            .chain(Kind::ALL.iter().map(|k| k.as_str()))
                            .collect();
                        let d = self.err(
                            Code::SpecUnknownTable,
                            format!("unknown table `[{other}]`"),
                            key_span,
                        );
                        d.hint = Some(did_you_mean(other, &known).unwrap_or_else(|| {
                            format!(
                                "the spec has [stack], [vars], [outputs], [env.NAME] and resources: {}",
                                known[TOP_LEVEL.len()..].join(", ")
                            )
                        }));
                    }
                },
            }
        }
        // A resource whose table has errors is declared all the same (in `broken`): a
        // reference to it is not dangling, and its errors are already reported.
        let (resources, broken) = self.resources(blocks);
        let env = self.chosen_environment(&environments, options);
        let declared_vars = vars.clone();
        self.layer_vars(&mut vars, env.as_ref(), options);

        let Some(raw_stack) = stack else {
            if !self.diags.has_errors() {
                self.err(Code::SpecNoStack, "the spec has no [stack] table", root_span.start..root_span.start)
                    .set_hint("add `[stack]` with `name = \"...\"`: every resource is tagged with the stack's name");
            }
            return None;
        };
        let raw_name = raw_stack.name.clone();
        let raw_lock = raw_stack.lock.clone();
        let stack = self.stack_config(raw_stack, &vars, env)?;
        self.check_environments_apart(
            &stack,
            (&raw_name, raw_lock.as_ref()),
            &declared_vars,
            &environments,
            options,
        );

        let outputs: BTreeMap<String, Text> = raw_outputs
            .into_iter()
            .filter_map(|(k, v)| Some((k, self.text(&v)?)))
            .collect();

        let spec = Spec {
            file,
            dir: self.dir.clone(),
            stack,
            vars,
            resources,
            outputs,
            environments,
            inputs: std::mem::take(&mut self.inputs),
            warnings: Diagnostics::default(),
        };
        let large = spec.resources.len() >= BLOCKS_PER_WORKER;
        if large && crate::spec::switch::switches_nothing(&spec) {
            // Switching off leaves such a spec as it is: every check reads the one spec, and
            // they run on two cores, the cycles beside the rest, then the lints on both.
            let worker = self.worker();
            let (cycles, (after_references, checks), lints) = beside_lints(
                true,
                &spec,
                || worker.cycles(&spec),
                || {
                    self.check_references(&spec, &broken);
                    (self.diags.0.len(), self.rules_and_checks(&spec))
                },
            );
            // Reported where the one-core order has them: after the references' errors.
            let cycle_errors = cycles.has_errors();
            self.diags
                .0
                .splice(after_references..after_references, cycles.0);
            let spec = self.switch(spec);
            self.report_checks(lints, checks.filter(|_| !cycle_errors));
            return Some(spec);
        }
        // The references' checks and the cycles' need nothing of each other: in a large spec
        // they run side by side, and are reported in this order.
        let cycles = self.worker();
        let (cycles, ()) = crate::parallel::two_at_once(
            large,
            || cycles.cycles(&spec),
            || self.check_references(&spec, &broken),
        );
        self.diags.extend(cycles);
        // A switched-off block's values may be made of the variables that switch it off (an
        // empty key id): its kind's rules and the checks apply to the blocks that stay.
        let spec = self.switch(spec);
        // The policies' lints need none of the kinds' rules: in a large spec they run on
        // both cores, the one free first starting on them.
        let ((), checks, lints) =
            beside_lints(large, &spec, || (), || self.rules_and_checks(&spec));
        self.report_checks(lints, checks);
        Some(spec)
    }

    /// The cycles between resources, then those of an attribute made from itself.
    fn cycles(mut self, spec: &Spec) -> Diagnostics {
        self.check_cycles(spec);
        // A value made from itself is reported beside other errors (a dangling reference
        // elsewhere resolves to nothing here), but not again for a cycle already reported.
        if !self
            .diags
            .0
            .iter()
            .any(|d| d.code == Code::SpecReferenceCycle)
        {
            self.check_attribute_cycles(spec);
        }
        self.diags
    }

    /// The kinds' rules and the checks on the spec once switched: names given twice, each
    /// block's rules and policy sizes, then, if none of that found an error, the checks across
    /// resources (before AWS is read only variables are known; checks needing more wait for
    /// plan).
    fn rules_and_checks(&mut self, spec: &Spec) -> Option<Diagnostics> {
        let stand_in_account = crate::state::Account {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            caller_arn: String::new(),
            caller_role_arn: None,
        };
        let stand_ins = crate::spec::resolve::Resolver::new(spec, &stand_in_account, None);
        let lookup = |r: &Reference| stand_ins.lookup(r);
        let checker = rules::Checker::with_stand_ins(&spec.vars, &lookup);
        self.diags
            .extend(Diagnostics(crate::spec::kinds::named_twice(
                &spec.resources,
                &stand_ins,
                Code::SpecDuplicateName,
            )));
        for resource in spec.resources.values() {
            resource.body.check(&checker, &mut self.diags);
            self.check_policy_sizes(resource);
        }
        (!self.diags.has_errors()).then(|| {
            crate::spec::checks::check(spec, |r| match r {
                Reference::Var(v) => spec.vars.get(v).and_then(Var::known),
                _ => None,
            })
        })
    }

    /// The lints and the checks across resources, reported only when the rules found no
    /// error (`checks` is then `Some`).
    fn report_checks(&mut self, lints: Diagnostics, checks: Option<Diagnostics>) {
        if let Some(checks) = checks {
            self.diags.extend(lints);
            self.drop_placeholders_reported_as_errors();
            self.diags.extend(checks);
        }
    }

    /// A placeholder that an error already names (a principal or resource that is no ARN,
    /// P008) is not reported again as a warning at the same place: the error's hint says what
    /// the warning would have (which reference to write instead).
    fn drop_placeholders_reported_as_errors(&mut self) {
        let overlaps = |a: &Location, b: &Location| {
            Arc::ptr_eq(&a.file, &b.file) && a.span.start < b.span.end && b.span.start < a.span.end
        };
        let mut merged = Vec::new();
        for (w, warning) in self.diags.0.iter().enumerate() {
            let Some(at) = warning.location.as_ref() else {
                continue;
            };
            if warning.warning_code != Some(WarningCode::Placeholder) {
                continue;
            }
            let error = self.diags.0.iter().position(|d| {
                d.is_error()
                    && d.message.contains("placeholder")
                    && d.location.as_ref().is_some_and(|l| overlaps(l, at))
            });
            if let Some(e) = error {
                merged.push((w, e));
            }
        }
        for &(w, e) in &merged {
            let said = format!(
                "{}: {}",
                self.diags.0[w].message,
                self.diags.0[w].hint.clone().unwrap_or_default()
            );
            let error = &mut self.diags.0[e];
            error.hint = Some(match error.hint.take() {
                Some(hint) => format!("{said}; {hint}"),
                None => said,
            });
        }
        let mut index = 0;
        self.diags.0.retain(|_| {
            index += 1;
            !merged.iter().any(|(w, _)| *w == index - 1)
        });
    }

    fn switch(&mut self, spec: Spec) -> Spec {
        let checker = rules::Checker::with_stand_ins(&spec.vars, &|_| None);
        for resource in spec.resources.values() {
            for when in &resource.when {
                let what = format!("[{}]", resource.address);
                crate::spec::switch::check_when(&what, when, &checker, &mut self.diags);
            }
        }
        crate::spec::switch::switch_off(spec, &mut self.diags)
    }

    /// Deserializes one TOML value, turning a serde error into a located diagnostic.
    ///
    /// serde stops at the first error. To report every unknown field of a table in one run,
    /// the setting an error points at is taken out of a copy of the value and the copy read
    /// again, until it reads or [`MAX_ERRORS_PER_VALUE`] errors are reported. After any error
    /// other than an unknown field, only unknown fields and values of the wrong type are
    /// reported (`existing = "yes"` does not hide `visibility_timeout = "thirty"`): the copy
    /// lacks what was taken out, and an error that follows from that (a required field now
    /// missing) is not the author's. Nor is a missing field that an unknown one was taken for
    /// (`nmae`, "did you mean `name`?"): that is one mistake, reported once.
    pub(crate) fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: toml::Spanned<DeValue<'_>>,
    ) -> Option<T> {
        self.deserialize_reporting(Some(value), None)
    }

    /// A resource block read as [`Loader::deserialize`] reads a value, but without copying
    /// it first: blocks are most of a spec, and most have no error. A block that has one is
    /// parsed again from the spec's text to be read as `deserialize` reads it, every error
    /// reported; the loader then copies the blocks it reads, so that a spec of many wrong
    /// blocks is parsed again once per loader, not once per block.
    pub(crate) fn deserialize_block<T: for<'de> Deserialize<'de>>(
        &mut self,
        block: BlockValue<'_, '_>,
    ) -> Option<T> {
        if self.copy_blocks {
            return self.deserialize(block.value);
        }
        let span = block.span();
        let first = match T::deserialize(ValueDeserializer::from(block.value)) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        self.copy_blocks = true;
        let file = Arc::clone(&self.file);
        match block_again(&file.text, block.address).filter(|again| again.span() == span) {
            Some(again) => self.deserialize_reporting(Some(again), None),
            // Not found again (it always is): its first error is reported.
            None => self.deserialize_reporting::<T>(None, Some(first)),
        }
    }

    /// [`Loader::deserialize`]'s reading: `first` is an error already found in `value`, or
    /// in a value that is not there to read again.
    fn deserialize_reporting<T: for<'de> Deserialize<'de>>(
        &mut self,
        mut value: Option<toml::Spanned<DeValue<'_>>>,
        mut first: Option<toml::de::Error>,
    ) -> Option<T> {
        let (mut errors, mut only_unknown) = (0, false);
        let mut suggested: Vec<String> = Vec::new();
        loop {
            let e = match first.take() {
                Some(e) => e,
                None => match T::deserialize(ValueDeserializer::from(value.clone()?)) {
                    Ok(v) => return (errors == 0).then_some(v),
                    Err(e) => e,
                },
            };
            let message = with_block_fields(in_toml_terms(e.message().trim()));
            let Explained {
                code,
                hint,
                suggested: near,
                missing,
            } = explain_serde_error(&message);
            if only_unknown && code != UNKNOWN_FIELD && code != Code::SpecType {
                return None;
            }
            let span = e.span().unwrap_or(0..0);
            if missing.is_some_and(|field| suggested.iter().any(|s| s == field)) {
                // Reported as the unknown field's "did you mean"; look on for other unknown ones.
                only_unknown = true;
            } else {
                suggested.extend(near.map(str::to_string));
                let d = self.err(code, message, span.clone());
                d.hint = hint;
            }
            errors += 1;
            only_unknown |= code != UNKNOWN_FIELD;
            let removed = value
                .as_mut()
                .is_some_and(|v| remove_setting_at(v.get_mut(), &span));
            if errors == MAX_ERRORS_PER_VALUE || !removed {
                return None;
            }
        }
    }

    fn vars(&mut self, value: toml::Spanned<DeValue<'_>>) -> BTreeMap<String, Var> {
        let mut out = BTreeMap::new();
        for (name, value) in self.string_table(value, "vars") {
            // A default that is one fact about the account (`${aws.caller_arn}`) is allowed.
            if crate::policy::pattern::find_open(value.get_ref()).is_some()
                && template::AwsFact::of_var(value.get_ref()).is_none()
            {
                self.err(
                    Code::SpecVarReference,
                    format!("variable `{name}` contains a reference"),
                    value.span(),
                )
                .set_hint(
                    "variables are plain values, or one fact about the account (`${aws.caller_arn}`); put other references where the variable is used",
                );
            }
            out.insert(
                name,
                Var {
                    value: value.get_ref().clone(),
                    location: Some(Location::new(&self.file, value.span())),
                },
            );
        }
        out
    }

    /// A table of scalars, each turned into its string form.
    pub(super) fn string_table(
        &mut self,
        value: toml::Spanned<DeValue<'_>>,
        what: &str,
    ) -> Vec<(String, Located<String>)> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.err(Code::SpecType, format!("`{what}` must be a table"), span)
                .set_hint(format!("write [{what}] followed by NAME = value lines"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in table {
            let vspan = v.span();
            let text = match v.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i.as_str().to_string(),
                DeValue::Float(f) => f.as_str().to_string(),
                DeValue::Boolean(b) => b.to_string(),
                other => {
                    self.err(
                        Code::SpecType,
                        format!(
                            "`{what}.{}` must be a string, number or boolean, not {}",
                            k.get_ref(),
                            with_article(other.type_str())
                        ),
                        vspan,
                    )
                    .set_hint("write one value: a string (which may hold ${...} references), a number or a boolean");
                    continue;
                }
            };
            out.push((k.get_ref().to_string(), Located::new(vspan, text)));
        }
        out.sort_by_key(|(_, v)| v.span().start);
        out
    }

    /// The blocks of one kind's table (`[role.NAME]`, ...), in the order they are written.
    fn resource_blocks<'i>(
        &mut self,
        kind: Kind,
        value: toml::Spanned<DeValue<'i>>,
        out: &mut Vec<Block<'i>>,
    ) {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.err(
                Code::SpecType,
                format!("`{kind}` must be a table of resources, as in [{kind}.NAME]"),
                span,
            )
            .set_hint(format!(
                "write each {kind} as a table of its own: [{kind}.NAME] followed by its fields"
            ));
            return;
        };
        let mut entries: Vec<_> = table.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        out.extend(
            entries
                .into_iter()
                .map(|(name, body)| Block { kind, name, body }),
        );
    }

    /// Loads every resource block into the spec's map. A large spec's blocks are loaded on
    /// every core, in runs of consecutive blocks that loaders of their own take as they are
    /// free; what each run found (diagnostics, the files it read first) is then joined in the
    /// runs' order, and the loaders' caches: the result is the one a single loader would give
    /// (diagnostics are sorted by position at the end, and a shared policy file's, reported by
    /// each loader that read it, are kept once).
    fn resources(
        &mut self,
        blocks: Vec<Block<'_>>,
    ) -> (BTreeMap<Address, Resource>, BTreeSet<Address>) {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(blocks.len() / BLOCKS_PER_WORKER)
            .max(1);
        let mut broken = BTreeSet::new();
        if workers == 1 {
            let mut out = BTreeMap::new();
            for block in blocks {
                self.resource(block, &mut out, &mut broken);
            }
            return (out, broken);
        }
        // Runs of consecutive blocks, handed to whichever worker is free: a spec's blocks come
        // kind by kind, and a role with its policies is many times the work of a queue, so
        // shares fixed in advance finished apart (one core waited a tenth of the load).
        let mut blocks = blocks.into_iter();
        let runs: Vec<Mutex<Vec<Block>>> = std::iter::from_fn(|| {
            let run: Vec<Block> = blocks.by_ref().take(BLOCKS_PER_RUN).collect();
            (!run.is_empty()).then(|| Mutex::new(run))
        })
        .collect();
        // Each run in a cell of its own, the cells handed out one at a time.
        let next = AtomicUsize::new(0);
        let take = || Runs::new(&runs, &next, 1);
        let loaded: Vec<(Loader, Vec<RunLoaded>)> = std::thread::scope(|scope| {
            let others: Vec<_> = (1..workers)
                .map(|_| {
                    let worker = self.worker();
                    std::thread::Builder::new()
                        .name("plinth-load".into())
                        .spawn_scoped(scope, || worker.load_runs(take()))
                        .expect("start a thread to load the spec")
                })
                .collect();
            let mut all = vec![self.worker().load_runs(take())];
            all.extend(others.into_iter().map(|h| match h.join() {
                Ok(loaded) => loaded,
                Err(panic) => std::panic::resume_unwind(panic),
            }));
            all
        });
        // What each run found, in the spec's order: its diagnostics, and the files first read
        // in it (a file several runs read is recorded by the first of them).
        let mut runs: Vec<RunLoaded> = Vec::with_capacity(runs.len());
        for (worker, loaded) in loaded {
            self.zipped.extend(worker.zipped);
            self.policy_files.extend(worker.policy_files);
            runs.extend(loaded);
        }
        runs.sort_unstable_by_key(|run| run.index);
        let before = self.diags.0.len();
        // The resources built into one map at once: merging each run's map into the others'
        // rebuilds the whole map every time.
        let mut resources = Vec::with_capacity(runs.iter().map(|r| r.resources.len()).sum());
        for run in runs {
            self.diags.extend(run.diags);
            for input in run.inputs {
                if !self.inputs.iter().any(|i| i.path == input.path) {
                    self.inputs.push(input);
                }
            }
            resources.extend(run.resources);
            broken.extend(run.broken);
        }
        // Built at once (sorted, then filled in order), not inserted one by one.
        let out = resources.into_iter().collect();
        // A policy file that blocks of several workers share was read, and reported on, by each.
        let mut seen = BTreeSet::new();
        let mut index = 0;
        self.diags.0.retain(|d| {
            index += 1;
            let from_file = d
                .location
                .as_ref()
                .is_some_and(|l| !Arc::ptr_eq(&l.file, &self.file));
            index <= before || !from_file || seen.insert(d.render(false))
        });
        (out, broken)
    }

    /// A loader for some of the spec's blocks, with the same file and directory and caches
    /// of its own.
    fn worker(&self) -> Loader {
        Loader {
            file: Arc::clone(&self.file),
            dir: self.dir.clone(),
            diags: Diagnostics::default(),
            inputs: Vec::new(),
            zipped: self.zipped.clone(),
            policy_files: self.policy_files.clone(),
            copy_blocks: false,
        }
    }

    /// Loads the runs of blocks it is handed (one at a time, each taken out of its cell) until
    /// none is left; what each run found is kept apart, and the loader keeps only its caches.
    fn load_runs(mut self, cells: Runs<'_, Mutex<Vec<Block<'_>>>>) -> (Loader, Vec<RunLoaded>) {
        let mut runs = Vec::new();
        for (start, taken) in cells {
            for (index, cell) in (start..).zip(taken) {
                let blocks =
                    std::mem::take(&mut *cell.lock().unwrap_or_else(PoisonError::into_inner));
                let (mut resources, mut broken) = (BTreeMap::new(), BTreeSet::new());
                for block in blocks {
                    self.resource(block, &mut resources, &mut broken);
                }
                runs.push(RunLoaded {
                    index,
                    diags: std::mem::take(&mut self.diags),
                    inputs: std::mem::take(&mut self.inputs),
                    resources,
                    broken,
                });
            }
        }
        (self, runs)
    }

    fn resource(
        &mut self,
        Block { kind, name, body }: Block<'_>,
        out: &mut BTreeMap<Address, Resource>,
        broken: &mut BTreeSet<Address>,
    ) {
        let address = Address::new(kind, name.get_ref().as_ref());
        if let Err(msg) = rules::logical_name(&address.name) {
            self.err(Code::SpecInvalidName, msg, name.span())
                .set_hint("a resource's logical name is letters, digits, `-` and `_`");
        }
        let span = body.span();
        let location = Location::new(&self.file, span.clone());
        let type_name = body.get_ref().type_str();
        let DeValue::Table(table) = body.into_inner() else {
            self.err(
                Code::SpecType,
                format!(
                    "`{address}` must be a table, not {}",
                    with_article(type_name)
                ),
                span,
            )
            .set_hint(format!(
                "write the resource as a table: [{address}] followed by its fields"
            ));
            return;
        };
        let (table, silenced) = self.take_silences(table);
        let (table, switches) = crate::spec::switch::take(self, table);
        if let Some(release) = switches.release.as_ref().filter(|r| *r.get_ref()) {
            if !crate::spec::switch::RELEASABLE.contains(&kind) {
                self.err(
                    Code::SpecInvalidValue,
                    format!("plinth cannot release a {kind} yet"),
                    release.span(),
                )
                .set_hint("release is supported on roles, keys, queues and buckets; remove the stack's plinth:stack and plinth:address tags by hand");
            }
        }
        let body = BlockValue {
            address: &address,
            value: toml::Spanned::new(span, DeValue::Table(table)),
        };
        let resource = crate::spec::kinds::load(kind, self, body).map(|(body, options)| Resource {
            address: address.clone(),
            location,
            adopt: options.adopt,
            prevent_destroy: options.prevent_destroy,
            silenced,
            when: switches.when,
            release: switches.release.is_some_and(|r| *r.get_ref()),
            body,
        });
        // Straight into the spec's map: collecting a map of every resource again (a
        // resource is about a kilobyte) made the peak of loading a large spec.
        match resource {
            Some(resource) => {
                out.insert(address, resource);
            }
            None => {
                broken.insert(address);
            }
        }
    }

    /// `silence` is common to every kind: it is taken out of the resource's table before the
    /// kind reads the rest.
    fn take_silences<'i>(&mut self, mut table: DeTable<'i>) -> (DeTable<'i>, Vec<Silence>) {
        let Some(value) = take_key(&mut table, SILENCE) else {
            return (table, Vec::new());
        };
        let silences: Vec<Located<Silence>> = self.deserialize(value).unwrap_or_default();
        let known: Vec<&str> = crate::policy::LINT_RULES
            .iter()
            .map(|r| r.code.as_str())
            .collect();
        let mut out = Vec::new();
        for s in silences {
            let rule = crate::policy::LINT_RULES
                .iter()
                .find(|r| r.code.as_str() == s.get_ref().lint);
            match rule {
                None => {
                    self.err(
                        Code::SpecUnknownLint,
                        format!("`{}` is not a policy lint", s.get_ref().lint),
                        s.span(),
                    )
                    .set_hint(format!("the lints are {}", known.join(", ")));
                }
                Some(rule) if rule.code.refused_by_aws() => {
                    self.err(
                        Code::SpecInvalidValue,
                        format!("`{}` cannot be silenced: {}", rule.code, rule.summary),
                        s.span(),
                    )
                    .set_hint(
                        "fix the statement: AWS refuses the document as it is, silenced or not",
                    );
                }
                Some(_) => {}
            }
            out.push(s.into_inner());
        }
        (table, out)
    }

    /// A path the spec names, relative to the spec's directory.
    pub(crate) fn local_path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// Records a file (or an archive made from a directory) that the spec is made of, once
    /// however many resources name it.
    pub(crate) fn record_input(&mut self, path: &Path, bytes: &[u8]) {
        let path = path.display().to_string();
        if !self.inputs.iter().any(|i| i.path == path) {
            self.inputs.push(InputFile {
                path,
                sha256: sha256_hex(bytes),
            });
        }
    }

    /// The archive of a code directory, zipped on first use.
    pub(crate) fn zip_directory(&mut self, path: &Path) -> Result<Arc<[u8]>, String> {
        self.zipped
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                crate::archive::zip_directory(path)
                    .map(Arc::from)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    pub(crate) fn location(&self, span: Range<usize>) -> Location {
        Location::new(&self.file, span)
    }

    /// User tags of a resource of `kind`: keys checked against AWS's rules, values as
    /// templates.
    pub(crate) fn tags(
        &mut self,
        kind: Kind,
        tags: &BTreeMap<Located<String>, Located<String>>,
    ) -> BTreeMap<String, Text> {
        let mut out = BTreeMap::new();
        // IAM's tag keys are case-insensitive: `Team` and `team` are one tag to it.
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (key, value) in tags {
            if let Err(msg) = rules::tag_key(key.get_ref()) {
                self.err(Code::SpecInvalidTag, msg, key.span())
                    .set_hint(format!(
                        "a tag key is 1 to 128 {}, and does not start with `aws:` or `plinth:`",
                        rules::TAG_CHARACTERS
                    ));
            }
            if kind.arn_format().service == "iam" {
                let folded = key.get_ref().to_lowercase();
                if let Some(first) = seen.get(&folded) {
                    let message = format!(
                        "tag keys `{first}` and `{}` differ only in case, and IAM takes them as one key",
                        key.get_ref()
                    );
                    self.err(Code::SpecInvalidTag, message, key.span())
                        .set_hint("keep one of them");
                } else {
                    seen.insert(folded, key.get_ref());
                }
            }
            out.insert(key.get_ref().clone(), self.text_or_stand_in(value));
        }
        if tags.len() > rules::MAX_USER_TAGS {
            let span = tags.keys().nth(rules::MAX_USER_TAGS).map(|k| k.span());
            self.err(
                Code::SpecInvalidTag,
                format!(
                    "{} tags on one {kind}: AWS allows 50 on a resource, and plinth sets two of its own (plinth:stack, plinth:address)",
                    tags.len()
                ),
                span.unwrap_or_default(),
            )
            .set_hint(format!(
                "set at most {} tags on it",
                rules::MAX_USER_TAGS
            ));
        }
        out
    }

    /// A string value found inside `within` (a table whose inner spans TOML did not keep),
    /// located at its quoted occurrence so diagnostics point at it; at `within` if not found.
    /// A table written as a `[header]` spans only its header: its body runs to the next one.
    pub(crate) fn string_within(&self, within: Range<usize>, value: String) -> Located<String> {
        let source = &self.file.text;
        let end = match source.get(within.clone()) {
            Some(t) if t.starts_with('[') => source[within.end..]
                .find("\n[")
                .map_or(source.len(), |i| within.end + i),
            _ => within.end,
        };
        let text = source.get(within.start..end).unwrap_or_default();
        let found = ['"', '\''].iter().find_map(|q| {
            text.find(&format!("{q}{value}{q}"))
                .map(|i| within.start + i..within.start + i + value.len() + 2)
        });
        Located::new(found.unwrap_or(within), value)
    }

    /// A spec string; one that fails to load is reported and replaced by a stand-in, so the
    /// checks on the other fields still run (the spec as a whole is rejected anyway).
    pub(crate) fn text_or_stand_in(&mut self, s: &Located<String>) -> Text {
        self.text(s).unwrap_or_else(|| Text {
            raw: s.get_ref().clone(),
            pieces: Vec::new(),
            location: Location::new(&self.file, s.span()),
        })
    }

    pub(crate) fn policy_or_stand_in(&mut self, value: Located<PolicyValue>) -> PolicyTemplate {
        let span = value.span();
        self.policy(value).unwrap_or_else(|| PolicyTemplate {
            json: None,
            size: 0,
            templated: Vec::new(),
            location: Location::new(&self.file, span),
            parsed: None,
            outside_latin1: None,
        })
    }

    /// A spec string, with its references parsed.
    fn text(&mut self, s: &Located<String>) -> Option<Text> {
        let span = s.span();
        let content = string_content_start(&self.file.text, span.clone());
        match template::parse(s.get_ref()) {
            Ok(pieces) => {
                self.warn_placeholder(s.get_ref(), content, span.clone());
                Some(Text {
                    raw: s.get_ref().clone(),
                    pieces,
                    location: Location::new(&self.file, span),
                })
            }
            Err(e) => {
                let at = content.map_or(span, |c| c + e.span.start..c + e.span.end);
                let d = self.err(Code::SpecReference, e.message, at);
                d.hint = e.hint;
                None
            }
        }
    }

    /// Setup pages are full of placeholders like `<aws account id>`; one left in a spec is
    /// almost always a value the user forgot to fill in.
    fn warn_placeholder(&mut self, s: &str, content: Option<usize>, span: Range<usize>) {
        if let Some(start) = s.find('<') {
            if let Some(len) = s[start..].find('>') {
                let inner = &s[start + 1..start + len];
                if !inner.is_empty()
                    && inner
                        .chars()
                        .all(|c| c.is_alphanumeric() || " _-".contains(c))
                {
                    let at = content.map_or(span, |c| c + start..c + start + len + 1);
                    self.diags.push(
                        Diagnostic::warning(
                            WarningCode::Placeholder,
                            format!(
                                "`<{inner}>` looks like a placeholder that was never filled in"
                            ),
                        )
                        .at(&self.file, at)
                        .hint("use a reference such as `${aws.account_id}` or `${var.NAME}`"),
                    );
                }
            }
        }
    }

    fn check_references(&mut self, spec: &Spec, broken: &BTreeSet<Address>) {
        let mut texts: Vec<(&Reference, &Location)> = Vec::new();
        for r in spec.resources.values() {
            texts.extend(r.references());
        }
        for t in spec.outputs.values() {
            texts.extend(t.references().map(|r| (r, &t.location)));
        }
        for (reference, location) in texts {
            let problem = match reference {
                Reference::Var(name) if !spec.vars.contains_key(name) => {
                    let known: Vec<&str> = spec.vars.keys().map(String::as_str).collect();
                    Some((
                        format!("`${{var.{name}}}` names no variable"),
                        did_you_mean(name, &known).unwrap_or_else(|| "declare it in [vars]".into()),
                    ))
                }
                Reference::Resource { address, .. } if broken.contains(address) => None,
                Reference::Resource { address, attribute } => {
                    if !spec.resources.contains_key(address) {
                        let known: Vec<String> =
                            spec.resources.keys().map(Address::to_string).collect();
                        let known: Vec<&str> = known.iter().map(String::as_str).collect();
                        Some((
                            format!("`${{{address}.{attribute}}}` refers to `{address}`, which this spec does not declare"),
                            did_you_mean(&address.to_string(), &known)
                                .unwrap_or_else(|| format!("declare [{address}], or fix the name")),
                        ))
                    } else if !address
                        .kind
                        .exported_attributes()
                        .contains(&attribute.as_str())
                    {
                        Some((
                            format!("a {} has no attribute `{attribute}`", address.kind),
                            format!(
                                "a {} exports: {}",
                                address.kind,
                                address.kind.exported_attributes().join(", ")
                            ),
                        ))
                    } else if !spec.resources[address].body.declares_export(attribute) {
                        Some((
                            format!("`${{{address}.{attribute}}}` refers to a setting that [{address}] leaves out"),
                            format!("set `{attribute}` in [{address}]: a setting the spec leaves out is unmanaged, so plinth has no value to give"),
                        ))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some((message, hint)) = problem {
                let at = find_in(location, &reference_text(reference));
                self.diags.push(
                    Diagnostic::error(Code::SpecDanglingReference, message)
                        .at_location(Some(at))
                        .hint(hint),
                );
            }
        }
    }

    /// Resources that reference each other in a circle can never be created in order.
    fn check_cycles(&mut self, spec: &Spec) {
        let edges: BTreeMap<&Address, BTreeSet<&Address>> = spec
            .resources
            .iter()
            .map(|(a, r)| {
                let deps = r
                    .dependencies()
                    .into_iter()
                    .map(|(address, _)| address)
                    .filter(|address| spec.resources.contains_key(*address))
                    .collect();
                (a, deps)
            })
            .collect();
        for cycle in crate::graph::cycles(&edges) {
            let first = cycle[0];
            let next = cycle[1 % cycle.len()];
            let resource = &spec.resources[first];
            let location = resource
                .references()
                .into_iter()
                .find(|(r, _)| matches!(r, Reference::Resource { address, .. } if address == next))
                .map(|(r, l)| find_in(l, &reference_text(r)))
                .unwrap_or_else(|| resource.location.clone());
            let path: Vec<String> = cycle
                .iter()
                .chain(std::iter::once(&first))
                .map(|a| a.to_string())
                .collect();
            self.diags.push(
                Diagnostic::error(Code::SpecReferenceCycle, format!("reference cycle: {}", path.join(" → ")))
                    .at_location(Some(location))
                    .hint("resources in a cycle can never be created in order; break the cycle by writing one ARN out in full"),
            );
        }
    }
}

impl Loader {
    /// A resource's attribute made from itself (`name = "${role.r.name}-x"` in `[role.r]`, or
    /// its `arn`, which is made from its name) has no value. The resource-level cycle check
    /// leaves out a resource's references to itself, since most of them are fine (a queue
    /// policy naming the queue's own ARN); this one asks the resolver, which follows the
    /// references attribute by attribute and records the export it was asked for again while
    /// computing it.
    fn check_attribute_cycles(&mut self, spec: &Spec) {
        let account = crate::state::Account::unknown("");
        let resolver = crate::spec::resolve::Resolver::new(spec, &account, None);
        let mut reported = 0;
        // References to the resource itself first, so a cycle is shown where it closes; the
        // others after them (each resource's references are found once).
        let (mut own, mut to_others) = (Vec::new(), Vec::new());
        for resource in spec.resources.values() {
            for (reference, location) in resource.references() {
                if let Reference::Resource { address, .. } = reference {
                    let list = if *address == resource.address {
                        &mut own
                    } else {
                        &mut to_others
                    };
                    list.push((resource, reference, location));
                }
            }
        }
        for (resource, reference, location) in own.into_iter().chain(to_others) {
            resolver.lookup(reference);
            let cycles = resolver.cycles();
            let Some((address, attribute)) = cycles.get(reported) else {
                continue;
            };
            reported = cycles.len();
            let text = reference_text(reference);
            self.diags.push(
                Diagnostic::error(
                    Code::SpecReferenceCycle,
                    format!(
                        "reference cycle: `{text}` in [{}] needs `{address}.{attribute}`, which is made from this reference",
                        resource.address
                    ),
                )
                .at_location(Some(find_in(location, &text)))
                .hint(format!(
                    "`{address}.{attribute}` cannot be made from itself; write the value out, or use a variable"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_start_skips_delimiters_and_first_newline() {
        let src = "a = '''\n{x}'''\nb = \"q\"";
        let a = src.find("'''").unwrap();
        assert_eq!(string_content_start(src, a..a + 13), Some(a + 4));
        let b = src.find("\"q\"").unwrap();
        assert_eq!(string_content_start(src, b..b + 3), Some(b + 1));
        let esc = "c = \"a\\nb\"";
        assert_eq!(string_content_start(esc, 4..10), None);
    }

    #[test]
    fn json_offsets_follow_lines() {
        let text = "{\n  \"a\": x\n}";
        assert_eq!(
            &text[json_offset(text, 2, 8)..json_offset(text, 2, 8) + 1],
            "x"
        );
    }

    #[test]
    fn serde_messages_name_no_rust_type() {
        let said =
            in_toml_terms("invalid type: integer `99999999999999999999` as i128, expected i64");
        assert_eq!(
            said,
            "the number 99999999999999999999 is too large: whole numbers here are at most 9223372036854775807"
        );
        for rust in ["i128", "i64", "u32", "u64", "f64"] {
            let said = in_toml_terms(&format!("invalid type: string \"x\", expected {rust}"));
            assert!(!said.contains(rust), "{said}");
        }
    }

    /// A spec of more blocks than one core loads is loaded on several, each a run of blocks:
    /// what comes out is what one loader finds. Every block's error is reported, a file that
    /// blocks of every run share is reported on once, and recorded once among the inputs.
    #[test]
    fn a_large_spec_loaded_on_several_cores_reports_what_one_loader_would() {
        let roles = 4 * BLOCKS_PER_WORKER;
        let role = |i: usize, trust: &str| {
            format!("\n[role.r{i}]\nname = \"r{i}\"\ntrust = {{ file = \"{trust}\" }}\n")
        };
        let spec_of = |trust: &dyn Fn(usize) -> &'static str| {
            (0..roles).fold("[stack]\nname = \"large\"\n".to_string(), |text, i| {
                text + &role(i, trust(i))
            })
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.json"), "{ \"Statement\": [ }").unwrap();
        let trust = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;
        std::fs::write(dir.path().join("trust.json"), trust).unwrap();
        let path = dir.path().join("plinth.toml");

        // The first and last blocks name a file that does not exist; the others share one that
        // does not parse.
        let edges = move |i: usize| {
            if i == 0 || i == roles - 1 {
                "missing.json"
            } else {
                "broken.json"
            }
        };
        std::fs::write(&path, spec_of(&edges)).unwrap();
        let errors = load(&path, &LoadOptions::default())
            .expect_err("errors")
            .render(false);
        assert_eq!(
            errors.matches("policy is not valid JSON").count(),
            1,
            "{errors}"
        );
        assert_eq!(errors.matches("cannot read `").count(), 2, "{errors}");
        let first = errors
            .find("plinth.toml:6:")
            .expect("the first block's error");
        let last = errors
            .find(&format!("plinth.toml:{}:", 4 * roles + 2))
            .expect("the last block's error");
        assert!(first < last, "sorted by position: {errors}");

        std::fs::write(&path, spec_of(&|_| "trust.json")).unwrap();
        let spec = load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(spec.resources.len(), roles);
        let inputs: Vec<_> = spec.inputs.iter().map(|i| &i.path).collect();
        assert_eq!(
            inputs.len(),
            2,
            "the spec and the trust file once: {inputs:?}"
        );
        assert!(inputs[1].ends_with("trust.json"), "{inputs:?}");

        // Files first read far apart, by whichever loader took their blocks, are listed in
        // the order one loader reads them.
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("t{i}.json")), trust).unwrap();
        }
        let files = ["t0.json", "t1.json", "t2.json", "t3.json", "t4.json"];
        std::fs::write(&path, spec_of(&|i| files[i * files.len() / roles])).unwrap();
        let spec = load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
        let inputs: Vec<&str> = spec.inputs[1..]
            .iter()
            .map(|i| &i.path[i.path.len() - 7..])
            .collect();
        assert_eq!(inputs, files);

        // The spec's own digest, taken beside the loading from DIGEST_ASIDE_BYTES on.
        for padding in [0, DIGEST_ASIDE_BYTES] {
            let text = format!("{}# {}\n", spec_of(&|_| "trust.json"), "x".repeat(padding));
            std::fs::write(&path, &text).unwrap();
            let spec = load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
            assert_eq!(
                spec.inputs[0].sha256,
                sha256_hex(text.as_bytes()),
                "{padding}"
            );
        }
    }

    /// A large spec that switches nothing is checked on two cores at once, cycles and lints
    /// beside references, rules and the checks across resources; what it reports is what the
    /// one-after-the-other order (which a spec with a `when` takes) reports: errors of every
    /// step, the lints and the checks across resources only without one.
    #[test]
    fn a_large_spec_checked_on_two_cores_reports_what_one_order_would() {
        let filler = |line: &str| {
            (0..BLOCKS_PER_WORKER).fold(String::new(), |text, i| {
                text + &format!(
                    "\n[role.r{i}]\nname = \"r{i}\"\n{line}\ntrust = {{ file = \"lambda.json\" }}\n"
                )
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let trust = |service: &str| {
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
                "Principal": {{"Service": "{service}"}}, "Action": "sts:AssumeRole"}}]}}"#
            )
        };
        std::fs::write(
            dir.path().join("lambda.json"),
            trust("lambda.amazonaws.com"),
        )
        .unwrap();
        std::fs::write(dir.path().join("ec2.json"), trust("ec2.amazonaws.com")).unwrap();
        let path = dir.path().join("plinth.toml");
        let outcome = |text: &str| {
            std::fs::write(&path, text).unwrap();
            match load(&path, &LoadOptions::default()) {
                Ok(spec) => format!("ok\n{}", spec.warnings.render(false)),
                Err(errors) => format!("errors\n{}", errors.render(false)),
            }
        };
        // A lint (write actions on every resource), a check across resources (a function whose
        // role Lambda cannot assume), a cycle between two roles, a dangling reference.
        let lint = r#"
[role.wide]
name = "wide"
trust = { file = "lambda.json" }
[role.wide.policies.all]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = "s3:PutObject", Resource = "*" }]
"#;
        let check = r#"
[role.ec2]
name = "ec2"
trust = { file = "ec2.json" }
[function.f]
name = "f"
role = "${role.ec2.arn}"
runtime = "python3.12"
handler = "main.handler"
code = { s3_bucket = "code", s3_key = "f.zip" }
"#;
        let cycle = r#"
[role.a]
name = "a"
description = "${role.b.arn}"
trust = { file = "lambda.json" }
[role.b]
name = "b"
description = "${role.a.arn}"
trust = { file = "lambda.json" }
"#;
        let dangling =
            "\n[role.d]\nname = \"${role.nowhere.name}\"\ntrust = { file = \"lambda.json\" }\n";
        let head = "[stack]\nname = \"large\"\n[vars]\non = \"true\"\n";
        for (case, parts) in [
            ("a lint", vec![lint]),
            ("a lint and a check", vec![lint, check]),
            ("a cycle", vec![lint, check, cycle]),
            ("a dangling reference", vec![lint, check, dangling]),
            ("a lint in every block", vec![lint]),
        ] {
            // Linted in runs by both cores: every block's lint is reported once.
            let wide = "\npolicies.all = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:PutObject\", Resource = \"*\" }] }";
            let each = if case == "a lint in every block" {
                wide
            } else {
                ""
            };
            let text = |line: &str| {
                format!(
                    "{head}{}{}",
                    parts.concat(),
                    filler(&format!("{line}{each}"))
                )
            };
            // One line each: the same positions in both.
            let two_cores = outcome(&text("description = \"filler\""));
            let one_order = outcome(&text("when = \"${var.on}\""));
            // What was found where, in order (the source shown beside a finding in a filler
            // block is the line that differs).
            let findings = |out: &str| -> Vec<String> {
                (out.lines())
                    .filter(|l| l.contains('⚠') || l.contains('×') || l.contains("─["))
                    .map(str::to_string)
                    .collect()
            };
            assert_eq!(findings(&two_cores), findings(&one_order), "{case}");
            if case != "a lint in every block" {
                assert_eq!(two_cores, one_order, "{case}");
            }
            let expected: &[&str] = match case {
                "a lint" | "a lint in every block" => &["ok", "P001"],
                "a lint and a check" => &["errors", "P001", "check::function-role-trust"],
                "a cycle" => &["errors", "reference cycle"],
                _ => &["errors", "does not declare"],
            };
            for what in expected {
                assert!(two_cores.contains(what), "{case}: {what} in {two_cores}");
            }
            let lints = two_cores.matches("[P001]").count();
            if case == "a lint in every block" {
                assert_eq!(
                    lints,
                    BLOCKS_PER_WORKER + 1,
                    "{case}: every block's lint, once"
                );
            }
            if !case.starts_with("a lint") {
                // The lints and the checks across resources wait for a spec without errors.
                for held in ["P001", "check::function-role-trust"] {
                    assert!(!two_cores.contains(held), "{case}: no {held}: {two_cores}");
                }
            }
        }
    }

    /// A policy file several blocks share is linted once, and its lint still reported on every
    /// block that names it, except one that silences it.
    #[test]
    fn a_shared_policy_files_lint_is_reported_on_each_block_that_does_not_silence_it() {
        let dir = tempfile::tempdir().unwrap();
        let wide = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:PutObject", "Resource": "*"}]}"#;
        std::fs::write(dir.path().join("wide.json"), wide).unwrap();
        let trust = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#;
        std::fs::write(dir.path().join("trust.json"), trust).unwrap();
        let role = |name: &str, silence: bool| {
            let mut block = format!(
                "\n[role.{name}]\nname = \"{name}\"\ntrust = {{ file = \"trust.json\" }}\npolicies.wide = {{ file = \"wide.json\" }}\n"
            );
            if silence {
                block += &format!("[[role.{name}.silence]]\nlint = \"P001\"\npolicy = \"policies.wide\"\nreason = \"a test\"\n");
            }
            block
        };
        let text = ["a", "b", "c", "d"]
            .iter()
            .fold("[stack]\nname = \"shared\"\n".to_string(), |text, name| {
                text + &role(name, *name == "c")
            });
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, text).unwrap();
        let spec = load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{d}"));
        let lints: Vec<&str> = (spec.warnings.0.iter())
            .filter(|w| w.message.contains("[P001]") || w.message.contains("s3:PutObject"))
            .filter_map(|w| w.message.split(' ').next())
            .collect();
        assert_eq!(
            lints,
            ["role.a", "role.b", "role.d"],
            "{}",
            spec.warnings.render(false)
        );
    }

    #[test]
    fn a_policy_with_no_reference_is_held_once_and_still_read_as_written() {
        let (_dir, spec) = load_text(
            r#"[stack]
name = "held-once"

[queue.q]
name = "held-once-q"

[role.r]
name = "held-once-r"
trust = { Version = "2012-10-17", Statement = [{ Sid = "Lambda", Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }
policies.read = { Version = "2012-10-17", Statement = [{ Sid = "Read", Effect = "Allow", Action = "sqs:ReceiveMessage", Resource = "${queue.q.arn}" }] }
"#,
        );
        let role = &spec.resources[&crate::model::Address::try_from("role.r".to_string()).unwrap()];
        let documents = role.body.policy_documents();
        let find = |name: &str| {
            documents
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, t, _)| *t)
                .unwrap_or_else(|| panic!("no document {name} in {documents:?}"))
        };
        // No reference: only its parsed form is kept; its size was counted as written, at
        // load, and its Sids (which plinth owns a shared document's statements by) are read
        // from the parsed form.
        let trust = find("trust");
        assert!(trust.json.is_none() && trust.parsed.is_some());
        assert!(trust.present());
        let as_written = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Lambda", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert_eq!(trust.size, rules::policy_size::of(&as_written));
        assert_eq!(trust.sids(), vec![Some(serde_json::json!("Lambda"))]);
        // A reference is filled in by rewriting the document, so it is kept as written.
        let read = find("policies.read");
        assert!(read.json.is_some());
        assert_eq!(
            read.size,
            rules::policy_size::of(read.json.as_ref().unwrap())
        );
        assert_eq!(read.sids(), vec![Some(serde_json::json!("Read"))]);
    }

    /// Filled in before AWS is read (variables known, other references left as written), a
    /// document whose references are only in values is made from its parsed form; it is the
    /// document its JSON, so filled in, parses to. One with a reference outside a value (a
    /// condition's key) is made from its JSON.
    #[test]
    fn a_policy_filled_in_before_aws_is_read_is_what_its_json_makes() {
        let (_dir, spec) = load_text(
            r#"[stack]
name = "filled"

[vars]
org = "o-abc123"
tag = "team"

[queue.q]
name = "filled-q"

[role.r]
name = "filled-r"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::123456789012:root" }, Action = "sts:AssumeRole" }] }
policies.send = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "${queue.q.arn}", Condition = { StringEquals = { "aws:ResourceTag/${var.tag}" = "data" } } }] }
policies.read = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource = ["${queue.q.arn}", "arn:aws:sqs:*:*:${var.org}-*"], Condition = { StringEquals = { "aws:PrincipalOrgID" = "${var.org}" } } }] }
"#,
        );
        let role = &spec.resources[&crate::model::Address::try_from("role.r".to_string()).unwrap()];
        let lookup = |r: &Reference| match r {
            Reference::Var(v) => spec.vars.get(v).and_then(Var::known),
            _ => None,
        };
        let mut made = Vec::new();
        for (name, template, _) in role.body.policy_documents() {
            if let Some(held) = template.held_once() {
                assert!(Arc::ptr_eq(&template.with(lookup).unwrap(), held), "{name}");
                continue;
            }
            let json = crate::spec::substitute_strings(template.json.as_ref().unwrap(), &mut |s| {
                Some(match template.templated.iter().find(|(raw, _)| raw == s) {
                    Some((_, pieces)) => crate::spec::template::render_lenient(pieces, &lookup),
                    None => s.to_string(),
                })
            })
            .unwrap();
            let expected = crate::policy::PolicyDocument::from_value(&json).unwrap();
            let filled = template.with(lookup).unwrap();
            assert_eq!(*filled, expected, "{name}");
            made.push((name, template.parsed.is_some(), filled));
        }
        let [(_, parsed_read, read), (_, parsed_send, send)] = &made[..] else {
            panic!("two documents with references: {made:?}")
        };
        assert!(*parsed_read && !*parsed_send, "{made:?}");
        assert!(
            format!("{send:?}").contains("aws:ResourceTag/team"),
            "{send:?}"
        );
        let resources = format!("{:?}", read.statements()[0].resource);
        assert!(
            resources.contains("${queue.q.arn}") && resources.contains("o-abc123-*"),
            "{resources}"
        );
    }

    /// A policy file saved with a byte order mark (as Notepad and PowerShell save one) is read
    /// as the JSON after it.
    #[test]
    fn a_policy_file_with_a_byte_order_mark_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trust.json"),
            "\u{feff}{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"lambda.amazonaws.com\"}, \"Action\": \"sts:AssumeRole\"}]}",
        )
        .unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(
            &path,
            "\u{feff}[stack]\nname = \"bom\"\n\n[role.r]\nname = \"r\"\ntrust = { file = \"trust.json\" }\n",
        )
        .unwrap();
        let spec =
            load(&path, &LoadOptions::default()).unwrap_or_else(|d| panic!("{}", d.render(false)));
        assert_eq!(spec.resources.len(), 1);
    }

    #[test]
    fn suggestions_only_for_close_words() {
        assert_eq!(
            did_you_mean("nmae", &["name", "path"]).as_deref(),
            Some("did you mean `name`?")
        );
        assert_eq!(did_you_mean("zzzzzz", &["name", "path"]), None);
    }

    /// A policy written as a TOML table is read as the JSON it stands for: a date-time as its
    /// text, numbers as numbers, a role's `when` taken out; a value no policy can be is named
    /// by its TOML type.
    #[test]
    fn a_policy_written_in_toml_reads_as_its_json() {
        let (_dir, spec) = load_text(
            r#"[stack]
name = "toml-policies"

[role.r]
name = "r"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[role.r.policies.until]
when = "${var.on}"
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "*", Condition = { DateLessThan = { "aws:CurrentTime" = 2027-01-01T00:00:00Z }, NumericLessThanEquals = { "s3:max-keys" = 10 } } }]

[vars]
on = "true"
"#,
        );
        let role = &spec.resources[&Address::new(Kind::Role, "r")];
        let written = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "*",
                "Condition": {
                    "DateLessThan": { "aws:CurrentTime": "2027-01-01T00:00:00Z" },
                    "NumericLessThanEquals": { "s3:max-keys": 10 }
                }
            }]
        });
        let (_, until, _) = role
            .body
            .policy_documents()
            .into_iter()
            .find(|(name, _, _)| name.ends_with("until"))
            .expect("the inline policy");
        assert_eq!(until.size, rules::policy_size::of(&written));
        assert_eq!(
            until.parsed.as_deref(),
            Some(&PolicyDocument::from_value(&written).unwrap())
        );
        let errors = errors_of(
            r#"[stack]
name = "toml-policies"

[role.a]
name = "a"
trust = 1979-05-27T07:32:00Z

[role.b]
name = "b"
trust = 3

[role.c]
name = "c"
trust = { file = "trust.json" }
policies.p = { when = 5, Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "*" }] }
"#,
        );
        let messages: Vec<&str> = errors.iter().map(|(m, _)| m.as_str()).collect();
        for said in [
            "a policy cannot be a datetime",
            "a policy cannot be an integer",
            "`when` must be a string or a list of strings, not an integer",
        ] {
            assert!(messages.contains(&said), "{said} in {messages:?}");
        }
    }

    /// A block is read without a copy; one with errors is found again in the spec's text and
    /// every one of its errors reported, as for any value; the settings every kind shares
    /// (`silence`, `when`, `release`) are not among them. The loader copies the blocks after
    /// the first wrong one, and a later wrong block is reported alike.
    #[test]
    fn a_wrong_block_read_without_a_copy_reports_every_error() {
        let errors = errors_of(
            r#"[stack]
name = "blocks"

[vars]
on = "true"

[queue.first]
name = "first"
when = "${var.on}"
release = false
visibilty_timeout = 30
delay = "ten"
[[queue.first.silence]]
lint = "P003"
reason = "a test"

[queue.fine]
name = "fine"

[queue.second]
name = "second"
when = "${var.on}"
retention = 60
"#,
        );
        let messages: Vec<&str> = errors.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        for (said, at) in [
            ("unknown field `visibilty_timeout`", 0),
            ("\"ten\"", 1),
            ("unknown field `retention`", 2),
        ] {
            assert!(messages[at].contains(said), "{said} in {messages:?}");
        }
        // Found again without the settings taken out of it before.
        let root = "[queue.a]\nname = \"a\"\nwhen = \"x\"\n";
        let address = Address::new(Kind::Queue, "a");
        let again = block_again(root, &address).expect("the block");
        assert_eq!(
            again.span(),
            DeTable::parse(root).unwrap().get_ref()["queue"]
                .get_ref()
                .as_table()
                .unwrap()["a"]
                .span()
        );
        let DeValue::Table(table) = again.into_inner() else {
            panic!("a table")
        };
        let keys: Vec<&str> = table.keys().map(|k| k.get_ref().as_ref()).collect();
        assert_eq!(keys, ["name"]);
        assert!(block_again(root, &Address::new(Kind::Queue, "b")).is_none());
    }

    /// Loads `text`, which has errors, and returns each error's message and hint.
    fn errors_of(text: &str) -> Vec<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, text).unwrap();
        let diags = load(&path, &LoadOptions::default()).expect_err("the spec has errors");
        diags
            .0
            .into_iter()
            .map(|d| (d.message, d.hint.unwrap_or_default()))
            .collect()
    }

    /// A function's variable written as a table that is not `{ secret = "..." }`: each key
    /// but `secret` is an unknown field, a misspelt one named; a secret that is no string is
    /// the wrong type. No secret is in a message.
    #[test]
    fn an_environment_table_that_is_not_a_secret_says_why() {
        let errors = errors_of(
            r#"[stack]
name = "env"

[role.r]
name = "env-r"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[function.f]
name = "env-f"
role = "${role.r.arn}"
runtime = "python3.12"
handler = "main.handler"
code = { zip = "missing-but-not-read.zip" }

[function.f.environment]
AA = { secert = "typo-in-key" }
BB = { secret = 5 }
CC = { secret = "ok-value", note = "extra key" }
"#,
        );
        let env: Vec<&(String, String)> = errors
            .iter()
            .filter(|(m, _)| m.contains("environment variable"))
            .collect();
        assert_eq!(
            env.iter().map(|(m, h)| (m.as_str(), h.as_str())).collect::<Vec<_>>(),
            [
                ("unknown field `secert` in environment variable `AA`", "did you mean `secret`?"),
                ("`secret` of environment variable `BB` must be a string, not an integer", "write the secret as text: { secret = \"...\" }, or { secret = \"${var.NAME}\" }"),
                ("unknown field `note` in environment variable `CC`", "a variable's table takes one field, `secret`: { secret = \"...\" }"),
            ],
            "{errors:#?}"
        );
        assert!(
            !format!("{errors:?}").contains("typo-in-key")
                && !format!("{errors:?}").contains("ok-value")
        );
    }

    /// A placeholder IAM would refuse (in a principal's ARN) is the lint's error, once; one
    /// elsewhere is a warning.
    #[test]
    fn a_placeholder_in_a_principal_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(
            &path,
            r#"[stack]
name = "p"

[role.r]
name = "p-r"
description = "for <team name>"
trust = '''{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::<aws account id>:root"}, "Action": "sts:AssumeRole"}]}'''
"#,
        )
        .unwrap();
        let diags = load(&path, &LoadOptions::default()).expect_err("P008 is an error");
        let placeholders: Vec<(bool, &str)> = (diags.0.iter())
            .filter(|d| d.message.contains("placeholder"))
            .map(|d| (d.is_error(), d.message.as_str()))
            .collect();
        assert_eq!(placeholders.len(), 2, "{placeholders:#?}");
        assert!(placeholders
            .iter()
            .any(|(error, m)| *error && m.contains("<aws account id>")));
        assert!(placeholders
            .iter()
            .any(|(error, m)| !*error && m.contains("<team name>")));
        // What the warning would have said is the error's hint.
        let error = diags.0.iter().find(|d| d.is_error()).unwrap();
        assert!(
            error.hint.as_deref().is_some_and(|h| h.starts_with(
                "`<aws account id>` looks like a placeholder that was never filled in: use a reference such as `${aws.account_id}`"
            )),
            "{error:?}"
        );
    }

    #[test]
    fn terraform_and_cloudformation_names_are_given_plinths() {
        let errors = errors_of(
            r#"[stack]
name = "tf"

[role.r]
name = "tf-r"
assume_role_policy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }
MaxSessionDuration = 3600

[queue.q]
name = "tf-q"
visibility_timeout_seconds = 60

[function.f]
function_name = "tf-f"
role = "${role.r.arn}"
runtime = "python3.12"
handler = "index.handler"
code = { zip = "code.zip" }
bucket = "not-a-function-field"

[bucket.b]
bucket = "tf-bucket-123"
"#,
        );
        let hint_for = |field: &str| {
            errors
                .iter()
                .find(|(m, _)| m.contains(&format!("unknown field `{field}`")))
                .map(|(_, h)| h.as_str())
                .unwrap_or_else(|| panic!("no error for {field} in {errors:?}"))
        };
        assert_eq!(
            hint_for("assume_role_policy"),
            "plinth calls this field `trust`"
        );
        assert!(
            hint_for("MaxSessionDuration")
                .starts_with("plinth calls this field `max_session_hours`: in hours"),
            "{errors:?}"
        );
        assert_eq!(
            hint_for("visibility_timeout_seconds"),
            "plinth calls this field `visibility_timeout`: in seconds"
        );
        assert_eq!(hint_for("function_name"), "plinth calls this field `name`");
        // `bucket` is a bucket's `name`, and nothing in a function.
        assert!(
            hint_for("bucket").starts_with("the fields here are:"),
            "{errors:?}"
        );
        assert!(errors
            .iter()
            .any(|(m, h)| m == "unknown field `bucket`, expected one of `name`, `existing`, `force_destroy`, `policy`, `cors`, `public_access_block`, `encryption`, `notification`, `tags`, `adopt`, `prevent_destroy`, `release`, `when`, `silence`"
                && h == "plinth calls this field `name`"));
        // The field the foreign name stood for is not reported missing as well.
        assert!(
            !errors.iter().any(|(m, _)| m.contains("missing field")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_policy_table_holding_its_text_under_a_key_says_the_table_is_the_document() {
        const ROLE: &str = r#"[stack]
name = "p"

[role.r]
name = "p-r"
trust = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }] }

[role.r.policies.read]
"#;
        let errors = errors_of(&[ROLE, r#"policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
"#].concat());
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (message, hint) = &errors[0];
        assert!(message.contains("unknown key `policy`"), "{message}");
        assert!(
            hint.starts_with("this table is the policy document itself"),
            "{hint}"
        );
        // Any other unknown key in a document is a grammar error, with the grammar's hint.
        let errors = errors_of(
            &[
                ROLE,
                r#"Version = "2012-10-17"
Statment = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }]
"#,
            ]
            .concat(),
        );
        assert!(
            errors[0].1.starts_with("see the IAM JSON policy grammar"),
            "{errors:?}"
        );
    }

    /// A lint of a statement without a Sid points at that statement, not at the policy's
    /// start, whether the policy is JSON or a TOML table (braces in strings not counted).
    #[test]
    fn a_lint_of_a_statement_without_a_sid_points_at_it() {
        let first = r#"{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole", Condition = { StringLike = { "aws:userid" = "${aws:username}-{x}" } } }"#;
        let second = r#"{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::999988887777:root" }, Action = "sts:AssumeRole" }"#;
        let as_json = |toml: &str| {
            let mut json = toml.replace(" = ", ": ");
            for key in [
                "Effect",
                "Principal",
                "Service",
                "AWS",
                "Action",
                "Condition",
                "StringLike",
            ] {
                json = json.replace(&format!("{key}:"), &format!("\"{key}\":"));
            }
            json
        };
        for trust in [
            format!("{{ Version = \"2012-10-17\", Statement = [{first}, {second}] }}"),
            format!(
                "'''{{\"Version\": \"2012-10-17\", \"Statement\": [{}, {}]}}'''",
                as_json(first),
                as_json(second)
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("plinth.toml");
            std::fs::write(
                &path,
                format!("[stack]\nname = \"s\"\naccount_id = \"123456789012\"\n\n[role.r]\nname = \"r\"\ntrust = {trust}\n"),
            )
            .unwrap();
            let spec = load(&path, &LoadOptions::default())
                .unwrap_or_else(|d| panic!("{}", d.render(false)));
            let lint = spec
                .warnings
                .0
                .iter()
                .find(|w| w.message.contains("Statement[1]"))
                .unwrap_or_else(|| panic!("{trust}: {:?}", spec.warnings));
            let location = lint.location.as_ref().unwrap();
            let shown = &location.file.text[location.span.clone()];
            assert!(
                shown.starts_with('{') && shown.ends_with('}') && shown.contains("999988887777"),
                "{trust}: {shown}"
            );
        }
    }

    #[test]
    fn json_paths_locate_the_statement_key() {
        let text = r#"{"Statement":[{"Effect":"Allow"},{"Effect":"Maybe"}]}"#;
        let at = locate_json_path(text, "Statement[1].Effect").unwrap();
        assert!(
            text[at..].starts_with("\"Effect\":\"Maybe\""),
            "{}",
            &text[at..]
        );
    }

    /// A lint about one value points at that value where the statement writes it: in a policy
    /// file under a Sid, in a policy written as a table of its own, and in a statement written
    /// as one object.
    #[test]
    fn a_lint_about_a_value_points_at_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("p.json"),
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\n    \"Sid\": \"Read\",\n    \"Effect\": \"Allow\",\n    \"Action\": [\"s3:GetObject\",\n      \"s3:GetObjct\"],\n    \"Resource\": \"arn:aws:s3:::b/*\"\n  }]\n}\n",
        )
        .unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(
            &path,
            r#"[stack]
name = "s"

[role.r]
name = "r"
trust = """{"Version": "2012-10-17",
  "Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRol"}}"""
policies.p = { file = "p.json" }

[role.r.policies.q]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "arn:aws:sqs:us-east-1:123456789012:q" },
  { Effect = "Allow", Action = ["kms:Decrypt", "kms:Decrytp"], Resource = "arn:aws:kms:us-east-1:123456789012:key/k" }]
"#,
        )
        .unwrap();
        let diags = load(&path, &LoadOptions::default()).unwrap_err();
        let shown = |needle: &str| {
            let d = diags
                .0
                .iter()
                .find(|d| d.message.contains(needle))
                .unwrap_or_else(|| panic!("{needle}: {}", diags.render(false)));
            let at = d.location.as_ref().unwrap();
            (
                at.file.line_col(at.span.start).0,
                at.file.text[at.span.clone()].to_string(),
            )
        };
        assert_eq!(shown("s3:GetObjct"), (7, "\"s3:GetObjct\"".to_string()));
        assert_eq!(shown("kms:Decrytp"), (13, "\"kms:Decrytp\"".to_string()));
        // A Statement written as one object rather than a list of one.
        assert_eq!(shown("sts:AssumeRol"), (7, "\"sts:AssumeRol\"".to_string()));
    }

    /// An unknown field of a resource block is compared with the fields every kind takes too.
    #[test]
    fn an_unknown_field_of_a_block_may_be_a_field_every_kind_takes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(
            &path,
            "[stack]\nname = \"s\"\n\n[queue.q]\nname = \"q\"\nrelese = true\n",
        )
        .unwrap();
        let diags = load(&path, &LoadOptions::default()).unwrap_err();
        let text = diags.render(false);
        assert!(text.contains("did you mean `release`?"), "{text}");
        assert!(text.contains("`when`"), "{text}");
    }

    /// Before AWS is read the stack's own account is unknown unless the spec names it, so no
    /// principal is reported as in an unknown account (P007) then; naming it lets the others be.
    #[test]
    fn accounts_are_judged_unknown_only_once_the_stacks_own_is_known() {
        let spec = |account: &str| {
            format!(
                r#"[stack]
name = "p7"
{account}
[role.v]
name = "p7-vendor"
trust = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = ["210987654321", "arn:aws:iam::123456789012:root"] }}, Action = "sts:AssumeRole", Condition = {{ StringEquals = {{ "sts:ExternalId" = "abc" }} }} }}] }}
"#
            )
        };
        let unknown = |spec: &Spec| -> Vec<String> {
            spec.warnings
                .0
                .iter()
                .filter(|w| w.message.contains("[P007]"))
                .map(|w| w.message.clone())
                .collect()
        };
        let (_dir, unnamed) = load_text(&spec(""));
        assert_eq!(unknown(&unnamed), Vec::<String>::new());
        let (_dir, named) = load_text(&spec("account_id = \"123456789012\""));
        let found = unknown(&named);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("principal 210987654321 is in account 210987654321"),
            "{found:?}"
        );
    }
}
