//! IAM wildcard patterns, as used in Action and Resource: `*` matches any run of characters
//! (including none, and including `:` and `/`), `?` matches exactly one character, and every
//! other character matches itself. Comparison is exact; callers lowercase where IAM ignores case.

use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyChar,
    AnyRun,
}

/// A character a pattern can read: one of the literals the patterns mention, or `None` for
/// any other character. Characters neither pattern names behave identically in both, so
/// this finite alphabet decides containment and overlap exactly.
type Symbol = Option<char>;

impl Token {
    fn accepts(self, symbol: Symbol) -> bool {
        match self {
            Token::Literal(c) => symbol == Some(c),
            Token::AnyChar | Token::AnyRun => true,
        }
    }

    /// The position after reading one character at `position`; a run stays where it is.
    fn advance(self, position: usize) -> usize {
        match self {
            Token::AnyRun => position,
            Token::Literal(_) | Token::AnyChar => position + 1,
        }
    }
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    for c in pattern.chars() {
        let token = match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyChar,
            _ => Token::Literal(c),
        };
        // Consecutive runs are one run; collapsing them keeps the state spaces small.
        if !(token == Token::AnyRun && tokens.last() == Some(&Token::AnyRun)) {
            tokens.push(token);
        }
    }
    tokens
}

pub(crate) fn has_wildcard(text: &str) -> bool {
    // Both are ASCII, so a byte can be compared without decoding characters.
    text.bytes().any(|b| b == b'*' || b == b'?')
}

/// True when the pattern matches every string.
pub(crate) fn is_universal(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.chars().all(|c| c == '*')
}

/// Does `pattern` match the literal `text`?
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    // Policy strings are nearly always ASCII, where a byte is a character.
    if pattern.is_ascii() && text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob(&pattern, &text, '*', '?')
}

/// Glob matching over characters (or bytes of ASCII text): `star` matches any run, `any`
/// one character.
fn glob<T: Copy + PartialEq>(pattern: &[T], text: &[T], star: T, any: T) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and how much text it has absorbed so far; on a mismatch it absorbs
    // one more character. Revisiting only the last star is enough for glob patterns.
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(&c) if c == star => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == any || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star, absorbed)) => {
                    last_star = Some((star, absorbed + 1));
                    p = star + 1;
                    t = absorbed + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == star)
}

/// Past this many explored states `is_subset` gives up and answers `false`, which callers
/// read as "may widen": the conservative answer.
const SUBSET_STATE_LIMIT: usize = 20_000;

/// Is every string `inner` matches also matched by `outer`?
///
/// Walks `inner`'s automaton in step with the determinized automaton of `outer` over the
/// alphabet of both patterns' literals plus "any other character", looking for a string
/// `inner` accepts while `outer` does not.
pub(crate) fn is_subset(inner: &str, outer: &str) -> bool {
    if inner == outer || is_universal(outer) {
        return true;
    }
    if !has_wildcard(inner) {
        return matches(outer, inner);
    }
    let (inner, outer) = (tokens(inner), tokens(outer));
    let alphabet = alphabet(&inner, &outer);
    let start = (0, closure(&outer, vec![0]));
    let mut seen = HashSet::from([start.clone()]);
    let mut pending = vec![start];
    while let Some((position, outer_states)) = pending.pop() {
        for inner_position in closure(&inner, vec![position]) {
            let Some(&token) = inner.get(inner_position) else {
                if !outer_states.contains(&outer.len()) {
                    return false;
                }
                continue;
            };
            for &symbol in alphabet.iter().filter(|&&symbol| token.accepts(symbol)) {
                let next_states = step(&outer, &outer_states, symbol);
                // From any position a glob can still reach its end, so `inner` can complete
                // this prefix into a string that `outer`, now stuck, rejects.
                if next_states.is_empty() || seen.len() >= SUBSET_STATE_LIMIT {
                    return false;
                }
                let state = (token.advance(inner_position), next_states);
                if seen.insert(state.clone()) {
                    pending.push(state);
                }
            }
        }
    }
    true
}

