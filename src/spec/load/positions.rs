//! Where things are in a spec's files: positions inside TOML strings and JSON policies, and
//! policy lints as diagnostics pointing at their statement.

use super::*;

/// Whether a file named as a policy is meant to be one: a JSON object that mentions
/// `Statement`. Only then are its lines shown in diagnostics, which help fix a typo in a real
/// policy and would leak the content of any other file.
pub(super) fn looks_like_policy(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
        && text.to_ascii_lowercase().contains("\"statement\"")
}

/// Narrows a location to the first occurrence of `needle` inside it.
pub(super) fn find_in(location: &Location, needle: &str) -> Location {
    let text = &location.file.text;
    let range = location.span.clone();
    match text.get(range.clone()).and_then(|s| s.find(needle)) {
        Some(i) => Location::new(
            &location.file,
            range.start + i..range.start + i + needle.len(),
        ),
        None => location.clone(),
    }
}

/// Byte offset where a TOML string's content starts, when the content maps one to one onto the
/// source (no escapes), so positions inside the value can be shown exactly.
pub(super) fn string_content_start(source: &str, span: Range<usize>) -> Option<usize> {
    let raw = source.get(span.clone())?;
    let (open, escapes) = if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else {
        return None;
    };
    if escapes && raw.contains('\\') {
        return None;
    }
    let mut start = span.start + open;
    // A newline right after a multi-line opening delimiter is not part of the value.
    if open == 3 {
        if source[start..].starts_with("\r\n") {
            start += 2;
        } else if source[start..].starts_with('\n') {
            start += 1;
        }
    }
    Some(start)
}

/// serde_json reports one-based line and column; turn them into a byte offset.
pub(super) fn json_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len().saturating_sub(1))
}

/// Finds roughly where a JSON path like `Statement[1].Effect` is in the text: the last named
/// key of the path, searched after the position of the statement it belongs to.
pub(super) fn locate_json_path(text: &str, path: &str) -> Option<usize> {
    let mut from = 0;
    for segment in path.split('.') {
        let (key, index) = match segment.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        if key.is_empty() {
            continue;
        }
        from += text[from..].find(&format!("\"{key}\""))?;
        if let Some(index) = index {
            // Skip to the index-th `{` after the key: the start of that statement.
            if let Some(element) = nth_object(text, from, index) {
                from = element.start;
            }
        }
    }
    Some(from)
}

pub(super) fn collect_strings<'a>(json: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match json {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.push(k);
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

/// A policy lint as a diagnostic pointing at the statement (by its Sid) or the policy. Info
/// lints are left to the plan's machine-readable output.
/// A policy lint's message as a diagnostic says it: `role.r trust, statement S: ... [P007]`.
pub(crate) fn lint_message(
    address: &Address,
    policy: &str,
    statement: Option<&str>,
    message: &str,
    code: crate::policy::LintCode,
) -> String {
    let statement = statement
        .map(|s| format!(", statement {s}"))
        .unwrap_or_default();
    format!("{address} {policy}{statement}: {message} [{code}]")
}

