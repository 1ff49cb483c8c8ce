//! How handlers answer, written once. Every GET parses `include`/`counts` and the paging
//! parameters (401/400 before any statement runs), declares the query budget, then turns
//! the fetched rows into items and attaches the included relations; every creation
//! answers 201 with a `Location`.
//!
//! The order of the checks follows SPEC §3: a token problem (401) wins over a malformed
//! query (400), which wins over an absent parent (404), which the caller checks after
//! [`ListRead::prepare`] and before fetching.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::api::extract::{IncludeParams, ListParams};
use crate::api::{declare_budget, page_of};
use crate::error::Result;
use crate::service::auth::Viewer;
use crate::service::include::{Expand, Resource};
use crate::service::page::{self, Fetched, PageRequest, SortOrder};
use crate::service::repr::Item;

/// A checked list request: its page, its collection's order and what to include.
pub struct ListRead<'v> {
    pub page: PageRequest,
    pub order: SortOrder,
    expand: Expand,
    viewer: Option<&'v Viewer>,
}

impl<'v> ListRead<'v> {
    /// Checks the parameters of a list of `resource` in `order` and declares the budget.
    pub fn prepare(
        resource: Resource,
        order: SortOrder,
        list: &ListParams,
        include: &IncludeParams,
        viewer: Option<&'v Viewer>,
    ) -> Result<Self> {
        let expand = Expand::parse(resource, include, viewer)?;
        let page = PageRequest::from_params(list)?;
        page::check_cursor(&order, &page)?;
        declare_budget(viewer.is_some(), expand.statements(), page.count);
        Ok(ListRead {
            page,
            order,
            expand,
            viewer,
        })
    }

    /// The list body of a fetched page, with its includes and counts attached.
    pub async fn respond<T, C: ConnectionTrait>(
        &self,
        db: &C,
        fetched: Fetched<T>,
        to_item: impl Fn(&T) -> Item,
    ) -> Result<Json<Value>> {
        let mut items: Vec<Item> = fetched.rows.iter().map(to_item).collect();
        self.expand.apply(db, self.viewer, &mut items).await?;
        Ok(page_of(&fetched, items, &self.order))
    }
}

/// A checked single-resource request: what to include.
pub struct OneRead<'v> {
    expand: Expand,
    viewer: Option<&'v Viewer>,
}

impl<'v> OneRead<'v> {
    /// Checks `include`/`counts` for one `resource` and declares the budget.
    pub fn prepare(
        resource: Resource,
        include: &IncludeParams,
        viewer: Option<&'v Viewer>,
    ) -> Result<Self> {
        let expand = Expand::parse(resource, include, viewer)?;
        declare_budget(viewer.is_some(), expand.statements(), false);
        Ok(OneRead { expand, viewer })
    }

    /// The body of one resource, with its includes and counts attached.
    pub async fn respond<C: ConnectionTrait>(&self, db: &C, item: Item) -> Result<Json<Value>> {
        let item = self.expand.apply_one(db, self.viewer, item).await?;
        Ok(Json(Value::Object(item)))
    }
}

/// A checked request for a list that takes no `include` or `counts`: the association
/// lists (follows, favorites), whose items are association objects.
pub struct PlainListRead {
    pub page: PageRequest,
    pub order: SortOrder,
}

impl PlainListRead {
    /// Refuses `include`/`counts` (400), checks the paging parameters and declares the
    /// budget.
    pub fn prepare(
        order: SortOrder,
        list: &ListParams,
        include: &IncludeParams,
        token: bool,
    ) -> Result<Self> {
        crate::api::users::refuse_include(include)?;
        let page = PageRequest::from_params(list)?;
        page::check_cursor(&order, &page)?;
        declare_budget(token, 0, page.count);
        Ok(PlainListRead { page, order })
    }

    /// The list body of a fetched page.
    pub fn respond<T>(&self, fetched: Fetched<T>, to_item: impl Fn(T) -> Item) -> Json<Value> {
        let (has_more, total) = (fetched.has_more, fetched.total);
        let items = fetched.rows.into_iter().map(to_item).collect();
        crate::api::page_body(items, has_more, total, &self.order)
    }
}

/// 201 Created with `Location: location` and the created resource (SPEC §3).
pub fn created(location: String, item: Item) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Value::Object(item)),
    )
        .into_response()
}

/// The answer of a PUT that links two rows (a follow, a favorite): 201 with `Location`
/// set to the PUT's own path when it created the link, else 200; the link either way.
pub fn linked(created_now: bool, location: String, item: Item) -> Response {
    if created_now {
        created(location, item)
    } else {
        (StatusCode::OK, Json(Value::Object(item))).into_response()
    }
}
