//! `[function.NAME]`: a Lambda function, its code (a local directory, a zip file, an S3 object
//! or a container image), its configuration, environment (with secret values), tags, and the
//! SQS queues that trigger it (`[[function.NAME.trigger]]`, Lambda's event source mappings).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::spec::Located;
use serde::Deserialize;
use toml_edit::{value, ArrayOfTables, InlineTable, Item, Table};

use super::block::{is_empty, BlockWriter, Found};
use super::common::{RawTags, Tags};
use super::{int, KindSpec, Lifecycle};
use crate::archive;
use crate::diag::{self, Diagnostic, Diagnostics, Location};
use crate::model::{Attributes, Kind, Sensitive, Value};
use crate::spec::resolve::Resolver;
use crate::spec::rules::{self, Checker};
use crate::spec::template::{escape, Reference};
use crate::spec::{BlockValue, Loader, Text};
use crate::state::LiveResource;

#[derive(Debug)]
pub struct FunctionSpec {
    pub name: Text,
    pub role: Text,
    pub runtime: Option<Text>,
    pub handler: Option<Text>,
    pub code: Code,
    pub timeout: Option<(i64, Location)>,
    pub memory: Option<(i64, Location)>,
    /// Variables by name; `None` leaves the environment unmanaged.
    pub environment: Option<BTreeMap<String, EnvValue>>,
    pub description: Option<Text>,
    pub architectures: Option<(Vec<String>, Location)>,
    pub ephemeral_storage: Option<(i64, Location)>,
    pub reserved_concurrency: Option<(i64, Location)>,
    /// SQS triggers; `None` leaves the function's event source mappings unmanaged.
    pub triggers: Option<Vec<Trigger>>,
    pub tags: Tags,
}

/// Where the function's code comes from.
#[derive(Debug)]
pub enum Code {
    /// A directory zipped deterministically; `sha256` is the archive's, as Lambda reports it.
    Directory {
        path: PathBuf,
        sha256: String,
    },
    /// A zip file as it is.
    ZipFile {
        path: PathBuf,
        sha256: String,
    },
    S3 {
        bucket: Text,
        key: Text,
        version: Option<Text>,
        location: Location,
    },
    Image {
        uri: Text,
    },
    /// Could not be read; already reported.
    Broken,
}

#[derive(Debug)]
pub enum EnvValue {
    Plain(Text),
    /// Never shown; compared by hash.
    Secret(Text),
}

impl EnvValue {
    fn text(&self) -> &Text {
        match self {
            EnvValue::Plain(t) | EnvValue::Secret(t) => t,
        }
    }
}

#[derive(Debug)]
pub struct Trigger {
    /// The queue's ARN, usually `${queue.NAME.arn}`.
    pub queue: Text,
    pub batch_size: Option<(i64, Location)>,
    pub batching_window: Option<(i64, Location)>,
    pub enabled: bool,
    pub function_response_types: Vec<(String, Location)>,
}

/// What Lambda uses when a trigger leaves a setting out; a mapping belongs wholly to its
/// function's spec, so these are what the spec means by leaving it out.
const DEFAULT_BATCH_SIZE: i64 = 10;
const DEFAULT_BATCHING_WINDOW: i64 = 0;

