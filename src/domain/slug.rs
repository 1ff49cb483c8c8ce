//! Post slugs (SPEC §5): the title made URL-safe, plus a short suffix that keeps two posts
//! with one title apart. The unique index on `posts.slug` is what guarantees uniqueness;
//! a random suffix only makes a retry rare.

use rand::Rng;

/// Most characters of the title part of a slug.
const MAX_BASE: usize = 60;
/// Characters of the random suffix.
const SUFFIX_LEN: usize = 8;

/// The title in lower-case ASCII letters and digits, every other run of characters one
/// `-`, without `-` at either end; `post` when nothing is left.
pub fn base(title: &str) -> String {
    let mut out = String::with_capacity(title.len().min(MAX_BASE));
    let mut dash = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
            if out.len() >= MAX_BASE {
                break;
            }
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        out.push_str("post");
    }
    out
}

/// `base-suffix`.
pub fn with_suffix(title: &str, suffix: &str) -> String {
    format!("{}-{suffix}", base(title))
}

/// A slug for a new post: the title's base and eight random lower-case letters and digits.
pub fn generate(title: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..SUFFIX_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    with_suffix(title, &suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_keeps_letters_and_digits_and_joins_the_rest_with_dashes() {
        assert_eq!(base("Hello, World!"), "hello-world");
        assert_eq!(base("  --Rust 2024--  "), "rust-2024");
        assert_eq!(base("Ünïcode only ✓"), "n-code-only");
        assert_eq!(base("✓✓✓"), "post");
        assert_eq!(base(&"a".repeat(200)).len(), MAX_BASE);
    }

    #[test]
    fn two_generated_slugs_for_one_title_differ() {
        let a = generate("Same title");
        let b = generate("Same title");
        assert!(a.starts_with("same-title-") && a.len() == "same-title-".len() + SUFFIX_LEN);
        assert_ne!(a, b);
    }
}
