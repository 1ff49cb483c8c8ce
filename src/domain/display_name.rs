//! `DisplayName`: the free-form name a user shows, at most 80 characters after trimming.
//! A blank name means "no display name" and is stored as NULL.

/// A display name: trimmed, 1–80 characters, no control characters.
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
}
