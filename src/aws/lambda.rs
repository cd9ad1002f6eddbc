//! Lambda: functions, their code, configuration, reserved concurrency, tags, and the SQS event
//! source mappings that trigger them.
//!
//! Code is identified the way Lambda identifies it: the base64 SHA-256 of the zip
//! (`CodeSha256`), the image URI, or, for code taken from S3 (whose origin Lambda does not
//! report), the `s3://` location plinth records in the `plinth:code` tag.

mod apply;
mod package;

pub(crate) use apply::FunctionAdapter;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, EphemeralStorage, EventSourceMappingConfiguration, FunctionCode,
    FunctionConfiguration, FunctionResponseType, PackageType, Runtime,
};
use futures::{stream, StreamExt, TryStreamExt};

use super::adapter::{Adapter, Change, Side};
use super::tagging::Tagging;
use super::{not_found_as_none, retry_transient, AwsError, Exports, Patience};
use super::{Aws, KindActions};
use crate::archive;
use crate::model::{Attributes, Kind, Value, STACK_TAG};
use crate::state::{split_tags, LiveResource, ReadRequest, READ_CONCURRENCY};

/// See [`super::KindActions`]. Creating or updating a function also needs `iam:PassRole` on
/// its role, which `plinth permissions` grants on the roles the spec names.
pub const ACTIONS: super::KindActions = super::KindActions {
    on_resource: &[
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:CreateFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PutFunctionConcurrency",
        "lambda:TagResource",
        "lambda:UntagResource",
        "lambda:DeleteFunction",
    ],
    account_wide: &[
        "lambda:ListFunctions",
        "lambda:ListTags",
        "lambda:ListEventSourceMappings",
    ],
    // Event source mappings are authorized on the mapping, whose id Lambda assigns.
    by_condition: &[
        "lambda:CreateEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
    ],
    scope_key: "lambda:FunctionArn",
    elsewhere: &[],
    before_creation: &[],
};

#[derive(Clone, Debug)]
pub struct Lambda {
    client: aws_sdk_lambda::Client,
    patience: Patience,
}

/// Where code taken from S3 came from: Lambda reports only the code's hash.
pub const CODE_TAG: &str = "plinth:code";

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// Lambda refuses a role IAM has not yet propagated to it, and a trigger whose role's new
/// permissions have not propagated; both pass within seconds.
fn not_yet_propagated(e: &AwsError) -> bool {
    e.is_code("InvalidParameterValueException")
        && (e.message.contains("cannot be assumed by Lambda")
            || e.message
                .contains("execution role does not have permissions"))
}

/// A function (or mapping) still busy with its previous change.
fn busy(e: &AwsError) -> bool {
    (e.is_code("ResourceConflictException") || e.is_code("ResourceInUseException"))
        && !already_exists(e)
}

/// A create whose first attempt succeeded but whose response was lost meets its own result.
fn already_exists(e: &AwsError) -> bool {
    e.is_code("ResourceConflictException") && e.message.contains("already exist")
}

impl Lambda {
    pub fn new(config: &SdkConfig, patience: Patience) -> Self {
        Self {
            client: aws_sdk_lambda::Client::new(config),
            patience,
        }
    }

