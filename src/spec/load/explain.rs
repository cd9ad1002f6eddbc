//! serde's and TOML's messages in a spec author's terms, and suggestions for misspelt names.

use super::*;

/// "a table", "an integer": TOML's type names with their article.
pub(crate) fn with_article(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_name}")
}

/// serde names the Rust types a value was read into; a spec's author knows TOML's.
pub(super) fn in_toml_terms(message: &str) -> String {
    let mut out = message.to_string();
    if let Some(start) = out.find("expected struct ") {
        let end = out[start..]
            .find([',', '\n'])
            .map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "expected a table");
    }
    // serde names the Rust type it tried ("integer `99999999999999999999` as i128"): a
    // number TOML holds but no field takes.
    for wide in ["` as i128", "` as u128"] {
        if let Some(end) = out.find(wide) {
            if let Some(start) = out[..end].rfind("integer `") {
                let number = out[start + "integer `".len()..end].to_string();
                return format!(
                    "the number {number} is too large: whole numbers here are at most 9223372036854775807"
                );
            }
        }
    }
    for (rust, toml) in [
        ("expected i128", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected a sequence", "expected an array"),
        ("invalid type: sequence", "invalid type: array"),
        ("expected a map", "expected a table"),
        ("invalid type: map", "invalid type: table"),
    ] {
        out = out.replace(rust, toml);
    }
    out
}

pub(super) const UNKNOWN_FIELD: Code = Code::SpecUnknownField;
/// Errors reported for one resource (or the stack table) before giving up on it.
pub(super) const MAX_ERRORS_PER_VALUE: usize = 20;

/// Takes out of the table `value`, or out of any table inside it, the setting whose key or
/// value is at `span`; false when there is none (the error is about the value as a whole).
pub(super) fn remove_setting_at(value: &mut DeValue<'_>, span: &Range<usize>) -> bool {
    match value {
        DeValue::Table(table) => {
            match table
                .iter()
                .find(|(key, value)| key.span() == *span || value.span() == *span)
                .map(|(key, _)| key.clone())
            {
                Some(key) => table.remove(&key).is_some(),
                None => table
                    .iter_mut()
                    .any(|(_, v)| remove_setting_at(v.get_mut(), span)),
            }
        }
        DeValue::Array(array) => array
            .iter_mut()
            .any(|v| remove_setting_at(v.get_mut(), span)),
        _ => false,
    }
}

/// A serde message, understood: a stable code, a hint, and the fields it names.
pub(super) struct Explained<'m> {
    pub(super) code: Code,
    pub(super) hint: Option<String>,
    /// For an unknown field, the field it is close to.
    pub(super) suggested: Option<&'m str>,
    /// For a missing field, its name.
    pub(super) missing: Option<&'m str>,
}

/// Turns serde's messages into a stable code and a hint.
pub(super) fn explain_serde_error(message: &str) -> Explained<'_> {
    let explained = |code, hint: Option<String>| Explained {
        code,
        hint,
        suggested: None,
        missing: None,
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        let near = closest(field, &expected);
        let (suggested, hint) = match (near, name_elsewhere(field, &expected)) {
            (Some(near), _) => (Some(near), suggestion(near)),
            (None, Some((ours, note))) => {
                let hint = format!("plinth calls this field `{ours}`");
                (
                    Some(ours),
                    note.map_or(hint.clone(), |note| format!("{hint}: {note}")),
                )
            }
            (None, None) => (
                None,
                format!("the fields here are: {}", expected.join(", ")),
            ),
        };
        return Explained {
            suggested,
            ..explained(UNKNOWN_FIELD, Some(hint))
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let missing = rest.split('`').next();
        return Explained {
            missing,
            ..explained(
                Code::SpecMissingField,
                Some("add the field; see the README's reference for this kind".into()),
            )
        };
    }
    if message.starts_with("invalid type") {
        return explained(Code::SpecType, Some(type_hint(message)));
    }
    explained(Code::SpecInvalid, None)
}

