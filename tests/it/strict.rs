//! The test proxy's strict mode: what real AWS does and moto does not, each behind a switch,
//! with one delay N for everything that takes time.
//!
//! - `NormalPrincipals`: IAM returns documents with principals in its normal form (a bare
//!   account id becomes `arn:aws:iam::ID:root`, a list of one becomes a string).
//! - `RolePropagation`: Lambda cannot assume a role for N s after CreateRole.
//! - `NewPrincipals`: a role created N s ago is refused as a principal in key, queue, bucket and
//!   trust policies, with each service's own error.
//! - `FunctionStates`: a function is `Pending` for N s after CreateFunction and its last update
//!   `InProgress` for N s after each update; another update meanwhile is refused with
//!   ResourceConflictException; GetFunction reports State and LastUpdateStatus.
//! - `KeyLockout`: KMS's lockout safety check at CreateKey and PutKeyPolicy.
//! - `S3Destinations`: S3 refuses a notification to a queue whose policy does not let S3 send,
//!   or whose policy changed less than N s ago.
//! - `StaleQueueReads`: GetQueueAttributes answers with the values before a change for N s.
//! - `GetRoleLag`: GetRole answers NoSuchEntity for N s after CreateRole.
//! - `OneMappingPerQueue`: Lambda refuses a second event source mapping of a queue to a function.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Switch {
    NormalPrincipals,
    RolePropagation,
    NewPrincipals,
    FunctionStates,
    KeyLockout,
    S3Destinations,
    StaleQueueReads,
    GetRoleLag,
    OneMappingPerQueue,
}

impl Switch {
    pub const ALL: [Switch; 9] = [
        Switch::NormalPrincipals,
        Switch::RolePropagation,
        Switch::NewPrincipals,
        Switch::FunctionStates,
        Switch::KeyLockout,
        Switch::S3Destinations,
        Switch::StaleQueueReads,
        Switch::GetRoleLag,
        Switch::OneMappingPerQueue,
    ];
}

/// Strict mode's settings and what it has seen; shared by clones.
#[derive(Debug, Clone, Default)]
pub struct Strict {
    pub switches: BTreeSet<Switch>,
    pub delay: Duration,
    /// The ARN of the identity the requests come from (the lockout check's caller).
    pub caller: String,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Role name -> when CreateRole was answered.
    roles: HashMap<String, Instant>,
    /// Function name -> (state, until): `Pending` or `InProgress` until then.
    functions: HashMap<String, (&'static str, Instant)>,
    /// Queue URL -> (the last attributes read, the attributes before the last change, until).
    queues: HashMap<String, QueueReads>,
    /// Queue name -> (its policy, when it was set).
    queue_policies: HashMap<String, (String, Instant)>,
    /// (function, queue ARN) pairs that have a mapping.
    mappings: BTreeSet<(String, String)>,
    /// How many times each switch changed an answer.
    fired: BTreeMap<Switch, usize>,
}

#[derive(Debug, Default, Clone)]
struct QueueReads {
    last: Option<Bytes>,
    stale: Option<(Bytes, Instant)>,
}

/// What to do with a request before it is forwarded.
pub enum Before {
    Forward,
    Answer(Response<Full<Bytes>>),
}

impl Strict {
    pub fn new(switches: &[Switch], delay: Duration, caller: &str) -> Strict {
        Strict {
            switches: switches.iter().copied().collect(),
            delay,
            caller: caller.to_string(),
            seen: Arc::default(),
        }
    }

    /// How many times each switch changed an answer.
    pub fn fired(&self) -> BTreeMap<Switch, usize> {
        self.seen.lock().unwrap().fired.clone()
    }

    pub fn is_on(&self, switch: Switch) -> bool {
        self.switches.contains(&switch)
    }