    /// GetFunction (configuration, code, tags and concurrency in one call), plus
    /// ListEventSourceMappings when the spec declares triggers.
    pub async fn read_function(&self, req: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        let got = not_found_as_none(
            self.client
                .get_function()
                .function_name(&req.physical_id)
                .send()
                .await,
            "lambda:GetFunction",
            NOT_FOUND,
        )?;
        let Some(out) = got else { return Ok(None) };
        let Some(config) = out.configuration() else {
            return Ok(None);
        };
        // GetFunction gives the tags only to a caller allowed lambda:ListTags, and otherwise
        // says why beside an answer without them: read as no tags, the stack's own function
        // would be someone else's.
        if let Some(refused) = out.tags_error() {
            let operation = format!("lambda:ListTags ({})", req.physical_id);
            let code = refused.error_code();
            let message = refused.message();
            return Err(AwsError {
                hint: super::failure::hint_for_code(&operation, Some(code), message).or_else(
                    || {
                        Some(
                            "plinth reads a function's tags to know whose it is: allow lambda:ListTags on it to the identity running plinth".into(),
                        )
                    },
                ),
                operation,
                code: Some(code.to_string()),
                message: message.to_string(),
            });
        }
        let tags: BTreeMap<String, String> = out
            .tags()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut live = function_resource(config, tags);
        let code = match (
            live.attributes.get("code"),
            out.code().and_then(|c| c.image_uri()),
        ) {
            (Some(Value::Str(tagged)), _) if tagged.starts_with("s3://") => None,
            (_, Some(uri)) if config.package_type() == Some(&PackageType::Image) => {
                Some(format!("image:{uri}"))
            }
            _ => Some(format!(
                "sha256:{}",
                config.code_sha256().unwrap_or_default()
            )),
        };
        if let Some(code) = code {
            std::sync::Arc::make_mut(&mut live.attributes).insert("code".into(), Value::Str(code));
        }
        if let Some(n) = out
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions())
        {
            std::sync::Arc::make_mut(&mut live.attributes)
                .insert("reserved_concurrency".into(), Value::Int(n.into()));
        }
        if req.declared.contains("triggers") {
            let mappings = self.sqs_mappings(&req.physical_id).await?;
            let map = mappings
                .iter()
                .map(|m| {
                    (
                        m.event_source_arn().unwrap_or_default().to_string(),
                        trigger_value(m),
                    )
                })
                .collect();
            std::sync::Arc::make_mut(&mut live.attributes)
                .insert("triggers".into(), Value::Map(map));
        }
        Ok(Some(live))
    }

    /// The function's event source mappings from SQS queues, except those being deleted.
    async fn sqs_mappings(
        &self,
        function: &str,
    ) -> Result<Vec<EventSourceMappingConfiguration>, AwsError> {
        let mut all = self.all_sqs_mappings(function).await?;
        all.retain(|m| m.state() != Some("Deleting"));
        Ok(all)
    }

    /// The function's event source mappings from SQS queues, those being deleted too.
    async fn all_sqs_mappings(
        &self,
        function: &str,
    ) -> Result<Vec<EventSourceMappingConfiguration>, AwsError> {
        let all: Vec<EventSourceMappingConfiguration> = self
            .client
            .list_event_source_mappings()
            .function_name(function)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("lambda:ListEventSourceMappings", &e))?;
        Ok(all
            .into_iter()
            .filter(|m| m.event_source_arn().is_some_and(|a| a.contains(":sqs:")))
            .collect())
    }

    /// Every function tagged as owned by `stack`. Lambda cannot filter by tag, so this lists
    /// functions and reads each one's tags.
    pub async fn owned_functions(
        &self,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let functions: Vec<FunctionConfiguration> = self
            .client
            .list_functions()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("lambda:ListFunctions", &e))?;
        let unnamed = functions
            .into_iter()
            .filter(|f| !f.function_name().is_some_and(|n| named.contains(n)));
        let tagged: Vec<(FunctionConfiguration, HashMap<String, String>)> = stream::iter(unnamed)
            .map(|f| async move {
                let out = not_found_as_none(
                    self.client
                        .list_tags()
                        .resource(f.function_arn().unwrap_or_default())
                        .send()
                        .await,
                    "lambda:ListTags",
                    NOT_FOUND,
                )?;
                Ok::<_, AwsError>(out.map(|o| (f, o.tags.unwrap_or_default())))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        let mut owned: Vec<LiveResource> = tagged
            .into_iter()
            .filter(|(_, tags)| tags.get(STACK_TAG).is_some_and(|s| s == stack))
            .map(|(f, tags)| {
                let mut live = function_resource(&f, tags.into_iter().collect());
                // Not compared for a function leaving the stack, and it may hold secrets.
                std::sync::Arc::make_mut(&mut live.attributes).remove("environment");
                live
            })
            .collect();
        owned.sort_by(|a, b| a.physical_id.cmp(&b.physical_id));
        Ok(owned)
    }
}

/// A function as plinth wants it (or found it), from a plan's attributes; `None` is unmanaged.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    pub role: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub package_type: String,
    /// `sha256:BASE64`, `image:URI` or `s3://BUCKET/KEY[?versionId=V]`.
    pub code: Option<String>,
    /// For zip code: `("dir" | "zip", path)`.
    pub code_path: Option<(String, PathBuf)>,
    pub description: Option<String>,
    pub timeout: Option<i32>,
    pub memory: Option<i32>,
    pub ephemeral_storage: Option<i32>,
    pub reserved_concurrency: Option<i32>,
    pub architectures: Option<Vec<String>>,
    /// Values are strings or secrets.
    pub environment: Option<BTreeMap<String, Value>>,
    /// By queue ARN.
    pub triggers: Option<BTreeMap<String, TriggerConfig>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub ownership: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TriggerConfig {
    pub batch_size: i32,
    pub batching_window: i32,
    pub enabled: bool,
    pub function_response_types: Vec<String>,
}

