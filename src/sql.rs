//! A small SQL scanner: just enough lexing to tell code from string literals, quoted
//! identifiers and comments.

/// What the scanner sees: a byte of SQL code, or a whole quoted literal or identifier.
/// Comments are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Code(u8),
    Quoted,
}

/// Walks `sql` as MySQL reads it by default: a backslash escapes the next character in
/// strings, a doubled quote is a quote, `-- `, `#` and `/* */` are comments.
fn tokens(sql: &str) -> impl Iterator<Item = Token> + '_ {
    let bytes = sql.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            let b = *bytes.get(i)?;
            match b {
                b'\'' | b'"' | b'`' => {
                    i = skip_quoted(bytes, i);
                    return Some(Token::Quoted);
                }
                b'-' if bytes.get(i + 1) == Some(&b'-')
                    && bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
                {
                    i = skip_line(bytes, i);
                }
                b'#' => i = skip_line(bytes, i),
                b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
                _ => {
                    i += 1;
                    return Some(Token::Code(b));
                }
            }
        }
    })
}

/// Whether `sql` holds more than one statement: a `;` in code followed by anything but
/// whitespace, comments or further `;`.
///
/// Under `NO_BACKSLASH_ESCAPES` a string ending in a backslash can hide a split from this
/// scan; callers keep a second check on what the server reports.
pub(crate) fn has_multiple_statements(sql: &str) -> bool {
    let mut ended = false;
    for token in tokens(sql) {
        match token {
            Token::Code(b';') => ended = true,
            Token::Code(c) if c.is_ascii_whitespace() => {}
            _ if ended => return true,
            _ => {}
        }
    }
    false
}

/// The number of `?` placeholders in code (not in literals, identifiers or comments).
pub(crate) fn placeholder_count(sql: &str) -> usize {
    tokens(sql).filter(|t| *t == Token::Code(b'?')).count()
}

/// Returns the index just past the quoted text starting at `start`.
fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote != b'`' => i += 2,
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
            "SELECT 1 # comment; SELECT 2",
            "SELECT /* ; */ 1",
            "SELECT 1--1",
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
        ] {
            assert!(multi(sql), "{sql:?}");
        }
    }

    #[test]
    fn placeholders_are_counted_in_code_only() {
        use super::placeholder_count as count;
        assert_eq!(count("SELECT ?, ?"), 2);
        assert_eq!(count("SELECT '?', \"?\", `?` -- ?\n, ? /* ? */ # ?"), 1);
        assert_eq!(count("SELECT 'it''s ?', ?"), 1);
        assert_eq!(count(""), 0);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for sql in [
            "'", "\\", "/*", "--", "`", "'\\", ";;;", "é;é", "/**/;x", "#", "-",
        ] {
            let _ = multi(sql);
            let _ = super::placeholder_count(sql);
        }
    }
}
