//! The HTTP client under every SDK client, watched: a time limit that fits each request, a
//! line on stderr for every failed attempt the SDK will retry (and why), and a bound on how long
//! plinth keeps talking to an endpoint that does not answer.
//!
//! The SDK retries timeouts, dropped connections, 5xx answers and throttling up to
//! `--max-attempts` times with exponential backoff, silently. Against an endpoint that accepts
//! connections and never answers, that was eight attempts of 60 s with nothing shown; against a
//! refused connection, up to 40 s of backoff. Here:
//! - a request gets [`BASE_LIMIT`] to be answered, plus time for its body (a Lambda zip of 50 MB
//!   gets two minutes more): a read of IAM needs seconds, not a minute;
//! - once [`SILENT_IN_A_ROW`] requests in a row to the endpoints got no answer in time, or
//!   [`REFUSED_IN_A_ROW`] connections in a row were refused, the next failure is final (the
//!   SDK does not retry it), and the error names the endpoint and what was tried. A plan
//!   against a dead endpoint so fails within about 30 s, a refused one within seconds;
//! - every attempt that failed in a way the SDK retries is logged as a warning, shown on
//!   stderr by default.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// How long a request without a large body may wait for its answer.
pub const BASE_LIMIT: Duration = Duration::from_secs(10);
/// Added per MiB of request body (an upload at 4 Mbit/s).
const PER_MIB: Duration = Duration::from_secs(2);
/// Requests in a row without an answer after which the endpoint is given up on.
pub const SILENT_IN_A_ROW: u32 = 3;
/// Connections in a row refused after which the endpoint is given up on.
pub const REFUSED_IN_A_ROW: u32 = 2;
/// Connecting takes milliseconds to AWS; this is generous.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Wraps `inner` (the SDK's HTTPS client) in the watch.
pub fn watched(inner: SharedHttpClient) -> SharedHttpClient {
    SharedHttpClient::new(WatchedClient {
        inner,
        watch: Arc::default(),
    })
}

#[derive(Debug, Default)]
struct Watch {
    silent: AtomicU32,
    refused: AtomicU32,
}

#[derive(Debug)]
struct WatchedClient {
    inner: SharedHttpClient,
    watch: Arc<Watch>,
}

impl HttpClient for WatchedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(WatchedConnector {
            inner: self.inner.http_connector(settings, components),
            watch: Arc::clone(&self.watch),
        })
    }
}

#[derive(Debug)]
struct WatchedConnector {
    inner: SharedHttpConnector,
    watch: Arc<Watch>,
}

/// The time a request may take: [`BASE_LIMIT`], plus [`PER_MIB`] for each MiB it sends.
pub fn limit_for(body_bytes: usize) -> Duration {
    let mib = u32::try_from(body_bytes >> 20).unwrap_or(u32::MAX);
    BASE_LIMIT + PER_MIB.saturating_mul(mib)
}

tokio::task_local! {
    /// The limit of requests in flight that every connection made within its scope shares:
    /// `workflow::envs` plans several environments, each with its own connection, under one.
    pub static SHARED_LIMIT: Arc<tokio::sync::Semaphore>;
}

impl HttpConnector for WatchedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let watch = Arc::clone(&self.watch);
        let limit = limit_for(request.body().bytes().map_or(0, <[u8]>::len));
        let target = Target::of(&request);
        let shared = SHARED_LIMIT.try_with(Arc::clone).ok();
        HttpConnectorFuture::new(async move {
            // Several connections of one run (one per environment) keep one limit together.
            let _in_flight = match &shared {
                Some(limit) => limit.acquire().await.ok(),
                None => None,
            };
            match tokio::time::timeout(limit, inner.call(request)).await {
                Err(_) => {
                    let n = watch.silent.fetch_add(1, Ordering::Relaxed) + 1;
                    let failure = GaveUp {
                        target,
                        what: format!("no answer within {} s", limit.as_secs()),
                        final_after: (n >= SILENT_IN_A_ROW)
                            .then(|| format!("{n} requests in a row got no answer")),
                    };
                    Err(failure.into_error(ConnectorError::timeout))
                }
                Ok(Err(e)) if is_refused(&e) => {
                    let n = watch.refused.fetch_add(1, Ordering::Relaxed) + 1;
                    let failure = GaveUp {
                        target,
                        what: "connection refused".into(),
                        final_after: (n >= REFUSED_IN_A_ROW)
                            .then(|| format!("{n} connections in a row were refused")),
                    };
                    Err(failure.into_error(ConnectorError::io))
                }
                Ok(Err(e)) => {
                    // The SDK retries every failure of the connection but a user error (a
                    // connection the endpoint closed without answering among them).
                    if !e.is_user() {
                        tracing::warn!("retrying {target}: {}", causes(&e));
                    }
                    Err(e)
                }
                Ok(Ok(response)) => {
                    watch.silent.store(0, Ordering::Relaxed);
                    watch.refused.store(0, Ordering::Relaxed);
                    Ok(notice_retried_answer(&target, response).await)
                }
            }
        })
    }
}

