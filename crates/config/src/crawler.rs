//! The `[crawler]` table: who the crawler is (its RFC 9309 product token) and what it
//! collects for.

use optout_policy::Purpose;

/// The `[crawler]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crawler {
    /// The RFC 9309 product token, already validated.
    pub product_token: String,
    /// Where site owners learn about the crawler.
    pub contact_url: String,
    /// The default purpose.
    pub purpose: Purpose,
}

/// RFC 9309 §2.2.1: "The product token MUST contain only uppercase and lowercase letters
/// ("a-z" and "A-Z"), underscores ("_"), and hyphens ("-")."
pub fn validate_product_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the product token is empty".into());
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphabetic() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "product token {token:?} contains {c:?}; RFC 9309 §2.2.1 allows only letters, '_' and '-'"
        ));
    }
    Ok(())
}