/// Is there a string both patterns match?
///
/// A literal is matched against the other pattern directly. Two patterns are walked together:
/// a state is how many tokens of each have been read, two tokens can read a common character
/// unless they are different literals, and a run may also read nothing.
pub(crate) fn overlaps(a: &str, b: &str) -> bool {
    match (has_wildcard(a), has_wildcard(b)) {
        (false, false) => return a == b,
        (true, false) => return matches(a, b),
        (false, true) => return matches(b, a),
        (true, true) => {}
    }
    // The literal beginnings must agree as far as both go; most pairs part there.
    let literal_start = |p: &str| p.find(['*', '?']).unwrap_or(p.len());
    let common = literal_start(a).min(literal_start(b));
    if a.as_bytes()[..common] != b.as_bytes()[..common] {
        return false;
    }
    let (a, b) = (tokens(a), tokens(b));
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width];
    let mut pending = vec![(0, 0)];
    while let Some((i, j)) = pending.pop() {
        let cell = i * width + j;
        if seen[cell] {
            continue;
        }
        seen[cell] = true;
        if i == a.len() && j == b.len() {
            return true;
        }
        if a.get(i) == Some(&Token::AnyRun) {
            pending.push((i + 1, j));
        }
        if b.get(j) == Some(&Token::AnyRun) {
            pending.push((i, j + 1));
        }
        if let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
            let common_character = match (x, y) {
                (Token::Literal(p), Token::Literal(q)) => p == q,
                _ => true,
            };
            if common_character {
                pending.push((x.advance(i), y.advance(j)));
            }
        }
    }
    false
}

fn alphabet(a: &[Token], b: &[Token]) -> Vec<Symbol> {
    let mut symbols: Vec<Symbol> = a
        .iter()
        .chain(b)
        .filter_map(|token| match token {
            Token::Literal(c) => Some(Some(*c)),
            Token::AnyChar | Token::AnyRun => None,
        })
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    symbols.push(None);
    symbols
}

/// Adds the positions reachable by letting runs match nothing; sorted, without duplicates.
fn closure(tokens: &[Token], mut positions: Vec<usize>) -> Vec<usize> {
    let mut index = 0;
    while index < positions.len() {
        let position = positions[index];
        if tokens.get(position) == Some(&Token::AnyRun) && !positions.contains(&(position + 1)) {
            positions.push(position + 1);
        }
        index += 1;
    }
    positions.sort_unstable();
    positions
}

fn step(tokens: &[Token], positions: &[usize], symbol: Symbol) -> Vec<usize> {
    let mut next: Vec<usize> = positions
        .iter()
        .filter_map(|&position| {
            let token = tokens.get(position)?;
            token.accepts(symbol).then(|| token.advance(position))
        })
        .collect();
    next.dedup();
    closure(tokens, next)
}

/// Replaces `${...}` policy and plinth variables with `*`, for checks that must not trip over
/// a value that is only known later.
pub(crate) fn mask_variables(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_open(rest) {
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        masked.push_str(&rest[..start]);
        masked.push('*');
        rest = &rest[start + length + 1..];
    }
    masked.push_str(rest);
    masked
}

/// Where `${` first is in `text`. A search for the `$` byte: on a policy's short strings, setting
/// up a substring search cost more than the search (a tenth of the lints' time on ARNs).
pub(crate) fn find_open(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'$', bytes).find(|&at| bytes.get(at + 1) == Some(&b'{'))
}