// What Lambda accepts: the checks below and the JSON Schema (`plinth schema`) both read these.
pub(crate) const TIMEOUT: RangeInclusive<i64> = 1..=900;
pub(crate) const MEMORY: RangeInclusive<i64> = 128..=10_240;
pub(crate) const EPHEMERAL_STORAGE: RangeInclusive<i64> = 512..=10_240;
pub(crate) const RESERVED_CONCURRENCY: RangeInclusive<i64> = 0..=1_000_000;
pub(crate) const BATCH_SIZE: RangeInclusive<i64> = 1..=10_000;
pub(crate) const BATCHING_WINDOW: RangeInclusive<i64> = 0..=300;
/// The most messages Lambda takes from a FIFO queue in one batch.
const FIFO_BATCH_SIZE_MAX: i64 = 10;
pub(crate) const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];
pub(crate) const RESPONSE_TYPES: &[&str] = &["ReportBatchItemFailures"];
pub(crate) const NAME_MAX: usize = 64;
pub(crate) const DESCRIPTION_MAX: usize = 256;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Function")]
pub(crate) struct RawFunction {
    #[schemars(pattern(rules::NAME_CHARS.pattern(1, NAME_MAX)))]
    name: Located<String>,
    role: Located<String>,
    runtime: Option<Located<String>>,
    handler: Option<Located<String>>,
    code: Located<RawCode>,
    #[schemars(range(min = *TIMEOUT.start(), max = *TIMEOUT.end()))]
    timeout: Option<Located<i64>>,
    #[schemars(range(min = *MEMORY.start(), max = *MEMORY.end()))]
    memory: Option<Located<i64>>,
    #[schemars(with = "Option<BTreeMap<String, EnvValueField>>")]
    environment: Option<BTreeMap<String, Located<toml::Value>>>,
    description: Option<Located<String>>,
    #[schemars(length(min = 1, max = 1), extend("items" = { "type": "string", "enum": ARCHITECTURES }))]
    architectures: Option<Located<Vec<String>>>,
    #[schemars(range(min = *EPHEMERAL_STORAGE.start(), max = *EPHEMERAL_STORAGE.end()))]
    ephemeral_storage: Option<Located<i64>>,
    #[schemars(range(min = *RESERVED_CONCURRENCY.start(), max = *RESERVED_CONCURRENCY.end()))]
    reserved_concurrency: Option<Located<i64>>,
    trigger: Option<Vec<RawTrigger>>,
    tags: RawTags,
    #[serde(default)]
    adopt: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Code")]
struct RawCode {
    dir: Option<String>,
    zip: Option<String>,
    s3_bucket: Option<Located<String>>,
    s3_key: Option<Located<String>>,
    s3_object_version: Option<Located<String>>,
    image: Option<Located<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Trigger")]
struct RawTrigger {
    queue: Located<String>,
    #[schemars(range(min = *BATCH_SIZE.start(), max = *BATCH_SIZE.end()))]
    batch_size: Option<Located<i64>>,
    #[schemars(range(min = *BATCHING_WINDOW.start(), max = *BATCHING_WINDOW.end()))]
    batching_window: Option<Located<i64>>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    #[schemars(extend("items" = { "type": "string", "enum": RESPONSE_TYPES }))]
    function_response_types: Vec<Located<String>>,
}

fn enabled_by_default() -> bool {
    true
}

pub(super) fn load(
    loader: &mut Loader,
    block: BlockValue<'_, '_>,
) -> Option<(FunctionSpec, Lifecycle)> {
    let raw: RawFunction = loader.deserialize_block(block)?;
    let spec = FunctionSpec {
        name: loader.text_or_stand_in(&raw.name),
        role: loader.text_or_stand_in(&raw.role),
        runtime: raw.runtime.as_ref().map(|r| loader.text_or_stand_in(r)),
        handler: raw.handler.as_ref().map(|h| loader.text_or_stand_in(h)),
        code: load_code(loader, &raw.code),
        timeout: int(loader, &raw.timeout),
        memory: int(loader, &raw.memory),
        environment: raw.environment.as_ref().map(|env| {
            env.iter()
                .filter_map(|(k, v)| Some((k.clone(), load_env_value(loader, k, v)?)))
                .collect()
        }),
        description: raw.description.as_ref().map(|d| loader.text_or_stand_in(d)),
        architectures: raw
            .architectures
            .as_ref()
            .map(|a| (a.get_ref().clone(), loader.location(a.span()))),
        ephemeral_storage: int(loader, &raw.ephemeral_storage),
        reserved_concurrency: int(loader, &raw.reserved_concurrency),
        triggers: raw.trigger.map(|triggers| {
            triggers
                .into_iter()
                .map(|t| Trigger {
                    queue: loader.text_or_stand_in(&t.queue),
                    batch_size: int(loader, &t.batch_size),
                    batching_window: int(loader, &t.batching_window),
                    enabled: t.enabled,
                    function_response_types: t
                        .function_response_types
                        .iter()
                        .map(|f| (f.get_ref().clone(), loader.location(f.span())))
                        .collect(),
                })
                .collect()
        }),
        tags: Tags::load(loader, Kind::Function, &raw.tags),
    };
    Some((spec, Lifecycle::new(raw.adopt, raw.prevent_destroy)))
}

fn load_code(loader: &mut Loader, code: &Located<RawCode>) -> Code {
    let span = code.span();
    let raw = code.get_ref();
    let forms = [
        raw.dir.is_some(),
        raw.zip.is_some(),
        raw.s3_bucket.is_some() || raw.s3_key.is_some(),
        raw.image.is_some(),
    ];
    if forms.iter().filter(|f| **f).count() != 1 {
        loader
            .err(diag::Code::SpecInvalidValue, "`code` must name exactly one source", span)
            .set_hint("write code = { dir = \"src/\" }, { zip = \"f.zip\" }, { s3_bucket = \"...\", s3_key = \"...\" } or { image = \"URI\" }");
        return Code::Broken;
    }
    if let Some(dir) = &raw.dir {
        let path = loader.local_path(dir);
        return match loader.zip_directory(&path) {
            Ok(bytes) => code_archive(loader, path, &bytes, span, true),
            Err(e) => {
                loader
                    .err(
                        diag::Code::SpecRead,
                        format!("cannot zip `{}`: {e}", path.display()),
                        span,
                    )
                    .set_hint("paths are relative to the directory of the spec file");
                Code::Broken
            }
        };
    }
    if let Some(zip) = &raw.zip {
        let path = loader.local_path(zip);
        return match archive::read_at_most(&path, archive::MAX_INLINE_ZIP_BYTES as u64) {
            Ok(bytes) => code_archive(loader, path, &bytes, span, false),
            Err(e) => {
                loader
                    .err(
                        diag::Code::SpecRead,
                        format!("cannot read `{}`: {e}", path.display()),
                        span,
                    )
                    .set_hint("paths are relative to the directory of the spec file");
                Code::Broken
            }
        };
    }
    if let Some(image) = &raw.image {
        return Code::Image {
            uri: loader.text_or_stand_in(image),
        };
    }
    match (&raw.s3_bucket, &raw.s3_key) {
        (Some(bucket), Some(key)) => Code::S3 {
            bucket: loader.text_or_stand_in(bucket),
            key: loader.text_or_stand_in(key),
            version: raw
                .s3_object_version
                .as_ref()
                .map(|v| loader.text_or_stand_in(v)),
            location: loader.location(span),
        },
        _ => {
            loader.err(
                diag::Code::SpecMissingField,
                "code from S3 needs both s3_bucket and s3_key",
                span,
            );
            Code::Broken
        }
    }
}

/// Records the archive as an input of the spec and keeps its hash.
fn code_archive(
    loader: &mut Loader,
    path: PathBuf,
    bytes: &[u8],
    span: std::ops::Range<usize>,
    directory: bool,
) -> Code {
    if bytes.len() > archive::MAX_INLINE_ZIP_BYTES {
        loader
            .err(
                diag::Code::SpecTooLarge,
                format!(
                    "the code archive is {} bytes; Lambda takes at most {} inline",
                    bytes.len(),
                    archive::MAX_INLINE_ZIP_BYTES
                ),
                span,
            )
            .set_hint(
                "upload the archive to S3 and use code = { s3_bucket = \"...\", s3_key = \"...\" }",
            );
        return Code::Broken;
    }
    loader.record_input(&path, bytes);
    let sha256 = archive::code_sha256(bytes);
    if directory {
        Code::Directory { path, sha256 }
    } else {
        Code::ZipFile { path, sha256 }
    }
}

/// `"value"`, or `{ secret = "value" }` for a value that must never be shown.
fn load_env_value(
    loader: &mut Loader,
    name: &str,
    value: &Located<toml::Value>,
) -> Option<EnvValue> {
    let span = value.span();
    match value.get_ref() {
        toml::Value::String(s) => Some(EnvValue::Plain(
            loader.text_or_stand_in(&Located::new(span, s.clone())),
        )),
        toml::Value::Table(t)
            if t.len() == 1 && t.get("secret").is_some_and(toml::Value::is_str) =>
        {
            let secret = t["secret"].as_str().unwrap_or_default().to_string();
            Some(EnvValue::Secret(
                loader.text_or_stand_in(&Located::new(span, secret)),
            ))
        }
        // A table that is not `{ secret = "..." }`: each key it holds besides `secret` is an
        // unknown field (a misspelt `secert` is named as such), and a secret that is not text
        // is the wrong type.
        toml::Value::Table(t) if !t.is_empty() => {
            for key in t.keys().filter(|k| *k != "secret") {
                let hint = crate::spec::load::did_you_mean(key, &["secret"]).unwrap_or_else(|| {
                    "a variable's table takes one field, `secret`: { secret = \"...\" }".into()
                });
                loader
                    .err(
                        diag::Code::SpecUnknownField,
                        format!("unknown field `{key}` in environment variable `{name}`"),
                        span.clone(),
                    )
                    .set_hint(hint);
            }
            if let Some(secret) = t.get("secret").filter(|v| !v.is_str()) {
                loader
                    .err(
                        diag::Code::SpecType,
                        format!(
                            "`secret` of environment variable `{name}` must be a string, not {}",
                            crate::spec::with_article(secret.type_str())
                        ),
                        span,
                    )
                    .set_hint("write the secret as text: { secret = \"...\" }, or { secret = \"${var.NAME}\" }");
            }
            None
        }
        other => {
            loader
                .err(
                    diag::Code::SpecType,
                    format!(
                        "environment variable `{name}` cannot be {}",
                        crate::spec::with_article(other.type_str())
                    ),
                    span,
                )
                .set_hint(
                    "write a string, or { secret = \"...\" } for a value plinth must never show",
                );
            None
        }
    }
}

/// Lambda function names: letters, digits, `-` and `_`, at most 64 characters.
pub fn function_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(format!(
            "`{}` is {} characters; Lambda allows 1 to {NAME_MAX}",
            rules::clipped(name),
            name.chars().count()
        ));
    }
    if let Some(c) = rules::NAME_CHARS.first_outside(name) {
        return Err(format!(
            "`{name}` contains `{c}`, which Lambda does not allow in a function name"
        ));
    }
    Ok(())
}