impl TriggerConfig {
    fn from_value(v: &Value) -> Result<TriggerConfig, String> {
        let Value::Map(m) = v else {
            return Err("a trigger is not a table".into());
        };
        let int = |k: &str| match m.get(k) {
            Some(Value::Int(i)) => {
                i32::try_from(*i).map_err(|_| format!("trigger {k} is out of range"))
            }
            _ => Err(format!("trigger {k} is missing")),
        };
        Ok(TriggerConfig {
            batch_size: int("batch_size")?,
            batching_window: int("batching_window")?,
            enabled: matches!(m.get("enabled"), Some(Value::Bool(true))),
            function_response_types: match m.get("function_response_types") {
                Some(Value::Set(s)) => s.clone(),
                _ => Vec::new(),
            },
        })
    }

    fn value(&self) -> Value {
        Value::Map(BTreeMap::from([
            ("batch_size".to_string(), Value::Int(self.batch_size.into())),
            (
                "batching_window".to_string(),
                Value::Int(self.batching_window.into()),
            ),
            ("enabled".to_string(), Value::Bool(self.enabled)),
            (
                "function_response_types".to_string(),
                Value::set(self.function_response_types.iter().cloned()),
            ),
        ]))
    }

    fn response_types(&self) -> Vec<FunctionResponseType> {
        self.function_response_types
            .iter()
            .map(|t| FunctionResponseType::from(t.as_str()))
            .collect()
    }
}

/// A mapping as plinth compares it; what Lambda leaves out is its default.
fn trigger_value(m: &EventSourceMappingConfiguration) -> Value {
    TriggerConfig {
        batch_size: m.batch_size().unwrap_or(10),
        batching_window: m.maximum_batching_window_in_seconds().unwrap_or(0),
        enabled: !matches!(m.state(), Some("Disabled" | "Disabling")),
        function_response_types: m
            .function_response_types()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
    }
    .value()
}

/// Which configuration fields an update changes.
#[derive(Default)]
struct ConfigurationChanges {
    any: bool,
    role: bool,
    runtime: bool,
    handler: bool,
    description: bool,
    timeout: bool,
    memory: bool,
    ephemeral_storage: bool,
    environment: bool,
}

/// The code to send, read (and checked against the plan) at apply time.
enum CodeSource {
    Zip(Vec<u8>),
    S3 {
        bucket: String,
        key: String,
        version: Option<String>,
    },
    Image(String),
}

impl CodeSource {
    fn function_code(&self) -> FunctionCode {
        match self {
            CodeSource::Zip(bytes) => FunctionCode::builder()
                .zip_file(Blob::new(bytes.clone()))
                .build(),
            CodeSource::S3 {
                bucket,
                key,
                version,
            } => FunctionCode::builder()
                .s3_bucket(bucket)
                .s3_key(key)
                .set_s3_object_version(version.clone())
                .build(),
            CodeSource::Image(uri) => FunctionCode::builder().image_uri(uri).build(),
        }
    }

    fn update(
        &self,
        request: aws_sdk_lambda::operation::update_function_code::builders::UpdateFunctionCodeFluentBuilder,
    ) -> aws_sdk_lambda::operation::update_function_code::builders::UpdateFunctionCodeFluentBuilder
    {
        match self {
            CodeSource::Zip(bytes) => request.zip_file(Blob::new(bytes.clone())),
            CodeSource::S3 {
                bucket,
                key,
                version,
            } => request
                .s3_bucket(bucket)
                .s3_key(key)
                .set_s3_object_version(version.clone()),
            CodeSource::Image(uri) => request.image_uri(uri),
        }
    }
}

