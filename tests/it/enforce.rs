//! The test proxy as IAM: every request is mapped to the IAM actions it needs (as the Service
//! Authorization Reference names them, which is not always the API call's name), the resources
//! they act on and the condition keys AWS sets (`iam:PassedToService`, `iam:PolicyARN`,
//! `lambda:FunctionArn`, `aws:ResourceTag/...` read from the resource itself); a request the
//! identity policy does not allow is answered with AccessDenied in the service's shape, as AWS
//! would, and never reaches moto.
//!
//! The mapping is written here from AWS's documentation, not taken from plinth: a request plinth
//! makes that its printed policy forgets is a refusal, whichever of the two is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use bytes::Bytes;
use plinth::policy::eval::{is_allowed_in, Decision};
use plinth::policy::PolicyDocument;
use serde_json::Value;

use crate::strict::{form, json_body};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// One IAM action a request needs, on one resource, with the context AWS evaluates it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub action: String,
    pub resource: String,
    pub context: Vec<(String, String)>,
    /// Where the resource's tags are read when a statement is conditioned on them.
    pub tags: Option<Tagged>,
}

/// A resource whose tags can be read from moto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    Role(String),
    Policy(String),
    InstanceProfile(String),
    OidcProvider(String),
    Key(String),
    Queue(String),
    Function(String),
    Bucket(String),
}

/// A request the policy did not allow.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub operation: String,
    pub action: String,
    pub resource: String,
}

/// What the policy allowed and refused while it was enforced.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub used: BTreeSet<String>,
    pub refused: Vec<Refusal>,
}

pub struct Enforcer {
    policy: PolicyDocument,
    record: Mutex<Record>,
    /// One SDK configuration (one HTTP client, on the proxy's runtime) for every look at moto.
    moto: tokio::sync::OnceCell<aws_config::SdkConfig>,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enforcer")
    }
}

impl Enforcer {
    pub fn new(policy: &str) -> Enforcer {
        Enforcer {
            policy: PolicyDocument::parse(policy).expect("the printed policy parses"),
            record: Mutex::new(Record::default()),
            moto: tokio::sync::OnceCell::new(),
        }
    }

    pub fn record(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// The refusal for a request, or `None` when the policy allows all it needs.
    pub async fn check(
        &self,
        operation: &str,
        parts: &hyper::http::request::Parts,
        body: &Bytes,
    ) -> Option<Refusal> {
        let moto = self.moto.get_or_init(crate::support::sdk).await;
        let needs = needs(moto, operation, parts, body).await;
        for need in &needs {
            if !self.allows(need).await {
                let refusal = Refusal {
                    operation: operation.to_string(),
                    action: need.action.clone(),
                    resource: need.resource.clone(),
                };
                self.record.lock().unwrap().refused.push(refusal.clone());
                return Some(refusal);
            }
        }
        let mut record = self.record.lock().unwrap();
        record.used.extend(needs.into_iter().map(|n| n.action));
        None
    }

    /// Whether the policy allows `action` on `resource` in `context` (no resource tags).
    pub async fn decide(&self, action: &str, resource: &str, context: &[(&str, &str)]) -> bool {
        let mut need = need(action, resource, None);
        for (k, v) in context {
            need = with(need, k, v);
        }
        self.allows(&need).await
    }

    async fn allows(&self, need: &Need) -> bool {
        let decide = |context: &[(String, String)]| {
            let context: Vec<(&str, &str)> = context
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            is_allowed_in(
                &[&self.policy],
                None,
                &need.action,
                &need.resource,
                &context,
            )
        };
        match decide(&need.context) {
            Decision::Allowed => true,
            Decision::AllowedIfConditions => {
                // Conditions on the resource's tags: read them as AWS would, and decide again.
                // A key that is absent makes StringEquals false, so what stays undecided is
                // refused.
                let Some(tagged) = &need.tags else {
                    return false;
                };
                let moto = self.moto.get_or_init(crate::support::sdk).await;
                let mut context = need.context.clone();
                context.extend(
                    tags_of(moto, tagged)
                        .await
                        .into_iter()
                        .map(|(k, v)| (format!("aws:ResourceTag/{k}"), v)),
                );
                decide(&context) == Decision::Allowed
            }
            Decision::ImplicitDeny | Decision::ExplicitDeny => false,
        }
    }
}

/// The denial AWS answers with, in the service's words.
pub fn denial(refusal: &Refusal) -> (u16, &'static str, String) {
    let service = refusal.operation.split(':').next().unwrap_or("");
    let code = match service {
        "kms" | "lambda" => "AccessDeniedException",
        _ => "AccessDenied",
    };
    let message = if service == "s3" {
        // S3 names neither the action nor the resource.
        "Access Denied".to_string()
    } else {
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/moto is not authorized to perform: {} on resource: {} because no identity-based policy allows the {} action",
            refusal.action, refusal.resource, refusal.action
        )
    };
    (403, code, message)
}

