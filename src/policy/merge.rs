//! Merging a stack's statements into a policy document it shares with others (a customer's
//! key policy, queue policy, bucket policy or role trust). The stack owns exactly the
//! statements it names by Sid; every other statement stays where it is, as it is.
//!
//! Two forms: on the parsed model, for the plan (what the document will be), and on the live
//! JSON text, for apply, so that the statements plinth does not own are sent back exactly as
//! AWS returned them (key order and spelling included).

use std::collections::BTreeSet;

use serde_json::Value;

use super::model::PolicyDocument;

/// `live` with the statements whose Sid is in `drop` removed, each statement of `ours`
/// replacing the live one with its Sid in place, and the rest of `ours` appended.
pub fn merge_by_sid(
    live: Option<&PolicyDocument>,
    ours: Option<&PolicyDocument>,
    drop: &BTreeSet<String>,
) -> PolicyDocument {
    let ours_statements = ours.map(|o| o.statements.as_slice()).unwrap_or_default();
    let by_sid = |sid: &Option<String>| {
        sid.as_ref()
            .and_then(|s| ours_statements.iter().find(|o| o.sid.as_ref() == Some(s)))
    };
    let mut statements = Vec::new();
    let mut placed = BTreeSet::new();
    for statement in live.map(|l| l.statements.as_slice()).unwrap_or_default() {
        if let Some(mine) = by_sid(&statement.sid) {
            if placed.insert(mine.sid.clone()) {
                statements.push(mine.clone());
            }
        } else if !statement.sid.as_ref().is_some_and(|s| drop.contains(s)) {
            statements.push(statement.clone());
        }
    }
    for statement in ours_statements {
        if !placed.contains(&statement.sid) {
            statements.push(statement.clone());
        }
    }
    PolicyDocument {
        version: live
            .and_then(|l| l.version)
            .or(ours.and_then(|o| o.version)),
        id: live.and_then(|l| l.id.clone()),
        statements,
    }
}

/// The statements of `document` whose Sid is in `sids`: plinth's part of a merged document.
pub fn only_sids(document: &PolicyDocument, sids: &BTreeSet<String>) -> PolicyDocument {
    PolicyDocument {
        version: document.version,
        id: None,
        statements: document
            .statements
            .iter()
            .filter(|s| s.sid.as_ref().is_some_and(|sid| sids.contains(sid)))
            .cloned()
            .collect(),
    }
}

/// How many statements of `document` are not the stack's (their Sid is not in `ours`).
pub fn kept_statements(document: &PolicyDocument, ours: &BTreeSet<String>) -> usize {
    document
        .statements
        .iter()
        .filter(|s| !s.sid.as_ref().is_some_and(|sid| ours.contains(sid)))
        .count()
}

/// The Sids of a document's statements.
pub fn sids(document: &PolicyDocument) -> BTreeSet<String> {
    document
        .statements
        .iter()
        .filter_map(|s| s.sid.clone())
        .collect()
}

/// The merge of [`merge_by_sid`] on JSON text: `live` (the document as AWS returned it, `None`
/// or empty when there is none) with the statements whose Sid is in `drop` or among `ours`
/// removed and `ours` put in their place (or appended). The other statements are the live
/// JSON values untouched. `None` when no statement is left.
pub fn merge_json_by_sid(
    live: Option<&str>,
    ours: Option<&PolicyDocument>,
    drop: &BTreeSet<String>,
) -> Result<Option<String>, String> {
    let mut document = match live.filter(|l| !l.trim().is_empty()) {
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|e| format!("the live policy is not JSON: {e}"))?,
        None => {
            let mut object = serde_json::Map::new();
            object.insert(
                "Version".into(),
                ours.and_then(|o| o.version)
                    .map_or("2012-10-17", |v| v.as_str())
                    .into(),
            );
            Value::Object(object)
        }
    };
    let Value::Object(object) = &mut document else {
        return Err("the live policy is not a JSON object".into());
    };
    let live_statements = match object.remove("Statement") {
        Some(Value::Array(items)) => items,
        Some(single @ Value::Object(_)) => vec![single],
        None => Vec::new(),
        Some(_) => return Err("the live policy's Statement is not a list".into()),
    };
    let ours_json: Vec<(String, Value)> = ours
        .map(|o| o.statements.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.sid.clone().map(|sid| (sid, s.to_json())))
        .collect();
    let sid_of = |v: &Value| v.get("Sid").and_then(Value::as_str).map(str::to_string);
    let mut statements = Vec::new();
    let mut placed = BTreeSet::new();
    for statement in live_statements {
        match sid_of(&statement) {
            Some(sid) if ours_json.iter().any(|(s, _)| *s == sid) => {
                if placed.insert(sid.clone()) {
                    let mine = ours_json.iter().find(|(s, _)| *s == sid).map(|(_, j)| j);
                    statements.extend(mine.cloned());
                }
            }
            Some(sid) if drop.contains(&sid) => {}
            _ => statements.push(statement),
        }
    }
    for (sid, json) in &ours_json {
        if !placed.contains(sid) {
            statements.push(json.clone());
        }
    }
    if statements.is_empty() {
        return Ok(None);
    }
    object.insert("Statement".into(), Value::Array(statements));
    Ok(Some(document.to_string()))
}

