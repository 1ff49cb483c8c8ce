//! `Username`: 3–32 characters, each an ASCII letter, a digit, `_`, `.` or `-`.
//!
//! Letters are ASCII only: uniqueness is case-insensitive through `lower(username)`, and
//! SQLite's `lower()` folds only ASCII, so a wider alphabet would make the two databases
//! disagree about which names collide.

/// A valid username, with the case its owner chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, String> {
        super::length_within(raw, Self::MIN, Self::MAX)?;
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("may hold only letters, digits, `_`, `.` and `-`".to_string());
        }
        Ok(Username(raw.to_string()))
    }
}

string_accessors!(Username);

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn accepts_letters_digits_and_the_three_marks() {
        for ok in ["abc", "Alice_01", "a.b-c", &"x".repeat(32)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_wrong_lengths_and_other_characters() {
        for bad in [
            "",
            "ab",
            &"x".repeat(33),
            "has space",
            "semi;colon",
            "émile",
            "a@b",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keeps_the_case_it_was_given() {
        assert_eq!(Username::parse("AliCe").unwrap().as_str(), "AliCe");
    }
}
