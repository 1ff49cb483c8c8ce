//! Absolute http(s) URLs as SPEC §4 accepts them for a profile's `avatar_url` and
//! `website`.

use crate::domain::text::Refusal;

/// An absolute `http` or `https` URL with a host, at most some number of characters.
///
/// The text is kept as the client sent it (trimmed), not in the parser's normalised form,
/// so that a client reads back exactly what it wrote (`https://example.com` does not come
/// back as `https://example.com/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsoluteUrl(String);

impl AbsoluteUrl {
    /// The longest `avatar_url`, in characters.
    pub const AVATAR_MAX_CHARS: usize = 500;
    /// The longest `website`, in characters.
    pub const WEBSITE_MAX_CHARS: usize = 200;

    /// Parses `raw` as an absolute http(s) URL of at most `max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, Refusal> {
        let text = raw.trim();
        if text.chars().count() > max_chars {
            return Err(format!("must be at most {max_chars} characters long"));
        }
        let not_absolute = || "must be an absolute http or https URL".to_string();
        // Whitespace inside would be silently percent-encoded by the parser; refuse it.
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(not_absolute());
        }
        // The WHATWG parser repairs `http:example.com` and `http:///example.com` into
        // `http://example.com/`; since the text is kept as written, insist on the plain
        // form: the scheme, `://`, then the host.
        let lower = text.to_ascii_lowercase();
        let after_scheme = ["http://", "https://"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .ok_or_else(not_absolute)?;
        if after_scheme.starts_with(['/', '\\']) {
            return Err(not_absolute());
        }
        let parsed = url::Url::parse(text).map_err(|_| not_absolute())?;
        let has_host = parsed.host_str().is_some_and(|h| !h.is_empty());
        if !matches!(parsed.scheme(), "http" | "https") || !has_host {
            return Err(not_absolute());
        }
        Ok(AbsoluteUrl(text.to_string()))
    }
}

string_accessors!(AbsoluteUrl);

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = AbsoluteUrl::WEBSITE_MAX_CHARS;

    #[test]
    fn http_and_https_urls_with_a_host_are_accepted_as_written() {
        for ok in [
            "https://example.com",
            "http://example.com/a/b?c=d#e",
            "https://sub.example.org:8443/path",
            "HTTPS://Example.com",
            "http://127.0.0.1/",
        ] {
            assert_eq!(AbsoluteUrl::parse(ok, MAX).unwrap().as_str(), ok);
        }
        assert_eq!(
            AbsoluteUrl::parse("  https://example.com  ", MAX)
                .unwrap()
                .as_str(),
            "https://example.com"
        );
    }

    #[test]
    fn relative_urls_other_schemes_and_junk_are_refused() {
        for bad in [
            "",
            "example.com",
            "/just/a/path",
            "ftp://example.com/file",
            "javascript:alert(1)",
            "mailto:someone@example.com",
            "https://",
            "http:///nohost",
            "http:example.com",
            "https:\\\\example.com",
            "https://exa mple.com",
            "not a url",
        ] {
            assert!(
                AbsoluteUrl::parse(bad, MAX).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn the_length_limit_is_the_callers() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert!(AbsoluteUrl::parse(&long, AbsoluteUrl::WEBSITE_MAX_CHARS).is_err());
        assert!(AbsoluteUrl::parse(&long, AbsoluteUrl::AVATAR_MAX_CHARS).is_ok());
        let at_limit = format!("https://e.com/{}", "a".repeat(200 - 14));
        assert_eq!(at_limit.chars().count(), 200);
        assert!(AbsoluteUrl::parse(&at_limit, AbsoluteUrl::WEBSITE_MAX_CHARS).is_ok());
    }
}
