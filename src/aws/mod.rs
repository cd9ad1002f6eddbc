//! The AWS adapters: the only code that calls the SDK.
//!
//! One module per service. Each holds its SDK client and knows that service's quirks (IAM's
//! URL-encoded documents, tag listings, not-found codes). Everything above this layer sees
//! plinth's own types: [`crate::state`] values going up, [`crate::plan`] changes coming down.

pub(crate) mod adapter;
mod damaged;
pub mod denied;
mod download;
mod failure;
pub mod iam;
pub mod index;
pub mod kms;
pub mod lambda;
mod planned;
pub mod profile;
pub mod s3;
pub(crate) mod shared;
mod shared_bucket;
pub mod sqs;
pub mod sts;
pub(crate) mod tagging;
pub mod transport;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::model::{Address, Kind, ADDRESS_TAG, STACK_TAG};
use crate::plan::ResourceChange;
use crate::state::{LiveResource, ReadRequest};
use adapter::Adapter;

/// How to reach AWS: the same options the AWS CLI and most AWS connectors take.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub region: Option<String>,
    /// The region when nothing else names one (the flag, the environment, the profile): a
    /// saved plan's, which is bound to it anyway.
    pub fallback_region: Option<String>,
    pub profile: Option<String>,
    /// Send every request here instead of to AWS (a local emulator, a proxy).
    pub endpoint_url: Option<String>,
    pub assume_role_arn: Option<String>,
    pub role_session_name: String,
    /// The external id the assumed role's trust policy asks for.
    pub external_id: Option<String>,
    pub source_identity: Option<String>,
    /// Attempts per request, including the first, for transient errors and throttling.
    pub max_attempts: u32,
    /// How long one step may wait for AWS's eventual consistency.
    pub patience: Patience,
    /// The first retry's backoff, doubled (with jitter) for each next one; `None` keeps the
    /// SDK's default of one second.
    pub retry_backoff: Option<Duration>,
}

/// The SDK's default HTTPS client (rustls with aws-lc, proxies from `HTTPS_PROXY` and the like),
/// built once and shared by every service client and credentials provider.
///
/// Without it, each SDK client builds a default client of its own at construction, and each
/// turns the system's trust roots into a store again: with six services and the credentials
/// chain, that was most of the time before a plan's first request. Shared, the roots are
/// turned once per timeout setting (the services' and the credentials providers'), and
/// connections are pooled across services.
fn https_client() -> aws_types::sdk_config::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::ConnectorBuilder;
    // What aws-smithy-runtime's `default_https_client` builds for this behavior version; its
    // public builder (`build_https`) would turn proxies off.
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls_provider());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Loads the system's trust roots into the SDK's process-wide cache, which its HTTPS connector
/// fills when first built (`https_client`), so that a thread can do it while the spec loads;
/// the connector built here is dropped. A connector built meanwhile waits for the cache.
pub fn warm_trust_roots() {
    let _ = aws_smithy_http_client::ConnectorBuilder::default()
        .tls_provider(tls_provider())
        .build();
}

/// The TLS every SDK client's connections are made with: rustls on aws-lc, with the system's
/// trust roots.
fn tls_provider() -> aws_smithy_http_client::tls::Provider {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    Provider::Rustls(CryptoMode::AwsLc)
}

/// Clients for every service plinth manages, built from one shared configuration.
#[derive(Clone)]
pub struct Aws {
    pub config: SdkConfig,
    pub iam: iam::Iam,
    pub sqs: sqs::Sqs,
    pub lambda: lambda::Lambda,
    pub s3: s3::S3,
    pub kms: kms::Kms,
    pub sts: sts::Sts,
}