pub(crate) fn lint_diagnostic(
    address: &Address,
    policy: &str,
    lint: &crate::policy::Lint,
    at: &Location,
) -> Option<Diagnostic> {
    use crate::policy::Severity as S;
    let message = lint_message(
        address,
        policy,
        lint.statement.as_deref(),
        &lint.message,
        lint.code,
    );
    let diagnostic = match lint.severity {
        S::Error => Diagnostic::error(Code::PolicyLint, message),
        S::Warning => Diagnostic::warning(WarningCode::PolicyLint, message),
        S::Info => return None,
    };
    let at = &policy_region(at);
    let statement = match lint.statement.as_deref() {
        Some(unnamed) if unnamed.starts_with("Statement[") => unnamed
            .trim_start_matches("Statement[")
            .trim_end_matches(']')
            .parse::<usize>()
            .ok()
            .and_then(|index| nth_statement(at, index)),
        Some(sid) => Some(find_in(at, &format!("\"{sid}\""))),
        None => None,
    };
    // The value the lint is about (an action, a resource, a principal: the first string the
    // message quotes), where the statement writes it; else the statement, or its Sid.
    let value = first_quoted(&lint.message).and_then(|value| {
        let within = match lint.statement.as_deref() {
            Some(sid) if !sid.starts_with("Statement[") => {
                enclosing_statement(at, statement.as_ref()?.span.start)?
            }
            _ => statement.clone()?,
        };
        let found = find_in(&within, &format!("\"{value}\""));
        (found.span != within.span).then_some(found)
    });
    let location = value
        .or(statement)
        .unwrap_or_else(|| Location::new(&at.file, at.span.start..at.span.start + 1));
    let hint = if lint.refused_by_aws() {
        "fix the statement: AWS refuses the document as it is, so this lint cannot be silenced"
            .to_string()
    } else {
        format!(
            "fix the statement, or accept it with [[{address}.silence]] lint = \"{}\", policy = \"{policy}\", reason = \"...\"",
            lint.code
        )
    };
    Some(diagnostic.at_location(Some(location)).hint(hint))
}

/// Where a policy is written: a policy written as a table of its own (`[role.r.policies.p]`)
/// is located at its header, and written up to the next header (or the end of the file).
fn policy_region(at: &Location) -> Location {
    let text = &at.file.text;
    if !text
        .get(at.span.clone())
        .is_some_and(|s| s.starts_with('['))
    {
        return at.clone();
    }
    let end = text[at.span.end..]
        .find("\n[")
        .map_or(text.len(), |i| at.span.end + i);
    Location::new(&at.file, at.span.start..end)
}

/// The first string a lint's message quotes (`action "s3:GetObjct" is not ...`), unless it
/// holds an escape, which the source would spell otherwise.
fn first_quoted(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once('"')?;
    let (value, _) = rest.split_once('"')?;
    (!value.is_empty() && !value.contains('\\')).then_some(value)
}

/// The statement of the policy at `at` that holds the byte offset `offset` (its Sid's).
fn enclosing_statement(at: &Location, offset: usize) -> Option<Location> {
    (0..MAX_STATEMENTS)
        .map_while(|index| nth_statement(at, index))
        .find(|statement| statement.span.contains(&offset))
}

/// More statements than any policy IAM accepts has (a 6,144-character policy holds far fewer).
const MAX_STATEMENTS: usize = 1000;

/// Where the `index`-th statement (from 0) of the policy at `at` is written: from its `{` to
/// its `}`, in JSON or in a TOML inline table alike (`Statement = [{ ... }, { ... }]`).
/// `None` when the policy is not written out here (a file, or a value built from references).
fn nth_statement(at: &Location, index: usize) -> Option<Location> {
    let text = at.file.text.get(at.span.clone())?;
    let key = text.find("Statement")?;
    let element = nth_object(text, key, index)?;
    Some(Location::new(
        &at.file,
        at.span.start + element.start..at.span.start + element.end,
    ))
}

/// The `index`-th object (from 0) of the first array after `from` in `text`, from its `{` to
/// its `}`; JSON and TOML inline tables alike, with braces inside strings not counted. A single
/// object where the array would be (IAM takes `"Statement": {...}`) is the array's only one.
fn nth_object(text: &str, from: usize, index: usize) -> Option<Range<usize>> {
    let open = from + text[from..].find(['[', '{'])?;
    let bytes = text.as_bytes();
    let (mut depth, mut seen, mut start) = (0usize, 0usize, None);
    let mut quote: Option<u8> = None;
    let mut i = if bytes[open] == b'{' { open } else { open + 1 };
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == b'\\' && q == b'"' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'{' => {
                    if depth == 0 {
                        if seen == index {
                            start = Some(i);
                        }
                        seen += 1;
                    }
                    depth += 1;
                }
                b'}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        if let Some(start) = start {
                            return Some(start..i + 1);
                        }
                    }
                }
                b']' if depth == 0 => return None,
                _ => {}
            },
        }
        i += 1;
    }
    None
}
