//! The caller of a request, as a valid token establishes it: what the services, the
//! loader and the wire shapes need to know about who is asking.

/// Who is calling, as established by a valid token.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub is_moderator: bool,
    /// The access token's id, for logout.
    pub jti: String,
    /// When the access token expires (seconds since the epoch).
    pub exp: u64,
    /// Whether the token was issued by the Conduit face (audience `conduit`): only such a
    /// token may change the password or the email under `/api` (CONDUIT.md).
    pub conduit_token: bool,
}