/// Where a request went: the endpoint and the request line, as messages name it.
#[derive(Debug, Clone)]
struct Target {
    endpoint: String,
    request: String,
}

impl Target {
    fn of(request: &HttpRequest) -> Target {
        let uri = request.uri();
        let (endpoint, path) = match uri.find("://") {
            Some(i) => match uri[i + 3..].find('/') {
                Some(j) => (&uri[..i + 3 + j], &uri[i + 3 + j..]),
                None => (uri, "/"),
            },
            None => (uri, ""),
        };
        let path = path.split('?').next().unwrap_or_default();
        Target {
            endpoint: endpoint.to_string(),
            request: format!("{} {path}", request.method()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.endpoint, self.request)
    }
}

/// A failed attempt: retried by the SDK, or, once `final_after` says why, the last one.
#[derive(Debug)]
pub(crate) struct GaveUp {
    target: Target,
    what: String,
    final_after: Option<String>,
}

impl GaveUp {
    /// The endpoint accepted connections but did not answer (rather than refusing them).
    pub(crate) fn silent(&self) -> bool {
        self.what != "connection refused"
    }

    fn into_error(
        self,
        retryable: fn(Box<dyn std::error::Error + Send + Sync>) -> ConnectorError,
    ) -> ConnectorError {
        match &self.final_after {
            None => {
                tracing::warn!("retrying {}: {}", self.target, self.what);
                retryable(Box::new(self))
            }
            // A user error is one the SDK does not retry.
            Some(_) => ConnectorError::user(Box::new(self)),
        }
    }
}

/// How a [`GaveUp`]'s message ends once plinth has given up on the endpoint.
pub(crate) const GIVEN_UP: &str = "; given up)";

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target.endpoint, self.what)?;
        if let Some(why) = &self.final_after {
            write!(f, " ({why}; the last was {}{GIVEN_UP}", self.target.request)?;
        }
        Ok(())
    }
}

impl std::error::Error for GaveUp {}

fn is_refused(e: &ConnectorError) -> bool {
    e.is_io() && causes(e).to_ascii_lowercase().contains("refused")
}

/// An error's own text and its causes', joined (never `Debug`).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut at = e.source();
    while let Some(cause) = at {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        at = cause.source();
    }
    out
}

/// Logs an answer the SDK will retry: a 5xx, a 429, or a throttling error (read from the
/// body of a 400, which is small). The body read is put back.
async fn notice_retried_answer(target: &Target, mut response: HttpResponse) -> HttpResponse {
    let status = response.status().as_u16();
    if status >= 500 || status == 429 {
        tracing::warn!("retrying {target}: the endpoint answered HTTP {status}");
        return response;
    }
    if status != 400 {
        return response;
    }
    let body = std::mem::replace(response.body_mut(), SdkBody::taken());
    let bytes: Vec<u8> = match body.bytes() {
        Some(b) => b.to_vec(),
        None => match aws_smithy_types::byte_stream::ByteStream::new(body)
            .collect()
            .await
        {
            Ok(b) => b.into_bytes().to_vec(),
            Err(e) => {
                tracing::debug!("reading an error answer from {target}: {e}");
                Vec::new()
            }
        },
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Some(code) = [
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
    ]
    .into_iter()
    .find(|c| text.contains(c))
    {
        tracing::warn!("retrying {target}: throttled ({code})");
    }
    *response.body_mut() = SdkBody::from(bytes);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the attempt after which plinth gives up says the endpoint is gone; a retried one
    /// does not.
    #[test]
    fn a_given_up_endpoint_is_known_from_the_error() {
        let gave_up = |final_after: Option<&str>| GaveUp {
            target: Target {
                endpoint: "http://127.0.0.1:1".into(),
                request: "POST /".into(),
            },
            what: "connection refused".into(),
            final_after: final_after.map(str::to_string),
        };
        let last = gave_up(Some("2 connections in a row were refused"));
        let error = crate::aws::failure::unanswered("sqs:CreateQueue", &last);
        assert!(error.endpoint_given_up(), "{error}");
        let retried = crate::aws::failure::unanswered("sqs:CreateQueue", &gave_up(None));
        assert!(!retried.endpoint_given_up(), "{retried}");
    }

    #[test]
    fn a_large_upload_gets_time_for_its_body() {
        assert_eq!(limit_for(0), BASE_LIMIT);
        assert_eq!(limit_for(1000), BASE_LIMIT);
        assert_eq!(limit_for(50 << 20), BASE_LIMIT + PER_MIB * 50);
    }
}
