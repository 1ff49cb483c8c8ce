//! `RoleDescription`: what a role is for, at most 500 characters after trimming; blank
//! means none (NULL).

/// A role's description: trimmed, 1–500 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDescription(String);

impl RoleDescription {
    pub const MAX: usize = 500;

    /// `Ok(None)` for a blank description, which clears it.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters long", Self::MAX));
        }
        Ok((!trimmed.is_empty()).then(|| RoleDescription(trimmed.to_string())))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::RoleDescription;

    #[test]
    fn trims_bounds_and_clears_on_blank() {
        assert_eq!(
            RoleDescription::parse(" Edits ")
                .unwrap()
                .unwrap()
                .into_inner(),
            "Edits"
        );
        assert_eq!(RoleDescription::parse("").unwrap(), None);
        assert!(RoleDescription::parse(&"x".repeat(500)).is_ok());
        assert!(RoleDescription::parse(&"x".repeat(501)).is_err());
    }
}
