//! Downloads from a presigned location an AWS answer names: a Lambda function's deployment
//! package, at the `Code.Location` GetFunction returns (a presigned S3 URL, valid for about ten
//! minutes).
//!
//! The location carries a signature, so it is a secret: it is never shown, logged or put in an
//! error; errors name what was being fetched, never where from. The download goes through the
//! SDK's own HTTP stack (rustls, proxies from the environment), bounded in size and in time, and
//! its bytes are checked against the SHA-256 AWS reported before anything is done with them.

use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::byte_stream::ByteStream;

use super::AwsError;
use crate::archive;

/// What a download may take, and what it must come to.
#[derive(Debug, Clone)]
pub struct Expected {
    /// What is being fetched, for messages: "the code of function `tonic-lambda`".
    pub what: String,
    /// The base64 SHA-256 AWS reported for it (Lambda's `CodeSha256`).
    pub sha256: String,
    /// More bytes than this are refused (the transfer stops there).
    pub max_bytes: usize,
    /// The answer's status and headers must arrive within this.
    pub answer_within: Duration,
    /// The whole download must be done within this.
    pub done_within: Duration,
}

impl Expected {
    /// Limits for a package of `size` bytes (as AWS reported it): the time
    /// [`super::transport`] gives a request, plus two seconds per MiB of body.
    pub fn package(what: String, sha256: String, size: usize) -> Expected {
        Expected {
            what,
            sha256,
            max_bytes: archive::MAX_INLINE_ZIP_BYTES,
            answer_within: super::transport::CONNECT_TIMEOUT + super::transport::BASE_LIMIT,
            done_within: super::transport::limit_for(size),
        }
    }
}

/// Fetches `location` (HTTPS; plain HTTP only to a loopback address, a local emulator) and
/// returns its bytes once they match `expected.sha256`.
pub async fn fetch_verified(location: &str, expected: &Expected) -> Result<Vec<u8>, AwsError> {
    let fail = |message: String, hint: &str| AwsError {
        operation: format!("download {}", expected.what),
        code: None,
        message: scrub(&message, location),
        hint: Some(hint.to_string()),
    };
    if !acceptable(location) {
        return Err(fail(
            "AWS named a location that is not HTTPS; nothing was downloaded".into(),
            "this is unexpected from AWS: check --endpoint-url and any proxy in between",
        ));
    }
    let bytes = match tokio::time::timeout(expected.done_within, fetch(location, expected)).await {
        Err(_) => {
            return Err(fail(
                format!(
                    "not done within {} s; nothing was written",
                    expected.done_within.as_secs()
                ),
                "check the network to S3 and try again",
            ))
        }
        Ok(Err(Failed(message, hint))) => return Err(fail(message, hint)),
        Ok(Ok(bytes)) => bytes,
    };
    let got = archive::code_sha256(&bytes);
    if got != expected.sha256 {
        return Err(fail(
            format!(
                "what was downloaded has SHA-256 {got}, not the {} AWS reported; nothing was written",
                expected.sha256
            ),
            "the code may have changed while it was downloaded: run the command again",
        ));
    }
    Ok(bytes)
}