impl Aws {
    pub async fn connect(options: &ConnectOptions) -> Result<Aws, AwsError> {
        let mut retry = RetryConfig::standard().with_max_attempts(options.max_attempts.max(1));
        if let Some(backoff) = options.retry_backoff {
            retry = retry.with_initial_backoff(backoff);
        }
        // Each request's own time limit, and the bound on an endpoint that does not answer,
        // are kept by `transport`; the SDK's attempt timeout is only a backstop above them.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(transport::CONNECT_TIMEOUT)
            .operation_attempt_timeout(Duration::from_secs(600))
            .build();
        // The SDK takes these as they come and fails at the first request with its own
        // internals in the message; a person gets one line and what to do instead.
        let env_endpoint = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let endpoint_url = options.endpoint_url.clone().or(env_endpoint);
        if let Some(url) = &endpoint_url {
            check_endpoint_url(url, options.endpoint_url.is_some())?;
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts)
            .http_client(transport::watched(https_client()));
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &options.profile {
            profile::check_exists(profile).await?;
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let mut base = loader.load().await;
        if let Some(profile) = &options.profile {
            base = profile::credentials_of(base, profile);
        }
        if let (None, Some(fallback)) = (base.region(), &options.fallback_region) {
            base = base
                .into_builder()
                .region(Region::new(fallback.clone()))
                .build();
        }
        failure::set_destination(endpoint_url.as_deref(), base.region().map(|r| r.as_ref()));
        let Some(region) = base.region() else {
            return Err(AwsError::config(
                "no AWS region is configured",
                "pass --region, set AWS_REGION, or set a region in your AWS profile",
            ));
        };
        check_region(region.as_ref())?;
        check_role_options(options)?;
        let config = match &options.assume_role_arn {
            None => base,
            Some(role) => assume_role(&base, role, options).await?,
        };
        Ok(Aws::with_patience(config, options.patience))
    }

    pub fn from_config(config: SdkConfig) -> Aws {
        Aws::with_patience(config, Patience::default())
    }

    /// Clients that wait out AWS's eventual consistency for at most `patience` (tests
    /// shorten it).
    pub fn with_patience(config: SdkConfig, patience: Patience) -> Aws {
        Aws {
            iam: iam::Iam::new(&config, patience),
            sqs: sqs::Sqs::new(&config, patience),
            lambda: lambda::Lambda::new(&config, patience),
            s3: s3::S3::new(&config).patient(patience),
            kms: kms::Kms::new(&config, patience),
            sts: sts::Sts::new(&config),
            config,
        }
    }
}

/// A resource the plan was to create exists by then, and is not the stack's: someone made it
/// after the plan. plinth leaves it as it is.
pub(crate) fn taken_since_the_plan(operation: &str, kind: &str, name: &str) -> AwsError {
    AwsError {
        operation: operation.to_string(),
        code: None,
        message: format!(
            "{kind} `{name}` exists and is not the stack's: it was made after the plan, so plinth left it as it is"
        ),
        hint: Some(format!(
            "plan again to see the conflict; give the stack's {kind} another name, or set `adopt = true` if this {kind} should be the stack's"
        )),
    }
}

/// A step of a create that failed after the creating call succeeded: the resource exists,
/// tagged as the stack's, without what the failed step (and those after it) should have set.
/// The hint says so; the next plan shows the rest as an update.
pub(crate) fn created_unfinished(kind: &str, name: &str) -> impl Fn(AwsError) -> AwsError {
    let done = format!(
        "{kind} `{name}` was created and is the stack's, but not finished; once the cause is fixed, `plinth apply` again finishes it"
    );
    move |mut e| {
        e.hint = Some(match e.hint.take() {
            Some(hint) => format!("{hint}; {done}"),
            None => done.clone(),
        });
        e
    }
}

/// An endpoint URL the SDK can send to: `http://` or `https://`, then a host.
fn check_endpoint_url(url: &str, from_option: bool) -> Result<(), AwsError> {
    let origin = if from_option {
        "--endpoint-url"
    } else {
        "AWS_ENDPOINT_URL"
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    // A path would be put before every request's own, and a query dropped: neither is an
    // endpoint.
    let host = rest.and_then(|rest| {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        matches!(&rest[end..], "" | "/").then_some(&rest[..end])
    });
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(()),
        _ => Err(AwsError::config(
            &format!("{origin} `{url}` is not a URL plinth can send requests to"),
            "write it as http://HOST:PORT or https://HOST, with no path or query (for a local emulator, e.g. http://127.0.0.1:5000)",
        )),
    }
}

/// A region name as AWS spells them: lowercase letters, digits and `-` (`us-east-1`).
fn check_region(region: &str) -> Result<(), AwsError> {
    crate::spec::rules::region_name(region).map_err(|why| {
        AwsError::config(
            &why,
            "pass --region with a region such as us-east-1 or eu-west-1 (or set AWS_REGION)",
        )
    })
}

/// The role to assume, and how, as STS takes them: refused before any request.
fn check_role_options(options: &ConnectOptions) -> Result<(), AwsError> {
    use crate::spec::rules;
    if options.assume_role_arn.is_none() {
        return Ok(());
    }
    type Rule = fn(&str) -> Result<(), String>;
    let checks: [(Option<&str>, &str, Rule, &str); 4] = [
        (
            options.assume_role_arn.as_deref(),
            "--assume-role-arn",
            rules::role_arn,
            "arn:aws:iam::ACCOUNT:role/NAME",
        ),
        (
            Some(options.role_session_name.as_str()),
            "--role-session-name",
            rules::session_name,
            "2 to 64 letters, digits and `_+=,.@-`",
        ),
        (
            options.external_id.as_deref(),
            "--external-id",
            rules::external_id,
            "2 to 1,224 letters, digits and `_+=,.@:/-`",
        ),
        (
            options.source_identity.as_deref(),
            "--source-identity",
            rules::session_name,
            "2 to 64 letters, digits and `_+=,.@-`",
        ),
    ];
    for (value, flag, rule, shape) in checks {
        let Some(value) = value else { continue };
        if let Err(why) = rule(value) {
            let message = if why.starts_with('`') {
                format!("{flag}: {why}")
            } else {
                format!("{flag} {why}")
            };
            return Err(AwsError::config(
                &message,
                &format!("write {shape} (the environment's table in the spec sets it too); nothing was sent to AWS"),
            ));
        }
    }
    Ok(())
}

/// How long to keep retrying an error that only time cures: a queue name reused within 60 s
/// of its deletion, a role Lambda cannot assume until IAM has propagated it, a function still
/// busy with its previous update.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Give up once this much time has passed since the first attempt.
    pub limit: Duration,
    /// The first wait; each next one doubles, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Patience {
    /// SQS asks for 60 s between deleting a queue and reusing its name; IAM usually
    /// propagates within seconds, rarely more than a minute.
    fn default() -> Self {
        Patience {
            limit: Duration::from_secs(90),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        }
    }
}

