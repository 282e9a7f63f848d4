//! The key-pattern grammar shared by `dynastream` (at run time) and `dynastream-derive` (at
//! compile time, so an invalid pattern is a compile error with a span).
//!
//! A pattern is literals and placeholders: `USER#{owner}#STORY#{story_id}`, `PROFILE`,
//! `LINE#{line:04}`. A placeholder names a field; `{field:0N}` zero-pads an integer to width `N`
//! so that lexical order equals numeric order.
//!
//! ```
//! use dynastream_pattern::{parse, Part};
//! let parts = parse("LINE#{line:04}").unwrap();
//! assert_eq!(parts, vec![Part::Literal("LINE#"), Part::Field { name: "line", width: Some(4) }]);
//! assert!(parse("{a}{b}").is_err());
//! ```

#![forbid(unsafe_code)]

use std::fmt;

/// One piece of a parsed pattern, borrowing from the pattern text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Text that must appear verbatim (case-sensitive).
    Literal(&'a str),
    /// A placeholder for a field's value.
    Field {
        /// The field name inside the braces.
        name: &'a str,
        /// `Some(n)` for `{name:0n}`: an integer zero-padded to width `n`.
        width: Option<usize>,
    },
}

/// Why a pattern text is not a valid pattern. `at` is the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrammarError {
    /// Byte offset in the pattern text where the problem starts.
    pub at: usize,
    /// What is wrong.
    pub kind: GrammarErrorKind,
}

/// The kinds of [`GrammarError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrammarErrorKind {
    /// The pattern is the empty string.
    Empty,
    /// `{}`: a placeholder without a field name.
    EmptyPlaceholder,
    /// A `{` without its `}`.
    Unclosed,
    /// A `}` without its `{`.
    UnopenedBrace,
    /// A `{` inside a placeholder.
    NestedBrace,
    /// A field name that is not a Rust identifier.
    BadFieldName(String),
    /// A format spec other than `:0N` with `N` in 1..=39.
    BadWidth(String),
    /// Two placeholders with no literal between them (`{a}{b}` cannot be split back).
    AdjacentPlaceholders,
}

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            GrammarErrorKind::Empty => write!(f, "empty key pattern"),
            GrammarErrorKind::EmptyPlaceholder => {
                write!(f, "empty placeholder `{{}}` at byte {}: name a field", self.at)
            }
            GrammarErrorKind::Unclosed => write!(f, "unbalanced braces: `{{` at byte {} is never closed", self.at),
            GrammarErrorKind::UnopenedBrace => write!(f, "unbalanced braces: `}}` at byte {} has no `{{`", self.at),
            GrammarErrorKind::NestedBrace => write!(f, "unbalanced braces: `{{` inside a placeholder at byte {}", self.at),
            GrammarErrorKind::BadFieldName(n) => {
                write!(f, "`{n}` at byte {} is not a field name", self.at)
            }
            GrammarErrorKind::BadWidth(s) => write!(
                f,
                "unsupported format `:{s}` at byte {}: only zero-padding `:0N` (N = 1..=39) is allowed",
                self.at
            ),
            GrammarErrorKind::AdjacentPlaceholders => write!(
                f,
                "two placeholders with no literal between them at byte {}: the key could not be split back",
                self.at
            ),
        }
    }
}

impl std::error::Error for GrammarError {}

/// Parses a pattern into its parts, rejecting everything docs/semantics.md ("Key patterns")
/// forbids.
pub fn parse(text: &str) -> Result<Vec<Part<'_>>, GrammarError> {
    if text.is_empty() {
        return Err(GrammarError {
            at: 0,
            kind: GrammarErrorKind::Empty,
        });
    }
    let mut parts = Vec::new();
    let mut lit_start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'}' => {
                return Err(GrammarError {
                    at: i,
                    kind: GrammarErrorKind::UnopenedBrace,
                })
            }
            b'{' => {
                if lit_start < i {
                    parts.push(Part::Literal(&text[lit_start..i]));
                } else if matches!(parts.last(), Some(Part::Field { .. })) {
                    return Err(GrammarError {
                        at: i,
                        kind: GrammarErrorKind::AdjacentPlaceholders,
                    });
                }
                let open = i;
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => {
                            return Err(GrammarError {
                                at: open,
                                kind: GrammarErrorKind::Unclosed,
                            })
                        }
                        Some(b'{') => {
                            return Err(GrammarError {
                                at: j,
                                kind: GrammarErrorKind::NestedBrace,
                            })
                        }
                        Some(b'}') => break,
                        Some(_) => j += 1,
                    }
                }
                let inner = &text[open + 1..j];
                parts.push(placeholder(inner, open)?);
                i = j + 1;
                lit_start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if lit_start < text.len() {
        parts.push(Part::Literal(&text[lit_start..]));
    }
    Ok(parts)
}