/// IAM policy variables (`${aws:username}`) have a colon in their name; plinth's own
/// variables (`${aws.account_id}`) are substituted before IAM sees the document.
pub(super) fn has_policy_variable(text: &str) -> bool {
    text.split("${")
        .skip(1)
        .any(|tail| tail.find('}').is_some_and(|end| tail[..end].contains(':')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    #[rustfmt::skip]
    fn matching() {
        let cases = [
            ("s3:*object", "s3:getobject", true),
            ("s3:*object", "s3:getobjectacl", false),
            ("arn:aws:s3:::tonic-*", "arn:aws:s3:::tonic-data", true),
            ("arn:aws:s3:::tonic-*", "arn:aws:s3:::tonic-data/key", true),
            ("arn:aws:s3:::tonic-*", "arn:aws:s3:::other", false),
            ("arn:aws:sqs:*:123456789012:tonic-*", "arn:aws:sqs:us-east-1:123456789012:tonic-queue", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            // A character beyond ASCII is one character to `?`.
            ("caf?", "café", true),
            ("*é", "café", true),
            ("caf?", "cafée", false),
            ("exact", "exact", true),
            ("exact", "exacts", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    #[rustfmt::skip]
    fn containment() {
        let cases = [
            ("s3:getobject", "s3:*object", true),
            ("s3:get*", "s3:*", true),
            ("s3:*", "s3:get*", false),
            ("s3:*object", "s3:*", true),
            ("s3:*object", "s3:get*", false),
            ("arn:aws:s3:::tonic-*/*", "arn:aws:s3:::tonic-*", true),
            ("arn:aws:s3:::tonic-*", "arn:aws:s3:::tonic-*/*", false),
            ("?*", "*?", true),
            ("*?", "?*", true),
            ("*", "?*", false),
            ("a*a", "a*", true),
            ("a*", "a*a", false),
            ("ab*", "a?*", true),
            ("a??", "a*", true),
            ("a*", "a??", false),
            ("*ab*", "*a*b*", true),
            ("*a*b*", "*ab*", false),
            ("x", "*", true),
        ];
        for (inner, outer, expected) in cases {
            assert_eq!(is_subset(inner, outer), expected, "{inner} within {outer}");
        }
    }

    #[test]
    fn overlap() {
        let cases = [
            ("s3:*object", "put*", false),
            ("*object", "put*", true),
            ("get*", "put*", false),
            ("a*", "*b", true),
            ("a?", "?b", true),
            ("a?", "abc", false),
            ("", "*", true),
            // Their shortest common string, `?babaaa?a`, is longer than either.
            ("*aaa?a", "?bab*", true),
            ("*aaa?a", "?bab", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(overlaps(a, b), expected, "{a} overlaps {b}");
            assert_eq!(overlaps(b, a), expected, "{b} overlaps {a}");
        }
    }

    #[test]
    fn variables() {
        assert_eq!(
            mask_variables("arn:aws:sqs:*:${aws.account_id}:q-${x}"),
            "arn:aws:sqs:*:*:q-*"
        );
        assert_eq!(mask_variables("unterminated ${x"), "unterminated ${x");
        assert_eq!(
            mask_variables("$5 and $ {x} and $${y}z"),
            "$5 and $ {x} and $*z"
        );
        for (text, at) in [
            ("${", Some(0)),
            ("a$b${c}", Some(3)),
            ("$$${", Some(2)),
            ("a$", None),
            ("$ {", None),
            ("", None),
        ] {
            assert_eq!(find_open(text), at, "{text:?}");
        }
        assert!(has_policy_variable("arn:aws:s3:::b/${aws:username}/*"));
        assert!(!has_policy_variable("arn:aws:sqs:*:${aws.account_id}:q"));
    }

    /// A small alphabet makes overlapping literals, and so the interesting cases, likely.
    fn small_pattern() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ab*?]{0,4}").expect("valid regex")
    }

    proptest! {
        /// Containment and overlap agree with brute force over every string longer than both
        /// patterns together: a string both match, or one `inner` matches and `outer` does
        /// not, may need each pattern's characters side by side (`*aaa?a` and `?bab*` share
        /// no string shorter than 9), so the strings go one past the two lengths.
        #[test]
        fn subset_agrees_with_enumeration(inner in small_pattern(), outer in small_pattern()) {
            let mut witnesses = vec![String::new()];
            let mut longest = vec![String::new()];
            for _ in 0..9 {
                longest = longest.iter().flat_map(|w| ['a', 'b', 'c'].map(|c| format!("{w}{c}"))).collect();
                witnesses.extend(longest.iter().cloned());
            }
            let brute = witnesses.iter().all(|w| !matches(&inner, w) || matches(&outer, w));
            prop_assert_eq!(is_subset(&inner, &outer), brute);
            let brute_overlap = witnesses.iter().any(|w| matches(&inner, w) && matches(&outer, w));
            prop_assert_eq!(overlaps(&inner, &outer), brute_overlap);
        }
    }
}
