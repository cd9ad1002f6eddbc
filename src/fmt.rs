//! `plinth fmt`: one layout for every spec, through toml_edit, which keeps what it does not
//! change byte for byte (comments, strings, inline tables: a policy stays as it was written).
//!
//! The layout: the fields of `[stack]` and of each `[KIND.NAME]` in the order the spec format
//! declares them (the order of the README's reference tables, and of `plinth schema`), a
//! field the format does not know last; `key = value` with one space around `=`; comments kept
//! where they were, and the spaces before a trailing comment kept, so aligned comments stay
//! aligned; no trailing white space; at most one blank line in a row; one newline at the end.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, RawString, Table};

/// A file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FmtError {
    pub path: PathBuf,
    pub message: String,
    /// The file could not be read or written, rather than being no valid TOML.
    pub io: bool,
}

/// The spec in the canonical layout.
pub fn format_spec(text: &str) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string().trim_end().to_string())?;
    let order = FieldOrder::from_schema();
    let root = doc.as_table_mut();
    if let Some(stack) = root.get_mut("stack").and_then(Item::as_table_mut) {
        order.sort(stack, "Stack");
    }
    for (kind, item) in root.iter_mut() {
        let Some(resources) = item.as_table_mut() else {
            continue;
        };
        if let Some(definition) = order.resource_definition(kind.get()) {
            for (_, resource) in resources.iter_mut() {
                if let Some(table) = resource.as_table_mut() {
                    order.sort(table, &definition);
                }
            }
        }
    }
    tidy_table(doc.as_table_mut());
    let trailing = doc.trailing().as_str().unwrap_or_default().to_string();
    doc.set_trailing(collapse_blank_lines(&trailing).trim_end_matches([' ', '\t', '\n']));
    let mut out = doc.to_string();
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    // Trailing white space inside multi-line strings is content, not layout: keep those lines.
    Ok(out)
}

/// Formats each file in place, or with `check` only compares; returns the files whose layout
/// differs from the canonical one and a unified diff for each.
/// Formats each file (or, with `check`, only compares): the files that changed, each with its
/// diff, and the files that could not be formatted, each with why. A file that cannot be read
/// or parsed does not stop the others, as `gofmt` and `terraform fmt` carry on.
pub fn format_files(paths: &[PathBuf], check: bool) -> (Vec<(PathBuf, String)>, Vec<FmtError>) {
    let mut changed = Vec::new();
    let mut failed = Vec::new();
    for path in paths {
        match format_file(path, check) {
            Ok(Some(diff)) => changed.push((path.clone(), diff)),
            Ok(None) => {}
            Err(e) => failed.push(e),
        }
    }
    (changed, failed)
}

/// Formats one file: its diff if it changed.
fn format_file(path: &Path, check: bool) -> Result<Option<String>, FmtError> {
    {
        let error = |message: String| FmtError {
            path: path.to_path_buf(),
            message,
            io: false,
        };
        let io_error = |e: std::io::Error| FmtError {
            path: path.to_path_buf(),
            message: e.to_string(),
            io: true,
        };
        let text = std::fs::read_to_string(path).map_err(io_error)?;
        // What is shown of the spec (a syntax error's line, the diff) never holds a secret:
        // it is made from the text with secrets masked, which has the same positions.
        let masked = crate::spec::redact::mask_secrets;
        let formatted = format_spec(&text).map_err(|_| {
            error(format_spec(&masked(&text)).err().unwrap_or_else(|| {
                "a secret's value is not a valid TOML string (not shown)".to_string()
            }))
        })?;
        if formatted == text {
            return Ok(None);
        }
        let diff = unified_diff(path, &masked(&text), &masked(&formatted));
        if !check {
            std::fs::write(path, &formatted).map_err(io_error)?;
        }
        Ok(Some(diff))
    }
}

fn unified_diff(path: &Path, before: &str, after: &str) -> String {
    let shown = path.display().to_string();
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .header(&shown, &format!("{shown} (formatted)"))
        .to_string()
}

/// The order of each table's fields, read from the JSON Schema, which is generated from the
/// structs the loader reads each table into.
struct FieldOrder {
    schema: serde_json::Value,
}

impl FieldOrder {
    fn from_schema() -> FieldOrder {
        FieldOrder {
            schema: serde_json::from_str(&crate::spec::schema::json_schema()).unwrap_or_default(),
        }
    }

    /// The definition of a kind's resources (`FunctionByName`), when `kind` is one.
    fn resource_definition(&self, kind: &str) -> Option<String> {
        let reference = self.schema["properties"][kind]["anyOf"][0]["$ref"]
            .as_str()
            .or_else(|| self.schema["properties"][kind]["$ref"].as_str())?;
        reference
            .strip_prefix("#/$defs/")
            .filter(|d| d.ends_with("ByName"))
            .map(str::to_string)
    }