/// Whether every statement of `ours` is in `live` by Sid, with the same meaning, and no Sid
/// of `gone` is: the check after a write that no other writer's write replaced it.
pub fn holds(
    live: &PolicyDocument,
    ours: Option<&PolicyDocument>,
    gone: &BTreeSet<String>,
) -> bool {
    let present = ours.is_none_or(|o| {
        o.statements.iter().all(|mine| {
            live.statements.iter().any(|s| {
                s.sid == mine.sid && s.normalized().to_json() == mine.normalized().to_json()
            })
        })
    });
    let absent = live
        .statements
        .iter()
        .all(|s| !s.sid.as_ref().is_some_and(|sid| gone.contains(sid)));
    present && absent
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER: &str = r#"{
  "Version" : "2012-10-17",
  "Id" : "key-consolepolicy-3",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : { "AWS" : "arn:aws:iam::111122223333:root" },
    "Action" : "kms:*",
    "Resource" : "*"
  }, {
    "Sid" : "OldTonic",
    "Effect" : "Allow",
    "Principal" : { "Service" : "s3.amazonaws.com" },
    "Action" : "kms:Decrypt",
    "Resource" : "*"
  } ]
}"#;

    fn ours() -> PolicyDocument {
        PolicyDocument::parse(
            r#"{"Version": "2012-10-17", "Statement": [{"Sid": "TonicS3", "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn our_statements_join_the_live_ones_and_the_others_stay_as_they_were() {
        let live = PolicyDocument::parse(CUSTOMER).unwrap();
        let drop = BTreeSet::from(["OldTonic".to_string()]);
        let merged = merge_by_sid(Some(&live), Some(&ours()), &drop);
        let order: Vec<_> = merged
            .statements()
            .iter()
            .map(|s| s.sid.clone().unwrap())
            .collect();
        assert_eq!(order, ["Enable IAM User Permissions", "TonicS3"]);
        assert_eq!(merged.id(), Some("key-consolepolicy-3"));
        assert_eq!(kept_statements(&merged, &sids(&ours())), 1);

        let text = merge_json_by_sid(Some(CUSTOMER), Some(&ours()), &drop)
            .unwrap()
            .unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        let original: Value = serde_json::from_str(CUSTOMER).unwrap();
        assert_eq!(
            json["Statement"][0], original["Statement"][0],
            "kept as it was"
        );
        assert_eq!(json["Id"], "key-consolepolicy-3");
        assert_eq!(json["Statement"].as_array().unwrap().len(), 2);
        let written = PolicyDocument::parse(&text).unwrap();
        assert!(holds(&written, Some(&ours()), &drop));
        assert!(!holds(&live, Some(&ours()), &drop), "ours is missing");
    }

    #[test]
    fn a_statement_already_there_is_replaced_in_place_and_removing_ours_keeps_the_rest() {
        let live = merge_json_by_sid(Some(CUSTOMER), Some(&ours()), &BTreeSet::new())
            .unwrap()
            .unwrap();
        let again = merge_json_by_sid(Some(&live), Some(&ours()), &BTreeSet::new())
            .unwrap()
            .unwrap();
        assert_eq!(again, live, "merging twice changes nothing");
        let released = merge_json_by_sid(Some(&live), None, &sids(&ours()))
            .unwrap()
            .unwrap();
        let original: Value = serde_json::from_str(CUSTOMER).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&released).unwrap(), original);
    }
}