tokio::task_local! {
    /// Where the step being applied wants to hear about waits, so progress can show them.
    pub static WAIT_NOTICES: WaitNotices;
}

/// A channel for "waiting for AWS" notices from the step running on this task, and the
/// apply's stop request, which ends such a wait.
#[derive(Clone)]
pub struct WaitNotices {
    pub address: Address,
    pub sender: tokio::sync::mpsc::UnboundedSender<(Address, String)>,
    pub stop: crate::stop::Stop,
}

/// Sleeps out a wait that only time cures, telling the step's progress why and for how long.
/// When the apply is asked to stop, the wait ends at once with `because` as the step's error:
/// a wait can last as long as `--max-wait`, and a step that has not got past it has nothing
/// half done that the next apply would not do again.
pub(crate) async fn wait(delay: Duration, because: &AwsError) -> Result<(), AwsError> {
    tracing::debug!("{because}; retrying in {delay:?}");
    let notice = format!("waiting {:.0} s: {because}", delay.as_secs_f64().max(1.0));
    // Outside an apply's step (a plan's read), the notice goes to the log, shown by default.
    let stop = WAIT_NOTICES
        .try_with(|n| {
            // The receiver is gone only once the apply has ended.
            let _ = n.sender.send((n.address.clone(), notice.clone()));
            n.stop.clone()
        })
        .unwrap_or_else(|_| {
            tracing::warn!("{notice}");
            crate::stop::Stop::never()
        });
    tokio::select! {
        () = tokio::time::sleep(delay) => Ok(()),
        () = stop.asked() => Err(AwsError {
            message: format!("{} (the apply was stopped while waiting to try again)", because.message),
            ..because.clone()
        }),
    }
}