impl FunctionSpec {
    pub(crate) const IMPORT: super::ImportFacts = super::ImportFacts {
        words: "function",
        optional_parts: &["triggers"],
        write_rank: 0,
        name_part: super::whole_id,
        write_block: import_block,
    };
}

/// An imported function's block: its code where it is (an image, an S3 object, or its
/// downloaded zip beside the spec), its settings unless they are Lambda's defaults, secrets in
/// its environment marked as such, its triggers with their queues by reference.
fn import_block(found: &Found, w: &mut dyn BlockWriter) {
    let a = &found.live.attributes;
    let from = &found.address;
    w.literal("name");
    if let Some(Value::Str(role)) = a.get("role") {
        w.put("role", value(w.template(role)));
    }
    // An image brings its own runtime and handler.
    let image = matches!(a.get("code"), Some(Value::Str(c)) if c.starts_with("image:"));
    if !image {
        for field in ["runtime", "handler"] {
            w.literal(field);
        }
    }
    match a.get("code") {
        Some(Value::Str(code)) if code.starts_with("image:") => {
            let mut code_table = InlineTable::new();
            code_table.insert("image", escape(&code["image:".len()..]).into());
            w.put("code", value(code_table));
        }
        Some(Value::Str(code)) if code.starts_with("s3://") => {
            let (bucket, key) = code["s3://".len()..].split_once('/').unwrap_or((code, ""));
            let mut code_table = InlineTable::new();
            code_table.insert("s3_bucket", escape(bucket).into());
            code_table.insert("s3_key", escape(key).into());
            w.put("code", value(code_table));
        }
        _ => {
            let file = format!("functions/{}.zip", found.live.physical_id);
            let mut code_table = InlineTable::new();
            code_table.insert("zip", file.as_str().into());
            w.put("code", value(code_table));
            if !w.package(&file) {
                w.note(format!(
                    "{from}: put the function's deployment package at {file} (Lambda console: Actions, Export function, Download deployment package); plinth compares it with the live code by its SHA-256"
                ));
            }
        }
    }
    for field in ["timeout", "memory"] {
        if let Some(v) = a.get(field) {
            let item = w.item(v);
            w.put(field, item);
        }
    }
    if let Some(Value::Map(environment)) = a.get("environment").filter(|v| !is_empty(v)) {
        let mut inline = InlineTable::new();
        let mut secrets = Vec::new();
        for (name, v) in environment {
            let Value::Str(text) = v else { continue };
            let text = w.template(text);
            if looks_secret(name) || value_looks_secret(&text) {
                let mut secret = InlineTable::new();
                secret.insert("secret", text.into());
                inline.insert(name, secret.into());
                secrets.push(name.as_str());
            } else {
                inline.insert(name, text.into());
            }
        }
        w.put("environment", value(inline));
        if !secrets.is_empty() {
            w.note(format!(
                "{from}: {} written as {{ secret = ... }} so that plinth never shows {}; the value is in plinth.toml: move it to a --var (`{{ secret = \"${{var.NAME}}\" }}`) before sharing the file",
                secrets.join(", "),
                if secrets.len() == 1 { "it" } else { "them" }
            ));
        }
    }
    w.text_unless("description", "");
    if let Some(v) = a
        .get("architectures")
        .filter(|v| **v != Value::List(vec![Value::str("x86_64")]) && !is_empty(v))
    {
        let item = w.item(v);
        w.put("architectures", item);
    }
    if let Some(v) = a
        .get("ephemeral_storage")
        .filter(|v| **v != Value::Int(512))
    {
        let item = w.item(v);
        w.put("ephemeral_storage", item);
    }
    if let Some(v) = a.get("reserved_concurrency") {
        let item = w.item(v);
        w.put("reserved_concurrency", item);
    }
    if let Some(Value::Map(triggers)) = a.get("triggers").filter(|v| !is_empty(v)) {
        let mut list = ArrayOfTables::new();
        for (queue, settings) in triggers {
            let mut trigger = Table::new();
            let queue = w
                .reference_to(Kind::Queue, "arn", queue)
                .unwrap_or_else(|| w.template(queue));
            trigger.insert("queue", value(queue));
            if let Value::Map(settings) = settings {
                for (k, v) in settings {
                    if !is_empty(v) {
                        trigger.insert(k, w.item(v));
                    }
                }
            }
            list.push(trigger);
        }
        w.put("trigger", Item::ArrayOfTables(list));
    }
    w.tags();
    w.put("adopt", value(true));
}

/// An environment variable whose name says it holds a secret.
pub(crate) fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "PRIVATE",
        "APIKEY",
        "API_KEY",
        "CREDS",
        "AUTH",
        "WEBHOOK",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

/// A value that has the shape of a credential whatever its variable is called: an AWS access
/// key id, a GitHub, Slack or Stripe token, a private key, a bearer token or JWT, or a URL with
/// a password in it (`postgres://app:PASSWORD@db/...`).
pub(crate) fn value_looks_secret(value: &str) -> bool {
    let value = value.trim();
    let prefixed = [
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "xoxs-",
        "npm_",
        "Bearer ",
        "Basic ",
    ]
    .iter()
    .any(|p| value.starts_with(p));
    let access_key = value.len() == 20
        && (value.starts_with("AKIA") || value.starts_with("ASIA"))
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let jwt = value.starts_with("eyJ") && value.matches('.').count() == 2 && !value.contains(' ');
    let password_in_url = value
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty()));
    prefixed
        || access_key
        || jwt
        || password_in_url
        || value.contains("-----BEGIN")
        || value.starts_with("https://hooks.slack.com/")
}

impl KindSpec for FunctionSpec {
    fn name(&self) -> Option<&Text> {
        Some(&self.name)
    }

