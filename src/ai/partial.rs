//! The reply as far as a streamed JSON answer has written it, so that the review screen can
//! show the draft while the model writes: a small scanner over the top-level object that
//! finds the `reply` key and decodes its string up to where the text stops.

/// The decoded value of the top-level string field `key` in a JSON object that may be cut
/// anywhere; `None` until its value has begun.
pub fn field_so_far(json: &str, key: &str) -> Option<String> {
    let b = json.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let (name, complete, next) = string_at(json, i);
        if !complete {
            return None;
        }
        i = skip_ws(b, next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if name == key {
            return (b.get(i) == Some(&b'"')).then(|| string_at(json, i).0);
        }
        i = skip_value(b, i)?;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Decodes the string starting at the quote at `start`: (text so far, closed, index after).
fn string_at(json: &str, start: usize) -> (String, bool, usize) {
    let mut out = String::new();
    let mut chars = json[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return (out, true, start + 1 + off + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 'b')) => out.push('\u{8}'),
                Some((_, 'f')) => out.push('\u{c}'),
                Some((_, 'u')) => {
                    let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                    match u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| hex.len() == 4)
                    {
                        // A surrogate pair's halves come apart when streamed; show neither.
                        Some(n) => out.extend(char::from_u32(n)),
                        None => return (out, false, json.len()),
                    }
                }
                Some((_, other)) => out.push(other),
                None => return (out, false, json.len()),
            },
            c => out.push(c),
        }
    }
    (out, false, json.len())
}

/// The index after the value at `i` (string, number, literal, object or array).
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            None
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_value(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            (j < b.len()).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field_so_far;

    #[test]
    fn the_reply_grows_as_the_json_arrives() {
        let full = r#"{"category":"Billing","steps":["a \"b\"",{"x":[1]}],"summary":"reply: no","confidence":0.5,"reply":"Hi Dana,\n\nWe \u00e9 see it.","noise":false}"#;
        let mut last = String::new();
        let mut seen_growth = 0;
        for end in 0..=full.len() {
            if !full.is_char_boundary(end) {
                continue;
            }
            if let Some(r) = field_so_far(&full[..end], "reply") {
                assert!(
                    r.starts_with(&last) || last.starts_with(&r),
                    "{last:?} then {r:?}"
                );
                if r.len() > last.len() {
                    seen_growth += 1;
                }
                last = r;
            }
        }
        assert_eq!(last, "Hi Dana,\n\nWe é see it.");
        assert!(seen_growth > 10);
        assert_eq!(
            field_so_far(r#"{"summary":"the \"reply\": x"#, "reply"),
            None
        );
        assert_eq!(field_so_far("not json", "reply"), None);
    }
}