impl FunctionConfig {
    pub fn from_attributes(
        attrs: &Attributes,
        ownership: &BTreeMap<String, String>,
    ) -> Result<FunctionConfig, String> {
        let text = |k: &str| -> Result<Option<String>, String> {
            match attrs.get(k) {
                None => Ok(None),
                Some(Value::Str(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!(
                    "attribute `{k}` is {}, not a string",
                    other.display()
                )),
            }
        };
        let int = |k: &str| -> Result<Option<i32>, String> {
            match attrs.get(k) {
                None => Ok(None),
                Some(Value::Int(i)) => i32::try_from(*i)
                    .map(Some)
                    .map_err(|_| format!("attribute `{k}` is out of range")),
                Some(other) => Err(format!(
                    "attribute `{k}` is {}, not a number",
                    other.display()
                )),
            }
        };
        let code_path = match attrs.get("code_path") {
            Some(Value::Map(m)) => m
                .iter()
                .next()
                .and_then(|(form, p)| Some((form.clone(), PathBuf::from(p.as_str()?)))),
            _ => None,
        };
        let string_map = |k: &str| -> Result<Option<BTreeMap<String, String>>, String> {
            match attrs.get(k) {
                Some(Value::Map(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            v.as_str().ok_or("tag values are strings")?.to_string(),
                        ))
                    })
                    .collect::<Result<BTreeMap<_, _>, String>>()
                    .map(Some),
                _ => Ok(None),
            }
        };
        Ok(FunctionConfig {
            name: text("name")?.ok_or("a function needs a name")?,
            role: text("role")?.unwrap_or_default(),
            runtime: text("runtime")?,
            handler: text("handler")?,
            package_type: text("package_type")?.unwrap_or_else(|| "Zip".into()),
            code: text("code")?,
            code_path,
            description: text("description")?,
            timeout: int("timeout")?,
            memory: int("memory")?,
            ephemeral_storage: int("ephemeral_storage")?,
            reserved_concurrency: int("reserved_concurrency")?,
            architectures: match attrs.get("architectures") {
                Some(Value::List(items)) => Some(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            },
            environment: match attrs.get("environment") {
                Some(Value::Map(m)) => Some(m.clone()),
                _ => None,
            },
            triggers: match attrs.get("triggers") {
                Some(Value::Map(m)) => Some(
                    m.iter()
                        .map(|(q, t)| Ok((q.clone(), TriggerConfig::from_value(t)?)))
                        .collect::<Result<_, String>>()?,
                ),
                _ => None,
            },
            tags: string_map("tags")?,
            ownership: ownership.clone(),
        })
    }

    /// The code as planned: a zip is rebuilt from its directory (or read from its file) and
    /// must still hash to what was planned.
    fn code_source(&self) -> Result<CodeSource, AwsError> {
        let fail = |message: String, hint: &str| AwsError {
            operation: format!("prepare the code of function `{}`", self.name),
            code: None,
            message,
            hint: Some(hint.into()),
        };
        let code = self
            .code
            .as_deref()
            .ok_or_else(|| fail("the plan names no code".into(), "plan again"))?;
        if let Some(uri) = code.strip_prefix("image:") {
            return Ok(CodeSource::Image(uri.to_string()));
        }
        if let Some(location) = code.strip_prefix("s3://") {
            let (path, version) = match location.split_once("?versionId=") {
                Some((p, v)) => (p, Some(v.to_string())),
                None => (location, None),
            };
            let (bucket, key) = path
                .split_once('/')
                .ok_or_else(|| fail(format!("`{code}` is not s3://BUCKET/KEY"), "plan again"))?;
            return Ok(CodeSource::S3 {
                bucket: bucket.into(),
                key: key.into(),
                version,
            });
        }
        let planned = code
            .strip_prefix("sha256:")
            .ok_or_else(|| fail(format!("unknown code `{code}`"), "plan again"))?;
        let (form, path) = self
            .code_path
            .as_ref()
            .ok_or_else(|| fail("the plan names no code path".into(), "plan again"))?;
        let bytes = if form == "dir" {
            archive::zip_directory(path)
        } else {
            archive::read_at_most(path, archive::MAX_INLINE_ZIP_BYTES as u64)
        }
        .map_err(|e| {
            fail(
                format!("cannot read `{}`: {e}", path.display()),
                "check the path and plan again",
            )
        })?;
        if archive::code_sha256(&bytes) != planned {
            return Err(fail(
                format!(
                    "the code in `{}` changed after the plan was made",
                    path.display()
                ),
                "plan again to review the new code",
            ));
        }
        Ok(CodeSource::Zip(bytes))
    }

    /// The environment as Lambda takes it, secrets revealed (the only place they are).
    fn environment_for_aws(&self) -> Result<Option<Environment>, AwsError> {
        let Some(env) = &self.environment else {
            return Ok(None);
        };
        let mut variables = HashMap::new();
        for (name, value) in env {
            let text = match value {
                Value::Str(s) => s.clone(),
                Value::Sensitive(s) => s
                    .reveal()
                    .ok_or_else(|| AwsError {
                        operation: format!("set the environment of function `{}`", self.name),
                        code: None,
                        message: format!("the value of secret `{name}` is not in this plan"),
                        hint: Some(
                            "secrets are never saved with a plan; plan and apply in one run".into(),
                        ),
                    })?
                    .to_string(),
                other => other.display(),
            };
            variables.insert(name.clone(), text);
        }
        Ok(Some(
            Environment::builder()
                .set_variables(Some(variables))
                .build(),
        ))
    }

