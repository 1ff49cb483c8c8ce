//! `/auth`: registration, login, token refresh, logout and the caller's own record.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value as Json_;

use crate::api::declare_budget;
use crate::api::extract::{AppJson, AppQuery, AuthUser, IncludeParams};
use crate::domain::display_name::DisplayName;
use crate::domain::email::Email;
use crate::domain::password::Password;
use crate::domain::username::Username;
use crate::error::FieldErrors;
use crate::error::{AppError, Result};
use crate::service::auth::{self, TokenPair};
use crate::service::include::{Expand, Resource};
use crate::service::repr::{self, UserOut};
use crate::service::users::{self, NewAccount};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(get_me))
}

/// `POST /auth/register`. Every field is optional to serde so that a 422 can name every
/// missing or invalid field at once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    display_name: Option<String>,
}

fn required(value: Option<String>) -> std::result::Result<String, String> {
    value.ok_or_else(|| "is required".to_string())
}

impl RegisterRequest {
    fn into_account(self) -> Result<NewAccount> {
        let mut fields = FieldErrors::default();
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
        fields.into_result()?;
        match (username, email, password, display_name) {
            (Some(username), Some(email), Some(password), Some(display_name)) => Ok(NewAccount {
                username,
                email,
                password,
                display_name,
            }),
            _ => Err(AppError::internal(anyhow::anyhow!(
                "a field passed validation without a value"
            ))),
        }
    }
}

/// 201 with `Location` and the new user, `email` included.
async fn register(
    State(state): State<AppState>,
    AppJson(request): AppJson<RegisterRequest>,
) -> Result<Response> {
    let account = request.into_account()?;
    let created = users::register(&state, account).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/users/{}", created.id))
        .map_err(|e| AppError::internal(anyhow::anyhow!("a Location header: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserOut::own(&created)),
    )
        .into_response())
}

/// `POST /auth/login`: `login` is a username or an email.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    login: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    AppJson(request): AppJson<LoginRequest>,
) -> Result<Json<TokenPair>> {
    auth::login(&state, &request.login, &request.password)
        .await
        .map(Json)
}

/// `POST /auth/refresh`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    AppJson(request): AppJson<RefreshRequest>,
) -> Result<Json<TokenPair>> {
    auth::refresh(&state, &request.refresh_token)
        .await
        .map(Json)
}

/// 204: the access token and its refresh token stop working at once.
async fn logout(State(state): State<AppState>, AuthUser(viewer): AuthUser) -> Result<StatusCode> {
    auth::logout(&state, &viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, with `email`, and whatever `include`/`counts` asked for.
async fn get_me(
    State(state): State<AppState>,
    AuthUser(viewer): AuthUser,
    AppQuery(include): AppQuery<IncludeParams>,
) -> Result<Json<Json_>> {
    let expand = Expand::parse(Resource::User, &include, Some(&viewer))?;
    declare_budget(true, expand.statements(), false);
    let me = users::find(&state.db, viewer.id).await?;
    let mut items = vec![repr::item(&UserOut::own(&me))];
    expand.apply(&state.db, Some(&viewer), &mut items).await?;
    Ok(Json(items.pop().map(Json_::Object).unwrap_or(Json_::Null)))
}
