//! `DisplayName`: the free-form name a user shows, at most 80 characters after trimming.
//! A blank name means "no display name" and is stored as NULL.
//!
//! A name must show what it is (SPEC §6): no control characters, and no invisible format
//! characters (Unicode category Cf: the bidirectional controls that turn text around,
//! zero-width characters, the soft hyphen…), with which one user could display as
//! another.

/// The code points of Unicode's general category Cf (format characters), as ranges, from
/// Unicode 16.0's `DerivedGeneralCategory.txt`.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is an invisible format character (category Cf).
pub fn is_format_character(c: char) -> bool {
    FORMAT_CHARACTERS
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// A display name: trimmed, 1–80 characters, no control or format characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 80;

    /// `Ok(None)` for a blank name, which clears it.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters long", Self::MAX));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not hold control characters".to_string());
        }
        if let Some(c) = trimmed.chars().find(|&c| is_format_character(c)) {
            return Err(format!(
                "must not hold invisible format characters (U+{:04X})",
                c as u32
            ));
        }
        Ok((!trimmed.is_empty()).then(|| DisplayName(trimmed.to_string())))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::DisplayName;

    #[test]
    fn trims_and_treats_blank_as_none() {
        assert_eq!(
            DisplayName::parse("  Alice  ")
                .unwrap()
                .unwrap()
                .into_inner(),
            "Alice"
        );
        assert_eq!(DisplayName::parse("   ").unwrap(), None);
    }

    #[test]
    fn refuses_more_than_80_characters_and_control_characters() {
        assert!(DisplayName::parse(&"é".repeat(80)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(81)).is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
    }

    #[test]
    fn refuses_bidirectional_controls_zero_width_and_other_format_characters() {
        for c in [
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{E0041}',
        ] {
            let err = DisplayName::parse(&format!("ad{c}min")).unwrap_err();
            assert!(err.contains(&format!("U+{:04X}", c as u32)), "{err}");
        }
        // Letters, marks, spaces and emoji of any script stay.
        for name in ["Zoë", "Ма́ша", "李小龍", "Ana María", "🙂 bob", "عبد الله"]
        {
            assert!(DisplayName::parse(name).unwrap().is_some(), "{name}");
        }
    }
}
