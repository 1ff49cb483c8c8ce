//! `TagName` and `TagList`: the tags of a post (SPEC §5). A name is trimmed and
//! lower-cased, then must match `^[a-z0-9][a-z0-9_.+#-]{0,49}$`; a list holds at most 10
//! names and none twice (compared after that normalisation).

/// A valid tag name, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagName(String);

impl TagName {
    /// The longest name, in characters.
    pub const MAX: usize = 50;

    /// The normal form of a raw name: trimmed and lower-cased. `/tags/{name}/posts`
    /// looks names up in this form too.
    pub fn normalize(raw: &str) -> String {
        raw.trim().to_lowercase()
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = Self::normalize(raw);
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = chars.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '+' | '#' | '-')
        });
        if first_ok && rest_ok && name.len() <= Self::MAX {
            Ok(TagName(name))
        } else {
            Err(format!(
                "must be 1 to {} characters: a lower-case letter or digit, then lower-case \
                 letters, digits, `_`, `.`, `+`, `#` or `-`",
                Self::MAX
            ))
        }
    }
}

string_accessors!(TagName);

/// The tags of one post, in the author's order: at most [`TagList::MAX`], all distinct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagList(Vec<TagName>);

impl TagList {
    /// Most tags on one post.
    pub const MAX: usize = 10;

    /// Parses every name, saying which ones are bad (by index), too many, or repeated.
    pub fn parse(raw: &[String]) -> Result<Self, String> {
        if raw.len() > Self::MAX {
            return Err(format!("must hold at most {} tags", Self::MAX));
        }
        let mut names: Vec<TagName> = Vec::with_capacity(raw.len());
        for (i, one) in raw.iter().enumerate() {
            let name = TagName::parse(one).map_err(|why| format!("tag {i}: {why}"))?;
            if names.contains(&name) {
                return Err(format!("names `{}` twice", name.as_str()));
            }
            names.push(name);
        }
        Ok(TagList(names))
    }

    pub fn names(&self) -> &[TagName] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_lower_cased_before_the_pattern() {
        assert_eq!(TagName::parse("  Rust ").unwrap().as_str(), "rust");
        for ok in ["c++", "c#", "0day", "a.b_c-d", &"x".repeat(50)] {
            assert!(TagName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_name_outside_the_pattern_is_refused() {
        for bad in [
            "",
            "  ",
            "-rust",
            ".x",
            "has space",
            "naïve",
            "a/b",
            &"x".repeat(51),
        ] {
            assert!(TagName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_list_keeps_order_and_refuses_repeats_and_more_than_ten() {
        let list = TagList::parse(&["b".into(), "A".into()]).unwrap();
        let names: Vec<&str> = list.names().iter().map(TagName::as_str).collect();
        assert_eq!(names, ["b", "a"]);
        assert!(TagList::parse(&["rust".into(), " RUST".into()]).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(TagList::parse(&eleven).is_err());
        assert!(TagList::parse(&eleven[..10]).is_ok());
    }
}