/// Runs `attempt` until it succeeds, fails with an error `transient` does not accept, or
/// `patience` runs out (then the last error is returned).
pub(crate) async fn retry_transient<T, F, Fut>(
    patience: Patience,
    transient: impl Fn(&AwsError) -> bool,
    mut attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    let mut delay = patience.first_delay;
    loop {
        match attempt().await {
            Err(e) if transient(&e) && started.elapsed() + delay <= patience.limit => {
                wait(delay, &e).await?;
                delay = (delay * 2).min(patience.max_delay);
            }
            result => return result,
        }
    }
}

/// The IAM actions behind the calls an adapter makes for one kind. Each adapter keeps its
/// lists next to the calls, so that `plinth permissions` cannot drift from them unnoticed (a
/// test applies through a proxy that counts every call and checks each against these lists).
#[derive(Debug)]
pub struct KindActions {
    /// Calls on the resource itself, grantable on the ARNs of the resources a spec names.
    pub on_resource: &'static [&'static str],
    /// Listings, and the reads of every resource of the kind that find which the stack owns
    /// (their tags): granted on `*`.
    pub account_wide: &'static [&'static str],
    /// Calls authorized on resources plinth cannot name in advance (the roles a managed
    /// policy is attached to, a function's event source mappings): granted on `*` only where
    /// the condition key `scope_key` names one of the spec's resources of this kind.
    pub by_condition: &'static [&'static str],
    pub scope_key: &'static str,
    /// IAM calls authorized on another type of IAM resource, with the resource pattern
    /// (`instance-profile/*`) they are granted on.
    pub elsewhere: &'static [(&'static str, &'static str)],
    /// Creating a resource that cannot be named before it exists (a KMS key): granted on `*`,
    /// only for requests that tag it as the stack's.
    pub before_creation: &'static [&'static str],
}

/// The one registration of each kind's adapter (an [`adapter::Adapter`]): every dispatch on a
/// kind in this layer goes through it, with `$A` the kind's adapter type in `$body`.
macro_rules! with_adapter {
    ($kind:expr, $A:ident => $body:expr) => {
        match $kind {
            Kind::Role => {
                type $A = iam::RoleAdapter;
                $body
            }
            Kind::Policy => {
                type $A = iam::ManagedPolicyAdapter;
                $body
            }
            Kind::InstanceProfile => {
                type $A = iam::InstanceProfileAdapter;
                $body
            }
            Kind::OidcProvider => {
                type $A = iam::OidcProviderAdapter;
                $body
            }
            Kind::Key => {
                type $A = kms::KeyAdapter;
                $body
            }
            Kind::Queue => {
                type $A = sqs::QueueAdapter;
                $body
            }
            Kind::Function => {
                type $A = lambda::FunctionAdapter;
                $body
            }
            Kind::Bucket => {
                type $A = s3::BucketAdapter;
                $body
            }
        }
    };
}

/// The IAM actions plinth needs for a kind.
pub fn actions(kind: Kind) -> &'static KindActions {
    with_adapter!(kind, A => A::ACTIONS)
}

/// The call whose answer names a resource of a kind ([`adapter::Adapter::FIRST_READ`]).
fn first_read(kind: Kind) -> &'static str {
    with_adapter!(kind, A => A::FIRST_READ)
}

/// A kind's attributes read as documents in strings, each with its call
/// ([`adapter::Adapter::DOCUMENTS`]).
fn documents(kind: Kind) -> &'static [(&'static str, &'static str)] {
    with_adapter!(kind, A => A::DOCUMENTS)
}

/// Values a resource exports to references (`arn`, `unique_id`, `key_id`, ...).
pub type Exports = BTreeMap<String, String>;

