//! Answers from AWS that do not parse.
//!
//! The SDK rejects a body it cannot read (truncated XML, a JSON answer cut short) with an error
//! of its own; what it cannot see is a document inside a string: a policy (IAM URL-encodes it,
//! SQS and KMS send it as a string member, S3 as the whole body) or SQS's redrive policy. The
//! adapters keep such a string as text, so it is never silently equal to the spec; here a
//! string that is not JSON at all is found, and the read fails naming the call and the
//! resource. A document that is JSON but not one plinth's parser takes stays text and shows as
//! a difference.

use crate::model::Value;
use crate::state::LiveResource;

use super::AwsError;

/// Fails when a document in `resource` arrived damaged; `resource_name` says which resource
/// (its address when the spec names it).
pub(crate) fn check(resource: &LiveResource, resource_name: &str) -> Result<(), AwsError> {
    // The SDK's XML reader takes an answer cut short for one whose later members are absent:
    // a resource without its name is such an answer, not a resource called "".
    if matches!(resource.attributes.get("name"), Some(Value::Str(name)) if name.is_empty()) {
        return Err(AwsError {
            operation: format!("{} ({resource_name})", super::first_read(resource.kind)),
            code: None,
            message: "AWS's answer is incomplete: it does not name the resource".into(),
            hint: Some(HINT.into()),
        });
    }
    for (attribute, operation) in super::documents(resource.kind) {
        let damaged = match resource.attributes.get(*attribute) {
            // Inline policies: a map of documents.
            Some(Value::Map(each)) if *attribute == "policies" => {
                each.values().find_map(|v| not_json(v).map(str::to_string))
            }
            Some(v) => not_json(v).map(str::to_string),
            None => None,
        };
        if let Some(text) = damaged {
            return Err(AwsError {
                operation: format!("{operation} ({resource_name})"),
                code: None,
                message: format!(
                    "AWS answered with a {attribute} that is not JSON: `{}`",
                    excerpt(&text)
                ),
                hint: Some(HINT.into()),
            });
        }
    }
    Ok(())
}

const HINT: &str = "the answer was damaged on its way, or this AWS API has changed; run the command again, and report it if it persists";

/// The text of a document held as a string that is not JSON.
fn not_json(value: &Value) -> Option<&str> {
    match value {
        Value::Str(text) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() => {
            Some(text)
        }
        _ => None,
    }
}

fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Names the resource a failed read was for, so an error says which resource it concerns.
pub(crate) fn reading(mut e: AwsError, resource_name: &str) -> AwsError {
    // One name only: `AwsError::about` may have named it already, and credentials are no
    // resource's.
    let named = e.operation.contains(" (") || e.operation.starts_with("load ");
    if !named && !e.operation.contains(resource_name) {
        e.operation = format!("{} ({resource_name})", e.operation);
    }
    e
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::Kind;
    use crate::state::LiveResource;

    fn queue(attribute: &str, value: Value) -> LiveResource {
        LiveResource {
            kind: Kind::Queue,
            physical_id: "q".into(),
            owner: None,
            address_tag: None,
            attributes: BTreeMap::from([(attribute.to_string(), value)]).into(),
            exports: BTreeMap::new(),
            deletion_date: None,
        }
    }

    #[test]
    fn a_document_that_is_not_json_names_the_call_and_the_resource() {
        let e = check(
            &queue("policy", Value::str(r#"{"Version":"2012-10-17","Statem"#)),
            "queue.work",
        )
        .unwrap_err();
        assert_eq!(e.operation, "sqs:GetQueueAttributes (queue.work)");
        assert!(
            e.message.contains("policy that is not JSON"),
            "{}",
            e.message
        );
        let e = check(&queue("redrive", Value::str("{\"deadLetter")), "queue.work").unwrap_err();
        assert!(e.message.contains("redrive"), "{}", e.message);
    }

    #[test]
    fn a_resource_without_its_name_is_an_incomplete_answer() {
        let mut role = queue("name", Value::str(""));
        role.kind = Kind::Role;
        let e = check(&role, "role.worker").unwrap_err();
        assert_eq!(e.operation, "iam:GetRole (role.worker)");
    }

    #[test]
    fn json_that_plinth_cannot_parse_stays_a_difference() {
        check(
            &queue("policy", Value::str(r#"{"Version": 7}"#)),
            "queue.work",
        )
        .unwrap();
        check(&queue("visibility_timeout", Value::Int(3)), "queue.work").unwrap();
    }
}
