//! Untrusted text (paths, payloads, error messages) is cleaned before it is
//! shown: control characters, including ESC and the C1 range, would let a
//! payload move the cursor, clear the screen or write the clipboard (OSC 52).

/// Replace every control character except tab with a visible escape, and
/// tabs with a space. Line breaks become "⏎" so one value stays one line.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\t' => out.push(' '),
            '\n' | '\r' => out.push('⏎'),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            // Bidi overrides can reorder what the operator reads.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:x}}}", ch as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_are_neutralised() {
        let hostile = "a\u{1b}[2J\u{1b}]52;c;aGVsbG8=\u{7}b\u{9b}c\r\nd";
        let c = clean(hostile);
        assert!(!c.chars().any(|ch| ch.is_control()), "{c:?}");
        assert!(c.starts_with("a\\u{1b}[2J"));
    }

    proptest! {
        #[test]
        fn output_never_has_control_characters(s in any::<String>()) {
            let c = clean(&s);
            prop_assert!(!c.chars().any(|ch| ch.is_control()));
        }
    }
}
