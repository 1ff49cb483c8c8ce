//! `/api/users`, `/api/users/login` and `/api/user`: registration, login and the caller's
//! own account, over `service::users` and `service::auth`.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::error::{ConduitError, ErrorsBody, Refusals, Result};
use super::extract::{Auth, Body, Given};
use super::view::{User, UserBody};
use crate::domain::email::Email;
use crate::domain::password::Password;
use crate::domain::text::Bio;
use crate::domain::url::AbsoluteUrl;
use crate::domain::username::Username;
use crate::http::common::limits::Client;
use crate::http::state::AppState;
use crate::service::auth;
use crate::service::profiles as people;
use crate::service::users::{self, AccountChanges, NewAccount, ProfileChanges};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", post(register))
        .route("/users/login", post(login))
        .route("/user", get(get_user).put(update_user))
}

const BLANK: &str = "can't be blank";

/// A required text: blank (absent, `null`, empty) is 422 `can't be blank`.
fn required_text(refusals: &mut Refusals, field: &str, given: Given<String>) -> Option<String> {
    let value = given.non_blank();
    if value.is_none() {
        refusals.reject(field, BLANK);
    }
    value
}

/// `POST /api/users`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// `{"user": {"username", "email", "password"}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUserRequest {
    pub user: NewUser,
}

/// A new account and a token for it.
#[utoipa::path(post, path = "/api/users", tag = "conduit", operation_id = "conduit_register",
    summary = "Conduit: register",
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "The new user, with a token", body = UserBody),
        (status = 409, description = "`username` or `email` has already been taken", body = ErrorsBody),
        (status = 413, description = "The body is too large", body = ErrorsBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorsBody),
        (status = 422, description = "A field is blank or invalid, or the body is not JSON", body = ErrorsBody),
        (status = 429, description = "Too many registrations from this address", body = ErrorsBody,
            headers(("Retry-After" = u64, description = "Seconds until one may be tried again"))),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    body: Body,
) -> Result<(StatusCode, Json<UserBody>)> {
    state.limits.register(client).map_err(|limited| {
        let mut refused = ConduitError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "user",
            "too many registrations from this address",
        );
        refused.retry_after = limited.retry_after;
        refused
    })?;
    let _turn = state.limits.password_turn(client).await?;
    let fields = body.fields("user")?;
    let mut refusals = Refusals::default();
    let username = fields.text("username", &mut refusals);
    let email = fields.text("email", &mut refusals);
    let password = fields.text("password", &mut refusals);
    let username = required_text(&mut refusals, "username", username)
        .and_then(|u| refusals.check("username", Username::parse(&u)));
    let email = required_text(&mut refusals, "email", email)
        .and_then(|e| refusals.check("email", Email::parse(&e)));
    let password = match password {
        Given::Value(p) if !p.is_empty() => refusals.check("password", Password::parse(&p)),
        _ => {
            refusals.reject("password", BLANK);
            None
        }
    };
    refusals.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(ConduitError::invalid("user", BLANK));
    };
    let account = NewAccount {
        username,
        email,
        password,
        display_name: None,
    };
    let created = users::register(&mut state.db(), &state.passwords, account).await?;
    // A new account is in session epoch 0: its password has never changed.
    let token =
        auth::issue_conduit_token(&state.jwt, created.id, 0, state.settings.conduit_token_ttl)?;
    let person = people::Person {
        user: created,
        bio: None,
        avatar_url: None,
    };
    Ok((
        StatusCode::CREATED,
        Json(UserBody {
            user: User::new(person, token),
        }),
    ))
}

/// `POST /api/users/login`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginUser {
    #[schema(format = Email)]
    pub email: String,
    pub password: String,
}

/// `{"user": {"email", "password"}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub user: LoginUser,
}

/// A token for the account with this email (case-insensitive) and password.
#[utoipa::path(post, path = "/api/users/login", tag = "conduit", operation_id = "conduit_login",
    summary = "Conduit: log in",
    description = "Throttled like `/api/v1/auth/login`: after 5 failures within 15 minutes, 429.",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "The user, with a token", body = UserBody),
        (status = 401, description = "`credentials: invalid`", body = ErrorsBody),
        (status = 403, description = "`account: disabled`", body = ErrorsBody),
        (status = 413, description = "The body is too large", body = ErrorsBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorsBody),
        (status = 422, description = "A field is blank, or the body is not JSON", body = ErrorsBody),
        (status = 429, description = "`credentials: too many attempts` (for this account, or from this address)", body = ErrorsBody,
            headers(("Retry-After" = u64, description = "Seconds until a login may be tried again"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    body: Body,
) -> Result<Json<UserBody>> {
    state.limits.login(client)?;
    let _turn = state.limits.password_turn(client).await?;
    let fields = body.fields("user")?;
    let mut refusals = Refusals::default();
    let email = fields.text("email", &mut refusals);
    let password = fields.text("password", &mut refusals);
    let email = required_text(&mut refusals, "email", email);
    let password = match password {
        Given::Value(p) if !p.is_empty() => Some(p),
        _ => {
            refusals.reject("password", BLANK);
            None
        }
    };
    refusals.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ConduitError::invalid("user", BLANK));
    };
    let (user, token) = auth::login_without_session(
        &mut state.db(),
        &state.passwords,
        &state.jwt,
        state.settings.conduit_token_ttl,
        &email,
        &password,
    )
    .await?;
    let person = people::person(&state.db().read()?, user.id)
        .await?
        .ok_or_else(|| ConduitError::new(StatusCode::UNAUTHORIZED, "credentials", "invalid"))?;
    Ok(Json(UserBody {
        user: User::new(person, token),
    }))
}

