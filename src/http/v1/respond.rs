//! How handlers answer, written once. Every GET parses `include`/`counts` and the paging
//! parameters (401/400 before any statement runs), declares the query budget, then turns
//! the fetched rows into items and attaches the included relations; every creation
//! answers 201 with a `Location`.
//!
//! The order of the checks follows SPEC §3: a token problem (401) wins over a malformed
//! query (400), which wins over an absent parent (404), which the caller checks after
//! [`ListRead::prepare`] and before fetching.

use crate::http::common::json::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::viewer::Viewer;
use crate::error::{AppError, Result};
use crate::http::v1::extract::{IncludeParams, IncludeQuery, ListParams, ListQuery, parse_bounded};
use crate::relations::{Expand, Find, IncludeRequest, Resource};
use crate::store::page::{Fetched, ListScope, PageRequest, SortOrder};
use crate::store::read::{FromRow, Reader};
use crate::wire::item::{Item, Page};

/// Parses `include`, `counts`, `include_limit` and `viewer` for `resource`; the answer
/// may hold at most `query.ceiling` objects.
fn expand(resource: Resource, query: &IncludeQuery, viewer: Option<&Viewer>) -> Result<Expand> {
    let IncludeQuery {
        params: include,
        ceiling,
    } = query;
    let mark_for = marking(include, viewer)?;
    let request = IncludeRequest {
        include: include.include.as_deref(),
        counts: include.counts.as_deref(),
    };
    let (nodes, counts) = crate::relations::paths::parse(resource, request, viewer)?;
    let per_parent = parse_bounded("include_limit", include.include_limit.as_deref(), 20, 100)?;
    let expand = Expand::new(nodes, counts, per_parent, *ceiling);
    Ok(match mark_for {
        Some(id) => expand.marking_for(id),
        None => expand,
    })
}

/// The caller to mark the answer for when `viewer=true`; 401 without a token.
fn marking(include: &IncludeParams, viewer: Option<&Viewer>) -> Result<Option<i64>> {
    match (include.viewer, viewer) {
        (false, _) => Ok(None),
        (true, Some(viewer)) => Ok(Some(viewer.id)),
        (true, None) => Err(AppError::unauthorized(
            "missing_token",
            "`viewer=true` needs a bearer token.",
        )),
    }
}

/// Answers 400 when an endpoint that takes no `include`/`counts` is given some, or an
/// `include_limit` (which could limit nothing there).
fn refuse_include(include: &IncludeParams) -> Result<()> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if given(&include.include) || given(&include.counts) || include.include_limit.is_some() {
        Err(AppError::bad_request(
            "invalid_include",
            "This collection takes no `include`, `counts` or `include_limit`.",
        ))
    } else {
        Ok(())
    }
}

/// A checked list request: its page, its collection's order and what to include.
pub struct ListRead<'v> {
    pub page: PageRequest,
    pub order: SortOrder,
    expand: Option<Expand>,
    viewer: Option<&'v Viewer>,
}

impl<'v> ListRead<'v> {
    /// Checks the parameters of the list `scope` of `resource` in `order` and declares
    /// the budget; the answer may hold at most `query.include.ceiling` objects
    /// (`RELATA_MAX_RESPONSE_ITEMS`).
    pub fn prepare(
        resource: Resource,
        order: SortOrder,
        scope: ListScope,
        query: &ListQuery,
        viewer: Option<&'v Viewer>,
    ) -> Result<Self> {
        let expand = expand(resource, &query.include, viewer)?;
        Self::checked(order.bound_to(&scope), &query.list, Some(expand), viewer)
    }