    /// Refuses or answers a request as AWS would, or lets it through.
    pub fn before(
        &self,
        operation: &str,
        parts: &hyper::http::request::Parts,
        body: &Bytes,
    ) -> Before {
        if self.switches.is_empty() {
            return Before::Forward;
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        let young = |seen: &Seen, role: &str| {
            seen.roles
                .get(role)
                .is_some_and(|created| now < *created + self.delay)
        };
        match operation {
            "iam:GetRole" if self.is_on(Switch::GetRoleLag) => {
                let name = form(body).remove("RoleName").unwrap_or_default();
                if young(&seen, &name) {
                    *seen.fired.entry(Switch::GetRoleLag).or_default() += 1;
                    return answer_query(
                        404,
                        "NoSuchEntity",
                        &format!("The role with name {name} cannot be found."),
                    );
                }
            }
            "iam:CreateRole" | "iam:UpdateAssumeRolePolicy"
                if self.is_on(Switch::NewPrincipals) =>
            {
                let f = form(body);
                let doc = f
                    .get("AssumeRolePolicyDocument")
                    .or_else(|| f.get("PolicyDocument"))
                    .cloned()
                    .unwrap_or_default();
                if let Some(arn) = young_principal(&doc, |r| young(&seen, r)) {
                    *seen.fired.entry(Switch::NewPrincipals).or_default() += 1;
                    return answer_query(
                        400,
                        "MalformedPolicyDocument",
                        &format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
                    );
                }
            }
            "kms:CreateKey" | "kms:PutKeyPolicy" => {
                let request = json_body(body);
                let policy = request["Policy"].as_str().unwrap_or_default().to_string();
                if self.is_on(Switch::NewPrincipals)
                    && young_principal(&policy, |r| young(&seen, r)).is_some()
                {
                    *seen.fired.entry(Switch::NewPrincipals).or_default() += 1;
                    return answer_json(
                        "application/x-amz-json-1.1",
                        400,
                        "MalformedPolicyDocumentException",
                        "Policy contains a statement with one or more invalid principals.",
                    );
                }
                let bypass = request["BypassPolicyLockoutSafetyCheck"].as_bool() == Some(true);
                if self.is_on(Switch::KeyLockout)
                    && !policy.is_empty()
                    && !bypass
                    && !lets_manage(&policy, &self.caller)
                {
                    *seen.fired.entry(Switch::KeyLockout).or_default() += 1;
                    return answer_json("application/x-amz-json-1.1", 400, "MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.");
                }
            }
            "sqs:CreateQueue" | "sqs:SetQueueAttributes" => {
                let request = json_body(body);
                let policy = request["Attributes"]["Policy"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if self.is_on(Switch::NewPrincipals)
                    && young_principal(&policy, |r| young(&seen, r)).is_some()
                {
                    let Before::Answer(mut r) = answer_json(
                        "application/x-amz-json-1.0",
                        400,
                        "com.amazonaws.sqs#InvalidAttributeValue",
                        "Invalid value for the parameter Policy.",
                    ) else {
                        unreachable!("answer_json answers")
                    };
                    r.headers_mut().insert(
                        "x-amzn-query-error",
                        "InvalidAttributeValue;Sender".parse().unwrap(),
                    );
                    *seen.fired.entry(Switch::NewPrincipals).or_default() += 1;
                    return Before::Answer(r);
                }
                let url = request["QueueUrl"].as_str().unwrap_or_default().to_string();
                let name = request["QueueName"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| url.rsplit('/').next().unwrap_or_default().to_string());
                if !policy.is_empty() {
                    seen.queue_policies.insert(name, (policy, now));
                }
                if operation == "sqs:SetQueueAttributes" && self.is_on(Switch::StaleQueueReads) {
                    let reads = seen.queues.entry(url).or_default();
                    if let Some(last) = reads.last.clone() {
                        reads.stale = Some((last, now + self.delay));
                    }
                }
            }
            "sqs:GetQueueAttributes" if self.is_on(Switch::StaleQueueReads) => {
                let url = json_body(body)["QueueUrl"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if let Some((old, until)) = seen.queues.get(&url).and_then(|q| q.stale.clone()) {
                    if now < until {
                        *seen.fired.entry(Switch::StaleQueueReads).or_default() += 1;
                        return Before::Answer(raw(200, "application/x-amz-json-1.0", old));
                    }
                }
            }
            "s3:PUT policy" if self.is_on(Switch::NewPrincipals) => {
                let policy = String::from_utf8_lossy(body).into_owned();
                if young_principal(&policy, |r| young(&seen, r)).is_some() {
                    *seen.fired.entry(Switch::NewPrincipals).or_default() += 1;
                    return answer_xml(400, "MalformedPolicy", "Invalid principal in policy");
                }
            }
            "s3:PUT notification" if self.is_on(Switch::S3Destinations) => {
                let text = String::from_utf8_lossy(body).into_owned();
                for queue in elements(&text, "Queue") {
                    let name = queue.rsplit(':').next().unwrap_or_default();
                    let allowed = seen.queue_policies.get(name).is_some_and(|(policy, set)| {
                        now >= *set + self.delay && lets_s3_send(policy)
                    });
                    if !allowed {
                        *seen.fired.entry(Switch::S3Destinations).or_default() += 1;
                        return answer_xml(
                            400,
                            "InvalidArgument",
                            "Unable to validate the following destination configurations",
                        );
                    }
                }
            }
            "lambda:POST functions" | "lambda:PUT functions/configuration"
                if self.is_on(Switch::RolePropagation) =>
            {
                let role = json_body(body)["Role"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let name = role.rsplit('/').next().unwrap_or_default();
                if !role.is_empty() && young(&seen, name) {
                    *seen.fired.entry(Switch::RolePropagation).or_default() += 1;
                    return answer_rest(
                        400,
                        "InvalidParameterValueException",
                        "The role defined for the function cannot be assumed by Lambda.",
                    );
                }
            }
            _ => {}
        }
        if self.is_on(Switch::FunctionStates)
            && matches!(
                operation,
                "lambda:PUT functions/code"
                    | "lambda:PUT functions/configuration"
                    | "lambda:PUT functions/concurrency"
            )
        {
            let name = function_in_path(parts);
            if let Some((state, until)) = seen.functions.get(&name) {
                if now < *until {
                    let message = if *state == "Pending" {
                        "The operation cannot be performed at this time. The function is currently in the following state: Pending".to_string()
                    } else {
                        format!("The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:{name}")
                    };
                    *seen.fired.entry(Switch::FunctionStates).or_default() += 1;
                    return answer_rest(409, "ResourceConflictException", &message);
                }
            }
        }
        if operation == "lambda:POST event-source-mappings"
            && self.is_on(Switch::OneMappingPerQueue)
        {
            let request = json_body(body);
            let function = request["FunctionName"].as_str().unwrap_or_default();
            let function = function.rsplit(':').next().unwrap_or_default().to_string();
            let queue = request["EventSourceArn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if seen.mappings.contains(&(function.clone(), queue.clone())) {
                *seen.fired.entry(Switch::OneMappingPerQueue).or_default() += 1;
                return answer_rest(409, "ResourceConflictException", &format!("An event source mapping with SQS arn (\" {queue} \") and function (\" {function} \") already exists. Please update or delete the existing mapping with UUID a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"));
            }
        }
        Before::Forward
    }

    /// Records what a forwarded request did and rewrites its answer as AWS would.
    pub fn after(
        &self,
        operation: &str,
        parts: &hyper::http::request::Parts,
        body: &Bytes,
        status: u16,
        answer: Bytes,
    ) -> Option<Bytes> {
        if self.switches.is_empty() || status >= 300 {
            return None;
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        match operation {
            "iam:CreateRole" => {
                let name = form(body).remove("RoleName").unwrap_or_default();
                seen.roles.insert(name, now);
                None
            }
            "iam:GetRole" | "iam:GetRolePolicy" | "iam:GetPolicyVersion"
                if self.is_on(Switch::NormalPrincipals) =>
            {
                let text = String::from_utf8_lossy(&answer).into_owned();
                let mut out = text.clone();
                for tag in ["AssumeRolePolicyDocument", "PolicyDocument", "Document"] {
                    for doc in elements(&text, tag) {
                        let decoded = percent_encoding::percent_decode_str(&doc)
                            .decode_utf8_lossy()
                            .into_owned();
                        let Ok(mut value) = serde_json::from_str::<Value>(&decoded) else {
                            continue;
                        };
                        normalize_principals(&mut value);
                        let encoded = percent_encoding::utf8_percent_encode(
                            &value.to_string(),
                            percent_encoding::NON_ALPHANUMERIC,
                        )
                        .to_string();
                        out = out.replace(
                            &format!("<{tag}>{doc}</{tag}>"),
                            &format!("<{tag}>{encoded}</{tag}>"),
                        );
                    }
                }
                if out == text {
                    return None;
                }
                *seen.fired.entry(Switch::NormalPrincipals).or_default() += 1;
                Some(Bytes::from(out))
            }
            "sqs:GetQueueAttributes" => {
                let url = json_body(body)["QueueUrl"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                seen.queues.entry(url).or_default().last = Some(answer);
                None
            }
            "lambda:POST functions" => {
                let name = json_body(body)["FunctionName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                seen.functions.insert(name, ("Pending", now + self.delay));
                self.function_state(&mut seen, answer)
            }
            "lambda:PUT functions/code" | "lambda:PUT functions/configuration" => {
                seen.functions
                    .insert(function_in_path(parts), ("InProgress", now + self.delay));
                self.function_state(&mut seen, answer)
            }
            "lambda:GET functions" | "lambda:GET functions/configuration" => {
                self.function_state(&mut seen, answer)
            }
            "lambda:POST event-source-mappings" => {
                let request = json_body(body);
                let function = request["FunctionName"].as_str().unwrap_or_default();
                let function = function.rsplit(':').next().unwrap_or_default().to_string();
                let queue = request["EventSourceArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                seen.mappings.insert((function, queue));
                None
            }
            "lambda:DELETE event-source-mappings" => {
                // The mapping's pair is in the answer.
                let mapping = serde_json::from_slice::<Value>(&answer).unwrap_or_default();
                let function = mapping["FunctionArn"].as_str().unwrap_or_default();
                let function = function.rsplit(':').next().unwrap_or_default().to_string();
                let queue = mapping["EventSourceArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                seen.mappings.remove(&(function, queue));
                None
            }
            _ => None,
        }
    }

    /// A function's configuration with the state and last update status AWS would report.
    fn function_state(&self, seen: &mut Seen, answer: Bytes) -> Option<Bytes> {
        if !self.is_on(Switch::FunctionStates) {
            return None;
        }
        let mut value: Value = serde_json::from_slice(&answer).ok()?;
        let config = if value.get("Configuration").is_some() {
            &mut value["Configuration"]
        } else {
            &mut value
        };
        let name = config["FunctionName"].as_str()?.to_string();
        let (state, update) = match seen.functions.get(&name) {
            Some(("Pending", until)) if Instant::now() < *until => ("Pending", "InProgress"),
            Some(("InProgress", until)) if Instant::now() < *until => ("Active", "InProgress"),
            _ => ("Active", "Successful"),
        };
        if update == "InProgress" {
            *seen.fired.entry(Switch::FunctionStates).or_default() += 1;
        }
        config["State"] = json!(state);
        config["LastUpdateStatus"] = json!(update);
        Some(Bytes::from(value.to_string()))
    }
}

/// A form-encoded query request's parameters.
pub(crate) fn form(body: &Bytes) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            (
                k.to_string(),
                percent_encoding::percent_decode_str(&v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect()
}

pub(crate) fn json_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_default()
}

fn function_in_path(parts: &hyper::http::request::Parts) -> String {
    parts
        .uri
        .path()
        .split('/')
        .nth(3)
        .unwrap_or_default()
        .to_string()
}

/// The text of every `<tag>...</tag>` in `xml`.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    found
}

/// Every `Principal.AWS` value of a policy document.
fn aws_principals(policy: &Value) -> Vec<String> {
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut found = Vec::new();
    for s in statements {
        match &s["Principal"] {
            Value::String(p) => found.push(p.clone()),
            Value::Object(map) => {
                if let Some(aws) = map.get("AWS") {
                    match aws {
                        Value::String(p) => found.push(p.clone()),
                        Value::Array(list) => {
                            found.extend(list.iter().filter_map(|p| p.as_str().map(str::to_string)))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The first principal in `policy` that names a role `young` says IAM has not propagated.
fn young_principal(policy: &str, young: impl Fn(&str) -> bool) -> Option<String> {
    let value: Value = serde_json::from_str(policy).ok()?;
    aws_principals(&value)
        .into_iter()
        .find(|p| p.contains(":role/") && young(p.rsplit('/').next().unwrap_or_default()))
}

fn matches_action(pattern: &str, action: &str) -> bool {
    let (pattern, action) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    match pattern.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => pattern == action,
    }
}

fn statement_allows(s: &Value, action: &str) -> bool {
    let actions = match &s["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    s["Effect"] == "Allow" && actions.iter().any(|a| matches_action(a, action))
}

fn statements(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// KMS's lockout safety check: the new policy must let the caller call PutKeyPolicy, itself or
/// through the account (whose root principal delegates to IAM policies).
pub(crate) fn lets_manage(policy: &str, caller: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let account = caller.split(':').nth(4).unwrap_or_default().to_string();
    // A policy names a user under `iam` (moto reports its user under `sts`) and an assumed
    // role's session by its role.
    let as_principal = match caller.split_once(":sts::") {
        Some((head, tail)) => {
            let (account, resource) = tail.split_once(':').unwrap_or_default();
            match resource.strip_prefix("assumed-role/") {
                Some(rest) => format!(
                    "{head}:iam::{account}:role/{}",
                    rest.split('/').next().unwrap_or_default()
                ),
                None => format!("{head}:iam::{account}:{resource}"),
            }
        }
        None => caller.to_string(),
    };
    statements(&value).iter().any(|s| {
        statement_allows(s, "kms:PutKeyPolicy")
            && aws_principals(&json!({ "Statement": [s] }))
                .iter()
                .any(|p| {
                    p == "*"
                        || p == caller
                        || *p == as_principal
                        || *p == account
                        || *p == format!("arn:aws:iam::{account}:root")
                })
    })
}

/// Whether a queue policy lets S3 send messages.
fn lets_s3_send(policy: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    statements(&value).iter().any(|s| {
        let principal_is_s3 = s["Principal"] == "*"
            || s["Principal"]["Service"] == "s3.amazonaws.com"
            || s["Principal"]["Service"]
                .as_array()
                .is_some_and(|l| l.iter().any(|p| p == "s3.amazonaws.com"));
        principal_is_s3 && statement_allows(s, "sqs:SendMessage")
    })
}

/// IAM's normal form of principals: an account id as its root ARN, a list of one as a string.
pub(crate) fn normalize_principals(policy: &mut Value) {
    let statements = match &mut policy["Statement"] {
        Value::Array(list) => list.iter_mut().collect::<Vec<_>>(),
        one @ Value::Object(_) => vec![one],
        _ => Vec::new(),
    };
    for s in statements {
        // `get_mut`, not indexing: indexing would add `"Principal": null` to identity policies.
        let Some(Value::Object(principal)) = s.get_mut("Principal") else {
            continue;
        };
        for (kind, value) in principal.iter_mut() {
            let as_root = |v: &mut Value| {
                if let Value::String(text) = v {
                    if kind == "AWS" && text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
                    {
                        *text = format!("arn:aws:iam::{text}:root");
                    }
                }
            };
            if let Value::Array(list) = value {
                list.iter_mut().for_each(as_root);
                if list.len() == 1 {
                    *value = list.remove(0);
                }
            } else {
                as_root(value);
            }
        }
    }
}

fn raw(status: u16, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body))
        .unwrap()
}

fn answer_query(status: u16, code: &str, message: &str) -> Before {
    Before::Answer(raw(status, "text/xml", Bytes::from(format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>plinth-strict</RequestId></ErrorResponse>", escape(message)))))
}

fn answer_json(content_type: &str, status: u16, code: &str, message: &str) -> Before {
    Before::Answer(raw(
        status,
        content_type,
        Bytes::from(json!({ "__type": code, "message": message }).to_string()),
    ))
}

fn answer_rest(status: u16, code: &str, message: &str) -> Before {
    let mut r = raw(
        status,
        "application/json",
        Bytes::from(json!({ "Type": "User", "message": message }).to_string()),
    );
    r.headers_mut()
        .insert("x-amzn-errortype", code.parse().unwrap());
    Before::Answer(r)
}

fn answer_xml(status: u16, code: &str, message: &str) -> Before {
    Before::Answer(raw(status, "application/xml", Bytes::from(format!("<Error><Code>{code}</Code><Message>{}</Message><RequestId>plinth-strict</RequestId></Error>", escape(message)))))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