/// The caller, with the token they sent.
#[utoipa::path(get, path = "/api/user", tag = "conduit", operation_id = "conduit_get_user",
    summary = "Conduit: the current user",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller, with the token they sent", body = UserBody),
        (status = 401, description = "`token: is missing` (or `is invalid`, `has expired`)", body = ErrorsBody),
    ))]
pub async fn get_user(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<UserBody>> {
    crate::store::set_budget(2);
    let person = people::person(&state.db().read()?, caller.viewer.id)
        .await?
        .ok_or_else(ConduitError::token_missing)?;
    Ok(Json(UserBody {
        user: User::new(person, caller.token),
    }))
}

/// `PUT /api/user`: any of the fields.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChanges {
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    /// `""` and `null` clear it.
    #[schema(max_length = 2000)]
    pub bio: Option<String>,
    /// An absolute http(s) URL; `""` and `null` clear it.
    #[schema(max_length = 500)]
    pub image: Option<String>,
}

/// `{"user": {…}}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateUserRequest {
    pub user: UserChanges,
}

/// A clearable field: absent leaves it, `null` and `""` clear it, a value is parsed.
fn clearable<T>(
    refusals: &mut Refusals,
    field: &str,
    given: Given<String>,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Option<Option<T>> {
    match given {
        Given::Absent => None,
        Given::Null => Some(None),
        Given::Value(s) if s.is_empty() => Some(None),
        Given::Value(s) => refusals.check(field, parse(&s)).map(Some),
    }
}

/// A field that may be absent but not blank.
fn changed_text<T>(
    refusals: &mut Refusals,
    field: &str,
    given: Given<String>,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Option<T> {
    match given {
        Given::Absent => None,
        Given::Value(s) if !s.is_empty() => refusals.check(field, parse(&s)),
        _ => {
            refusals.reject(field, BLANK);
            None
        }
    }
}

/// Changes the caller's account and profile; the token sent keeps working. A new password
/// ends the caller's other sessions, on both faces (SPEC §6). The password and the email
/// change only with a token this face issued: an `/api/v1` access token is 403 for them
/// (CONDUIT.md), so that a stolen short-lived token cannot take the account.
#[utoipa::path(put, path = "/api/user", tag = "conduit", operation_id = "conduit_update_user",
    summary = "Conduit: change the current user",
    security(("bearer" = [])),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The caller, with the token they sent", body = UserBody),
        (status = 401, description = "`token: is missing` (or `is invalid`, `has expired`)", body = ErrorsBody),
        (status = 403, description = "`password` or `email` sent with an `/api/v1` token", body = ErrorsBody),
        (status = 409, description = "`username` or `email` has already been taken", body = ErrorsBody),
        (status = 413, description = "The body is too large", body = ErrorsBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorsBody),
        (status = 422, description = "A field is blank or invalid, or the body is not JSON", body = ErrorsBody),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    body: Body,
) -> Result<Json<UserBody>> {
    let fields = body.fields("user")?;
    let mut refusals = Refusals::default();
    let email = fields.text("email", &mut refusals);
    let username = fields.text("username", &mut refusals);
    let password = fields.text("password", &mut refusals);
    let bio = fields.text("bio", &mut refusals);
    let image = fields.text("image", &mut refusals);
    // Who may change a credential is a question of right (403), answered before the
    // fields' 422s.
    if !caller.viewer.conduit_token {
        for (field, given) in [("password", &password), ("email", &email)] {
            if *given != Given::Absent {
                return Err(ConduitError::new(
                    StatusCode::FORBIDDEN,
                    field,
                    "can only be changed with a token from /api/users/login or /api/users",
                ));
            }
        }
    }
    let changes = AccountChanges {
        email: changed_text(&mut refusals, "email", email, Email::parse),
        username: changed_text(&mut refusals, "username", username, Username::parse),
        password: changed_text(&mut refusals, "password", password, Password::parse),
        ..Default::default()
    };
    let profile = ProfileChanges {
        bio: clearable(&mut refusals, "bio", bio, Bio::parse),
        avatar_url: clearable(&mut refusals, "image", image, |s| {
            AbsoluteUrl::parse(s, AbsoluteUrl::AVATAR_MAX_CHARS)
        }),
    };
    refusals.finish()?;
    let target = users::find(&state.db().read()?, caller.viewer.id).await?;
    users::update_with_profile(
        &mut state.db(),
        &state.passwords,
        &caller.viewer,
        target,
        changes,
        profile,
    )
    .await?;
    let person = people::person(&state.db().read()?, caller.viewer.id)
        .await?
        .ok_or_else(ConduitError::token_missing)?;
    Ok(Json(UserBody {
        user: User::new(person, caller.token),
    }))
}