/// A failure's message (possibly holding text from the HTTP stack) and hint.
struct Failed(String, &'static str);

async fn fetch(location: &str, expected: &Expected) -> Result<Vec<u8>, Failed> {
    let request = HttpRequest::get(location).map_err(|_| {
        Failed(
            "AWS named a location that is not a valid URL".into(),
            "this is unexpected from AWS: try again, and report it if it persists",
        )
    })?;
    let answer = tokio::time::timeout(expected.answer_within, connector().call(request)).await;
    let response = match answer {
        Err(_) => {
            return Err(Failed(
                format!("no answer within {} s", expected.answer_within.as_secs()),
                "check the network to S3 (and HTTPS_PROXY) and try again",
            ))
        }
        Ok(Err(e)) => {
            return Err(Failed(
                super::error_chain(&e),
                "check the network to S3 (and HTTPS_PROXY) and try again",
            ))
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    if status != 200 {
        let hint = if status == 403 {
            "the location AWS gives is valid for about ten minutes: run the command again"
        } else {
            "try again"
        };
        return Err(Failed(format!("the location answered HTTP {status}"), hint));
    }
    let too_large = || {
        Failed(
            format!(
                "it is larger than {} MiB, the most plinth uploads itself; nothing was written",
                expected.max_bytes >> 20
            ),
            "put the package in S3 and declare `code = { s3_bucket = ..., s3_key = ... }`",
        )
    };
    let announced = response
        .headers()
        .get("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > expected.max_bytes as u64) {
        return Err(too_large());
    }
    let mut body = ByteStream::new(response.into_body());
    let mut bytes = Vec::with_capacity(announced.unwrap_or(0) as usize);
    loop {
        match body.try_next().await {
            Ok(None) => break,
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > expected.max_bytes {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            Err(e) => {
                return Err(Failed(
                    format!("the transfer broke off: {}", super::error_chain(&e)),
                    "try again",
                ))
            }
        }
    }
    Ok(bytes)
}

/// The SDK's HTTPS connector, as `super::https_client` builds it for the services.
fn connector() -> Connector {
    ConnectorBuilder::default()
        .tls_provider(super::tls_provider())
        .proxy_config(ProxyConfig::from_env())
        .build()
}

/// HTTPS, or plain HTTP to this machine (an emulator on loopback): a signature is never sent
/// in the clear across a network.
fn acceptable(location: &str) -> bool {
    if location.starts_with("https://") {
        return true;
    }
    let Some(rest) = location.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `text` without the location or its query (the signature), should the HTTP stack have
/// quoted either.
fn scrub(text: &str, location: &str) -> String {
    let mut out = text.replace(location, "<the location>");
    if let Some((_, query)) = location.split_once('?') {
        if !query.is_empty() {
            out = out.replace(query, "<signature>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A one-connection HTTP server on loopback that answers `answer` (written as it is) to
    /// any request; `None` accepts and never answers. Returns its URL with a query that
    /// stands in for a signature.
    fn serve(answer: Option<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            match answer {
                Some(bytes) => {
                    let _ = stream.write_all(&bytes);
                }
                None => std::thread::sleep(Duration::from_secs(5)),
            }
        });
        format!("http://127.0.0.1:{port}/snapshots/fn-1234?X-Amz-Signature=secret0123")
    }

    fn ok(body: &[u8]) -> Vec<u8> {
        let mut answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(body);
        answer
    }

    fn expected(body: &[u8]) -> Expected {
        Expected {
            what: "the code of function `f`".into(),
            sha256: archive::code_sha256(body),
            max_bytes: 1 << 20,
            answer_within: Duration::from_secs(2),
            done_within: Duration::from_secs(4),
        }
    }

    fn assert_secret_kept(e: &AwsError) {
        let shown = format!("{e} {}", e.hint.as_deref().unwrap_or_default());
        assert!(!shown.contains("secret0123"), "{shown}");
        assert!(!shown.contains("snapshots/fn-1234"), "{shown}");
    }

    #[tokio::test]
    async fn a_package_whose_sha256_matches_is_returned() {
        let body = b"PK\x03\x04 a zip".to_vec();
        let url = serve(Some(ok(&body)));
        let got = fetch_verified(&url, &expected(&body)).await.unwrap();
        assert_eq!(got, body);
    }

    #[tokio::test]
    async fn a_package_whose_sha256_differs_is_refused_without_showing_the_location() {
        let url = serve(Some(ok(b"PK\x03\x04 tampered")));
        let e = fetch_verified(&url, &expected(b"PK\x03\x04 a zip"))
            .await
            .unwrap_err();
        assert!(e.message.contains("SHA-256"), "{e}");
        assert!(e.message.contains("nothing was written"), "{e}");
        assert_eq!(e.operation, "download the code of function `f`");
        assert_secret_kept(&e);
    }

    #[tokio::test]
    async fn a_package_larger_than_the_limit_is_refused_by_its_length_and_by_its_bytes() {
        let body = vec![7u8; 2 << 20];
        let url = serve(Some(ok(&body)));
        let e = fetch_verified(&url, &expected(&body)).await.unwrap_err();
        assert!(e.message.contains("larger than 1 MiB"), "{e}");
        // Without a length announced, the transfer stops at the limit.
        let mut answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
        answer.extend_from_slice(&body);
        let url = serve(Some(answer));
        let e = fetch_verified(&url, &expected(&body)).await.unwrap_err();
        assert!(e.message.contains("larger than 1 MiB"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("s3_bucket"), "{e:?}");
    }

    #[tokio::test]
    async fn a_location_that_does_not_answer_times_out() {
        let url = serve(None);
        let started = std::time::Instant::now();
        let e = fetch_verified(&url, &expected(b"x")).await.unwrap_err();
        assert!(e.message.contains("no answer within 2 s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_secret_kept(&e);
    }

    #[tokio::test]
    async fn an_expired_location_says_to_run_again() {
        let url = serve(Some(
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
        ));
        let e = fetch_verified(&url, &expected(b"x")).await.unwrap_err();
        assert!(e.message.contains("HTTP 403"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("ten minutes"), "{e:?}");
        assert_secret_kept(&e);
    }

    #[tokio::test]
    async fn plain_http_is_refused_unless_it_stays_on_this_machine() {
        let e = fetch_verified(
            "http://awslambda-us-east-1-tasks.s3.amazonaws.com/f?X-Amz-Signature=secret0123",
            &expected(b"x"),
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("not HTTPS"), "{e}");
        assert_secret_kept(&e);
        assert!(acceptable(
            "https://awslambda-us-east-1-tasks.s3.amazonaws.com/f"
        ));
        assert!(acceptable("http://127.0.0.1:5000/f"));
        assert!(acceptable("http://[::1]:5000/f"));
        assert!(acceptable("http://localhost/f"));
        assert!(!acceptable("http://127.0.0.1.example.com/f"));
    }

    #[test]
    fn scrub_removes_the_location_and_its_signature() {
        let url = "https://h/p?X-Amz-Signature=abc&X-Amz-Credential=def";
        assert_eq!(
            scrub(&format!("error sending request for url ({url})"), url),
            "error sending request for url (<the location>)"
        );
        assert_eq!(
            scrub("bad query X-Amz-Signature=abc&X-Amz-Credential=def", url),
            "bad query <signature>"
        );
    }
}
