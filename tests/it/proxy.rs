//! A fault-injecting HTTP proxy between plinth and moto.
//!
//! moto answers every request at once and never throttles; real AWS throttles, fails with 5xx,
//! drops connections and is slow. The proxy forwards each request to moto, and with a seeded
//! random generator answers a chosen fraction of them with a fault instead: the throttling
//! error each protocol really returns, a 500 or 503, or a connection reset before or after the
//! request reaches moto (so the request may or may not have happened). It can add latency to
//! every call, and counts requests by operation. In strict mode (`strict.rs`) it also behaves as
//! AWS does where moto is lenient: eventual consistency, function states, KMS's lockout check,
//! S3's destination check, IAM's normal form of principals.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::enforce::{denial, Enforcer};
use crate::strict::{Before, Strict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    InternalError,
    Unavailable,
    /// Close the connection without forwarding: the request never happened.
    ResetBefore,
    /// Forward, then close the connection without answering: the request happened, the
    /// client does not know.
    ResetAfter,
    /// A specific AWS error, in the protocol's shape (for errors only real AWS produces, such
    /// as SQS's QueueDeletedRecently or Lambda's role-propagation error).
    Error {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
    /// Forward after this long, on top of the latency: one slow call among fast ones.
    Slow(Duration),
    /// Read what the path holds (a GET of the same path and query), forward, then write what
    /// was read back: another writer's read-modify-write of a whole set (S3's tags) that read
    /// before this write and wrote after it.
    Crossed,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::Throttle,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::ResetBefore,
        Fault::ResetAfter,
    ];
}

#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    /// Fraction of requests answered with a fault, 0.0 to 1.0.
    pub rate: f64,
    pub kinds: Vec<Fault>,
    /// Added before every forwarded request.
    pub latency: Duration,
    /// Until then, every request is throttled.
    pub throttle_until: Option<Instant>,
    /// The next N requests of an operation get this fault: (operation, N, fault). The
    /// operation may name a path too (`s3:PUT x-id /bucket/key`), for one object among others.
    pub scripted: Vec<(String, usize, Fault)>,
    /// AWS's behaviours that moto lacks, each behind its own switch (none by default).
    pub strict: Strict,
    /// An identity policy enforced as IAM would (`enforce.rs`): requests it does not allow are
    /// refused and never reach moto.
    pub enforce: Option<Arc<Enforcer>>,
    /// Lambda's GetFunction answers name this as the code's location, as AWS names a
    /// presigned S3 URL (moto names an AWS host that cannot be reached from a test).
    pub code_location: Option<String>,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            seed: 0,
            rate: 0.0,
            kinds: Fault::ALL.to_vec(),
            latency: Duration::ZERO,
            throttle_until: None,
            scripted: Vec::new(),
            strict: Strict::default(),
            enforce: None,
            code_location: None,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Requests per operation (`iam:CreateRole`), faulted or not.
    pub by_operation: BTreeMap<String, usize>,
    pub faults: BTreeMap<String, usize>,
    /// Every request, in the order they arrived.
    pub requests: Vec<Seen>,
}

/// A request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    /// The request's host and path, which name an S3 request's bucket.
    pub uri: String,
    pub arrived: Instant,
    pub body: Bytes,
}

struct State {
    faults: Faults,
    rng: SplitMix64,
    counts: Counts,
    /// Requests received and not yet answered (or abandoned).
    in_flight: usize,
}

