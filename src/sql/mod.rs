//! A small SQL scanner: just enough lexing to tell code from string literals, quoted
//! identifiers and comments; and, on top of it, client-side parameter binding ([`bind`]).
//!
//! How a backslash inside quotes is read depends on the session's `sql_mode`
//! (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`), which the client does not always know. The checks
//! here therefore only report what holds under both readings, so a valid statement is never
//! refused because of the mode.

/// What the scanner sees: a byte of SQL code, or a whole quoted literal or identifier.
/// Comments are skipped; the body of an executable comment (`/*! … */`, `/*M! … */`) is
/// code, as the server runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Code(u8),
    Quoted,
}

pub mod bind;
#[cfg(test)]
mod literal_reader;

/// Walks `sql`, yielding each token with the index where it starts; `backslash_escapes` says whether a backslash escapes the next character in
/// quotes (MySQL's default) or is an ordinary character (`NO_BACKSLASH_ESCAPES`).
fn tokens(sql: &str, backslash_escapes: bool) -> impl Iterator<Item = (usize, Token)> + '_ {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut in_executable_comment = false;
    std::iter::from_fn(move || {
        loop {
            let b = *bytes.get(i)?;
            match b {
                b'\'' | b'"' | b'`' => {
                    let start = i;
                    i = skip_quoted(bytes, i, backslash_escapes);
                    return Some((start, Token::Quoted));
                }
                b'-' if bytes.get(i + 1) == Some(&b'-')
                    && bytes
                        .get(i + 2)
                        .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
                {
                    i = skip_line(bytes, i);
                }
                b'#' => i = skip_line(bytes, i),
                b'*' if in_executable_comment && bytes.get(i + 1) == Some(&b'/') => {
                    in_executable_comment = false;
                    i += 2;
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    match executable_comment_body(bytes, i) {
                        Some(body) => {
                            in_executable_comment = true;
                            i = body;
                        }
                        None => i = skip_block_comment(bytes, i),
                    }
                }
                _ => {
                    i += 1;
                    return Some((i - 1, Token::Code(b)));
                }
            }
        }
    })
}

/// For `/*!12345 …` or `/*M!123456 …`: where the executed body starts.
fn executable_comment_body(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start + 2..];
    let opener = if rest.starts_with(b"!") {
        1
    } else if rest.starts_with(b"M!") {
        2
    } else {
        return None;
    };
    let digits = rest[opener..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    Some(start + 2 + opener + digits)
}

fn multiple_statements_in(sql: &str, backslash_escapes: bool) -> bool {
    let mut ended = false;
    for (_, token) in tokens(sql, backslash_escapes) {
        match token {
            Token::Code(b';') => ended = true,
            Token::Code(c) if c.is_ascii_whitespace() => {}
            _ if ended => return true,
            _ => {}
        }
    }
    false
}

/// Whether `sql` holds more than one statement under every reading of backslashes: a `;` in
/// code followed by more than whitespace, comments or further `;`. Compound statements
/// (`CREATE PROCEDURE … BEGIN …; END`, `BEGIN NOT ATOMIC …`) are one statement.
pub(crate) fn has_multiple_statements(sql: &str) -> bool {
    if matches!(first_keyword(sql).as_deref(), Some("CREATE" | "BEGIN")) {
        return false;
    }
    multiple_statements_in(sql, true) && multiple_statements_in(sql, false)
}

/// The number of `?` placeholders in code that every reading of backslashes agrees on.
pub(crate) fn placeholder_count(sql: &str) -> usize {
    let count = |escapes| {
        tokens(sql, escapes)
            .filter(|(_, t)| *t == Token::Code(b'?'))
            .count()
    };
    count(true).min(count(false))
}

/// The first `n` words of code, upper-cased, up to the first literal.
fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut code = tokens(sql, true).map_while(|(_, t)| match t {
        Token::Code(c) => Some(c),
        Token::Quoted => None,
    });
    let mut words = Vec::new();
    let mut word = String::new();
    for c in code.by_ref() {
        if c.is_ascii_alphabetic() || c == b'_' {
            word.push(char::from(c.to_ascii_uppercase()));
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
            if words.len() == n {
                return words;
            }
        } else if !(c.is_ascii_whitespace() || c == b'(') {
            return words;
        }
    }
    if !word.is_empty() && words.len() < n {
        words.push(word);
    }
    words
}

/// The first word of code, upper-cased (`SELECT`, `CALL`, `START`…).
pub(crate) fn first_keyword(sql: &str) -> Option<String> {
    leading_words(sql, 1).pop()
}

/// Whether the statement opens a transaction (`BEGIN`, `START TRANSACTION`), which inside an
/// open transaction would silently commit it. `BEGIN NOT ATOMIC` opens a compound block.
pub(crate) fn starts_transaction(sql: &str) -> bool {
    let words = leading_words(sql, 2);
    match words.first().map(String::as_str) {
        Some("BEGIN") => words.get(1).map(String::as_str) != Some("NOT"),
        Some("START") => words.get(1).map(String::as_str) == Some("TRANSACTION"),
        _ => false,
    }
}