    fn declares_export(&self, attribute: &str) -> bool {
        declares_setting(self, attribute)
    }

    fn texts(&self) -> Vec<&Text> {
        let code: Vec<&Text> = match &self.code {
            Code::S3 {
                bucket,
                key,
                version,
                ..
            } => [bucket, key].into_iter().chain(version.iter()).collect(),
            Code::Image { uri } => vec![uri],
            Code::Directory { .. } | Code::ZipFile { .. } | Code::Broken => Vec::new(),
        };
        [&self.name, &self.role]
            .into_iter()
            .chain(self.runtime.iter())
            .chain(self.handler.iter())
            .chain(code)
            .chain(self.description.iter())
            .chain(
                self.environment
                    .iter()
                    .flat_map(|e| e.values().map(EnvValue::text)),
            )
            .chain(self.triggers.iter().flatten().map(|t| &t.queue))
            .chain(self.tags.texts())
            .collect()
    }

    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(
            &self.name,
            function_name,
            "function names are letters, digits, `-` and `_`, at most 64 characters",
            diags,
        );
        c.text(
            &self.role,
            rules::arn(rules::ROLE_ARN),
            "write the execution role's ARN, usually \"${role.NAME.arn}\"",
            diags,
        );
        if let Some(runtime) = &self.runtime {
            c.text(
                runtime,
                lambda_runtime,
                "use a runtime Lambda supports, e.g. python3.13, nodejs22.x, java21 or provided.al2023",
                diags,
            );
        }
        if let Some(v) = &self.timeout {
            c.range("timeout", v, TIMEOUT, diags);
        }
        if let Some(v) = &self.memory {
            c.range("memory", v, MEMORY, diags);
        }
        if let Some(v) = &self.ephemeral_storage {
            c.range("ephemeral_storage", v, EPHEMERAL_STORAGE, diags);
        }
        if let Some(v) = &self.reserved_concurrency {
            c.range("reserved_concurrency", v, RESERVED_CONCURRENCY, diags);
        }
        if let Some(d) = &self.description {
            c.text(
                d,
                rules::max_chars("a function description", DESCRIPTION_MAX),
                "shorten the description",
                diags,
            );
        }
        if let Some((archs, at)) = &self.architectures {
            if !matches!(archs.as_slice(), [a] if ARCHITECTURES.contains(&a.as_str())) {
                diags.push(
                    Diagnostic::error(
                        diag::Code::SpecInvalidValue,
                        "a function has exactly one architecture: x86_64 or arm64",
                    )
                    .at_location(Some(at.clone()))
                    .hint("write architectures = [\"arm64\"] or [\"x86_64\"]"),
                );
            }
        }
        let image = matches!(self.code, Code::Image { .. });
        match (&self.runtime, &self.handler, image) {
            (Some(t), _, true) | (_, Some(t), true) => diags.push(
                Diagnostic::error(diag::Code::SpecInvalidValue, "a function from a container image takes its runtime and handler from the image")
                    .at_location(Some(t.location.clone()))
                    .hint("remove runtime and handler"),
            ),
            (None, _, false) | (_, None, false) if !matches!(self.code, Code::Broken) => {
                let missing = if self.runtime.is_none() { "runtime" } else { "handler" };
                diags.push(
                    Diagnostic::error(diag::Code::SpecMissingField, format!("a function from a zip archive needs a {missing}"))
                        .at_location(Some(self.name.location.clone()))
                        .hint("add runtime = \"python3.12\" and handler = \"main.handler\", for example"),
                );
            }
            _ => {}
        }
        if let Code::Image { uri } = &self.code {
            c.text(
                uri,
                |u| ecr_image(u).map(drop),
                "write the URI of an image in Amazon ECR: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG, or @sha256:DIGEST in place of :TAG",
                diags,
            );
            if let Some(other) = c.region_elsewhere(uri, |u| ecr_image(u).ok()) {
                diags.push(
                    Diagnostic::error(
                        diag::Code::SpecInvalidValue,
                        format!("the image is in Amazon ECR in {other}; Lambda runs only images from the function's region"),
                    )
                    .at_location(Some(uri.location.clone()))
                    .hint("push the image to a repository in the stack's region (ECR's replication can copy it there)"),
                );
            }
        }
        if let Some(handler) = &self.handler {
            c.text(
                handler,
                lambda_handler,
                "write the handler as Lambda takes it, e.g. \"main.handler\" (file.function)",
                diags,
            );
        }
        if let Code::S3 {
            bucket,
            key,
            version,
            location,
        } = &self.code
        {
            c.text(
                bucket,
                lambda_code_bucket,
                "name the bucket that holds the code archive, as S3 names it",
                diags,
            );
            c.text(
                key,
                |k| lambda_code_length("s3_key", k),
                "write the archive's object key",
                diags,
            );
            if let Some(version) = version {
                c.text(
                    version,
                    |v| lambda_code_length("s3_object_version", v),
                    "write the object's version id, or leave s3_object_version out for the latest",
                    diags,
                );
            }
            if let (Some(b), Some(k)) = (c.resolve(bucket), c.resolve(key)) {
                let source = s3_source(
                    &b,
                    &k,
                    version.as_ref().and_then(|v| c.resolve(v)).as_deref(),
                );
                if source.chars().count() > 256 {
                    diags.push(
                        Diagnostic::error(diag::Code::SpecInvalidValue, "the S3 location of the code is longer than 256 characters")
                            .at_location(Some(location.clone()))
                            .hint("plinth records where the code came from in a tag, which holds 256 characters; use a shorter key"),
                    );
                }
            }
        }
        self.check_environment(c, diags);
        for (name, value) in self.environment.iter().flatten() {
            if let EnvValue::Secret(text) = value {
                if text
                    .references()
                    .any(|r| matches!(r, Reference::Resource { .. }))
                {
                    diags.push(
                        Diagnostic::error(diag::Code::SpecInvalidValue, format!("secret `{name}` refers to another resource"))
                            .at_location(Some(text.location.clone()))
                            .hint("a secret must be known when planning: use a variable, e.g. { secret = \"${var.api_key}\" }"),
                    );
                }
            }
        }
        self.tags.check(Kind::Function, c, diags);
        // Lambda keeps one mapping per function and queue, and refuses a second one.
        let mut queues = BTreeSet::new();
        for trigger in self.triggers.iter().flatten() {
            trigger.check(c, diags);
            if let Some(other) = c.elsewhere(&trigger.queue, false) {
                diags.push(
                    Diagnostic::error(
                        diag::Code::SpecInvalidValue,
                        format!("the trigger's queue is in {other}; Lambda reads only queues of the function's region"),
                    )
                    .at_location(Some(trigger.queue.location.clone()))
                    .hint("trigger the function from a queue in the stack's region"),
                );
            }
            let queue = c
                .resolve(&trigger.queue)
                .unwrap_or_else(|| trigger.queue.raw.clone());
            if !queues.insert(queue) {
                diags.push(
                    Diagnostic::error(
                        diag::Code::SpecInvalidValue,
                        format!(
                            "a second trigger on queue `{}`: Lambda maps a queue to a function once",
                            trigger.queue.raw
                        ),
                    )
                    .at_location(Some(trigger.queue.location.clone()))
                    .hint("keep one [[function.NAME.trigger]] per queue, with the settings of both"),
                );
            }
        }
    }

    fn desired(&self, r: &Resolver<'_>, diags: &mut Diagnostics) -> Attributes {
        let mut attrs = Attributes::new();
        attrs.insert("name".into(), r.value(&self.name));
        attrs.insert("role".into(), r.value(&self.role));
        for (name, text) in [
            ("runtime", &self.runtime),
            ("handler", &self.handler),
            ("description", &self.description),
        ] {
            if let Some(t) = text {
                attrs.insert(name.into(), r.value(t));
            }
        }
        let package_type = if matches!(self.code, Code::Image { .. }) {
            "Image"
        } else {
            "Zip"
        };
        attrs.insert("package_type".into(), Value::str(package_type));
        match &self.code {
            Code::Directory { path, sha256 } | Code::ZipFile { path, sha256 } => {
                let form = if matches!(self.code, Code::Directory { .. }) {
                    "dir"
                } else {
                    "zip"
                };
                attrs.insert("code".into(), Value::str(format!("sha256:{sha256}")));
                attrs.insert(
                    "code_path".into(),
                    Value::Map(BTreeMap::from([(
                        form.to_string(),
                        Value::str(path.display().to_string()),
                    )])),
                );
            }
            Code::S3 {
                bucket,
                key,
                version,
                ..
            } => {
                let value = match (
                    r.text(bucket),
                    r.text(key),
                    version.as_ref().map(|v| r.text(v)),
                ) {
                    (Some(b), Some(k), None) => Value::str(s3_source(&b, &k, None)),
                    (Some(b), Some(k), Some(Some(v))) => Value::str(s3_source(&b, &k, Some(&v))),
                    _ => r.value(key),
                };
                attrs.insert("code".into(), value);
            }
            Code::Image { uri } => {
                attrs.insert(
                    "code".into(),
                    match r.value(uri) {
                        Value::Str(uri) => Value::str(format!("image:{uri}")),
                        pending => pending,
                    },
                );
            }
            Code::Broken => {}
        }
        let ints = [
            ("timeout", &self.timeout),
            ("memory", &self.memory),
            ("ephemeral_storage", &self.ephemeral_storage),
            ("reserved_concurrency", &self.reserved_concurrency),
        ];
        for (name, value) in ints {
            if let Some((v, _)) = value {
                attrs.insert(name.into(), Value::Int(*v));
            }
        }
        if let Some((archs, _)) = &self.architectures {
            attrs.insert(
                "architectures".into(),
                Value::List(archs.iter().map(Value::str).collect()),
            );
        }
        if let Some(env) = &self.environment {
            let map = env
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        EnvValue::Plain(t) => r.value(t),
                        EnvValue::Secret(t) => match r.text(t) {
                            Some(secret) => Value::Sensitive(Sensitive::new(secret)),
                            // Reported by check: secrets refer to nothing created later.
                            None => Value::Sensitive(Sensitive::new(String::new())),
                        },
                    };
                    (k.clone(), value)
                })
                .collect();
            attrs.insert("environment".into(), Value::Map(map));
        }
        if let Some(triggers) = &self.triggers {
            let mut map = BTreeMap::new();
            for trigger in triggers {
                let Some(queue) = r.text(&trigger.queue) else {
                    diags.push(
                        Diagnostic::error(diag::Code::PlanUnknownTrigger, "the trigger's queue ARN is known only after apply")
                            .at_location(Some(trigger.queue.location.clone()))
                            .hint("refer to the queue as ${queue.NAME.arn}, which is known before the queue exists"),
                    );
                    continue;
                };
                map.insert(queue, trigger.desired());
            }
            attrs.insert("triggers".into(), Value::Map(map));
        }
        self.tags.desire(r, &mut attrs);
        attrs
    }

    fn export(
        &self,
        attribute: &str,
        r: &Resolver<'_>,
        live: Option<&LiveResource>,
    ) -> Option<String> {
        let name = r.text(&self.name)?;
        match attribute {
            "arn" => Some(r.account().arn(Kind::Function, &name)),
            "name" => Some(name),
            "timeout" => self.timeout.as_ref().map(|(t, _)| t.to_string()),
            "memory" => self.memory.as_ref().map(|(m, _)| m.to_string()),
            _ => super::assigned_export(live, &name, attribute),
        }
    }
}