fn arn(service: &str, regional: bool, resource: &str) -> String {
    format!(
        "arn:aws:{service}:{}:{ACCOUNT}:{resource}",
        if regional { REGION } else { "" }
    )
}

fn need(action: &str, resource: impl Into<String>, tags: Option<Tagged>) -> Need {
    Need {
        action: action.to_string(),
        resource: resource.into(),
        context: Vec::new(),
        tags,
    }
}

fn with(mut need: Need, key: &str, value: &str) -> Need {
    need.context.push((key.to_string(), value.to_string()));
    need
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// What a request needs, by service.
pub async fn needs(
    moto: &aws_config::SdkConfig,
    operation: &str,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> Vec<Need> {
    let mut needs = match operation.split(':').next().unwrap_or("") {
        "iam" => iam(&form(body)),
        "sts" => Vec::new(), // GetCallerIdentity needs no permission.
        "kms" => kms(moto, operation, &json_body(body)).await,
        "sqs" => sqs(operation, &json_body(body)),
        "lambda" => lambda(moto, parts, &json_body(body)).await,
        "s3" => s3(parts, body),
        other => vec![need(&format!("{other}:unknown"), "*", None)],
    };
    // Tags a request sets are `aws:RequestTag/KEY` for every action it needs.
    let tags = request_tags(operation, parts, body);
    for need in &mut needs {
        need.context.extend(
            tags.iter()
                .map(|(k, v)| (format!("aws:RequestTag/{k}"), v.clone())),
        );
    }
    needs
}

/// The tags a request sets, in each protocol's shape.
fn request_tags(
    operation: &str,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> Vec<(String, String)> {
    let from_map = |v: &Value| {
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    match operation.split(':').next().unwrap_or("") {
        "iam" => {
            let form = form(body);
            (1..)
                .map_while(|i| {
                    let key = form.get(&format!("Tags.member.{i}.Key"))?;
                    let value = form
                        .get(&format!("Tags.member.{i}.Value"))
                        .cloned()
                        .unwrap_or_default();
                    Some((key.clone(), value))
                })
                .collect()
        }
        "kms" => json_body(body)["Tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| {
                        Some((
                            t["TagKey"].as_str()?.to_string(),
                            t["TagValue"].as_str().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        "sqs" => {
            let body = json_body(body);
            let mut tags = from_map(&body["tags"]);
            tags.extend(from_map(&body["Tags"]));
            tags
        }
        "lambda" => from_map(&json_body(body)["Tags"]),
        "s3" => {
            let mut tags: Vec<(String, String)> = parts
                .headers
                .get("x-amz-tagging")
                .and_then(|v| v.to_str().ok())
                .map(|q| {
                    q.split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (decode(k), decode(v)))
                        .collect()
                })
                .unwrap_or_default();
            let text = String::from_utf8_lossy(body);
            for tag in text.split("<Tag>").skip(1) {
                let field = |name: &str| {
                    tag.split_once(&format!("<{name}>"))
                        .and_then(|(_, rest)| rest.split_once(&format!("</{name}>")))
                        .map(|(v, _)| v.to_string())
                };
                if let Some(key) = field("Key") {
                    tags.push((key, field("Value").unwrap_or_default()));
                }
            }
            tags
        }
        _ => Vec::new(),
    }
}

fn iam(form: &std::collections::HashMap<String, String>) -> Vec<Need> {
    let call = form.get("Action").cloned().unwrap_or_default();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let path = |default: &str| form.get("Path").cloned().unwrap_or_else(|| default.into());
    let role = |name: &str| need_role(&format!("iam:{call}"), name, &path("/"));
    let tagged = form.keys().any(|k| k.starts_with("Tags.member."));
    let mut out = Vec::new();
    match call.as_str() {
        "ListRoles" | "ListPolicies" | "ListInstanceProfiles" | "ListOpenIDConnectProviders" => {
            out.push(need(&format!("iam:{call}"), "*", None));
        }
        "CreatePolicy" => {
            let arn = arn(
                "iam",
                false,
                &format!("policy{}{}", path("/"), get("PolicyName")),
            );
            out.push(need("iam:CreatePolicy", &arn, None));
            if tagged {
                out.push(need("iam:TagPolicy", &arn, None));
            }
        }
        "CreateInstanceProfile" => {
            let arn = arn(
                "iam",
                false,
                &format!(
                    "instance-profile{}{}",
                    path("/"),
                    get("InstanceProfileName")
                ),
            );
            out.push(need("iam:CreateInstanceProfile", &arn, None));
            if tagged {
                out.push(need("iam:TagInstanceProfile", &arn, None));
            }
        }
        "CreateOpenIDConnectProvider" => {
            let host = get("Url");
            let host = host.trim_start_matches("https://");
            let arn = arn("iam", false, &format!("oidc-provider/{host}"));
            out.push(need("iam:CreateOpenIDConnectProvider", &arn, None));
            if tagged {
                out.push(need("iam:TagOpenIDConnectProvider", &arn, None));
            }
        }
        _ if form.contains_key("InstanceProfileName") => {
            let name = get("InstanceProfileName");
            let arn = arn("iam", false, &format!("instance-profile/{name}"));
            out.push(need(
                &format!("iam:{call}"),
                &arn,
                Some(Tagged::InstanceProfile(name)),
            ));
            if call == "AddRoleToInstanceProfile" {
                // Putting a role in a profile passes it to whoever uses the profile.
                out.push(need_role("iam:PassRole", &get("RoleName"), "/"));
            }
        }
        _ if form.contains_key("OpenIDConnectProviderArn") => {
            let arn = get("OpenIDConnectProviderArn");
            out.push(need(
                &format!("iam:{call}"),
                &arn,
                Some(Tagged::OidcProvider(arn.clone())),
            ));
        }
        _ if form.contains_key("RoleName") => {
            let name = get("RoleName");
            let mut main = role(&name);
            if let Some(policy) = form.get("PolicyArn") {
                main = with(main, "iam:PolicyARN", policy);
            }
            if let Some(boundary) = form.get("PermissionsBoundary") {
                main = with(main, "iam:PermissionsBoundary", boundary);
                if call == "CreateRole" {
                    let boundary = with(role(&name), "iam:PermissionsBoundary", boundary);
                    out.push(Need {
                        action: "iam:PutRolePermissionsBoundary".into(),
                        ..boundary
                    });
                }
            }
            if call == "CreateRole" {
                main.tags = None;
                if tagged {
                    out.push(Need {
                        action: "iam:TagRole".into(),
                        tags: None,
                        ..role(&name)
                    });
                }
            }
            out.insert(0, main);
        }
        _ if form.contains_key("PolicyArn") => {
            let arn = get("PolicyArn");
            out.push(need(
                &format!("iam:{call}"),
                &arn,
                Some(Tagged::Policy(arn.clone())),
            ));
        }
        _ => out.push(need(&format!("iam:{call}"), "*", None)),
    }
    out
}

fn need_role(action: &str, name: &str, path: &str) -> Need {
    need(
        action,
        arn("iam", false, &format!("role{path}{name}")),
        Some(Tagged::Role(name.to_string())),
    )
}

async fn key_arn(moto: &aws_config::SdkConfig, id: &str) -> String {
    if id.starts_with("arn:") && id.contains(":key/") {
        return id.to_string();
    }
    if id.starts_with("alias/") || id.contains(":alias/") {
        let kms = aws_sdk_kms::Client::new(moto);
        return match kms.describe_key().key_id(id).send().await {
            Ok(out) => out
                .key_metadata
                .and_then(|m| m.arn)
                .unwrap_or_else(|| "*".into()),
            // An alias that does not exist names no key: KMS answers NotFoundException
            // before it has a key to authorize against.
            Err(_) => String::new(),
        };
    }
    arn("kms", true, &format!("key/{id}"))
}

async fn kms(moto: &aws_config::SdkConfig, operation: &str, body: &Value) -> Vec<Need> {
    let call = operation.trim_start_matches("kms:");
    let action = format!("kms:{call}");
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    match call {
        "CreateKey" => {
            let mut out = vec![need("kms:CreateKey", "*", None)];
            if body
                .get("Tags")
                .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()))
            {
                out.push(need("kms:TagResource", "*", None));
            }
            out
        }
        "ListKeys" | "ListAliases" => vec![need(&action, "*", None)],
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => {
            let alias = text("AliasName").unwrap_or_default();
            let target = match text("TargetKeyId") {
                Some(id) => key_arn(moto, &id).await,
                None => key_arn(moto, &alias).await,
            };
            vec![
                need(&action, arn("kms", true, &alias), None),
                need(&action, &target, Some(Tagged::Key(target.clone()))),
            ]
        }
        _ => {
            let key = key_arn(moto, &text("KeyId").unwrap_or_default()).await;
            if key.is_empty() {
                return Vec::new();
            }
            vec![need(&action, &key, Some(Tagged::Key(key.clone())))]
        }
    }
}

fn sqs(operation: &str, body: &Value) -> Vec<Need> {
    let call = operation.trim_start_matches("sqs:");
    let action = format!("sqs:{call}");
    let name = body
        .get("QueueName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            body.get("QueueUrl")
                .and_then(Value::as_str)
                .and_then(|u| u.rsplit('/').next())
                .map(str::to_string)
        });
    let Some(name) = name.filter(|_| call != "ListQueues") else {
        return vec![need(&action, "*", None)];
    };
    let queue = arn("sqs", true, &name);
    let mut out = vec![need(&action, &queue, Some(Tagged::Queue(name)))];
    if call == "CreateQueue" {
        out[0].tags = None;
        if body
            .get("tags")
            .is_some_and(|t| t.as_object().is_some_and(|o| !o.is_empty()))
        {
            out.push(need("sqs:TagQueue", &queue, None));
        }
    }
    out
}

async fn lambda(
    moto: &aws_config::SdkConfig,
    parts: &hyper::http::request::Parts,
    body: &Value,
) -> Vec<Need> {
    let segments: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let method = parts.method.as_str();
    let function_arn = |name: &str| {
        if name.starts_with("arn:") {
            // A qualified ARN names the function's version; policies name the function.
            name.split(':').take(7).collect::<Vec<_>>().join(":")
        } else {
            arn("lambda", true, &format!("function:{name}"))
        }
    };
    let function = |action: &str, name: &str| {
        let arn = function_arn(name);
        need(action, &arn, Some(Tagged::Function(arn.clone())))
    };
    let pass_role = |role: &str| {
        with(
            need("iam:PassRole", role, None),
            "iam:PassedToService",
            "lambda.amazonaws.com",
        )
    };
    let kind = segments.get(1).map(String::as_str).unwrap_or("");
    let name = segments.get(2).cloned();
    let sub = segments.get(3).map(String::as_str);
    match (kind, method, name, sub) {
        ("functions", "POST", None, _) => {
            let name = body["FunctionName"].as_str().unwrap_or_default();
            let mut out = vec![Need {
                tags: None,
                ..function("lambda:CreateFunction", name)
            }];
            if let Some(role) = body["Role"].as_str() {
                out.push(pass_role(role));
            }
            if body
                .get("Tags")
                .is_some_and(|t| t.as_object().is_some_and(|o| !o.is_empty()))
            {
                out.push(Need {
                    tags: None,
                    ..function("lambda:TagResource", name)
                });
            }
            out
        }
        ("functions", "GET", None, _) => vec![need("lambda:ListFunctions", "*", None)],
        ("functions", method, Some(name), sub) => {
            let action = match (method, sub) {
                ("GET", None) => "lambda:GetFunction",
                ("DELETE", None) => "lambda:DeleteFunction",
                ("GET", Some("configuration")) => "lambda:GetFunctionConfiguration",
                ("PUT", Some("configuration")) => "lambda:UpdateFunctionConfiguration",
                ("PUT", Some("code")) => "lambda:UpdateFunctionCode",
                ("PUT", Some("concurrency")) => "lambda:PutFunctionConcurrency",
                ("DELETE", Some("concurrency")) => "lambda:DeleteFunctionConcurrency",
                ("GET", Some("concurrency")) => "lambda:GetFunctionConcurrency",
                ("POST", Some("policy")) => "lambda:AddPermission",
                ("GET", Some("policy")) => "lambda:GetPolicy",
                ("DELETE", Some("policy")) => "lambda:RemovePermission",
                _ => "lambda:unknown",
            };
            let mut out = vec![function(action, &name)];
            if action == "lambda:UpdateFunctionConfiguration" {
                if let Some(role) = body["Role"].as_str() {
                    out.push(pass_role(role));
                }
            }
            out
        }
        ("event-source-mappings", method, id, _) => {
            let action = match (method, &id) {
                ("POST", _) => "lambda:CreateEventSourceMapping",
                ("GET", None) => "lambda:ListEventSourceMappings",
                ("GET", Some(_)) => "lambda:GetEventSourceMapping",
                ("PUT", Some(_)) => "lambda:UpdateEventSourceMapping",
                ("DELETE", Some(_)) => "lambda:DeleteEventSourceMapping",
                _ => "lambda:unknown",
            };
            // These act on a mapping, whose function AWS puts in `lambda:FunctionArn`.
            let function = match (&id, body["FunctionName"].as_str()) {
                (_, Some(name)) => Some(function_arn(name)),
                (Some(uuid), None) => mapping_function(moto, uuid).await,
                (None, None) => None,
            };
            let need = need(action, "*", None);
            vec![match function {
                Some(f) => with(need, "lambda:FunctionArn", &f),
                None => need,
            }]
        }
        ("tags", method, Some(arn), _) => {
            let action = match method {
                "GET" => "lambda:ListTags",
                "POST" => "lambda:TagResource",
                _ => "lambda:UntagResource",
            };
            vec![function(action, &arn)]
        }
        _ => vec![need("lambda:unknown", "*", None)],
    }
}

async fn mapping_function(moto: &aws_config::SdkConfig, uuid: &str) -> Option<String> {
    let lambda = aws_sdk_lambda::Client::new(moto);
    let out = lambda
        .get_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
        .ok()?;
    out.function_arn
}

fn s3(parts: &hyper::http::request::Parts, body: &Bytes) -> Vec<Need> {
    let path = parts.uri.path().trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) if !k.is_empty() => (b.to_string(), Some(decode(k))),
        Some((b, _)) => (b.to_string(), None),
        None => (path.to_string(), None),
    };
    let query: BTreeMap<String, String> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| match q.split_once('=') {
            Some((k, v)) => (k.to_string(), decode(v)),
            None => (q.to_string(), String::new()),
        })
        .collect();
    let method = parts.method.as_str();
    if bucket.is_empty() {
        return vec![need("s3:ListAllMyBuckets", "*", None)];
    }
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let on_bucket = |action: &str| need(action, &bucket_arn, Some(Tagged::Bucket(bucket.clone())));
    if let Some(key) = key {
        let object = format!("{bucket_arn}/{key}");
        let versioned = query.contains_key("versionId");
        let action = match (method, versioned) {
            ("PUT", _) => "s3:PutObject",
            ("GET" | "HEAD", false) => "s3:GetObject",
            ("GET" | "HEAD", true) => "s3:GetObjectVersion",
            ("DELETE", false) => "s3:DeleteObject",
            ("DELETE", true) => "s3:DeleteObjectVersion",
            _ => "s3:unknown",
        };
        return vec![need(action, object, None)];
    }
    let sub = [
        "tagging",
        "policy",
        "cors",
        "encryption",
        "publicAccessBlock",
        "notification",
        "versions",
        "versioning",
        "location",
        "delete",
        "ownershipControls",
        "lifecycle",
        "acl",
    ]
    .into_iter()
    .find(|s| query.contains_key(*s));
    let action = match (method, sub) {
        ("PUT", None) => "s3:CreateBucket",
        ("DELETE", None) => "s3:DeleteBucket",
        ("HEAD" | "GET", None) => "s3:ListBucket",
        ("GET", Some("tagging")) => "s3:GetBucketTagging",
        ("PUT" | "DELETE", Some("tagging")) => "s3:PutBucketTagging",
        ("GET", Some("policy")) => "s3:GetBucketPolicy",
        ("PUT", Some("policy")) => "s3:PutBucketPolicy",
        ("DELETE", Some("policy")) => "s3:DeleteBucketPolicy",
        ("GET", Some("cors")) => "s3:GetBucketCORS",
        ("PUT" | "DELETE", Some("cors")) => "s3:PutBucketCORS",
        ("GET", Some("encryption")) => "s3:GetEncryptionConfiguration",
        ("PUT" | "DELETE", Some("encryption")) => "s3:PutEncryptionConfiguration",
        ("GET", Some("publicAccessBlock")) => "s3:GetBucketPublicAccessBlock",
        ("PUT" | "DELETE", Some("publicAccessBlock")) => "s3:PutBucketPublicAccessBlock",
        ("GET", Some("notification")) => "s3:GetBucketNotification",
        ("PUT", Some("notification")) => "s3:PutBucketNotification",
        ("GET", Some("versions")) => "s3:ListBucketVersions",
        ("GET", Some("versioning")) => "s3:GetBucketVersioning",
        ("PUT", Some("versioning")) => "s3:PutBucketVersioning",
        ("GET", Some("location")) => "s3:GetBucketLocation",
        ("GET", Some("ownershipControls")) => "s3:GetBucketOwnershipControls",
        ("PUT" | "DELETE", Some("ownershipControls")) => "s3:PutBucketOwnershipControls",
        ("GET", Some("lifecycle")) => "s3:GetLifecycleConfiguration",
        ("PUT" | "DELETE", Some("lifecycle")) => "s3:PutLifecycleConfiguration",
        ("GET", Some("acl")) => "s3:GetBucketAcl",
        ("PUT", Some("acl")) => "s3:PutBucketAcl",
        ("POST", Some("delete")) => {
            // DeleteObjects: each object deleted, each version by its own action.
            let text = String::from_utf8_lossy(body);
            let mut out = vec![need("s3:DeleteObject", format!("{bucket_arn}/*"), None)];
            if text.contains("<VersionId>") {
                out.push(need(
                    "s3:DeleteObjectVersion",
                    format!("{bucket_arn}/*"),
                    None,
                ));
            }
            return out;
        }
        _ => "s3:unknown",
    };
    let mut out = vec![on_bucket(action)];
    if action == "s3:CreateBucket" {
        out[0].tags = None;
        if String::from_utf8_lossy(body).contains("<Tags>") {
            out.push(need("s3:TagResource", &bucket_arn, None));
        }
    }
    out
}

