//! A replay server for AWS's own answers: each request is answered from a fixture in
//! `fixtures/aws/` (bodies built from responses recorded against real AWS; each folder's
//! README says where every body comes from), chosen by the operation the test proxy names and,
//! where one operation serves several fixtures, by a piece of the request.
//!
//! Nothing is forwarded anywhere: a request no route answers gets a 500 naming the operation,
//! and is counted, so a test sees at once which read it did not expect.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use crate::proxy;
use crate::support::root;

/// One answer: for requests of `operation` whose path, query or body contains `needle`.
#[derive(Debug, Clone)]
pub struct Route {
    pub operation: &'static str,
    pub needle: Option<&'static str>,
    pub status: u16,
    /// A file under `fixtures/aws/`, or the body itself when it starts with `<` or `{`.
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Route {
    /// A 200 with the fixture at `file`.
    pub fn ok(operation: &'static str, file: &str) -> Route {
        Route {
            operation,
            needle: None,
            status: 200,
            body: file.to_string(),
            headers: Vec::new(),
        }
    }

    /// An error in the protocol's shape, from the fixture at `file`; the JSON protocols name
    /// the error in a header too, as AWS does.
    pub fn error(operation: &'static str, status: u16, file: &str) -> Route {
        Route {
            status,
            ..Route::ok(operation, file)
        }
    }

    pub fn when(mut self, needle: &'static str) -> Route {
        self.needle = Some(needle);
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Route {
        self.headers.push((name, value.to_string()));
        self
    }

    /// The same route, its body replaced by `body` (a damaged answer).
    pub fn with_body(mut self, body: &str) -> Route {
        self.body = body.to_string();
        self
    }

    fn text(&self) -> String {
        if self.body.starts_with('<') || self.body.starts_with('{') || self.body.is_empty() {
            return self.body.clone();
        }
        let path = root().join("fixtures/aws").join(&self.body);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// The listings every plan without a stack index makes (discovery), each with nothing in it.
pub fn empty_listings() -> Vec<Route> {
    vec![
        Route::ok("iam:ListRoles", "iam/ListRoles-empty.xml"),
        Route::ok("iam:ListPolicies", "iam/ListPolicies-empty.xml"),
        Route::ok(
            "iam:ListInstanceProfiles",
            "iam/ListInstanceProfiles-empty.xml",
        ),
        Route::ok(
            "iam:ListOpenIDConnectProviders",
            "iam/ListOpenIDConnectProviders-empty.xml",
        ),
        Route::ok("kms:ListKeys", "kms/ListKeys-empty.json"),
        Route::ok("kms:ListAliases", "kms/ListAliases-empty.json"),
        Route::ok("sqs:ListQueues", "sqs/ListQueues-empty.json"),
        Route::ok("lambda:GET functions", "lambda/ListFunctions-empty.json")
            .when("/2015-03-31/functions "),
        Route::ok("lambda:GET functions", "lambda/ListFunctions-empty.json")
            .when("/2015-03-31/functions?"),
        Route::ok("s3:GET x-id&bucket-region", "s3/ListBuckets-empty.xml").when("ListBuckets"),
        Route::ok("sts:GetCallerIdentity", "sts/GetCallerIdentity.xml"),
    ]
}

pub struct Replay {
    pub url: String,
    unmatched: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Replay {
    /// Serves `routes`; the first that matches a request answers it.
    pub fn start(routes: Vec<Route>) -> Replay {
        let routes: Arc<Vec<Route>> = Arc::new(routes);
        let unmatched = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&unmatched);
        let (url, runtime) = proxy::serve(move |parts, body| {
            let answer = answer(&routes, &parts, &body, &seen);
            async move { Ok(answer) }
        });
        Replay {
            url,
            unmatched,
            _runtime: runtime,
        }
    }

    /// The requests no route answered (operation and path).
    pub fn unmatched(&self) -> Vec<String> {
        self.unmatched.lock().unwrap().clone()
    }
}

fn answer(
    routes: &[Route],
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    unmatched: &Mutex<Vec<String>>,
) -> Response<Full<Bytes>> {
    let operation = proxy::operation(parts, body);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    // What a needle is looked for in: the path and query, then the body.
    let haystack = format!(
        "path={path} {} ",
        String::from_utf8_lossy(body).replace("%2F", "/")
    );
    let Some(route) = routes.iter().find(|r| {
        r.operation == operation && r.needle.is_none_or(|needle| haystack.contains(needle))
    }) else {
        unmatched
            .lock()
            .unwrap()
            .push(format!("{operation} {path}"));
        return Response::builder()
            .status(500)
            .body(Full::new(Bytes::from(format!(
                "no fixture for {operation} {path}"
            ))))
            .unwrap();
    };
    let text = route.text();
    let service = operation.split(':').next().unwrap_or("");
    let content_type = match service {
        "iam" | "sts" => "text/xml",
        "s3" if text.starts_with('<') => "application/xml",
        "s3" => "application/json",
        "sqs" => "application/x-amz-json-1.0",
        "kms" => "application/x-amz-json-1.1",
        _ => "application/json",
    };
    let mut response = Response::builder()
        .status(route.status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", "0a1b2c3d-replay");
    for (name, value) in &route.headers {
        response = response.header(*name, value);
    }
    response.body(Full::new(Bytes::from(text))).unwrap()
}