/// Every word of code, upper-cased, in order, skipping literals and comments; words that
/// only one reading of backslashes in quotes sees as code are included too, so a literal
/// cannot hide a keyword from a check that looks for it.
#[cfg(feature = "relay-server")]
pub(crate) fn code_words(sql: &str) -> Vec<String> {
    let read = |escapes| {
        let mut words = Vec::new();
        let mut word = String::new();
        for (_, token) in tokens(sql, escapes) {
            match token {
                Token::Code(c) if c.is_ascii_alphanumeric() || c == b'_' => {
                    word.push(char::from(c.to_ascii_uppercase()));
                }
                _ if !word.is_empty() => words.push(std::mem::take(&mut word)),
                _ => {}
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    };
    let mut words = read(true);
    let other = read(false);
    if other != words {
        words.extend(other);
    }
    words
}

/// Returns the index just past the quoted text starting at `start`.
fn skip_quoted(bytes: &[u8], start: usize, backslash_escapes: bool) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash_escapes && quote != b'`' => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

fn skip_line(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(bytes.len(), |p| start + p + 1)
}

fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start + 2..]
        .windows(2)
        .position(|w| w == b"*/")
        .map_or(bytes.len(), |p| start + 2 + p + 2)
}

#[cfg(test)]
mod tests {
    use super::has_multiple_statements as multi;
    use super::placeholder_count as count;

    #[test]
    fn single_statements() {
        for sql in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1 ;  \n",
            "SELECT 1; -- trailing comment",
            "SELECT 1; /* done */ ;",
            "SELECT 'a;b', \"c;d\", `e;f`",
            "SELECT 'it''s; fine'",
            "SELECT 'back\\'slash; still string'",
            "SELECT 1 -- comment; SELECT 2",
            "SELECT 1 --\x0bcomment; SELECT 2",
            "SELECT 1 # comment; SELECT 2",
            "SELECT /* ; */ 1",
            "SELECT 1--1",
            // Under NO_BACKSLASH_ESCAPES this is one string 'C:\' and then 'a;b'.
            "SELECT 'C:\\', 'a;b'",
            "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
            "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END",
            "",
            "'unterminated ; string",
        ] {
            assert!(!multi(sql), "{sql:?}");
        }
    }

    #[test]
    fn several_statements() {
        for sql in [
            "SELECT 1; SELECT 2",
            "SELECT 1;SELECT 2;",
            "INSERT INTO t VALUES (1); DELETE FROM t",
            "SELECT 'a;b'; SELECT 2",
            "SELECT 1; 'x'",
            "SELECT 1 /* c */; /* c */ SELECT 2",
            "SELECT 1;\n-- c\nSELECT 2",
            "SELECT 1; /*!40101 SET @a = 1 */",
        ] {
            assert!(multi(sql), "{sql:?}");
        }
    }

    #[test]
    fn placeholders_are_counted_in_code_only() {
        assert_eq!(count("SELECT ?, ?"), 2);
        assert_eq!(count("SELECT '?', \"?\", `?` -- ?\n, ? /* ? */ # ?"), 1);
        assert_eq!(count("SELECT 'it''s ?', ?"), 1);
        // Executable comments run on the server, so their placeholders count.
        assert_eq!(count("SELECT /*!40000 ? + */ 1"), 1);
        assert_eq!(count("SELECT /*M!100000 ? + */ 1"), 1);
        // Both readings of a backslash see the placeholder after 'C:\'.
        assert_eq!(count("SELECT 'C:\\', ?"), 0);
        assert_eq!(count("SELECT 'a\\\\', ?"), 1);
        assert_eq!(count(""), 0);
    }

    #[test]
    fn first_keywords() {
        use super::{first_keyword, starts_transaction};
        assert_eq!(
            first_keyword("  /* x */ select 1").as_deref(),
            Some("SELECT")
        );
        assert_eq!(first_keyword("(SELECT 1)").as_deref(), Some("SELECT"));
        assert_eq!(first_keyword("").as_deref(), None);
        assert!(starts_transaction("BEGIN"));
        assert!(starts_transaction("start transaction read only"));
        assert!(!starts_transaction("BEGIN NOT ATOMIC SELECT 1; END"));
        assert!(!starts_transaction("SELECT 'BEGIN'"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for sql in [
            "'", "\\", "/*", "--", "`", "'\\", ";;;", "é;é", "/**/;x", "#", "-", "/*!", "/*M!1",
            "*/", "/*!*/;",
        ] {
            let _ = multi(sql);
            let _ = count(sql);
            let _ = super::first_keyword(sql);
        }
    }
}