/// Whether the function has a value for `attribute`: the settings it exports (`timeout`,
/// `memory`) have one only when the spec sets them.
fn declares_setting(spec: &FunctionSpec, attribute: &str) -> bool {
    match attribute {
        "timeout" => spec.timeout.is_some(),
        "memory" => spec.memory.is_some(),
        _ => true,
    }
}

/// Runtimes Lambda offers for new functions (its list of supported runtimes); a newer version
/// of one of their families is accepted too, as Lambda adds them.
const RUNTIMES: &[&str] = &[
    "nodejs22.x",
    "nodejs24.x",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.3",
    "ruby3.4",
    "provided.al2",
    "provided.al2023",
];
/// Runtimes whose deprecation has ended: Lambda refuses to create a function with one.
const RETIRED_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "java8",
    "go1.x",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet5.0",
    "dotnet6",
    "dotnet7",
    "ruby2.5",
    "ruby2.7",
    "provided",
    // Creating a function with these has been blocked since 31 August and 30 November 2026.
    "nodejs20.x",
    "python3.10",
];

/// The bucket of a function's code, as CreateFunction takes it: 3 to 63 letters, digits,
/// `.`, `-` and `_`, not ending with `.`.
fn lambda_code_bucket(bucket: &str) -> Result<(), String> {
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!(
            "s3_bucket `{}` is {} characters; Lambda takes 3 to 63",
            rules::clipped(bucket),
            bucket.chars().count()
        ));
    }
    if let Some(c) = bucket
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "s3_bucket `{bucket}` holds `{c}`; a bucket's name is letters, digits, `.`, `-` and `_`"
        ));
    }
    if bucket.ends_with('.') {
        return Err(format!(
            "s3_bucket `{bucket}` ends with `.`, which Lambda refuses"
        ));
    }
    Ok(())
}

