//! Diagnostics: problems found in a spec (or in a plan) that point at a place in a file.
//!
//! Every check collects [`Diagnostic`]s instead of stopping at the first problem, so that one
//! `plinth validate` run reports everything. Rendering goes through miette, so the snippet and
//! the `file:line:col` header are never hand-drawn.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;

pub use code::Code;

mod code;

/// A file plinth read, kept whole so diagnostics can show snippets from it.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user wrote it (or as it was resolved relative to the spec).
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            text: text.into(),
        })
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// The closed set of codes a warning carries: what a reader (or a program reading a plan) can
/// match on. Each is also a [`Code`], which every diagnostic carries; warnings travel inside
/// plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WarningCode {
    /// A policy lint of warning severity (the lint's own code is in the message).
    PolicyLint,
    /// A policy over IAM's default quota but within what a raised quota allows.
    PolicySize,
    /// `<something>` left from a setup page.
    Placeholder,
    /// The key policy may lock the caller out (KMS's lockout safety check).
    KeyLockout,
    /// A queue S3 notifies lets any bucket send to it.
    NotificationQueuePolicy,
    /// A function of the stack S3 notifies needs a Lambda permission plinth does not manage.
    NotificationFunctionPermission,
    /// A function's role may lack queue access that a managed policy outside the spec grants.
    FunctionQueueAccess,
    /// A role may lack `iam:PassRole` that a managed policy outside the spec grants.
    PassRole,
    /// A shared resource's statement or inline policy, written differently by its owner, that
    /// the block takes over.
    SharedTakeover,
    /// A key without an alias is deleted while another is created: a renamed block replaces
    /// its key.
    KeyRecreated,
    /// `--var`, a var file or `PLINTH_VAR_*` replaces a value the chosen environment sets.
    EnvVarOverridden,
    /// A variable a secret is made of is used outside a secret too, where it is shown.
    SecretShown,
    /// A resource tagged with the stack's name but no address: plinth did not make it.
    StackTagOnly,
    /// More of something than AWS's default quota allows, within what a raised quota allows
    /// (managed policies on a role).
    Quota,
}

impl WarningCode {
    pub const ALL: [WarningCode; 14] = [
        WarningCode::PolicyLint,
        WarningCode::PolicySize,
        WarningCode::Placeholder,
        WarningCode::KeyLockout,
        WarningCode::NotificationQueuePolicy,
        WarningCode::NotificationFunctionPermission,
        WarningCode::FunctionQueueAccess,
        WarningCode::PassRole,
        WarningCode::SharedTakeover,
        WarningCode::KeyRecreated,
        WarningCode::EnvVarOverridden,
        WarningCode::SecretShown,
        WarningCode::StackTagOnly,
        WarningCode::Quota,
    ];

    /// The stable code as printed, e.g. `check::key-lockout`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WarningCode::PolicyLint => "policy::lint",
            WarningCode::PolicySize => "spec::policy-size",
            WarningCode::Placeholder => "spec::placeholder",
            WarningCode::KeyLockout => "check::key-lockout",
            WarningCode::NotificationQueuePolicy => "check::notification-queue-policy",
            WarningCode::NotificationFunctionPermission => {
                "check::notification-function-permission"
            }
            WarningCode::FunctionQueueAccess => "check::function-queue-access",
            WarningCode::PassRole => "check::pass-role",
            WarningCode::SharedTakeover => "plan::shared-takeover",
            WarningCode::KeyRecreated => "plan::key-recreated",
            WarningCode::EnvVarOverridden => "spec::env-var-overridden",
            WarningCode::SecretShown => "spec::secret-shown",
            WarningCode::StackTagOnly => "plan::stack-tag-only",
            WarningCode::Quota => "spec::quota",
        }
    }

    pub fn parse(code: &str) -> Option<WarningCode> {
        WarningCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WarningCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for WarningCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        WarningCode::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("`{code}` is not a warning code")))
    }
}

/// Where a diagnostic points: a byte range in a file.
#[derive(Debug, Clone)]
pub struct Location {
    pub file: Arc<SourceFile>,
    pub span: Range<usize>,
}