    fn architectures(&self) -> Option<Vec<Architecture>> {
        self.architectures
            .as_ref()
            .map(|a| a.iter().map(|s| Architecture::from(s.as_str())).collect())
    }

    fn ephemeral_storage(&self) -> Option<EphemeralStorage> {
        self.ephemeral_storage
            .and_then(|size| EphemeralStorage::builder().size(size).build().ok())
    }

    fn configuration_changes(&self, before: &FunctionConfig) -> ConfigurationChanges {
        fn differs<T: PartialEq>(after: &Option<T>, before: &Option<T>) -> bool {
            after.is_some() && after != before
        }
        let environment = match (&self.environment, &before.environment) {
            (Some(after), Some(before)) => {
                after.len() != before.len()
                    || after
                        .iter()
                        .any(|(k, v)| !before.get(k).is_some_and(|b| b.equivalent(v)))
            }
            (Some(after), None) => !after.is_empty(),
            (None, _) => false,
        };
        let mut c = ConfigurationChanges {
            any: false,
            role: self.role != before.role,
            runtime: differs(&self.runtime, &before.runtime),
            handler: differs(&self.handler, &before.handler),
            description: differs(&self.description, &before.description),
            timeout: differs(&self.timeout, &before.timeout),
            memory: differs(&self.memory, &before.memory),
            ephemeral_storage: differs(&self.ephemeral_storage, &before.ephemeral_storage),
            environment,
        };
        c.any = c.role
            || c.runtime
            || c.handler
            || c.description
            || c.timeout
            || c.memory
            || c.ephemeral_storage
            || c.environment;
        c
    }

    /// Every tag the function carries: the user's (or, when unmanaged, those it has),
    /// plinth's, and where S3 code came from.
    fn all_tags(&self, unmanaged: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let mut all = self
            .tags
            .as_ref()
            .or(unmanaged)
            .cloned()
            .unwrap_or_default();
        all.extend(self.ownership.clone());
        if let Some(code) = self.code.as_ref().filter(|c| c.starts_with("s3://")) {
            all.insert(CODE_TAG.into(), code.clone());
        }
        all
    }
}

/// A function's configuration in plinth's terms (code is filled in by the caller).
fn function_resource(f: &FunctionConfiguration, tags: BTreeMap<String, String>) -> LiveResource {
    let code_origin = tags.get(CODE_TAG).cloned();
    let (owner, address_tag, mut user_tags) = split_tags(tags);
    user_tags.remove(CODE_TAG);
    let name = f.function_name().unwrap_or_default().to_string();
    let mut attributes = Attributes::new();
    attributes.insert("name".into(), Value::str(&name));
    attributes.insert("role".into(), Value::str(f.role().unwrap_or_default()));
    if let Some(r) = f.runtime() {
        attributes.insert("runtime".into(), Value::str(r.as_str()));
    }
    if let Some(h) = f.handler() {
        attributes.insert("handler".into(), Value::str(h));
    }
    attributes.insert(
        "package_type".into(),
        Value::str(f.package_type().map_or("Zip", |p| p.as_str())),
    );
    if let Some(origin) = code_origin {
        attributes.insert("code".into(), Value::Str(origin));
    }
    attributes.insert(
        "description".into(),
        Value::str(f.description().unwrap_or_default()),
    );
    if let Some(t) = f.timeout() {
        attributes.insert("timeout".into(), Value::Int(t.into()));
    }
    if let Some(m) = f.memory_size() {
        attributes.insert("memory".into(), Value::Int(m.into()));
    }
    if let Some(e) = f.ephemeral_storage() {
        attributes.insert("ephemeral_storage".into(), Value::Int(e.size().into()));
    }
    attributes.insert(
        "architectures".into(),
        Value::List(
            f.architectures()
                .iter()
                .map(|a| Value::str(a.as_str()))
                .collect(),
        ),
    );
    let variables = f
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    attributes.insert(
        "environment".into(),
        Value::Map(
            variables
                .into_iter()
                .map(|(k, v)| (k, Value::Str(v)))
                .collect(),
        ),
    );
    attributes.insert(
        "tags".into(),
        Value::Map(
            user_tags
                .into_iter()
                .map(|(k, v)| (k, Value::Str(v)))
                .collect(),
        ),
    );
    let exports = BTreeMap::from([
        (
            "arn".to_string(),
            f.function_arn().unwrap_or_default().to_string(),
        ),
        ("name".to_string(), name.clone()),
    ]);
    LiveResource {
        kind: Kind::Function,
        physical_id: name,
        owner,
        address_tag,
        attributes: attributes.into(),
        exports,
        deletion_date: None,
    }
}
