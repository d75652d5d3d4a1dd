//! One line of a scenario file: checked as UTF-8, its comment dropped, split into words with
//! 1-based columns counted in characters.

use super::ParseError;

/// Longest prefix of a token an error message repeats, in characters.
const ECHO_CHARS: usize = 24;

/// Where a `#` starts a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comments {
    /// Anywhere (the sequential format).
    Anywhere,
    /// At the start of a word only, so a word may hold `#` (the anchors `t0.1#5` of the
    /// concurrent format).
    AtWordStart,
}

impl Comments {
    /// The byte index where the comment of `text` starts (its length when it has none).
    pub fn start(self, text: &str) -> usize {
        let mut blank_before = true;
        for (i, c) in text.char_indices() {
            if c == '#' && (self == Comments::Anywhere || blank_before) {
                return i;
            }
            blank_before = c.is_whitespace();
        }
        text.len()
    }
}

/// One whitespace-separated word and its 1-based column.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Word<'a> {
    pub text: &'a str,
    pub column: usize,
}

/// The words of one line, with its number for errors.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    pub number: usize,
    pub words: Vec<Word<'a>>,
    /// The column just after the last word (where a missing word is reported).
    pub end_column: usize,
}

impl<'a> Line<'a> {
    /// Line `number` (1-based) from its bytes, without the line break; a `#` anywhere starts
    /// a comment. Invalid UTF-8 is an error at the first bad byte.
    pub fn split(number: usize, raw: &'a [u8]) -> Result<Line<'a>, ParseError> {
        Line::split_with(number, raw, Comments::Anywhere)
    }

    /// [`Line::split`], with `#` starting a comment where `comments` says.
    pub fn split_with(
        number: usize,
        raw: &'a [u8],
        comments: Comments,
    ) -> Result<Line<'a>, ParseError> {
        let text = std::str::from_utf8(raw).map_err(|e| {
            let good = e.valid_up_to();
            let valid = std::str::from_utf8(&raw[..good]).unwrap_or_default();
            ParseError {
                line: number,
                column: valid.chars().count() + 1,
                message: format!(
                    "invalid UTF-8: byte 0x{:02x} (byte {} of the line)",
                    raw.get(good).copied().unwrap_or_default(),
                    good + 1
                ),
            }
        })?;
        let content = &text[..comments.start(text)];
        let mut words = Vec::new();
        let mut start = None;
        let mut end_column = 1;
        let ends = content.char_indices().map(Some).chain(std::iter::once(None));
        for (column, item) in (1..).zip(ends) {
            let (i, blank) = item.map_or((content.len(), true), |(i, c)| (i, c.is_whitespace()));
            match (blank, start) {
                (false, None) => start = Some((i, column)),
                (true, Some((s, c))) => {
                    words.push(Word { text: &content[s..i], column: c });
                    start = None;
                    end_column = column;
                }
                _ => {}
            }
        }
        Ok(Line { number, words, end_column })
    }

    pub fn error(&self, column: usize, message: impl Into<String>) -> ParseError {
        ParseError { line: self.number, column, message: message.into() }
    }
}

/// `` `token` `` for a message: at most [`ECHO_CHARS`] characters then `…`, control characters
/// escaped.
pub(crate) fn echo(token: &str) -> String {
    let mut out = String::from("`");
    for c in token.chars().take(ECHO_CHARS) {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if token.chars().nth(ECHO_CHARS).is_some() {
        out.push('…');
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(raw: &str) -> Vec<(String, usize)> {
        let line = Line::split(1, raw.as_bytes()).unwrap();
        line.words.iter().map(|w| (w.text.to_string(), w.column)).collect()
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(
            words("  map\tx é 7 # c"),
            vec![("map".into(), 3), ("x".into(), 7), ("é".into(), 9), ("7".into(), 11)]
        );
        assert_eq!(words("é é"), vec![("é".into(), 1), ("é".into(), 3)]);
        assert_eq!(Line::split(1, "ab é  # x".as_bytes()).unwrap().end_column, 5);
        assert_eq!(Line::split(1, b"").unwrap().end_column, 1);
    }

    #[test]
    fn comments_start_anywhere_or_at_a_word_start() {
        let words = |raw: &str, comments| {
            let line = Line::split_with(1, raw.as_bytes(), comments).unwrap();
            line.words.iter().map(|w| w.text.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(words("preempt t0.1#5 # c", Comments::Anywhere), vec!["preempt", "t0.1"]);
        assert_eq!(words("preempt t0.1#5 #c", Comments::AtWordStart), vec!["preempt", "t0.1#5"]);
        assert_eq!(words("#c x", Comments::AtWordStart), Vec::<String>::new());
        assert_eq!(words("a\t#c", Comments::AtWordStart), vec!["a"]);
    }

    #[test]
    fn invalid_utf8_names_line_column_and_byte() {
        let e = Line::split(4, b"map \xc3\xa9 \xff").unwrap_err();
        assert_eq!((e.line, e.column), (4, 7));
        assert_eq!(e.message, "invalid UTF-8: byte 0xff (byte 8 of the line)");
    }

    #[test]
    fn echo_truncates_and_escapes() {
        assert_eq!(echo("zz"), "`zz`");
        assert_eq!(echo(&"é".repeat(24)), format!("`{}`", "é".repeat(24)));
        assert_eq!(echo(&"é".repeat(25)), format!("`{}…`", "é".repeat(24)));
        assert_eq!(echo("a\u{1b}b"), "`a\\u{1b}b`");
    }
}
