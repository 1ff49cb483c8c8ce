//! `/auth`: registration, login, token refresh, logout and the caller's own record.

use crate::http::common::json::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::domain::display_name::DisplayName;
use crate::domain::email::Email;
use crate::domain::password::Password;
use crate::domain::username::Username;
use crate::error::Result;
use crate::error::{FieldErrors, Problem};
use crate::http::common::limits::Client;
use crate::http::state::AppState;
use crate::http::v1::extract::{AuthUser, IncludeQuery, JsonBody, required};
use crate::http::v1::openapi::parts::{
    BodyErrors, CallerErrors, TooManyRequests, Unauthorized, UserIncludes,
};
use crate::http::v1::respond::{OneRead, created};
use crate::relations::Resource;
use crate::service::auth::{self, TokenPair};
use crate::service::users::{self, NewAccount};
use crate::wire::item::Item;
use crate::wire::repr::UserOut;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(get_me))
}

/// What starting a session needs from the state: the keys and the two token lifetimes.
fn issuer(state: &AppState) -> auth::Issuer<'_> {
    auth::Issuer {
        keys: &state.jwt,
        access_ttl: state.settings.access_ttl,
        refresh_ttl: state.settings.refresh_ttl,
    }
}

/// `POST /auth/register`. Every field is optional to serde so that a 422 can name every
/// missing or invalid field at once.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(description = "A new account; a 422 names every missing or invalid field at once.")]
pub struct RegisterRequest {
    /// Unique, case-insensitively.
    #[schema(value_type = String, required = true, min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    username: Option<String>,
    /// One `@` and a dotted domain; stored lower-case, unique.
    #[schema(value_type = String, required = true, max_length = 254, format = Email)]
    email: Option<String>,
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128, format = Password)]
    password: Option<String>,
    /// Trimmed; blank is stored as `null`.
    #[schema(max_length = 80)]
    display_name: Option<String>,
}

impl RegisterRequest {
    fn into_account(self, mut fields: FieldErrors) -> Result<NewAccount> {
        let username = fields.check(
            "username",
            required(self.username).and_then(|u| Username::parse(&u)),
        );
        let email = fields.check("email", required(self.email).and_then(|e| Email::parse(&e)));
        let password = fields.check(
            "password",
            required(self.password).and_then(|p| Password::parse(&p)),
        );
        let display_name = fields.check(
            "display_name",
            self.display_name
                .map(|d| DisplayName::parse(&d))
                .transpose()
                .map(Option::flatten),
        );
        fields
            .finish(username.zip(email).zip(password.zip(display_name)))
            .map(|((username, email), (password, display_name))| NewAccount {
                username,
                email,
                password,
                display_name,
            })
    }
}

/// 201 with `Location` and the new user, `email` included.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    summary = "Create an account",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user, with `email`", body = UserOut,
            headers(("Location" = String, description = "`/api/v1/users/{id}`"))),
        (status = 409, description = "`username_taken` or `email_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = TooManyRequests),
        BodyErrors,
    ))]
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonBody,
) -> Result<Response> {
    state.limits.register(client)?;
    let _turn = state.limits.password_turn(client).await?;
    let account = body
        .parse::<RegisterRequest>()?
        .check(RegisterRequest::into_account)?;
    let user = users::register(&mut state.db(), &state.passwords, account).await?;
    Ok(created(
        format!("/api/v1/users/{}", user.id),
        UserOut::own(&user),
    ))
}

/// `POST /auth/login`: `login` is a username or an email.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// A username or an email (holding `@`), case-insensitive.
    #[schema(value_type = String, required = true)]
    login: Option<String>,
    #[schema(value_type = String, required = true, format = Password)]
    password: Option<String>,
}

impl LoginRequest {
    /// The login and the password, both required.
    fn into_credentials(self, mut fields: FieldErrors) -> Result<(String, String)> {
        let login = fields.check("login", required(self.login));
        let password = fields.check("password", required(self.password));
        fields.finish(login.zip(password))
    }
}

/// An access token (a short-lived JWT) and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    summary = "Log in with a username or an email",
    description = "After 5 failures for one login within 15 minutes, 429 until the oldest leaves the window.",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "The token pair", body = TokenPair),
        (status = 401, description = "Unknown login or wrong password, alike (`invalid_credentials`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Right password, deactivated account (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = TooManyRequests),
        BodyErrors,
    ))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonBody,
) -> Result<Json<TokenPair>> {
    state.limits.login(client)?;
    let _turn = state.limits.password_turn(client).await?;
    let (login, password) = body
        .parse::<LoginRequest>()?
        .check(LoginRequest::into_credentials)?;
    auth::login(
        &mut state.db(),
        &state.passwords,
        &issuer(&state),
        &login,
        &password,
    )
    .await
    .map(Json)
}

/// `POST /auth/refresh`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    refresh_token: Option<String>,
}

/// A new token pair; the refresh token sent stops working.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    summary = "Trade a refresh token for a new pair",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "The new token pair", body = TokenPair),
        (status = 401, description = "Unknown, used or expired refresh token", body = Problem, content_type = "application/problem+json"),
        BodyErrors,
    ))]
pub async fn refresh(State(state): State<AppState>, body: JsonBody) -> Result<Json<TokenPair>> {
    let refresh_token = body
        .parse::<RefreshRequest>()?
        .check(|request, mut fields| {
            let token = fields.check("refresh_token", required(request.refresh_token));
            fields.finish(token)
        })?;
    auth::refresh(state.db().write().await, &issuer(&state), &refresh_token)
        .await
        .map(Json)
}

/// 204: the access token and its refresh token stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    summary = "End this session",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token and its refresh token no longer work"),
        (status = 401, response = Unauthorized),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
) -> Result<StatusCode> {
    auth::logout(state.db().write().await, &viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, with `email`, and whatever `include`/`counts` asked for.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    summary = "The caller's own record",
    security(("bearer" = [])),
    params(UserIncludes),
    responses(
        (status = 200, description = "The caller, with `email`", body = UserOut),
        CallerErrors,
    ))]
pub async fn get_me(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    include: IncludeQuery,
) -> Result<Json<Item>> {
    let read = OneRead::prepare(Resource::User, &include, Some(&viewer))?;
    let handle = state.db();
    let db = handle.read()?;
    let me = users::find(&db, viewer.id).await?;
    read.respond(&db, Item::from(UserOut::own(&me))).await
}