/// How to write what serde expected (`invalid type: string "yes", expected a boolean`).
fn type_hint(message: &str) -> String {
    let expected = message.rsplit_once("expected ").map_or("", |(_, e)| e);
    let quoted = message.contains(": string ");
    if expected.contains("boolean") {
        return "write true or false, without quotes".into();
    }
    if expected.contains("number") || expected.contains("integer") {
        return if message.contains(": string \"${") {
            "a number here is written as it is: references and variables fill in strings only, e.g. 30".into()
        } else if quoted {
            "write the number without quotes, e.g. 30".into()
        } else if expected.contains("whole") || expected.contains("integer") {
            "write a whole number, without a fraction, e.g. 30".into()
        } else {
            "write a number, e.g. 30".into()
        };
    }
    if expected.contains("string") || expected.contains("path") {
        return "put the value in double quotes".into();
    }
    if expected.contains("sequence") || expected.contains("list") || expected.contains("array") {
        return "write a list in square brackets, e.g. [\"a\", \"b\"]".into();
    }
    if expected.contains("map") || expected.contains("table") || expected.contains("struct") {
        return "write a table: { key = value } inline, or a [section] of its own".into();
    }
    format!("write {expected} here; see the README's reference for this kind")
}

/// Their name (lower case, without underscores), plinth's field, a field that must also be
/// expected for the name to mean plinth's (`bucket` is a bucket's `name` only in a bucket,
/// not in a function), and what else differs.
type Elsewhere = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// What Terraform's AWS provider and CloudFormation call plinth's fields, for authors who
/// bring those names along. A name is offered only where plinth's field is one of the fields
/// expected at that place, so `policy` means a managed policy's `document` only in a managed
/// policy.
const NAMES_ELSEWHERE: &[Elsewhere] = &[
    ("assumerolepolicy", "trust", None, None),
    ("assumerolepolicydocument", "trust", None, None),
    (
        "inlinepolicy",
        "policies",
        None,
        Some("a table of inline policies by name, `[role.NAME.policies.POLICY]`"),
    ),
    ("managedpolicyarns", "managed_policies", None, None),
    (
        "maxsessionduration",
        "max_session_hours",
        None,
        Some("in hours, 1 to 12, where Terraform and CloudFormation take seconds"),
    ),
    ("rolename", "name", None, None),
    ("policy", "document", None, None),
    ("policydocument", "document", None, None),
    ("policyname", "name", None, None),
    ("managedpolicyname", "name", None, None),
    ("instanceprofilename", "name", None, None),
    ("clientidlist", "client_ids", None, None),
    ("thumbprintlist", "thumbprints", None, None),
    ("enablekeyrotation", "rotation", None, None),
    ("keyrotationenabled", "rotation", None, None),
    ("deletionwindowindays", "deletion_window_days", None, None),
    ("pendingwindowindays", "deletion_window_days", None, None),
    ("isenabled", "enabled", None, None),
    ("customermasterkeyspec", "key_spec", None, None),
    ("keypolicy", "policy", None, None),
    ("queuename", "name", None, None),
    (
        "visibilitytimeoutseconds",
        "visibility_timeout",
        None,
        Some("in seconds"),
    ),
    (
        "messageretentionseconds",
        "message_retention",
        None,
        Some("in seconds"),
    ),
    (
        "messageretentionperiod",
        "message_retention",
        None,
        Some("in seconds"),
    ),
    ("delayseconds", "delay", None, Some("in seconds")),
    (
        "receivewaittimeseconds",
        "receive_wait",
        None,
        Some("in seconds"),
    ),
    (
        "receivemessagewaittimeseconds",
        "receive_wait",
        None,
        Some("in seconds"),
    ),
    ("maximummessagesize", "max_message_size", None, None),
    (
        "kmsmasterkeyid",
        "kms_key",
        None,
        Some("the key's alias, id or ARN, or `${key.NAME.arn}`"),
    ),
    (
        "kmsdatakeyreuseperiodseconds",
        "kms_data_key_reuse",
        None,
        Some("in seconds"),
    ),
    (
        "redrivepolicy",
        "redrive",
        None,
        Some("a table, `{ queue = \"${queue.DLQ.arn}\", max_receive_count = 5 }`"),
    ),
    ("sqsmanagedsseenabled", "sqs_managed_sse", None, None),
    ("functionname", "name", None, None),
    ("memorysize", "memory", None, Some("in MB")),
    (
        "filename",
        "code",
        None,
        Some("`code = { zip = \"FILE\" }`, or `dir`, `image`, `s3_bucket` and `s3_key`"),
    ),
    (
        "imageuri",
        "code",
        None,
        Some("`code = { image = \"URI\" }`"),
    ),
    (
        "s3bucket",
        "code",
        None,
        Some("`code = { s3_bucket = \"BUCKET\", s3_key = \"KEY\" }`"),
    ),
    (
        "reservedconcurrentexecutions",
        "reserved_concurrency",
        None,
        None,
    ),
    (
        "eventsourcemapping",
        "trigger",
        None,
        Some("the function's queue trigger, `trigger = { queue = \"${queue.NAME.arn}\" }`"),
    ),
    ("bucket", "name", Some("cors"), None),
    ("bucketname", "name", Some("cors"), None),
    (
        "corsrule",
        "cors",
        None,
        Some("a list of rules, `[[bucket.NAME.cors]]`"),
    ),
    (
        "corsconfiguration",
        "cors",
        None,
        Some("a list of rules, `[[bucket.NAME.cors]]`"),
    ),
    (
        "serversideencryptionconfiguration",
        "encryption",
        None,
        None,
    ),
    ("bucketencryption", "encryption", None, None),
    ("notificationconfiguration", "notification", None, None),
    (
        "publicaccessblockconfiguration",
        "public_access_block",
        None,
        None,
    ),
];