/// Counts a request as in flight until it is dropped, answered or not.
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    // Dropping the runtime stops the proxy.
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let state = Arc::new(Mutex::new(State {
            rng: SplitMix64(faults.seed),
            faults,
            counts: Counts::default(),
            in_flight: 0,
        }));
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let client = client();
        let shared = Arc::clone(&state);
        let (url, runtime) = serve(move |parts, body| {
            handle(
                parts,
                body,
                Arc::clone(&shared),
                Arc::clone(&upstream),
                client.clone(),
            )
        });
        FaultProxy {
            url,
            state,
            _runtime: runtime,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.state.lock().unwrap();
        state.rng = SplitMix64(faults.seed);
        state.faults = faults;
    }

    pub fn counts(&self) -> Counts {
        self.state.lock().unwrap().counts.clone()
    }

    pub fn reset_counts(&self) {
        self.state.lock().unwrap().counts = Counts::default();
    }

    /// Waits until every request sent so far has been forwarded and answered, as AWS
    /// finishes a request whose sender died while it was on its way (at most 10 s).
    ///
    /// A request counts as in flight only once the proxy has read it whole, and one its sender
    /// wrote just before it died may still be waiting in the socket: so the proxy must also
    /// have been quiet (no new request, none in flight) for a quarter of a second.
    pub fn settle(&self) {
        const QUIET: Duration = Duration::from_millis(250);
        let deadline = Instant::now() + Duration::from_secs(10);
        let seen = |state: &State| (state.in_flight, state.counts.requests.len());
        let mut last = seen(&self.state.lock().unwrap());
        let mut since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
            let now = seen(&self.state.lock().unwrap());
            if now != last {
                (last, since) = (now, Instant::now());
            } else if now.0 == 0 && since.elapsed() >= QUIET {
                return;
            }
        }
    }
}

/// An HTTP/1 server on a free loopback port, answering every request, read whole, with
/// `answer`; it stops when the runtime returned with its address is dropped.
pub fn serve<A, F>(answer: A) -> (String, tokio::runtime::Runtime)
where
    A: Fn(hyper::http::request::Parts, Bytes) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<Response<Full<Bytes>>, Reset>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let answer = answer.clone();
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let answer = answer.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await.map_err(|_| Reset)?.to_bytes();
                    answer(parts, body).await
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), runtime)
}

/// The HTTP client that forwards requests upstream.
pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>()
}

/// Sends a request as it came, headers and all, to the same path on `upstream`; returns the
/// answer, whole.
pub async fn forward(
    client: &Client,
    upstream: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<(hyper::http::response::Parts, Bytes), Reset> {
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut forward = Request::builder().method(parts.method.clone()).uri(uri);
    for (k, v) in &parts.headers {
        forward = forward.header(k, v);
    }
    let response = client
        .request(forward.body(Full::new(body)).map_err(|_| Reset)?)
        .await
        .map_err(|_| Reset)?;
    let (rparts, rbody) = response.into_parts();
    let rbody = rbody.collect().await.map_err(|_| Reset)?.to_bytes();
    Ok((rparts, rbody))
}

/// `parts`' path and query sent upstream again with another method and body (the
/// request's headers, but those that describe its body): the status and body of the answer.
async fn resend(
    client: &Client,
    upstream: &str,
    parts: &hyper::http::request::Parts,
    method: &str,
    body: Bytes,
) -> Result<(u16, Bytes), Reset> {
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in &parts.headers {
        let name = k.as_str();
        if !(name.starts_with("content-") || name.starts_with("x-amz-checksum")) {
            request = request.header(k, v);
        }
    }
    let response = client
        .request(request.body(Full::new(body)).map_err(|_| Reset)?)
        .await
        .map_err(|_| Reset)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|_| Reset)?
        .to_bytes();
    Ok((status, body))
}

/// The connection is dropped when the service fails: that is how a reset is simulated.
#[derive(Debug)]
pub struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for Reset {}

pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