/// An object key or version id of a function's code: 1 to 1,024 characters.
fn lambda_code_length(field: &str, value: &str) -> Result<(), String> {
    match value.chars().count() {
        0 => Err(format!(
            "{field} is empty; Lambda takes 1 to 1024 characters"
        )),
        n if n > 1024 => Err(format!("{field} is {n} characters; Lambda takes 1 to 1024")),
        _ => Ok(()),
    }
}

/// A container image's URI as Lambda takes it: an image in Amazon ECR,
/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/REPOSITORY` with `:TAG` or `@sha256:DIGEST` (or
/// neither, for `latest`); its region, which must be the function's. Lambda does not take
/// images through ECR's FIPS endpoints (`dkr.ecr-fips`), nor from other registries.
fn ecr_image(uri: &str) -> Result<String, String> {
    let not_ecr = || {
        format!("`{uri}` is not an image in Amazon ECR; Lambda runs container images from ECR only")
    };
    let (host, path) = uri.split_once('/').ok_or_else(not_ecr)?;
    let host = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .ok_or_else(not_ecr)?;
    let (account, rest) = host.split_once('.').ok_or_else(not_ecr)?;
    if rest.starts_with("dkr.ecr-fips.") {
        return Err(format!(
            "`{uri}` names ECR's FIPS endpoint; Lambda does not take images through it"
        ));
    }
    let region = rest.strip_prefix("dkr.ecr.").ok_or_else(not_ecr)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{uri}` names account `{account}`; an ECR registry is a 12-digit account id"
        ));
    }
    let region_shaped = !region.is_empty()
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_shaped {
        return Err(not_ecr());
    }
    let (repository, version) = match path.split_once('@') {
        Some((repository, digest)) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "`{uri}` has digest `{digest}`; a digest is sha256: and 64 hex digits"
                ));
            }
            (repository, None)
        }
        None => match path.rsplit_once(':') {
            Some((repository, tag)) => (repository, Some(tag)),
            None => (path, None),
        },
    };
    let repository_ok = (2..=256).contains(&repository.len())
        && repository.split('/').all(|part| {
            let edge =
                |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            edge(part.bytes().next())
                && edge(part.bytes().last())
                && part.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        });
    if !repository_ok {
        return Err(format!(
            "`{uri}` names repository `{repository}`; ECR's repository names are 2 to 256 lowercase letters, digits and . _ - /, each part starting and ending with a letter or digit"
        ));
    }
    if let Some(tag) = version {
        let first_ok = tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !first_ok
            || tag.len() > 128
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(format!(
                "`{uri}` has tag `{tag}`; an image tag is 1 to 128 letters, digits, _ . and -, not starting with . or -"
            ));
        }
    }
    Ok(region.to_string())
}

/// Lambda's pattern for a handler: `[^\s]+`, at most 128 characters.
fn lambda_handler(handler: &str) -> Result<(), String> {
    if handler.is_empty() || handler.chars().count() > 128 {
        return Err(format!(
            "the handler is {} characters; Lambda takes 1 to 128",
            handler.chars().count()
        ));
    }
    match handler.chars().find(|c| c.is_whitespace()) {
        Some(c) => Err(format!(
            "handler `{}` contains {c:?}; Lambda takes no spaces or line breaks in it",
            handler.escape_debug()
        )),
        None => Ok(()),
    }
}

/// A runtime identifier's family and version: `python3.12` is `("python", [3, 12])`. `None`
/// for what is not shaped like one of Lambda's (`nodejsN.x`, `python3.N`, `javaN`, `dotnetN`,
/// `rubyA.B`, `provided.alN`).
fn runtime_version(runtime: &str) -> Option<(&'static str, Vec<u32>)> {
    let numbers = |s: &str, parts: usize| -> Option<Vec<u32>> {
        let numbers: Vec<u32> = s
            .split('.')
            .map(|n| {
                (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| n.parse().ok())
                    .flatten()
            })
            .collect::<Option<_>>()?;
        (numbers.len() == parts).then_some(numbers)
    };
    if let Some(v) = runtime
        .strip_prefix("nodejs")
        .and_then(|r| r.strip_suffix(".x"))
    {
        return Some(("nodejs", numbers(v, 1)?));
    }
    if let Some(v) = runtime.strip_prefix("python") {
        return Some(("python", numbers(v, 2)?));
    }
    if let Some(v) = runtime.strip_prefix("provided.al") {
        return Some(("provided", numbers(v, 1)?));
    }
    if let Some(v) = runtime.strip_prefix("ruby") {
        return Some(("ruby", numbers(v, 2)?));
    }
    if let Some(v) = runtime.strip_prefix("dotnet") {
        return Some(("dotnet", numbers(v, 1)?));
    }
    let v = runtime.strip_prefix("java")?;
    Some(("java", numbers(v.strip_suffix(".al2").unwrap_or(v), 1)?))
}

/// A runtime Lambda may take: one it offers for new functions, or a newer version of one of
/// its families (Lambda adds them) written exactly as Lambda writes them.
fn lambda_runtime(runtime: &str) -> Result<(), String> {
    if RETIRED_RUNTIMES.contains(&runtime) {
        return Err(format!(
            "runtime `{runtime}` is retired: Lambda no longer creates functions with it"
        ));
    }
    if RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    if let Some((family, version)) = runtime_version(runtime) {
        let newest = RUNTIMES
            .iter()
            .filter_map(|r| runtime_version(r))
            .filter(|(f, _)| *f == family)
            .map(|(_, v)| v)
            .max();
        if newest.is_some_and(|newest| version > newest) {
            return Ok(());
        }
        return Err(format!(
            "runtime `{runtime}` is not one Lambda creates functions with: it is deprecated or was never offered"
        ));
    }
    let near = crate::spec::load::did_you_mean(runtime, RUNTIMES)
        .map(|d| format!("; {d}"))
        .unwrap_or_default();
    Err(format!("`{runtime}` is not a Lambda runtime{near}"))
}

/// Variables the Lambda runtime sets itself: CreateFunction refuses them as "reserved keys"
/// (Lambda's list of defined runtime environment variables).
const RESERVED_ENVIRONMENT: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
/// The most a function's environment variables may hold, names and values together.
const ENVIRONMENT_MAX_BYTES: usize = 4096;

/// A variable name Lambda accepts: a letter, then at least one letter, digit or `_`.
fn environment_name(name: &str) -> Result<(), String> {
    if RESERVED_ENVIRONMENT.contains(&name) {
        return Err(format!(
            "environment variable `{name}` is one the Lambda runtime sets itself"
        ));
    }
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_is_letter || name.len() < 2 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "environment variable name `{name}` is not one Lambda accepts"
        ));
    }
    Ok(())
}