fn placeholder(inner: &str, open: usize) -> Result<Part<'_>, GrammarError> {
    let (name, spec) = match inner.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (inner, None),
    };
    if name.is_empty() {
        return Err(GrammarError {
            at: open,
            kind: GrammarErrorKind::EmptyPlaceholder,
        });
    }
    let ident = name
        .chars()
        .enumerate()
        .all(|(k, c)| c == '_' || c.is_ascii_alphabetic() || (k > 0 && c.is_ascii_digit()));
    if !ident || name == "_" {
        return Err(GrammarError {
            at: open + 1,
            kind: GrammarErrorKind::BadFieldName(name.to_string()),
        });
    }
    let width = match spec {
        None => None,
        Some(s) => {
            let bad = || GrammarError {
                at: open + 1 + name.len(),
                kind: GrammarErrorKind::BadWidth(s.to_string()),
            };
            let digits = s.strip_prefix('0').ok_or_else(bad)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let w: usize = digits.parse().map_err(|_| bad())?;
            if !(1..=39).contains(&w) {
                return Err(bad());
            }
            Some(w)
        }
    };
    Ok(Part::Field { name, width })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(p: &str) -> GrammarErrorKind {
        parse(p).unwrap_err().kind
    }

    #[test]
    fn parses_literals_and_fields() {
        assert_eq!(
            parse("USER#{owner}#STORY#{story_id}").unwrap(),
            vec![
                Part::Literal("USER#"),
                Part::Field {
                    name: "owner",
                    width: None
                },
                Part::Literal("#STORY#"),
                Part::Field {
                    name: "story_id",
                    width: None
                },
            ]
        );
        assert_eq!(parse("PROFILE").unwrap(), vec![Part::Literal("PROFILE")]);
        assert_eq!(
            parse("{id}").unwrap(),
            vec![Part::Field {
                name: "id",
                width: None
            }]
        );
        assert_eq!(
            parse("T#{t:05}#").unwrap(),
            vec![
                Part::Literal("T#"),
                Part::Field {
                    name: "t",
                    width: Some(5)
                },
                Part::Literal("#")
            ]
        );
    }

    #[test]
    fn rejects_invalid_patterns() {
        assert_eq!(kind(""), GrammarErrorKind::Empty);
        assert_eq!(kind("A#{}"), GrammarErrorKind::EmptyPlaceholder);
        assert_eq!(kind("A#{x"), GrammarErrorKind::Unclosed);
        assert_eq!(kind("A#x}"), GrammarErrorKind::UnopenedBrace);
        assert_eq!(kind("A#{x{y}}"), GrammarErrorKind::NestedBrace);
        assert_eq!(kind("{a}{b}"), GrammarErrorKind::AdjacentPlaceholders);
        assert_eq!(kind("A{1x}"), GrammarErrorKind::BadFieldName("1x".into()));
        assert_eq!(kind("A{x-y}"), GrammarErrorKind::BadFieldName("x-y".into()));
        assert_eq!(kind("A{x:4}"), GrammarErrorKind::BadWidth("4".into()));
        assert_eq!(kind("A{x:0}"), GrammarErrorKind::BadWidth("0".into()));
        assert_eq!(kind("A{x:00}"), GrammarErrorKind::BadWidth("00".into()));
        assert_eq!(kind("A{x:040}"), GrammarErrorKind::BadWidth("040".into()));
        assert_eq!(kind("A{x:>4}"), GrammarErrorKind::BadWidth(">4".into()));
    }

    #[test]
    fn error_offsets_point_at_the_problem() {
        assert_eq!(parse("AB{}").unwrap_err().at, 2);
        assert_eq!(parse("{a}{b}").unwrap_err().at, 3);
        let msg = parse("{a}{b}").unwrap_err().to_string();
        assert!(msg.contains("no literal between them"), "{msg}");
    }
}