/// The one place that routes a kind to its service adapter.
impl Aws {
    /// Reads one resource by its physical name; `None` when it does not exist.
    /// A failed read, or one whose answer was damaged, names the resource.
    pub async fn read(&self, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        let name = format!("{}, {}", request.address, request.physical_id);
        let found = self
            .read_kind(request)
            .await
            .map_err(|e| damaged::reading(e, &name))?;
        if let Some(found) = &found {
            damaged::check(found, &name)?;
        }
        Ok(found)
    }

    async fn read_kind(&self, request: &ReadRequest) -> Result<Option<LiveResource>, AwsError> {
        with_adapter!(request.address.kind, A => A::read(A::client(self), request).await)
    }

    /// Every resource of `kind` tagged as owned by `stack`, except those under a name in
    /// `named` (physical ids; for keys, aliases): the spec reads those by name, which tells
    /// their owner too, so reading their tags here as well would be a second call for nothing.
    pub async fn owned(
        &self,
        kind: Kind,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        let owned = self.owned_of_kind(kind, stack, named).await?;
        for found in &owned {
            damaged::check(found, &format!("{kind} {}", found.physical_id))?;
        }
        Ok(owned)
    }

    async fn owned_of_kind(
        &self,
        kind: Kind,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        with_adapter!(kind, A => A::owned(A::client(self), stack, named).await)
    }

    /// Carries out one planned change; returns the resource's exports when it was created.
    pub async fn apply(&self, stack: &str, change: &ResourceChange) -> Result<Exports, AwsError> {
        if crate::plan::shared::is_release(change) {
            return self.release(stack, change).await.map(|()| Exports::new());
        }
        with_adapter!(change.address.kind, A => {
            adapter::apply::<A>(A::client(self), stack, change).await
        })
    }
}

impl Aws {
    /// `release = true`: only the stack's tags come off; the planner refuses it for the kinds
    /// not listed here.
    async fn release(&self, stack: &str, change: &ResourceChange) -> Result<(), AwsError> {
        with_adapter!(change.address.kind, A => A::release(A::client(self), stack, change).await)
    }
}

/// The ownership tags plinth puts on every resource it creates or adopts.
pub fn ownership_tags(stack: &str, address: &Address) -> BTreeMap<String, String> {
    BTreeMap::from([
        (STACK_TAG.to_string(), stack.to_string()),
        (ADDRESS_TAG.to_string(), address.to_string()),
    ])
}

/// Credentials for `--assume-role-arn`. aws-config's assume-role provider does it all, except
/// setting a source identity, for which plinth calls AssumeRole itself and lets the SDK's
/// identity cache refresh the credentials.
async fn assume_role(
    base: &SdkConfig,
    role: &str,
    options: &ConnectOptions,
) -> Result<SdkConfig, AwsError> {
    use aws_credential_types::provider::SharedCredentialsProvider;
    let provider = match &options.source_identity {
        None => SharedCredentialsProvider::new(
            match &options.external_id {
                Some(id) => aws_config::sts::AssumeRoleProvider::builder(role).external_id(id),
                None => aws_config::sts::AssumeRoleProvider::builder(role),
            }
            .session_name(&options.role_session_name)
            .configure(base)
            .build()
            .await,
        ),
        Some(identity) => SharedCredentialsProvider::new(sts::SourceIdentityProvider::new(
            base,
            role,
            &options.role_session_name,
            identity,
        )),
    };
    Ok(base.to_builder().credentials_provider(provider).build())
}

