//! Bounded texts of SPEC §4, parsed at the edge: a value of one of these types has
//! already passed its rule, so the service layer never re-checks it.
//!
//! Lengths are counted in Unicode scalar values (what a person sees as characters in
//! most scripts), not in bytes, so that a limit means the same in every language.

/// Why a text was refused, phrased for the `message` of a 422 `errors` entry.
pub type Refusal = String;

/// Checks that `text` holds `min..=max` characters.
fn bounded(text: &str, min: usize, max: usize) -> Result<(), Refusal> {
    let chars = text.chars().count();
    match (min, chars) {
        (1, 0) => Err("must not be empty".to_string()),
        (_, n) if n < min => Err(format!("must be at least {min} characters long")),
        (_, n) if n > max => Err(format!("must be at most {max} characters long")),
        _ => Ok(()),
    }
}

/// Declares a newtype over `String` with its parsing rule, its accessors and its limits.
macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, parse = $parse:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted text, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Parses a raw value, or says why it is refused.
            pub fn parse(raw: &str) -> Result<Self, Refusal> {
                let parse: fn(&str) -> Result<String, Refusal> = $parse;
                parse(raw).map($name)
            }
        }

        string_accessors!($name);

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

bounded_text!(
    /// A post's title: 1–200 characters once surrounding whitespace is trimmed, and stored
    /// trimmed (a title is one line of display text, so edge spaces carry no meaning).
    Title,
    max = 200,
    parse = |raw| {
        let trimmed = raw.trim();
        bounded(trimmed, 1, Title::MAX_CHARS)?;
        Ok(trimmed.to_string())
    }
);

bounded_text!(
    /// A post's content: at most 100 000 characters, stored exactly as sent (it may be
    /// empty, and its whitespace may be formatting).
    Content,
    max = 100_000,
    parse = |raw| {
        bounded(raw, 0, Content::MAX_CHARS)?;
        Ok(raw.to_string())
    }
);

bounded_text!(
    /// A post's description (API 1.1): at most 1 000 characters, stored as sent; empty
    /// when the author gives none.
    Description,
    max = 1_000,
    parse = |raw| {
        bounded(raw, 0, Description::MAX_CHARS)?;
        Ok(raw.to_string())
    }
);

bounded_text!(
    /// A comment's body: 1–10 000 characters, stored exactly as sent; a body of nothing
    /// but whitespace counts as empty, since it would show as a blank comment.
    CommentBody,
    max = 10_000,
    parse = |raw| {
        if raw.trim().is_empty() {
            return Err("must not be empty".to_string());
        }
        bounded(raw, 1, CommentBody::MAX_CHARS)?;
        Ok(raw.to_string())
    }
);

bounded_text!(
    /// A profile's bio: at most 2 000 characters, stored as sent.
    Bio,
    max = 2_000,
    parse = |raw| {
        bounded(raw, 0, Bio::MAX_CHARS)?;
        Ok(raw.to_string())
    }
);

bounded_text!(
    /// A profile's location: at most 100 characters, stored trimmed (a place name).
    Location,
    max = 100,
    parse = |raw| {
        let trimmed = raw.trim();
        bounded(trimmed, 0, Location::MAX_CHARS)?;
        Ok(trimmed.to_string())
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed_and_must_keep_one_character() {
        assert_eq!(Title::parse("  Hello  ").unwrap().as_str(), "Hello");
        assert!(Title::parse("").is_err());
        assert!(Title::parse("   \t ").is_err());
    }

    #[test]
    fn a_title_counts_characters_not_bytes() {
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
        // Trimming happens before counting.
        assert!(Title::parse(&format!("  {}  ", "a".repeat(200))).is_ok());
    }

    #[test]
    fn content_may_be_empty_but_not_longer_than_100_000() {
        assert_eq!(Content::parse("").unwrap().as_str(), "");
        assert_eq!(Content::parse("  keep  ").unwrap().as_str(), "  keep  ");
        assert!(Content::parse(&"x".repeat(100_000)).is_ok());
        assert!(Content::parse(&"x".repeat(100_001)).is_err());
    }

    #[test]
    fn a_comment_body_needs_a_visible_character_and_at_most_10_000() {
        assert!(CommentBody::parse("").is_err());
        assert!(CommentBody::parse(" \n ").is_err());
        assert_eq!(CommentBody::parse(" hi ").unwrap().as_str(), " hi ");
        assert!(CommentBody::parse(&"x".repeat(10_000)).is_ok());
        assert!(CommentBody::parse(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn a_description_may_be_empty_but_not_longer_than_1_000() {
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        assert!(Description::parse(&"d".repeat(1_000)).is_ok());
        assert!(Description::parse(&"d".repeat(1_001)).is_err());
    }

    #[test]
    fn bio_and_location_have_their_own_limits() {
        assert!(Bio::parse(&"b".repeat(2_000)).is_ok());
        assert!(Bio::parse(&"b".repeat(2_001)).is_err());
        assert_eq!(Location::parse(" Lyon ").unwrap().as_str(), "Lyon");
        assert!(Location::parse(&"l".repeat(100)).is_ok());
        assert!(Location::parse(&"l".repeat(101)).is_err());
    }

    #[test]
    fn refusals_say_what_the_rule_is() {
        assert_eq!(Title::parse("").unwrap_err(), "must not be empty");
        assert_eq!(
            Location::parse(&"l".repeat(101)).unwrap_err(),
            "must be at most 100 characters long"
        );
    }
}
