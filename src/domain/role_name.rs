//! `RoleName`: `^[a-z][a-z0-9_-]{1,49}$`, so a role name is safe in a URL path as is.

/// A valid role name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
        if first_ok && rest_ok && (2..=50).contains(&raw.len()) {
            Ok(RoleName(raw.to_string()))
        } else {
            Err("must be 2 to 50 characters: a lower-case letter, then lower-case letters, digits, `_` or `-`".to_string())
        }
    }
}

string_accessors!(RoleName);

#[cfg(test)]
mod tests {
    use super::RoleName;

    #[test]
    fn accepts_the_pattern() {
        for ok in ["ab", "editor", "a1_-", &format!("a{}", "b".repeat(49))] {
            assert!(RoleName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "a",
            "1abc",
            "_abc",
            "Editor",
            "edi tor",
            "edi.tor",
            &format!("a{}", "b".repeat(50)),
        ] {
            assert!(RoleName::parse(bad).is_err(), "{bad}");
        }
    }
}