/// A failed AWS call, reduced to what a person needs: which call, AWS's error code, its message.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AwsError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl AwsError {
    /// Whether plinth gave up on the endpoint: it refused connections, or did not answer, call
    /// after call. Every other call to it would fail the same way.
    pub fn endpoint_given_up(&self) -> bool {
        self.code.is_none() && self.message.ends_with(transport::GIVEN_UP)
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The HTTP status of the answer an SDK error came with, if one came.
pub trait AnswerStatus {
    fn answer_status(&self) -> Option<u16>;
}

impl<E> AnswerStatus
    for aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>
{
    fn answer_status(&self) -> Option<u16> {
        self.raw_response().map(|r| r.status().as_u16())
    }
}

impl AwsError {
    pub fn from_sdk<E>(operation: &str, err: &E) -> AwsError
    where
        E: ProvideErrorMetadata + AnswerStatus + std::error::Error + 'static,
    {
        if err.code().is_none() && err.message().is_none() {
            // An answer came, but not one of AWS's errors: an HTML page from a proxy or a
            // gateway, or a service that is not AWS at that address.
            if let Some(status) = err.answer_status().filter(|s| *s >= 300) {
                return AwsError {
                    operation: operation.to_string(),
                    code: None,
                    message: format!(
                        "{} answered HTTP {status} with something that is not an AWS error",
                        failure::destination()
                    ),
                    hint: Some(format!(
                        "a proxy, gateway or other service answered instead of AWS: check --endpoint-url (or AWS_ENDPOINT_URL), HTTPS_PROXY and the network (requests go to {})",
                        failure::destination()
                    )),
                };
            }
            // No answer from AWS: the request was never sent, or no answer came back.
            return failure::unanswered(operation, err);
        }
        let code = err.code().map(str::to_string);
        // AWS may quote the request back (Lambda does, refusing a large environment): what it
        // quotes of a secret is not shown.
        let message = crate::model::without_secrets(
            &err.message()
                .map(str::to_string)
                .unwrap_or_else(|| error_chain(err)),
        );
        let hint = failure::hint_for_code(operation, code.as_deref(), &message);
        AwsError {
            operation: operation.to_string(),
            code,
            message,
            hint,
        }
    }

    /// Names the resource the failed call was about, after the operation:
    /// `iam:GetRole (role.lambda, tonic-lambda-role)`.
    pub fn about(mut self, resource: impl fmt::Display) -> AwsError {
        // Credentials are loaded for whichever call asks first: they, not it, are the subject.
        if !self.operation.contains(" (") && !self.operation.starts_with("load ") {
            self.operation = format!("{} ({resource})", self.operation);
        }
        self
    }

    pub fn config(message: &str, hint: &str) -> AwsError {
        AwsError {
            operation: "configure AWS".into(),
            code: None,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A plan that plinth would not make (hand-edited, or from another version).
    pub fn invalid_plan(address: &Address, message: String) -> AwsError {
        AwsError {
            operation: format!("apply {address}"),
            code: None,
            message,
            hint: Some("the plan is not one plinth makes; plan again".into()),
        }
    }

    /// The access denial this error is, if it is one.
    pub fn denial(&self) -> Option<denied::Denial> {
        denied::parse(&self.operation, self.code.as_deref(), &self.message)
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// An error without AWS's own message (an answer that did not parse, a connection that
/// failed) as one line: each cause's own words, outermost first, without the SDK's debug dump.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        // Never the Debug form: a person reads this.
        return "AWS's answer gave no details".to_string();
    }
    parts.join(": ")
}

/// `Ok(None)` for the service's not-found error, so a missing resource is a value, not a failure.
pub(crate) fn not_found_as_none<T, E>(
    result: Result<T, E>,
    operation: &str,
    codes: &[&str],
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + AnswerStatus + std::error::Error + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(AwsError::from_sdk(operation, &e)),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn error(code: &str) -> AwsError {
        AwsError {
            operation: "test".into(),
            code: Some(code.into()),
            message: "m".into(),
            hint: None,
        }
    }

    /// The role to assume and how are refused before any request when STS would refuse them.
    #[test]
    fn role_options_are_checked_before_any_request() {
        let options = |arn: &str, session: &str, external: Option<&str>| ConnectOptions {
            assume_role_arn: Some(arn.into()),
            role_session_name: session.into(),
            external_id: external.map(str::to_string),
            ..ConnectOptions::default()
        };
        assert!(check_role_options(&options(
            "arn:aws:iam::123456789012:role/ops/deployer",
            "plinth",
            Some("vendor:1")
        ))
        .is_ok());
        for (bad, says) in [
            (options("not-an-arn", "plinth", None), "--assume-role-arn"),
            (
                options("arn:aws:iam::123456789012:user/me", "plinth", None),
                "--assume-role-arn",
            ),
            (
                options("arn:aws:iam::123456789012:role/r", "bad name!", None),
                "--role-session-name",
            ),
            (
                options("arn:aws:iam::123456789012:role/r", "plinth", Some("x")),
                "--external-id",
            ),
        ] {
            let error = check_role_options(&bad).expect_err(says);
            assert!(error.message.starts_with(says), "{error}");
        }
        // Without a role to assume, a session name is not used.
        assert!(check_role_options(&ConnectOptions::default()).is_ok());
    }

    /// An endpoint is a scheme and a host, with a port or a final `/`; a path, a query or a
    /// fragment is refused before any request.
    #[test]
    fn an_endpoint_url_is_a_scheme_and_a_host() {
        for good in [
            "http://127.0.0.1:5000",
            "https://sqs.example.com/",
            "http://localhost:4566",
        ] {
            assert!(check_endpoint_url(good, true).is_ok(), "{good}");
        }
        for bad in [
            "http://127.0.0.1:1/some/path?query=1",
            "http://host/path",
            "https://host?x=1",
            "https://host#f",
            "ftp://host",
            "http://",
        ] {
            assert!(check_endpoint_url(bad, true).is_err(), "{bad}");
        }
    }

    /// A kind is its adapter (registered in `with_adapter!`, which the compiler holds to every
    /// kind), its attribute table, its IAM actions, its ARN format (which its actions are
    /// granted on, so the two name the same service) and its table in the spec's schema.
    /// Its policy documents' rows are held to its spec by
    /// `spec::kinds::tests::every_policy_document_is_a_row_of_its_kinds_table`.
    #[test]
    fn every_kind_is_registered_completely() {
        let schema: serde_json::Value =
            serde_json::from_str(&crate::spec::schema::json_schema()).unwrap();
        let at = crate::model::ArnScope {
            partition: "aws",
            region: "us-east-1",
            account_id: "123456789012",
        };
        for kind in Kind::ALL {
            let service = kind.arn_format().service;
            let arn = kind.arn(at, "/x");
            assert!(arn.starts_with(&format!("arn:aws:{service}:")), "{arn}");
            assert!(
                crate::policy::pattern::matches(&kind.type_wide_arn(at), &arn),
                "{kind}: {} does not cover {arn}",
                kind.type_wide_arn(at)
            );
            assert!(
                (actions(*kind).on_resource.iter()).any(|a| a.split(':').next() == Some(service)),
                "{kind}: no action of {service}, which its ARN names"
            );
            let actions = actions(*kind);
            assert!(!actions.on_resource.is_empty(), "{kind}: no IAM actions");
            assert!(
                !actions.account_wide.is_empty(),
                "{kind}: no listing to discover what the stack owns"
            );
            assert!(kind.exported_attributes().contains(&"arn"), "{kind}");
            assert!(
                schema["properties"].get(kind.as_str()).is_some(),
                "{kind}: not in the spec's schema"
            );
        }
    }

    fn quick(limit_ms: u64) -> Patience {
        Patience {
            limit: Duration::from_millis(limit_ms),
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_they_pass() {
        let calls = Cell::new(0);
        let result = retry_transient(
            quick(5_000),
            |e| e.is_code("QueueDeletedRecently"),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(error("QueueDeletedRecently"))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test]
    async fn other_errors_fail_at_once() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retry_transient(
            quick(5_000),
            |e| e.is_code("QueueDeletedRecently"),
            || {
                calls.set(calls.get() + 1);
                async { Err(error("AccessDenied")) }
            },
        )
        .await;
        assert!(result.unwrap_err().is_code("AccessDenied"));
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn patience_runs_out() {
        let started = Instant::now();
        let result: Result<(), _> = retry_transient(
            quick(30),
            |_| true,
            || async { Err(error("QueueDeletedRecently")) },
        )
        .await;
        assert!(result.unwrap_err().is_code("QueueDeletedRecently"));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "bounded by the limit, not by a fixed count"
        );
    }
}
