//! The spellings of values: numbers, permissions and switches.

use super::line::echo;
use ptdiff_reference::Perm;
use std::num::IntErrorKind;

/// Permission words, in the order messages list them.
pub(super) const PERM_WORDS: [(&str, Perm); 4] =
    [("r", Perm::R), ("w", Perm::W), ("rw", Perm::RW), ("-", Perm::NONE)];

/// Switch words; the first two are the canonical `on` and `off`.
pub(super) const SWITCH_WORDS: [(&str, bool); 6] =
    [("on", true), ("off", false), ("true", true), ("false", false), ("yes", true), ("no", false)];

pub(crate) fn perm(word: &str) -> Option<Perm> {
    PERM_WORDS.iter().find(|(w, _)| *w == word).map(|&(_, p)| p)
}

pub(crate) fn switch(word: &str) -> Option<bool> {
    SWITCH_WORDS.iter().find(|(w, _)| *w == word).map(|&(_, on)| on)
}

pub(crate) fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// The index of `word` in `words`, or the message that lists them.
pub(super) fn choice(word: &str, words: &[&str]) -> Result<u64, String> {
    match words.iter().position(|w| *w == word) {
        Some(i) => Ok(i as u64),
        None => Err(format!("expected one of {}, found {}", words.join(", "), echo(word))),
    }
}

/// `r, w, rw or -`: the permission words, without none unless `with_none`.
pub(crate) fn perm_list(with_none: bool) -> String {
    let words: Vec<&str> =
        PERM_WORDS.iter().filter(|(_, p)| with_none || !p.is_empty()).map(|&(w, _)| w).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

/// `text` as a number that should be `what` (`a dfn`) and at most `max`, or the message that
/// says why not. Numbers are decimal or `0x` hexadecimal, `_` allowed, without sign.
pub(crate) fn number(text: &str, what: &str, max: u64) -> Result<u64, String> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (digits, radix) = match clean.strip_prefix("0x").or_else(|| clean.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (clean.as_str(), 10),
    };
    if digits.len() > 1 && digits.starts_with(['+', '-']) {
        return Err(format!("expected {what} (a number, without a sign), found {}", echo(text)));
    }
    let too_large = || {
        let max = if max == u64::MAX { "2^64 - 1".to_string() } else { max.to_string() };
        format!("{} is too large for {what} (at most {max})", echo(text))
    };
    match u64::from_str_radix(digits, radix) {
        Ok(value) if value <= max => Ok(value),
        Ok(_) => Err(too_large()),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Err(too_large()),
        Err(_) => Err(format!("expected {what} (a number), found {}", echo(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let n = |t| number(t, "a dfn", u64::MAX);
        assert_eq!(n("0x1_234"), Ok(0x1234));
        assert_eq!(n("0X10"), Ok(16));
        assert_eq!(n("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            n("18446744073709551616"),
            Err("`18446744073709551616` is too large for a dfn (at most 2^64 - 1)".into())
        );
        assert_eq!(
            n("0x1_0000_0000_0000_0000"),
            Err("`0x1_0000_0000_0000_0000` is too large for a dfn (at most 2^64 - 1)".into())
        );
        assert_eq!(n("+5"), Err("expected a dfn (a number, without a sign), found `+5`".into()));
        assert_eq!(
            n("0x+5"),
            Err("expected a dfn (a number, without a sign), found `0x+5`".into())
        );
        assert_eq!(n("-1"), Err("expected a dfn (a number, without a sign), found `-1`".into()));
        assert_eq!(n("-"), Err("expected a dfn (a number), found `-`".into()));
        assert_eq!(n("0x"), Err("expected a dfn (a number), found `0x`".into()));
        assert_eq!(n("1.5"), Err("expected a dfn (a number), found `1.5`".into()));
        assert_eq!(
            number("70000", "a device", 65535),
            Err("`70000` is too large for a device (at most 65535)".into())
        );
    }

    #[test]
    fn words() {
        assert_eq!(perm("rw"), Some(Perm::RW));
        assert_eq!(perm("wr"), None);
        assert_eq!(switch("yes"), Some(true));
        assert_eq!(switch("On"), None);
        assert_eq!(perm_list(true), "r, w, rw or -");
        assert_eq!(perm_list(false), "r, w or rw");
        assert_eq!(choice("high", &["low", "high"]), Ok(1));
        assert_eq!(
            choice("hi", &["low", "high"]),
            Err("expected one of low, high, found `hi`".into())
        );
    }
}