impl Location {
    pub fn new(file: &Arc<SourceFile>, span: Range<usize>) -> Self {
        let len = file.text.len();
        let start = floor_char_boundary(&file.text, span.start.min(len));
        let end = floor_char_boundary(&file.text, span.end.clamp(start, len));
        Self {
            file: Arc::clone(file),
            span: start..end,
        }
    }

    /// `file:line:col`, the form editors and terminals turn into links.
    pub fn display(&self) -> String {
        let (line, col) = self.file.line_col(self.span.start);
        format!("{}:{line}:{col}", self.file.name)
    }
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable code, e.g. `spec::unknown-field`; documented and safe to match on.
    pub code: Code,
    /// The code as a [`WarningCode`], for a warning.
    pub warning_code: Option<WarningCode>,
    pub message: String,
    pub location: Option<Location>,
    /// What the snippet's underline says.
    pub label: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            warning_code: None,
            message: message.into(),
            location: None,
            label: None,
            hint: None,
        }
    }

    pub fn warning(code: WarningCode, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            warning_code: Some(code),
            ..Self::error(code.into(), message)
        }
    }

    pub fn at(mut self, file: &Arc<SourceFile>, span: Range<usize>) -> Self {
        self.location = Some(Location::new(file, span));
        self
    }

    pub fn at_location(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint of a diagnostic already pushed onto a list.
    pub fn set_hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The diagnostic as a terminal shows it: a header with `file:line:col`, the snippet with
    /// the offending part underlined, and the hint.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme)
            .with_links(false)
            .with_width(100)
            .with_context_lines(1);
        let mut out = String::new();
        let view = MietteView {
            diagnostic: self,
            source: self
                .location
                .as_ref()
                .map(|l| miette::NamedSource::new(&l.file.name, l.file.text.clone())),
        };
        if handler.render_report(&mut out, &view).is_err() {
            out = format!("{self}\n");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{}: {}", loc.display(), self.message)?,
            None => write!(f, "{}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Adapter that lets miette draw a [`Diagnostic`], with the file's name in the snippet header.
struct MietteView<'a> {
    diagnostic: &'a Diagnostic,
    source: Option<miette::NamedSource<String>>,
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let loc = self.diagnostic.location.as_ref()?;
        let span = miette::SourceSpan::from(loc.span.start..loc.span.end.max(loc.span.start));
        let label = miette::LabeledSpan::new_with_span(self.diagnostic.label.clone(), span);
        Some(Box::new(std::iter::once(label)))
    }
}

/// A set of diagnostics; an error when any of them is an error.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    /// Sorted by file and position, so output is the same from run to run.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                d.location
                    .as_ref()
                    .map(|l| (l.file.name.clone(), l.span.start, l.span.end))
            };
            key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
        });
        self
    }

    pub fn render(&self, color: bool) -> String {
        self.0
            .iter()
            .map(|d| d.render(color))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_codes_are_their_printed_strings() {
        for code in WarningCode::ALL {
            assert_eq!(WarningCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<WarningCode>(&json).unwrap(), code);
            let warning = Diagnostic::warning(code, "m");
            assert_eq!(
                (warning.code.as_str(), warning.warning_code),
                (code.as_str(), Some(code))
            );
        }
        assert_eq!(Diagnostic::error(Code::SpecType, "m").warning_code, None);
        assert!(serde_json::from_str::<WarningCode>("\"spec::type\"").is_err());
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("a.toml", "x = 1\ny = \"é\" z\n");
        let z = f.text.find('z').unwrap();
        assert_eq!(f.line_col(z), (2, 9));
        assert_eq!(f.line_col(0), (1, 1));
    }

    #[test]
    fn rendering_names_the_file_position_and_hint() {
        let f = SourceFile::new("plans/a.toml", "[stack]\nnmae = \"x\"\n");
        let d = Diagnostic::error(Code::SpecUnknownField, "unknown field `nmae`")
            .at(&f, 8..12)
            .label("not a field of [stack]")
            .hint("did you mean `name`?");
        let text = d.render(false);
        assert!(text.starts_with("spec::unknown-field\n"), "{text}");
        assert!(text.contains("× unknown field `nmae`"), "{text}");
        assert!(text.contains("╭─[plans/a.toml:2:1]"), "{text}");
        assert!(text.contains("nmae = \"x\""), "{text}");
        assert!(text.contains("did you mean `name`?"), "{text}");
    }
}