/// plinth's name for `field` as Terraform or CloudFormation spell it, when it is expected here.
fn name_elsewhere<'c>(
    field: &str,
    expected: &[&'c str],
) -> Option<(&'c str, Option<&'static str>)> {
    let folded: String = field
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    let (_, ours, _, note) = NAMES_ELSEWHERE.iter().find(|(theirs, ours, beside, _)| {
        *theirs == folded && expected.contains(ours) && beside.is_none_or(|b| expected.contains(&b))
    })?;
    let ours = expected.iter().find(|e| *e == ours)?;
    Some((ours, *note))
}

pub(crate) fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    closest(word, candidates).map(suggestion)
}

/// The candidate a misspelt `word` most likely meant, if any is close enough.
pub(super) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

pub(super) fn suggestion(candidate: &str) -> String {
    format!("did you mean `{candidate}`?")
}

pub(super) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_type_says_how_to_write_the_right_one() {
        let hint = |message: &str| explain_serde_error(message).hint.unwrap_or_default();
        assert_eq!(
            hint(r#"invalid type: string "yes", expected a boolean"#),
            "write true or false, without quotes"
        );
        assert_eq!(
            hint(r#"invalid type: string "two", expected a whole number"#),
            "write the number without quotes, e.g. 30"
        );
        assert_eq!(
            hint("invalid type: integer `3`, expected a string"),
            "put the value in double quotes"
        );
        assert!(hint("invalid type: string \"a\", expected a sequence").contains("square brackets"));
        // A reference where a number belongs: quotes are not the mistake.
        assert!(
            hint(r#"invalid type: string "${var.vis}", expected a whole number"#)
                .contains("references and variables fill in strings only"),
        );
        assert_eq!(
            explain_serde_error(r#"invalid type: string "yes", expected a boolean"#).code,
            Code::SpecType
        );
    }
}
