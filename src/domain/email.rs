//! `Email`: at most 254 characters, one `@` with something before it, and a dotted domain;
//! kept lower-case, which is how the `users.email` unique constraint compares them.

/// A valid email address, lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters long", Self::MAX));
        }
        let invalid = || "must be an email address such as name@example.com".to_string();
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let mut parts = raw.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let dotted = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !dotted {
            return Err(invalid());
        }
        Ok(Email(raw.to_lowercase()))
    }
}

string_accessors!(Email);

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_an_address_and_lowercases_it() {
        assert_eq!(
            Email::parse("Alice.B@Example.COM").unwrap().as_str(),
            "alice.b@example.com"
        );
        assert!(Email::parse("a@b.co").is_ok());
    }

    #[test]
    fn refuses_anything_without_one_at_and_a_dotted_domain() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a@b@c.com",
            "alice@example.",
            "alice@.com",
            "al ice@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_more_than_254_characters() {
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert!(Email::parse(&long).is_err());
        assert!(Email::parse(&long[1..]).is_ok());
    }
}