impl FunctionSpec {
    /// Lambda's rules for the environment: names, the runtime's own variables, and 4 KB in all.
    fn check_environment(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        let Some(environment) = &self.environment else {
            return;
        };
        for (name, value) in environment {
            if let Err(message) = environment_name(name) {
                let hint = if RESERVED_ENVIRONMENT.contains(&name.as_str()) {
                    "remove it: Lambda sets it in every function, and refuses it in the configuration".to_string()
                } else {
                    "name variables with letters, digits and `_`, beginning with a letter (at least two characters)".to_string()
                };
                diags.push(
                    Diagnostic::error(diag::Code::SpecInvalidValue, message)
                        .at_location(Some(value.text().location.clone()))
                        .hint(hint),
                );
            }
        }
        // Counted once every value is known: at validate, with stand-ins for the account.
        // Lambda measures the variables as the JSON object it stores them in
        // (`{"NAME":"value",...}`, escapes included), and says so in its refusal.
        let json_len = |text: &str| serde_json::to_string(text).map_or(text.len() + 2, |j| j.len());
        let Some(sizes) = environment
            .iter()
            .map(|(name, value)| Some((json_len(name), json_len(&c.shape(value.text())?), value)))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        // The braces, a `:` for each variable and a `,` between two.
        let punctuation = 2 + sizes.len() + sizes.len().saturating_sub(1);
        let total: usize = punctuation
            + sizes
                .iter()
                .map(|(name, value, _)| name + value)
                .sum::<usize>();
        if total > ENVIRONMENT_MAX_BYTES {
            let largest = (sizes.iter())
                .max_by_key(|(_, value, _)| *value)
                .map(|(_, _, v)| v.text().location.clone());
            diags.push(
                Diagnostic::error(
                    diag::Code::SpecInvalidValue,
                    format!("the function's environment variables are {total} bytes as the JSON Lambda measures; Lambda allows {ENVIRONMENT_MAX_BYTES} in all"),
                )
                .at_location(largest)
                .hint("keep large values elsewhere (S3, SSM Parameter Store, Secrets Manager) and pass their names"),
            );
        }
    }
}

impl Trigger {
    fn check(&self, c: &Checker<'_>, diags: &mut Diagnostics) {
        c.text(
            &self.queue,
            rules::arn(rules::QUEUE_ARN),
            "write the queue's ARN, usually \"${queue.NAME.arn}\"",
            diags,
        );
        // Lambda takes at most 10 messages a batch from a FIFO queue, and no batching window.
        let fifo = c
            .shape(&self.queue)
            .is_some_and(|arn| arn.ends_with(super::queue::FIFO_SUFFIX));
        if let (true, Some((size, at))) = (fifo, &self.batch_size) {
            if *size > FIFO_BATCH_SIZE_MAX {
                diags.push(
                    Diagnostic::error(diag::Code::SpecInvalidValue, format!("batch_size is {size}; Lambda takes at most {FIFO_BATCH_SIZE_MAX} messages a batch from a FIFO queue"))
                        .at_location(Some(at.clone()))
                        .hint(format!("set batch_size to {FIFO_BATCH_SIZE_MAX} or less")),
                );
            }
        }
        if let (true, Some((window, at))) = (fifo, &self.batching_window) {
            if *window > 0 {
                diags.push(
                    Diagnostic::error(
                        diag::Code::SpecInvalidValue,
                        "Lambda supports no batching window on a FIFO queue",
                    )
                    .at_location(Some(at.clone()))
                    .hint("remove batching_window: Lambda supports it on standard queues only"),
                );
            }
        }
        if let Some(v) = &self.batch_size {
            c.range("batch_size", v, BATCH_SIZE, diags);
            let window = self
                .batching_window
                .as_ref()
                .map_or(DEFAULT_BATCHING_WINDOW, |w| w.0);
            if v.0 > 10 && window < 1 && !fifo {
                diags.push(
                    Diagnostic::error(diag::Code::SpecInvalidValue, "an SQS trigger with batch_size above 10 needs a batching_window of at least 1 s")
                        .at_location(Some(v.1.clone()))
                        .hint("set batching_window = 1 (seconds) or more"),
                );
            }
        }
        if let Some(v) = &self.batching_window {
            c.range("batching_window", v, BATCHING_WINDOW, diags);
        }
        for (t, at) in &self.function_response_types {
            if !RESPONSE_TYPES.contains(&t.as_str()) {
                diags.push(
                    Diagnostic::error(
                        diag::Code::SpecInvalidValue,
                        format!("`{t}` is not a function response type"),
                    )
                    .at_location(Some(at.clone()))
                    .hint("the only function response type is \"ReportBatchItemFailures\""),
                );
            }
        }
    }

    fn desired(&self) -> Value {
        Value::Map(BTreeMap::from([
            (
                "batch_size".to_string(),
                Value::Int(self.batch_size.as_ref().map_or(DEFAULT_BATCH_SIZE, |b| b.0)),
            ),
            (
                "batching_window".to_string(),
                Value::Int(
                    self.batching_window
                        .as_ref()
                        .map_or(DEFAULT_BATCHING_WINDOW, |w| w.0),
                ),
            ),
            ("enabled".to_string(), Value::Bool(self.enabled)),
            (
                "function_response_types".to_string(),
                Value::set(self.function_response_types.iter().map(|(t, _)| t.clone())),
            ),
        ]))
    }
}

/// Where code in S3 comes from, as plinth records it: `s3://BUCKET/KEY[?versionId=VERSION]`.
pub fn s3_source(bucket: &str, key: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("s3://{bucket}/{key}?versionId={v}"),
        None => format!("s3://{bucket}/{key}"),
    }
}

/// The schema of an environment value: a string, or `{ secret = "..." }` for one never shown.
struct EnvValueField;