/// A resource's tags, read from moto directly (none when it is gone).
pub async fn tags_of(config: &aws_config::SdkConfig, tagged: &Tagged) -> Vec<(String, String)> {
    match tagged {
        Tagged::Role(name) => {
            let iam = aws_sdk_iam::Client::new(config);
            match iam.list_role_tags().role_name(name).send().await {
                Ok(out) => out.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::Policy(arn) => {
            let iam = aws_sdk_iam::Client::new(config);
            match iam.list_policy_tags().policy_arn(arn).send().await {
                Ok(out) => out.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::InstanceProfile(name) => {
            let iam = aws_sdk_iam::Client::new(config);
            match iam
                .list_instance_profile_tags()
                .instance_profile_name(name)
                .send()
                .await
            {
                Ok(out) => out.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::OidcProvider(arn) => {
            let iam = aws_sdk_iam::Client::new(config);
            match iam
                .list_open_id_connect_provider_tags()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
            {
                Ok(out) => out.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::Key(arn) => {
            let kms = aws_sdk_kms::Client::new(config);
            match kms.list_resource_tags().key_id(arn).send().await {
                Ok(out) => out
                    .tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| (t.tag_key, t.tag_value))
                    .collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::Queue(name) => {
            let sqs = aws_sdk_sqs::Client::new(config);
            let Ok(url) = sqs.get_queue_url().queue_name(name).send().await else {
                return Vec::new();
            };
            match sqs
                .list_queue_tags()
                .queue_url(url.queue_url.unwrap_or_default())
                .send()
                .await
            {
                Ok(out) => out.tags.unwrap_or_default().into_iter().collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::Function(arn) => {
            let lambda = aws_sdk_lambda::Client::new(config);
            match lambda.list_tags().resource(arn).send().await {
                Ok(out) => out.tags.unwrap_or_default().into_iter().collect(),
                Err(_) => Vec::new(),
            }
        }
        Tagged::Bucket(name) => {
            let s3 = crate::support::s3(config);
            match s3.get_bucket_tagging().bucket(name).send().await {
                Ok(out) => out.tag_set.into_iter().map(|t| (t.key, t.value)).collect(),
                Err(_) => Vec::new(),
            }
        }
    }
}