    fn fields(&self, definition: &str) -> Vec<String> {
        let def = &self.schema["$defs"][definition];
        let properties = def["properties"]
            .as_object()
            .or_else(|| def["additionalProperties"]["properties"].as_object());
        properties
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn sort(&self, table: &mut Table, definition: &str) {
        let fields = self.fields(definition);
        let rank = |key: &str| fields.iter().position(|f| f == key).unwrap_or(fields.len());
        table.sort_values_by(|k1, _, k2, _| rank(k1.get()).cmp(&rank(k2.get())));
    }
}

/// Spacing of every key-value and table header, recursively.
fn tidy_table(table: &mut Table) {
    let decor = table.decor_mut();
    if let Some(prefix) = decor.prefix().and_then(RawString::as_str) {
        let prefix = tidy_prefix(prefix);
        decor.set_prefix(prefix);
    }
    if let Some(suffix) = decor.suffix().and_then(RawString::as_str) {
        let suffix = trailing_comment(suffix);
        decor.set_suffix(suffix);
    }
    for (mut key, item) in table.iter_mut() {
        if item.is_value() {
            let decor = key.leaf_decor_mut();
            let prefix = tidy_prefix(decor.prefix().and_then(RawString::as_str).unwrap_or(""));
            decor.set_prefix(prefix);
            decor.set_suffix(" ");
        }
        match item {
            Item::Value(value) => {
                let decor = value.decor_mut();
                decor.set_prefix(" ");
                let suffix =
                    trailing_comment(decor.suffix().and_then(RawString::as_str).unwrap_or(""));
                decor.set_suffix(suffix);
            }
            Item::Table(sub) => tidy_table(sub),
            Item::ArrayOfTables(array) => {
                for sub in array.iter_mut() {
                    tidy_table(sub);
                }
            }
            Item::None => {}
        }
    }
}

/// What follows a value or header on its line: a comment, with the spaces before it (they
/// align it), or nothing.
fn trailing_comment(suffix: &str) -> String {
    if suffix.contains('#') {
        suffix.trim_end().to_string()
    } else {
        String::new()
    }
}

/// The lines before a key or header: comments kept, their trailing white space and the key's
/// indentation dropped, runs of blank lines made one.
fn tidy_prefix(prefix: &str) -> String {
    let lines: Vec<&str> = prefix.split('\n').collect();
    // The last line is the indentation of the key itself.
    let comments = lines.split_last().map_or(&[][..], |(_, comments)| comments);
    let mut out = String::new();
    for line in comments {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    collapse_blank_lines(&out)
}

fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::new();
    let mut blank_run = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
            out.push('\n');
        } else {
            blank_run = 0;
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_take_the_documented_order_and_comments_stay() {
        let spec = "[stack]\nname=\"x\"\n\n\n\n[queue.work]   \n# the visibility\nvisibility_timeout   =   60   # aligned\nname = \"x-work\"\n\n[queue.work.policy]\nVersion = \"2012-10-17\"\nStatement = []\n";
        let formatted = format_spec(spec).unwrap();
        assert_eq!(
            formatted,
            "[stack]\nname = \"x\"\n\n[queue.work]\nname = \"x-work\"\n# the visibility\nvisibility_timeout = 60   # aligned\n\n[queue.work.policy]\nVersion = \"2012-10-17\"\nStatement = []\n"
        );
        assert_eq!(format_spec(&formatted).unwrap(), formatted);
    }

    #[test]
    fn strings_and_inline_tables_are_kept_as_written() {
        let spec = "[stack]\nname = \"x\"\n\n[role.r]\ntrust = '''\n{ \"Statement\":   [] }   \n'''\nname = \"r\"\ntags = {  team=\"data\" }\n";
        let formatted = format_spec(spec).unwrap();
        assert!(
            formatted.contains("'''\n{ \"Statement\":   [] }   \n'''"),
            "{formatted}"
        );
        assert!(
            formatted.contains("tags = {  team=\"data\" }"),
            "{formatted}"
        );
        assert!(
            formatted.find("name = \"r\"") < formatted.find("trust"),
            "{formatted}"
        );
    }

    /// Neither a syntax error's line nor `--check`'s diff shows a secret's value.
    #[test]
    fn what_fmt_shows_of_a_spec_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        let function = "[stack]\nname = \"s\"\n\n[function.f]\nname = \"f\"\n";
        std::fs::write(
            &path,
            format!("{function}environment = {{ API = {{ secret = \"FMT-SECRET-1\" }}\n"),
        )
        .unwrap();
        let error = format_file(&path, true).unwrap_err();
        assert!(error.message.contains("line 6"), "{error}");
        assert!(!error.message.contains("FMT-SECRET-1"), "{error}");

        std::fs::write(
            &path,
            format!("{function}environment = {{ API = {{ secret = \"FMT-SECRET-2\" }} }}   \n"),
        )
        .unwrap();
        let diff = format_file(&path, true).unwrap().expect("a change");
        assert!(diff.contains("environment"), "{diff}");
        assert!(!diff.contains("FMT-SECRET-2"), "{diff}");
    }

    /// A file that cannot be read is a path to check, not a spec that is not TOML; neither
    /// stops the files after it from being formatted.
    #[test]
    fn a_missing_file_is_told_apart_from_invalid_toml_and_the_others_are_formatted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, "[stack\n").unwrap();
        let last = dir.path().join("last.toml");
        std::fs::write(&last, "[stack]\nname   = \"x\"\n").unwrap();
        let (changed, failed) =
            format_files(&[dir.path().join("nope.toml"), path, last.clone()], false);
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].io, "{}", failed[0]);
        assert!(!failed[1].io, "{}", failed[1]);
        assert_eq!(changed.len(), 1);
        assert_eq!(
            std::fs::read_to_string(&last).unwrap(),
            "[stack]\nname = \"x\"\n"
        );
    }

    #[test]
    fn a_spec_that_is_not_toml_is_an_error_with_its_line() {
        let error = format_spec("[stack\nname = 1\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }
}
