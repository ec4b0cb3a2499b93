//! A small SQL scanner: just enough lexing to tell code from string literals, quoted
//! identifiers and comments.

/// Whether `sql` holds more than one statement: a `;` in code followed by anything but
/// whitespace, comments or further `;`.
///
/// Quotes are read as MySQL does by default (a backslash escapes the next character, a doubled
/// quote is a quote). Under `NO_BACKSLASH_ESCAPES` a string ending in a backslash can hide a
/// split from this scan; callers keep a second check on what the server reports.
pub(crate) fn has_multiple_statements(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut ended = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' | b'"' | b'`' => {
                if ended {
                    return true;
                }
                i = skip_quoted(bytes, i);
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-')
                && bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = skip_line(bytes, i);
                continue;
            }
            b'#' => {
                i = skip_line(bytes, i);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i);
                continue;
            }
            b';' => ended = true,
            c if c.is_ascii_whitespace() => {}
            _ if ended => return true,
            _ => {}
        }
        i += 1;
    }
    false
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
    fn never_panics_on_odd_input() {
        for sql in ["'", "\\", "/*", "--", "`", "'\\", ";;;", "é;é", "/**/;x"] {
            let _ = multi(sql);
        }
    }
}
