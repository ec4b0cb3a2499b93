//! Fuzzes client-side parameter binding: any template and any parameter must either be
//! refused with an error or produce SQL in which each parameter is exactly one literal that
//! the server reads back as the original value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tidb_connect::{Escaping, Value, interpolate};

/// How the server's lexer reads a single-quoted literal starting at `start`: the bytes, and
/// the index just past the closing quote.
fn read_literal(sql: &[u8], start: usize, escaping: Escaping) -> Option<(Vec<u8>, usize)> {
    if sql.get(start) != Some(&b'\'') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match *sql.get(i)? {
            b'\\' if escaping == Escaping::Backslash => {
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

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let escaping = if selector & 1 == 0 {
        Escaping::Backslash
    } else {
        Escaping::NoBackslash
    };

    // 1. A text parameter in a fixed template reads back exactly and ends where it should.
    let text = String::from_utf8_lossy(rest).into_owned();
    let sql = interpolate("SELECT ? AS v", &[Value::Text(text.clone())], escaping)
        .expect("one placeholder, one parameter");
    let (read, end) = read_literal(sql.as_bytes(), 7, escaping).expect("a closed literal");
    assert_eq!(read, text.as_bytes());
    assert_eq!(&sql[end..], " AS v");

    // 2. Bytes are hex and nothing else.
    let sql = interpolate("?", &[Value::Bytes(rest.to_vec())], escaping).unwrap();
    assert!(sql.starts_with("X'") && sql.ends_with('\''));
    assert!(sql[2..sql.len() - 1].bytes().all(|b| b.is_ascii_hexdigit()));

    // 3. Any template: an error or a result, never a panic; parameters never leak into
    //    errors.
    let params = vec![Value::Text("\u{1}secret\u{1}".into()); usize::from(selector >> 6)];
    match interpolate(&text, &params, escaping) {
        Ok(out) => assert!(out.len() >= text.len() - params.len()),
        Err(e) => assert!(!e.to_string().contains("secret")),
    }
});
