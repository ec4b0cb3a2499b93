//! How the server's lexer reads a single-quoted string literal back: the reference that the
//! binder's tests and its fuzz target (`fuzz/`, which includes this file) hold it to.

/// Reads the literal that starts at `start` (a `'`); returns its bytes and the index just
/// past the closing quote, or `None` when there is no closed literal there.
pub fn read_literal(sql: &[u8], start: usize, backslash_escapes: bool) -> Option<(Vec<u8>, usize)> {
    if sql.get(start) != Some(&b'\'') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match *sql.get(i)? {
            b'\\' if backslash_escapes => {
                out.push(match *sql.get(i + 1)? {
                    b'0' => 0,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b'Z' => 0x1a,
                    b't' => b'\t',
                    b'b' => 8,
                    other => other,
                });
                i += 2;
            }
            b'\'' if sql.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            b'\'' => return Some((out, i + 1)),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}