async fn handle(
    parts: hyper::http::request::Parts,
    body: Bytes,
    state: Arc<Mutex<State>>,
    upstream: Arc<str>,
    client: Client,
) -> Result<Response<Full<Bytes>>, Reset> {
    let operation = operation(&parts, &body);
    let protocol = Protocol::of(&operation, &parts);
    let _in_flight = {
        state.lock().unwrap().in_flight += 1;
        InFlight(Arc::clone(&state))
    };
    let (fault, latency, strict, enforce, code_location) = {
        let mut s = state.lock().unwrap();
        *s.counts.by_operation.entry(operation.clone()).or_default() += 1;
        s.counts.requests.push(Seen {
            operation: operation.clone(),
            uri: format!(
                "{}{}",
                parts
                    .headers
                    .get(hyper::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default(),
                parts.uri.path()
            ),
            arrived: Instant::now(),
            body: body.clone(),
        });
        let throttling = s.faults.throttle_until.is_some_and(|t| Instant::now() < t);
        let roll = s.rng.next_f64();
        let on_path = format!("{operation} {}", parts.uri.path());
        let scripted = s
            .faults
            .scripted
            .iter_mut()
            .find(|(op, left, _)| (*op == operation || *op == on_path) && *left > 0)
            .map(|(_, left, f)| {
                *left -= 1;
                *f
            });
        let fault = if let Some(f) = scripted {
            Some(f)
        } else if throttling {
            Some(Fault::Throttle)
        } else if roll < s.faults.rate && !s.faults.kinds.is_empty() {
            let i = (s.rng.next_u64() % s.faults.kinds.len() as u64) as usize;
            Some(s.faults.kinds[i])
        } else {
            None
        };
        if let Some(f) = fault {
            let name = match f {
                Fault::Error { code, .. } => code.to_string(),
                other => format!("{other:?}"),
            };
            *s.counts.faults.entry(name).or_default() += 1;
        }
        (
            fault,
            s.faults.latency,
            s.faults.strict.clone(),
            s.faults.enforce.clone(),
            s.faults.code_location.clone(),
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(Fault::Slow(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::ResetBefore) => return Err(Reset),
        Some(Fault::Throttle) => return Ok(protocol.throttle()),
        Some(Fault::InternalError) => {
            return Ok(protocol.server_error(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Some(Fault::Unavailable) => {
            return Ok(protocol.server_error(StatusCode::SERVICE_UNAVAILABLE))
        }
        Some(Fault::Error {
            status,
            code,
            message,
        }) => return Ok(protocol.error(status, code, message)),
        Some(Fault::ResetAfter | Fault::Slow(_) | Fault::Crossed) | None => {}
    }
    if let Some(enforcer) = enforce {
        if let Some(refusal) = enforcer.check(&operation, &parts, &body).await {
            let (status, code, message) = denial(&refusal);
            return Ok(protocol.error(status, code, &message));
        }
    }
    if let Before::Answer(answer) = strict.before(&operation, &parts, &body) {
        return Ok(answer);
    }
    let before = match fault {
        Some(Fault::Crossed) => {
            Some(resend(&client, &upstream, &parts, "GET", Bytes::new()).await?)
        }
        _ => None,
    };
    let (mut rparts, mut rbody) = forward(&client, &upstream, &parts, body.clone()).await?;
    if fault == Some(Fault::ResetAfter) {
        return Err(Reset);
    }
    if let Some((status, held)) = before {
        match status {
            200 => resend(&client, &upstream, &parts, "PUT", held).await?,
            _ => resend(&client, &upstream, &parts, "DELETE", Bytes::new()).await?,
        };
    }
    if let Some(rewritten) = strict.after(
        &operation,
        &parts,
        &body,
        rparts.status.as_u16(),
        rbody.clone(),
    ) {
        rparts.headers.remove("content-length");
        rbody = rewritten;
    }
    if let Some(location) = code_location.filter(|_| operation == "lambda:GET functions") {
        if let Ok(mut answer) = serde_json::from_slice::<serde_json::Value>(&rbody) {
            if let Some(code) = answer.get_mut("Code").and_then(|c| c.as_object_mut()) {
                code.insert("Location".into(), location.into());
                rparts.headers.remove("content-length");
                rbody = Bytes::from(answer.to_string());
            }
        }
    }
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}

/// `service:Operation`, from the signing scope and the protocol's way of naming operations.
pub fn operation(parts: &hyper::http::request::Parts, body: &Bytes) -> String {
    let service = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return format!("{service}:{}", target.rsplit('.').next().unwrap_or(target));
    }
    if let Some(action) = form_action(body) {
        return format!("{service}:{action}");
    }
    // REST protocols (Lambda, S3): the method and the shape of the path.
    let path: Vec<&str> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let shape = match service.as_str() {
        "lambda" => path
            .iter()
            .skip(1)
            .step_by(2)
            .copied()
            .collect::<Vec<_>>()
            .join("/"),
        _ => parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .map(|q| q.split('=').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("&"),
    };
    format!("{service}:{} {shape}", parts.method)
}

fn form_action(body: &Bytes) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
}

enum Protocol {
    Query,
    Json(&'static str),
    RestJson,
    RestXml,
}

impl Protocol {
    fn of(operation: &str, parts: &hyper::http::request::Parts) -> Protocol {
        let service = operation.split(':').next().unwrap_or("");
        match service {
            "iam" | "sts" => Protocol::Query,
            "lambda" => Protocol::RestJson,
            "s3" => Protocol::RestXml,
            _ => match parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
            {
                Some(ct) if ct.contains("json-1.0") => Protocol::Json("application/x-amz-json-1.0"),
                Some(ct) if ct.contains("json") => Protocol::Json("application/x-amz-json-1.1"),
                _ => Protocol::Query,
            },
        }
    }

    /// The throttling error each protocol really returns.
    fn throttle(&self) -> Response<Full<Bytes>> {
        match self {
            Protocol::Query => xml(StatusCode::BAD_REQUEST, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>plinth-fault</RequestId></ErrorResponse>"),
            Protocol::Json(ct) => json(StatusCode::BAD_REQUEST, ct, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            Protocol::RestJson => {
                let mut r = json(StatusCode::TOO_MANY_REQUESTS, "application/json", r#"{"Type":"User","message":"Rate exceeded","Reason":"CallerRateLimitExceeded"}"#);
                r.headers_mut().insert("x-amzn-errortype", "TooManyRequestsException".parse().unwrap());
                r
            }
            Protocol::RestXml => xml(StatusCode::SERVICE_UNAVAILABLE, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>plinth-fault</RequestId></Error>"),
        }
    }

    fn error(&self, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        // The message as the protocol quotes it: AWS's messages may hold quotes (Lambda's
        // quotes the request's JSON) or markup.
        let json_message = serde_json::Value::from(message).to_string();
        let xml_message = message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let message = xml_message.as_str();
        match self {
            Protocol::Query => xml(status, &format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>plinth-fault</RequestId></ErrorResponse>")),
            Protocol::Json(ct) => json(status, ct, &format!(r#"{{"__type":"{code}","message":{json_message}}}"#)),
            Protocol::RestJson => {
                let mut r = json(status, "application/json", &format!(r#"{{"Type":"User","message":{json_message}}}"#));
                r.headers_mut().insert("x-amzn-errortype", code.parse().unwrap());
                r
            }
            Protocol::RestXml => xml(status, &format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>")),
        }
    }

    fn server_error(&self, status: StatusCode) -> Response<Full<Bytes>> {
        let code = if status == StatusCode::SERVICE_UNAVAILABLE {
            "ServiceUnavailable"
        } else {
            "InternalFailure"
        };
        match self {
            Protocol::Query => xml(status, &format!("<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>injected</Message></Error><RequestId>plinth-fault</RequestId></ErrorResponse>")),
            Protocol::Json(ct) => json(status, ct, &format!(r#"{{"__type":"{code}","message":"injected"}}"#)),
            Protocol::RestJson => {
                let mut r = json(status, "application/json", r#"{"message":"injected"}"#);
                r.headers_mut().insert("x-amzn-errortype", code.parse().unwrap());
                r
            }
            Protocol::RestXml => xml(status, &format!("<Error><Code>{code}</Code><Message>injected</Message></Error>")),
        }
    }
}

fn xml(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn json(status: StatusCode, content_type: &str, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// A small seeded generator: the same seed gives the same fault schedule.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