impl schemars::JsonSchema for EnvValueField {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EnvironmentValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "type": "string" },
                { "type": "object", "properties": { "secret": { "type": "string" } }, "required": ["secret"], "additionalProperties": false }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ecr_image, environment_name, lambda_handler, lambda_runtime};

    #[test]
    fn code_in_s3_is_named_as_lambda_takes_it() {
        use super::{lambda_code_bucket, lambda_code_length};
        for good in ["my-code", "a.b_c-d", "abc", &"a".repeat(63)] {
            assert_eq!(lambda_code_bucket(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("code.", "ends with `.`"),
            ("ab", "3 to 63"),
            (&"a".repeat(64), "3 to 63"),
            ("my code", "holds ` `"),
        ] {
            let message = lambda_code_bucket(bad).expect_err(bad);
            assert!(message.contains(says), "{bad}: {message}");
        }
        assert!(lambda_code_length("s3_key", "").is_err());
        assert!(lambda_code_length("s3_key", &"k".repeat(1025)).is_err());
        assert_eq!(lambda_code_length("s3_key", "f.zip"), Ok(()));
    }

    #[test]
    fn images_are_in_ecr_and_their_region_is_read() {
        for (uri, region) in [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1",
                "us-east-1",
            ),
            (
                "123456789012.dkr.ecr.eu-west-2.amazonaws.com/team/app/worker",
                "eu-west-2",
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v1.2_3",
                "cn-north-1",
            ),
            (
                &format!(
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{}",
                    "ab".repeat(32)
                ),
                "us-east-1",
            ),
        ] {
            assert_eq!(ecr_image(uri).as_deref(), Ok(region), "{uri}");
        }
        for (uri, says) in [
            (
                "docker.io/library/python:3.12",
                "not an image in Amazon ECR",
            ),
            (
                "public.ecr.aws/lambda/python:3.12",
                "not an image in Amazon ECR",
            ),
            (
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app:1",
                "FIPS",
            ),
            ("12345.dkr.ecr.us-east-1.amazonaws.com/app:1", "12-digit"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/App:1",
                "repository `App`",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1",
                "repository `a`",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:-x",
                "tag `-x`",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc",
                "digest",
            ),
        ] {
            let message = ecr_image(uri).expect_err(uri);
            assert!(message.contains(says), "{uri}: {message}");
        }
    }

    #[test]
    fn handlers_have_no_spaces_and_at_most_128_characters() {
        assert_eq!(lambda_handler("main.handler"), Ok(()));
        assert_eq!(lambda_handler(&"a".repeat(128)), Ok(()));
        assert!(lambda_handler(&"a".repeat(129)).is_err());
        assert!(lambda_handler("").is_err());
        let spaced = lambda_handler("main.handler ").unwrap_err();
        assert!(spaced.contains("' '"), "{spaced}");
        assert!(lambda_handler("main.\nhandler").is_err());
    }

    #[test]
    fn runtimes_are_lambdas_and_not_retired() {
        for good in [
            "python3.12",
            "nodejs22.x",
            "java21",
            "provided.al2023",
            "python3.15",
            "nodejs26.x",
            "java8.al2",
            "provided.al2025",
        ] {
            assert_eq!(lambda_runtime(good), Ok(()), "{good}");
        }
        // Shaped like a runtime, but not one Lambda creates functions with now: deprecated
        // (older than the oldest offered) or never offered.
        for old in ["python3.9", "nodejs18.x", "java9", "ruby3.2"] {
            let refused = lambda_runtime(old).unwrap_err();
            assert!(
                refused.contains("not one Lambda creates functions with"),
                "{refused}"
            );
        }
        // Not written as Lambda writes it.
        for odd in [
            "python3.12 ",
            "nodejs22",
            "python3.12.1",
            "java21x",
            "python",
        ] {
            assert!(lambda_runtime(odd).is_err(), "{odd:?}");
        }
        assert!(lambda_runtime("python2.7").unwrap_err().contains("retired"));
        assert!(lambda_runtime("go1.x").unwrap_err().contains("retired"));
        let typo = lambda_runtime("pyhton3.12").unwrap_err();
        assert!(typo.contains("did you mean `python3.12`?"), "{typo}");
    }

    /// Lambda takes at most 4 KB of environment, names and values together; a value made of
    /// a variable counts as the variable's value.
    #[test]
    fn an_environment_above_four_kilobytes_is_refused() {
        let load = |size: usize| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("plinth.toml");
            let spec = format!(
                r#"[stack]
name = "env"

[vars]
blob = "{}"

[function.f]
name = "f"
role = "arn:aws:iam::123456789012:role/r"
code = {{ image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1" }}
environment = {{ MODE = "batch", BLOB = "${{var.blob}}" }}
"#,
                "x".repeat(size)
            );
            std::fs::write(&path, spec).unwrap();
            crate::spec::load(&path, &crate::spec::LoadOptions::default())
        };
        // As Lambda measures it: {"MODE":"batch","BLOB":"..."} is 26 bytes and the value.
        let fits = 4096 - 26;
        assert!(load(fits).is_ok());
        let refused = load(fits + 1).unwrap_err().render(false);
        assert!(
            refused.contains("are 4097 bytes as the JSON Lambda measures"),
            "{refused}"
        );
    }

    #[test]
    fn environment_names_are_those_lambda_accepts() {
        for good in [
            "LOG_LEVEL",
            "db2",
            "Tz",
            "PATH",
            "TZ",
            "AWS_LAMBDA_EXEC_WRAPPER",
        ] {
            assert_eq!(environment_name(good), Ok(()), "{good}");
        }
        for bad in ["A", "1BAD", "LOG-LEVEL", "_PRIVATE", "ÄPFEL", ""] {
            let message = environment_name(bad).expect_err(bad);
            assert!(
                message.contains("not one Lambda accepts"),
                "{bad}: {message}"
            );
        }
        for reserved in [
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "_HANDLER",
            "LAMBDA_TASK_ROOT",
        ] {
            let message = environment_name(reserved).expect_err(reserved);
            assert!(message.contains("sets itself"), "{reserved}: {message}");
        }
    }
}

#[cfg(test)]
mod secret_tests {
    use super::{looks_secret, value_looks_secret};

    /// What import writes as `{ secret = ... }`: by the variable's name, or by the value's shape.
    #[test]
    fn secrets_are_told_by_name_or_by_shape() {
        for (name, value) in [
            ("DB_PASSWORD", "x"),
            ("GITHUB_CREDS", "x"),
            (
                "DATABASE_URL",
                "postgres://app:Pa55w0rd@db.internal:5432/app",
            ),
            ("STRIPE_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            ("GH", "ghp_0123456789abcdefghijABCDEFGHIJ012345"),
            ("CREDS", "AKIAIOSFODNN7EXAMPLE"),
            ("HEADER", "Bearer abc.def"),
            ("NOTIFY", "https://hooks.slack.com/services/T000/B000/XXXX"),
            ("CERT", "-----BEGIN PRIVATE KEY-----\nMII..."),
            ("SESSION", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"),
        ] {
            assert!(
                looks_secret(name) || value_looks_secret(value),
                "{name}={value}"
            );
        }
        for (name, value) in [
            (
                "QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/work",
            ),
            ("DATABASE_URL", "postgres://db.internal:5432/app"),
            ("BUCKET", "tonic-data"),
            ("KMS_KEY", "arn:aws:kms:us-east-1:123456789012:key/1234abcd"),
            ("MODE", "AKIA"),
            ("USER_URL", "https://user@example.com/"),
        ] {
            assert!(
                !looks_secret(name) && !value_looks_secret(value),
                "{name}={value}"
            );
        }
    }
}
