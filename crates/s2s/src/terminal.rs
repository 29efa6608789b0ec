//! Text from a token, made safe to print on a terminal.
//!
//! A token's header and claims are chosen by whoever made the token, and `s2s inspect` is
//! exactly the command one runs on a token one does not trust. Printed raw, a claim could
//! carry terminal escape sequences (ESC `[2J` clears the screen, OSC 52 writes the
//! clipboard, OSC 8 hides a link) or reorder what is shown (bidi overrides, as in
//! "Trojan Source", CVE-2021-42574). So every string taken from a token goes through
//! [`escape`] before it is printed: the characters below become visible `\u{…}` escapes,
//! everything else is printed as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw: C0 controls (tab and newline included: a
/// value is printed on one line), DEL, C1 controls (U+0080–U+009F, which some terminals
/// read as ESC-sequences), the bidi embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) and marks (U+200E, U+200F, U+061C), and the line and paragraph
/// separators (U+2028, U+2029).
pub(crate) fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{61c}'
        | '\u{2028}' | '\u{2029}')
}

/// `text` with every [unsafe](is_unsafe) character written as `\u{hex}` (e.g. ESC is
/// `\u{1b}`); borrowed when there is none.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            // Writing to a String cannot fail.
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// [`escape`] line by line: for multi-line text made by this program (pretty-printed
/// JSON), whose own line breaks stay.
pub(crate) fn escape_lines(text: &str) -> String {
    text.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dangerous_character_is_escaped() {
        let hostile = "a\u{1b}[2J\u{7}\t\r\n\u{7f}\u{9b}31m\u{202e}evil\u{2066}\u{2069}\u{200f}\u{2028}\u{2029}b";
        let escaped = escape(hostile);
        assert!(!escaped.chars().any(is_unsafe), "{escaped}");
        assert_eq!(
            escaped,
            "a\\u{1b}[2J\\u{7}\\u{9}\\u{d}\\u{a}\\u{7f}\\u{9b}31m\\u{202e}evil\\u{2066}\\u{2069}\\u{200f}\\u{2028}\\u{2029}b"
        );
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in ["", "us-east-1_Ab12Cd34E", "é ü 日本 🙂 \\u{1b}", "a b/c.d"] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn escape_lines_keeps_the_line_breaks_it_is_given() {
        assert_eq!(
            escape_lines("{\n  \"a\": \"\u{9b}x\"\n}"),
            "{\n  \"a\": \"\\u{9b}x\"\n}"
        );
    }
}
