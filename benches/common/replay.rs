//! A recording HTTP server between the test proxy and moto, for timing plinth against a round
//! trip that costs nothing but its latency.
//!
//! moto runs on the benchmark machine's own cores and spends milliseconds of processor time on
//! every call, so a run against it times the emulator as much as plinth. The recorder first
//! forwards every request to moto and keeps each answer, keyed by the request (method, path,
//! query and body); switched to replay, it answers the same requests from memory, in the order
//! they were recorded, without asking moto. The same commands run again then take only
//! plinth's own time plus whatever latency the proxy in front adds, as against AWS.
//!
//! A request that was not recorded is forwarded to moto and counted: a replayed run that needed
//! any is not a faithful replay, and the benchmark says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use crate::proxy::{self, Client, Reset};

/// Per process: KMS keys are tagged with the creating apply's token, which no two runs share.
const VOLATILE_TAGS: [&str; 1] = ["plinth:create-token"];
/// Per process: the stack lock says which process took it, and when.
const VOLATILE_MEMBERS: [&str; 2] = ["pid", "since"];

struct Recorded {
    parts: hyper::http::response::Parts,
    body: Bytes,
}

#[derive(Default)]
struct Tape {
    replaying: bool,
    /// Answers to each request, in the order they came; a replay hands them out in turn and
    /// repeats the last once they run out (a poll that took one more round).
    answers: HashMap<Vec<u8>, (Vec<Recorded>, usize)>,
    unmatched: usize,
    /// In a replay, the body last written to each object path whose JSON has volatile members
    /// (the lock): a read of that object answers with it, since the recording's holds another
    /// process's, which would make the apply leave the lock to that process.
    written: HashMap<String, Bytes>,
}

pub struct Recorder {
    pub url: String,
    tape: Arc<Mutex<Tape>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    /// Starts recording what `upstream` answers.
    pub fn start(upstream: &str) -> Recorder {
        let tape = Arc::new(Mutex::new(Tape::default()));
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let client = proxy::client();
        let shared = Arc::clone(&tape);
        let (url, runtime) = proxy::serve(move |parts, body| {
            answer(
                parts,
                body,
                Arc::clone(&shared),
                Arc::clone(&upstream),
                client.clone(),
            )
        });
        Recorder {
            url,
            tape,
            _runtime: runtime,
        }
    }

    /// From now on, answers recorded requests from the recording, from its first answer.
    pub fn replay(&self) {
        let mut tape = self.tape.lock().unwrap();
        tape.replaying = true;
        tape.unmatched = 0;
        tape.written.clear();
        for (_, next) in tape.answers.values_mut() {
            *next = 0;
        }
    }

    /// Requests of the replay that were not recorded (and went to moto).
    pub fn unmatched(&self) -> usize {
        self.tape.lock().unwrap().unmatched
    }

    /// Requests the replay made a different number of times than the recording, with both
    /// counts: a replay that polled once more or once less than the recorded run.
    pub fn miscounted(&self) -> Vec<(String, usize, usize)> {
        let tape = self.tape.lock().unwrap();
        let mut out: Vec<_> = tape
            .answers
            .iter()
            .filter(|(_, (answers, next))| answers.len() != *next)
            .map(|(key, (answers, next))| {
                (
                    String::from_utf8_lossy(&key[..key.len().min(400)])
                        .escape_debug()
                        .to_string(),
                    answers.len(),
                    *next,
                )
            })
            .collect();
        out.sort();
        out
    }
}

async fn answer(
    parts: hyper::http::request::Parts,
    body: Bytes,
    tape: Arc<Mutex<Tape>>,
    upstream: Arc<str>,
    client: Client,
) -> Result<Response<Full<Bytes>>, Reset> {
    let key = request_key(&parts, &body);
    {
        let mut tape = tape.lock().unwrap();
        if tape.replaying {
            let path = parts.uri.path().to_owned();
            if parts.method == hyper::Method::PUT && has_volatile_members(&body) {
                tape.written.insert(path.clone(), body.clone());
            }
            let written = (parts.method == hyper::Method::GET)
                .then(|| tape.written.get(&path).cloned())
                .flatten();
            if let Some((answers, next)) = tape.answers.get_mut(&key) {
                let recorded = &answers[(*next).min(answers.len() - 1)];
                *next += 1;
                let mut rparts = recorded.parts.clone();
                let body = match written {
                    Some(written) if rparts.status.is_success() => {
                        // The recorded checksums are of the recorded body; the SDK checks them.
                        let stale: Vec<_> = rparts
                            .headers
                            .keys()
                            .filter(|name| name.as_str().starts_with("x-amz-checksum"))
                            .cloned()
                            .collect();
                        for name in stale {
                            rparts.headers.remove(name);
                        }
                        rparts.headers.remove(hyper::header::CONTENT_LENGTH);
                        written
                    }
                    _ => recorded.body.clone(),
                };
                return Ok(Response::from_parts(rparts, Full::new(body)));
            }
            tape.unmatched += 1;
        }
    }
    // A request moto did not answer drops plinth's connection, and its run fails.
    let (rparts, rbody) = proxy::forward(&client, &upstream, &parts, body).await?;
    let mut tape = tape.lock().unwrap();
    if !tape.replaying {
        let entry = tape.answers.entry(key).or_default();
        entry.0.push(Recorded {
            parts: rparts.clone(),
            body: rbody.clone(),
        });
    }
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}

/// What identifies a request across runs: its method, path, query, operation header and body.
/// Other headers differ between runs (signatures, dates, invocation ids); a JSON body is put in
/// a canonical form, since the SDK writes maps in hash order, and the values of per-process
/// tags are blanked out.
fn request_key(parts: &hyper::http::request::Parts, body: &[u8]) -> Vec<u8> {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut key = format!(
        "{} {} {target}\n",
        parts.method,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    )
    .into_bytes();
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => key.extend(canonical(json).to_string().into_bytes()),
        Err(_) => key.extend(body),
    }
    key
}

/// Whether `body` is a JSON object with a per-process member (a lock's body).
fn has_volatile_members(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|json| {
        json.as_object()
            .is_some_and(|map| VOLATILE_MEMBERS.iter().any(|m| map.contains_key(*m)))
    })
}

/// `json` with every object's members sorted and the value of each volatile tag and member
/// blanked.
fn canonical(json: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match json {
        Value::Object(map) => {
            let volatile = map
                .get("TagKey")
                .and_then(Value::as_str)
                .is_some_and(|k| VOLATILE_TAGS.contains(&k));
            let mut members: Vec<(String, Value)> = map
                .into_iter()
                .map(|(k, v)| {
                    let v = if (volatile && k == "TagValue")
                        || VOLATILE_MEMBERS.contains(&k.as_str())
                    {
                        Value::Null
                    } else {
                        canonical(v)
                    };
                    (k, v)
                })
                .collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(members.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}