    /// A list that takes no `include` or `counts` (400 when given): the association
    /// lists (role assignments, follows, favorites, tags).
    pub fn prepare_plain(
        order: SortOrder,
        scope: ListScope,
        query: &ListQuery,
        viewer: Option<&'v Viewer>,
    ) -> Result<Self> {
        let include = &query.include.params;
        let mark_for = marking(include, viewer)?;
        refuse_include(include)?;
        let expand = mark_for.map(|id| Expand::default().marking_for(id));
        Self::checked(order.bound_to(&scope), &query.list, expand, viewer)
    }

    fn checked(
        order: SortOrder,
        list: &ListParams,
        expand: Option<Expand>,
        viewer: Option<&'v Viewer>,
    ) -> Result<Self> {
        // A bad cursor is refused before any statement runs, so it costs nothing.
        let page = PageRequest {
            limit: list.limit()?,
            cursor: list
                .cursor
                .as_deref()
                .map(|raw| order.decode(raw))
                .transpose()?,
            count: list.count,
        };
        let statements = expand.as_ref().map_or(0, Expand::statements);
        declare_budget(viewer.is_some(), statements, page.count);
        Ok(ListRead {
            page,
            order,
            expand,
            viewer,
        })
    }

    /// The list body of a fetched page, with its includes and counts attached.
    pub async fn respond<T>(
        &self,
        db: &Reader<'_>,
        fetched: Fetched<T>,
        to_item: impl FnMut(T) -> Item,
    ) -> Result<Json<Page>> {
        let mut items: Vec<Item> = fetched.rows.into_iter().map(to_item).collect();
        if let Some(expand) = &self.expand {
            expand.apply(db, self.viewer, &mut items).await?;
        }
        Ok(Json(Page::new(
            items,
            fetched.has_more,
            fetched.total,
            &self.order,
        )))
    }
}

/// A checked single-resource request: what to include.
pub struct OneRead<'v> {
    expand: Expand,
    viewer: Option<&'v Viewer>,
}

impl<'v> OneRead<'v> {
    /// Checks `include`/`counts` for one `resource` and declares the budget; the answer
    /// may hold at most `include.ceiling` objects (`RELATA_MAX_RESPONSE_ITEMS`).
    pub fn prepare(
        resource: Resource,
        include: &IncludeQuery,
        viewer: Option<&'v Viewer>,
    ) -> Result<Self> {
        let expand = expand(resource, include, viewer)?;
        declare_budget(viewer.is_some(), expand.statements(), false);
        Ok(OneRead { expand, viewer })
    }

    /// The body of one resource, with its includes and counts attached.
    pub async fn respond(&self, db: &Reader<'_>, item: Item) -> Result<Json<Item>> {
        Ok(Json(self.expand.apply_one(db, self.viewer, item).await?))
    }

    /// The body of the row `find` names, found with what is to-one about it in one
    /// statement ([`Expand::find_one`]); 404 naming `what` when there is none.
    pub async fn respond_found<M: FromRow>(
        &self,
        db: &Reader<'_>,
        find: Find,
        what: &str,
        to_item: impl FnOnce(M) -> Item,
    ) -> Result<Json<Item>> {
        self.expand
            .find_one(db, self.viewer, find, to_item)
            .await?
            .map(Json)
            .ok_or_else(|| AppError::not_found(what))
    }
}

/// 201 Created with `Location: location` and the created resource (SPEC §3): the one
/// way every creation answers.
pub fn created(location: String, body: impl Serialize) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// The answer of a PUT that links two rows (a follow, a favorite): 201 with `Location`
/// set to the PUT's own path when it created the link, else 200; the link either way.
pub fn linked(created_now: bool, location: String, item: Item) -> Response {
    if created_now {
        created(location, item)
    } else {
        (StatusCode::OK, Json(item)).into_response()
    }
}

/// The query budget of a GET (SPEC §3): 2, plus 1 with a token, plus one per relation in
/// the include tree and per counts relation, plus 1 with `count=true`.
fn declare_budget(token: bool, expand_statements: usize, count: bool) {
    crate::store::set_budget(2 + usize::from(token) + expand_statements + usize::from(count));
}
