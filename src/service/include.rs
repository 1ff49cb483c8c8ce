//! Eager loading: `include` and `counts` without N+1 (SPEC §3 "Eager loading").
//!
//! The relations of every resource are described once, in [`RELATIONS`]: the parent, the
//! name, the [`Link`] that fetches the children and the parent field holding the key.
//! A request's `include` becomes a small tree of relations; each node of the tree is one
//! batched statement (`WHERE key IN (…)`) for all the parents of the page at once, with
//! `ROW_NUMBER() OVER (PARTITION BY key …)` capping to-many relations at `include_limit`
//! per parent. Each `counts` relation is one grouped `COUNT(*)`. So a page costs the same
//! number of statements whatever its size, and adding a relation is one table entry.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement,
    WindowStatement,
};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryTrait};
use serde_json::{Map, Value as Json};

use crate::api::extract::{IncludeParams, parse_bounded};
use crate::entity::{comment, post, profile, role, user, user_role};
use crate::error::{AppError, Result};
use crate::service::auth::Viewer;
use crate::service::page::SortOrder;
use crate::service::repr::{
    self, AssignerOut, CommentOut, Item, PostOut, ProfileOut, UserOut, order,
};

/// The resources that have relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    User,
    Post,
    Comment,
    Profile,
    Role,
}

/// How one relation's children are fetched, for many parents at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// `users WHERE id IN (…)`.
    UserById,
    /// `posts WHERE id IN (…)`.
    PostById,
    /// `profiles WHERE user_id IN (…)` (unique: at most one each).
    ProfileByUser,
    /// `posts WHERE author_id IN (…)`, newest first, capped per author.
    PostsByAuthor,
    /// `comments WHERE author_id IN (…)`, oldest first, capped per author.
    CommentsByAuthor,
    /// `comments WHERE post_id IN (…)`, oldest first, capped per post.
    CommentsByPost,
    /// `user_roles ⋈ roles WHERE user_id IN (…)`, as seen from the user.
    AssignmentsByUser,
    /// `user_roles ⋈ users WHERE role_id IN (…)`, as seen from the role.
    AssignmentsByRole,
}

/// One relation of one resource.
#[derive(Debug)]
pub struct Relation {
    pub parent: Resource,
    pub name: &'static str,
    pub link: Link,
    /// The field of the parent's JSON that holds the key the children are looked up by.
    pub parent_key: &'static str,
    /// Role data needs a token wherever it appears.
    pub needs_token: bool,
}

/// Every relation, written once.
pub const RELATIONS: &[Relation] = &[
    Relation {
        parent: Resource::User,
        name: "profile",
        link: Link::ProfileByUser,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::User,
        name: "posts",
        link: Link::PostsByAuthor,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::User,
        name: "comments",
        link: Link::CommentsByAuthor,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::User,
        name: "roles",
        link: Link::AssignmentsByUser,
        parent_key: "id",
        needs_token: true,
    },
    Relation {
        parent: Resource::Post,
        name: "author",
        link: Link::UserById,
        parent_key: "author_id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Post,
        name: "comments",
        link: Link::CommentsByPost,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Comment,
        name: "author",
        link: Link::UserById,
        parent_key: "author_id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Comment,
        name: "post",
        link: Link::PostById,
        parent_key: "post_id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Profile,
        name: "user",
        link: Link::UserById,
        parent_key: "user_id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Role,
        name: "users",
        link: Link::AssignmentsByRole,
        parent_key: "id",
        needs_token: true,
    },
];

/// The `include` paths SPEC §3 allows for each resource.
pub fn valid_paths(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::User => &[
            "profile",
            "posts",
            "posts.comments",
            "posts.comments.author",
            "comments",
            "comments.post",
            "roles",
        ],
        Resource::Post => &["author", "author.profile", "comments", "comments.author"],
        Resource::Comment => &["author", "post", "post.author"],
        Resource::Profile => &["user"],
        Resource::Role => &["users"],
    }
}

/// The relations that `counts` accepts for each resource.
pub fn countable(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::User => &["posts", "comments", "roles"],
        Resource::Post => &["comments"],
        Resource::Role => &["users"],
        Resource::Comment | Resource::Profile => &[],
    }
}

impl Link {
    /// The resource the children are, when they have relations of their own.
    fn child_resource(self) -> Option<Resource> {
        match self {
            Link::UserById => Some(Resource::User),
            Link::PostById | Link::PostsByAuthor => Some(Resource::Post),
            Link::ProfileByUser => Some(Resource::Profile),
            Link::CommentsByAuthor | Link::CommentsByPost => Some(Resource::Comment),
            Link::AssignmentsByUser | Link::AssignmentsByRole => None,
        }
    }

    fn is_many(self) -> bool {
        !matches!(self, Link::UserById | Link::PostById | Link::ProfileByUser)
    }

    /// The default order of the children, which is that of their own endpoint.
    fn order(self) -> Option<SortOrder> {
        match self {
            Link::PostsByAuthor => Some(order::posts()),
            Link::CommentsByAuthor | Link::CommentsByPost => Some(order::comments()),
            Link::AssignmentsByUser => Some(order::user_assignments()),
            Link::AssignmentsByRole => Some(order::role_assignments()),
            Link::UserById | Link::PostById | Link::ProfileByUser => None,
        }
    }

    /// The column holding the parent's key, for the `IN` list and `PARTITION BY`.
    fn key_column(self) -> (&'static str, &'static str) {
        match self {
            Link::UserById => ("users", "id"),
            Link::PostById => ("posts", "id"),
            Link::ProfileByUser => ("profiles", "user_id"),
            Link::PostsByAuthor => ("posts", "author_id"),
            Link::CommentsByAuthor => ("comments", "author_id"),
            Link::CommentsByPost => ("comments", "post_id"),
            Link::AssignmentsByUser => ("user_roles", "user_id"),
            Link::AssignmentsByRole => ("user_roles", "role_id"),
        }
    }
}

fn relation(resource: Resource, name: &str) -> Option<&'static Relation> {
    RELATIONS
        .iter()
        .find(|r| r.parent == resource && r.name == name)
}

/// One node of the include tree: a relation and the relations included below it.
#[derive(Debug)]
struct Node {
    relation: &'static Relation,
    children: Vec<Node>,
}

/// A request's `include`, `counts` and `include_limit`, parsed and checked.
#[derive(Debug)]
pub struct Expand {
    nodes: Vec<Node>,
    counts: Vec<&'static Relation>,
    per_parent: u64,
}

fn split_list(raw: Option<&str>) -> Vec<&str> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

impl Expand {
    /// Parses the parameters for `resource`: 401 when role data is asked without a token,
    /// 400 for an unknown path or relation, naming the valid ones.
    pub fn parse(
        resource: Resource,
        params: &IncludeParams,
        viewer: Option<&Viewer>,
    ) -> Result<Self> {
        let paths = split_list(params.include.as_deref());
        let counts = split_list(params.counts.as_deref());
        if paths.len() > 32 || counts.len() > 8 {
            return Err(AppError::bad_request(
                "invalid_include",
                "Too many include or counts entries.",
            ));
        }
        let needs_token = paths
            .iter()
            .filter(|p| valid_paths(resource).contains(p))
            .flat_map(|p| p.split('.'))
            .chain(
                counts
                    .iter()
                    .copied()
                    .filter(|c| countable(resource).contains(c)),
            )
            .any(|name| {
                RELATIONS.iter().any(|r| {
                    r.name == name
                        && r.needs_token
                        && (r.parent == resource || name == "roles" || name == "users")
                })
            });
        if needs_token && viewer.is_none() {
            return Err(AppError::unauthorized(
                "missing_token",
                "Role data needs a bearer token.",
            ));
        }
        let mut nodes: Vec<Node> = Vec::new();
        for path in &paths {
            if !valid_paths(resource).contains(path) {
                return Err(AppError::bad_request(
                    "invalid_include",
                    format!(
                        "Unknown include path `{}`; valid paths: {}.",
                        path.chars().take(64).collect::<String>(),
                        valid_paths(resource).join(", ")
                    ),
                ));
            }
            let mut level = &mut nodes;
            let mut at = resource;
            for name in path.split('.') {
                let rel = relation(at, name).ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("path {path} has no relation {name}"))
                })?;
                let index = match level.iter().position(|n| std::ptr::eq(n.relation, rel)) {
                    Some(i) => i,
                    None => {
                        level.push(Node {
                            relation: rel,
                            children: Vec::new(),
                        });
                        level.len() - 1
                    }
                };
                at = rel.link.child_resource().unwrap_or(at);
                level = &mut level[index].children;
            }
        }
        let mut count_rels = Vec::new();
        for name in &counts {
            let rel = countable(resource)
                .contains(name)
                .then(|| relation(resource, name))
                .flatten()
                .ok_or_else(|| {
                    let valid = countable(resource);
                    AppError::bad_request(
                        "invalid_counts",
                        format!(
                            "Unknown counts relation `{}`; valid: {}.",
                            name.chars().take(64).collect::<String>(),
                            if valid.is_empty() {
                                "none".to_string()
                            } else {
                                valid.join(", ")
                            }
                        ),
                    )
                })?;
            if !count_rels.iter().any(|r: &&Relation| std::ptr::eq(*r, rel)) {
                count_rels.push(rel);
            }
        }
        let per_parent = parse_bounded("include_limit", params.include_limit.as_deref(), 20, 100)?;
        Ok(Expand {
            nodes,
            counts: count_rels,
            per_parent,
        })
    }

    /// The statements this expansion runs: one per distinct relation in the tree, one per
    /// counts relation.
    pub fn statements(&self) -> usize {
        fn size(nodes: &[Node]) -> usize {
            nodes.iter().map(|n| 1 + size(&n.children)).sum()
        }
        size(&self.nodes) + self.counts.len()
    }

    /// Attaches the included relations and counts to `items`, in place.
    pub async fn apply<C: ConnectionTrait>(
        &self,
        db: &C,
        viewer: Option<&Viewer>,
        items: &mut [Item],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        for rel in &self.counts {
            attach_counts(db, rel, items).await?;
        }
        load_nodes(db, viewer, &self.nodes, self.per_parent, items).await
    }

    /// [`Expand::apply`] for a single resource (the GET of one row).
    pub async fn apply_one<C: ConnectionTrait>(
        &self,
        db: &C,
        viewer: Option<&Viewer>,
        item: Item,
    ) -> Result<Item> {
        let mut items = [item];
        self.apply(db, viewer, &mut items).await?;
        let [item] = items;
        Ok(item)
    }
}

/// The integer value of `field` in an item.
fn key_of(item: &Item, field: &str) -> Option<i64> {
    item.get(field).and_then(Json::as_i64)
}

fn distinct_keys(items: &[Item], field: &str) -> Vec<i64> {
    let mut keys: Vec<i64> = items.iter().filter_map(|i| key_of(i, field)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// `table.column IN (…)` for any number of keys in one statement: a plain list for the
/// usual page, and past that a single JSON-array parameter unpacked by the database, so
/// that neither the parameter limit nor chunking ever changes the statement count.
fn key_in(table: &'static str, column: &'static str, keys: &[i64], backend: DbBackend) -> Expr {
    if keys.len() <= 1000 {
        return Expr::col((Alias::new(table), Alias::new(column))).is_in(keys.iter().copied());
    }
    let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_string());
    let sql = match backend {
        DbBackend::Postgres => format!(
            "\"{table}\".\"{column}\" IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)"
        ),
        _ => format!("\"{table}\".\"{column}\" IN (SELECT value FROM json_each(?))"),
    };
    // sea-query binds custom SQL through each backend's own placeholder: `$n` on
    // PostgreSQL, `?` on SQLite (a `?` is left as is on PostgreSQL).
    Expr::cust_with_values(sql, [json])
}

/// Wraps `base` so that it returns at most `n` rows per key, in `order` within each key.
fn top_n_per_key(
    mut base: SelectStatement,
    key: (&'static str, &'static str),
    order: &SortOrder,
    n: u64,
) -> SelectStatement {
    let mut window = WindowStatement::partition_by((Alias::new(key.0), Alias::new(key.1)));
    for k in &order.0 {
        window.order_by_expr(
            k.expr.clone(),
            if k.desc { Order::Desc } else { Order::Asc },
        );
    }
    base.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("rn"));
    Query::select()
        .column(Asterisk)
        .from_subquery(base, Alias::new("t"))
        .and_where(Expr::col(Alias::new("rn")).lte(n as i64))
        .order_by(Alias::new("rn"), Order::Asc)
        .to_owned()
}

/// Children of one relation for all parent keys, each as (parent key, item), grouped in
/// the relation's order.
async fn fetch_children<C: ConnectionTrait>(
    db: &C,
    viewer: Option<&Viewer>,
    link: Link,
    keys: &[i64],
    cap: u64,
) -> Result<Vec<(i64, Item)>> {
    let backend = db.get_database_backend();
    let (table, column) = link.key_column();
    let filter = key_in(table, column, keys, backend);
    let windowed = |base: SelectStatement| match link.order() {
        Some(order) => top_n_per_key(base, (table, column), &order, cap),
        None => base,
    };
    Ok(match link {
        Link::UserById => {
            let stmt = user::Entity::find().filter(filter).into_query();
            user::Model::find_by_statement(backend.build(&stmt))
                .all(db)
                .await?
                .iter()
                .map(|m| (m.id, repr::item(&UserOut::new(m, viewer))))
                .collect()
        }
        Link::PostById | Link::PostsByAuthor => {
            let stmt = windowed(post::Entity::find().filter(filter).into_query());
            post::Model::find_by_statement(backend.build(&stmt))
                .all(db)
                .await?
                .iter()
                .map(|m| {
                    (
                        if link == Link::PostById {
                            m.id
                        } else {
                            m.author_id
                        },
                        repr::item(&PostOut::from(m)),
                    )
                })
                .collect()
        }
        Link::ProfileByUser => {
            let stmt = profile::Entity::find().filter(filter).into_query();
            profile::Model::find_by_statement(backend.build(&stmt))
                .all(db)
                .await?
                .iter()
                .map(|m| (m.user_id, repr::item(&ProfileOut::from(m))))
                .collect()
        }
        Link::CommentsByAuthor | Link::CommentsByPost => {
            let stmt = windowed(comment::Entity::find().filter(filter).into_query());
            comment::Model::find_by_statement(backend.build(&stmt))
                .all(db)
                .await?
                .iter()
                .map(|m| {
                    let key = if link == Link::CommentsByAuthor {
                        m.author_id
                    } else {
                        m.post_id
                    };
                    (key, repr::item(&CommentOut::from(m)))
                })
                .collect()
        }
        Link::AssignmentsByUser => {
            let mut base = assignments_of_users();
            base.and_where(filter);
            UserAssignmentRow::find_by_statement(backend.build(&windowed(base)))
                .all(db)
                .await?
                .into_iter()
                .map(|row| (row.link.user_id, row.into_item()))
                .collect()
        }
        Link::AssignmentsByRole => {
            let mut base = assignments_of_roles();
            base.and_where(filter);
            RoleAssignmentRow::find_by_statement(backend.build(&windowed(base)))
                .all(db)
                .await?
                .into_iter()
                .map(|row| (row.link.role_id, row.into_item(viewer)))
                .collect()
        }
    })
}

fn load_nodes<'a, C: ConnectionTrait + Sync>(
    db: &'a C,
    viewer: Option<&'a Viewer>,
    nodes: &'a [Node],
    per_parent: u64,
    items: &'a mut [Item],
) -> futures::future::BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        for node in nodes {
            let rel = node.relation;
            let keys = distinct_keys(items, rel.parent_key);
            let many = rel.link.is_many();
            // One more than shown tells whether the embedded list was cut.
            let cap = per_parent + 1;
            let mut children = if keys.is_empty() {
                Vec::new()
            } else {
                fetch_children(db, viewer, rel.link, &keys, cap).await?
            };
            if !node.children.is_empty() {
                let mut child_items: Vec<Item> = children
                    .iter_mut()
                    .map(|(_, i)| std::mem::take(i))
                    .collect();
                load_nodes(db, viewer, &node.children, per_parent, &mut child_items).await?;
                for ((_, slot), item) in children.iter_mut().zip(child_items) {
                    *slot = item;
                }
            }
            let mut by_key: HashMap<i64, Vec<Item>> = HashMap::new();
            for (key, item) in children {
                by_key.entry(key).or_default().push(item);
            }
            // The last parent asking for a key takes its children; only the parents before
            // it (several posts by one author, say) get copies.
            let mut askers: HashMap<i64, usize> = HashMap::new();
            for item in items.iter() {
                if let Some(k) = key_of(item, rel.parent_key) {
                    *askers.entry(k).or_default() += 1;
                }
            }
            for item in items.iter_mut() {
                let found = key_of(item, rel.parent_key).and_then(|k| {
                    let left = askers.get_mut(&k)?;
                    *left -= 1;
                    if *left == 0 {
                        by_key.remove(&k)
                    } else if many {
                        by_key.get(&k).cloned()
                    } else {
                        by_key
                            .get(&k)
                            .and_then(|v| v.first().cloned())
                            .map(|one| vec![one])
                    }
                });
                if many {
                    let mut list = found.unwrap_or_default();
                    let cut = list.len() as u64 > per_parent;
                    list.truncate(per_parent as usize);
                    let next = match (cut, list.last(), rel.link.order()) {
                        (true, Some(last), Some(order)) => Json::String(order.cursor_after(last)),
                        _ => Json::Null,
                    };
                    item.insert(
                        rel.name.to_string(),
                        Json::Array(list.into_iter().map(Json::Object).collect()),
                    );
                    item.insert(format!("{}_next_cursor", rel.name), next);
                } else {
                    let one = found
                        .and_then(|v| v.into_iter().next())
                        .map(Json::Object)
                        .unwrap_or(Json::Null);
                    item.insert(rel.name.to_string(), one);
                }
            }
        }
        Ok(())
    })
}

#[derive(FromQueryResult)]
struct KeyCount {
    key: i64,
    n: i64,
}

async fn attach_counts<C: ConnectionTrait>(
    db: &C,
    rel: &Relation,
    items: &mut [Item],
) -> Result<()> {
    let keys = distinct_keys(items, rel.parent_key);
    let (table, column) = rel.link.key_column();
    let col = Expr::col((Alias::new(table), Alias::new(column)));
    let backend = db.get_database_backend();
    let stmt = Query::select()
        .expr_as(col.clone(), Alias::new("key"))
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from(Alias::new(table))
        .and_where(key_in(table, column, &keys, backend))
        .group_by_col((Alias::new(table), Alias::new(column)))
        .to_owned();
    let counts: BTreeMap<i64, i64> = KeyCount::find_by_statement(backend.build(&stmt))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.key, c.n))
        .collect();
    for item in items.iter_mut() {
        let n = key_of(item, rel.parent_key)
            .and_then(|k| counts.get(&k))
            .copied()
            .unwrap_or(0);
        let entry = item
            .entry("counts")
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(map) = entry {
            map.insert(rel.name.to_string(), Json::from(n));
        }
    }
    Ok(())
}

/// `user_roles` rows with their role and the assigner's username, as seen from users.
pub fn assignments_of_users() -> SelectStatement {
    Query::select()
        .columns([
            (user_role::Entity, user_role::Column::UserId),
            (user_role::Entity, user_role::Column::RoleId),
            (user_role::Entity, user_role::Column::AssignedAt),
            (user_role::Entity, user_role::Column::AssignedBy),
        ])
        .expr_as(
            Expr::col((role::Entity, role::Column::Name)),
            Alias::new("role_name"),
        )
        .expr_as(
            Expr::col((role::Entity, role::Column::Description)),
            Alias::new("role_description"),
        )
        .expr_as(
            Expr::col((role::Entity, role::Column::CreatedAt)),
            Alias::new("role_created_at"),
        )
        .expr_as(
            Expr::col((Alias::new("assigner"), user::Column::Username)),
            Alias::new("assigner_username"),
        )
        .from(user_role::Entity)
        .inner_join(
            role::Entity,
            Expr::col((role::Entity, role::Column::Id))
                .equals((user_role::Entity, user_role::Column::RoleId)),
        )
        .join_as(
            JoinType::LeftJoin,
            user::Entity,
            Alias::new("assigner"),
            Expr::col((Alias::new("assigner"), user::Column::Id))
                .equals((user_role::Entity, user_role::Column::AssignedBy)),
        )
        .to_owned()
}

/// `user_roles` rows with the user holding them and the assigner's username.
pub fn assignments_of_roles() -> SelectStatement {
    Query::select()
        .columns([
            (user_role::Entity, user_role::Column::UserId),
            (user_role::Entity, user_role::Column::RoleId),
            (user_role::Entity, user_role::Column::AssignedAt),
            (user_role::Entity, user_role::Column::AssignedBy),
        ])
        .expr_as(
            Expr::col((user::Entity, user::Column::Username)),
            Alias::new("user_username"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::Email)),
            Alias::new("user_email"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::PasswordHash)),
            Alias::new("user_password_hash"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::DisplayName)),
            Alias::new("user_display_name"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::IsActive)),
            Alias::new("user_is_active"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::CreatedAt)),
            Alias::new("user_created_at"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::UpdatedAt)),
            Alias::new("user_updated_at"),
        )
        .expr_as(
            Expr::col((Alias::new("assigner"), user::Column::Username)),
            Alias::new("assigner_username"),
        )
        .from(user_role::Entity)
        .inner_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((user_role::Entity, user_role::Column::UserId)),
        )
        .join_as(
            JoinType::LeftJoin,
            user::Entity,
            Alias::new("assigner"),
            Expr::col((Alias::new("assigner"), user::Column::Id))
                .equals((user_role::Entity, user_role::Column::AssignedBy)),
        )
        .to_owned()
}

fn assigner(link: &user_role::Model, username: Option<String>) -> Option<AssignerOut> {
    match (link.assigned_by, username) {
        (Some(id), Some(username)) => Some(AssignerOut { id, username }),
        _ => None,
    }
}

/// One row of [`assignments_of_users`].
pub struct UserAssignmentRow {
    pub link: user_role::Model,
    pub role: role::Model,
    pub assigner_username: Option<String>,
}

impl FromQueryResult for UserAssignmentRow {
    fn from_query_result(
        res: &sea_orm::QueryResult,
        pre: &str,
    ) -> std::result::Result<Self, sea_orm::DbErr> {
        let link = user_role::Model {
            user_id: res.try_get(pre, "user_id")?,
            role_id: res.try_get(pre, "role_id")?,
            assigned_at: res.try_get(pre, "assigned_at")?,
            assigned_by: res.try_get(pre, "assigned_by")?,
        };
        let role = role::Model {
            id: link.role_id,
            name: res.try_get(pre, "role_name")?,
            description: res.try_get(pre, "role_description")?,
            created_at: res.try_get(pre, "role_created_at")?,
        };
        Ok(UserAssignmentRow {
            link,
            role,
            assigner_username: res.try_get(pre, "assigner_username")?,
        })
    }
}

impl UserAssignmentRow {
    pub fn into_item(self) -> Item {
        let assigned_by = assigner(&self.link, self.assigner_username);
        repr::item(&repr::user_assignment(&self.link, &self.role, assigned_by))
    }
}

/// One row of [`assignments_of_roles`].
pub struct RoleAssignmentRow {
    pub link: user_role::Model,
    pub user: user::Model,
    pub assigner_username: Option<String>,
}

impl FromQueryResult for RoleAssignmentRow {
    fn from_query_result(
        res: &sea_orm::QueryResult,
        pre: &str,
    ) -> std::result::Result<Self, sea_orm::DbErr> {
        let link = user_role::Model {
            user_id: res.try_get(pre, "user_id")?,
            role_id: res.try_get(pre, "role_id")?,
            assigned_at: res.try_get(pre, "assigned_at")?,
            assigned_by: res.try_get(pre, "assigned_by")?,
        };
        let user = user::Model {
            id: link.user_id,
            username: res.try_get(pre, "user_username")?,
            email: res.try_get(pre, "user_email")?,
            password_hash: res.try_get(pre, "user_password_hash")?,
            display_name: res.try_get(pre, "user_display_name")?,
            is_active: res.try_get(pre, "user_is_active")?,
            created_at: res.try_get(pre, "user_created_at")?,
            updated_at: res.try_get(pre, "user_updated_at")?,
        };
        Ok(RoleAssignmentRow {
            link,
            user,
            assigner_username: res.try_get(pre, "assigner_username")?,
        })
    }
}

impl RoleAssignmentRow {
    pub fn into_item(self, viewer: Option<&Viewer>) -> Item {
        let assigned_by = assigner(&self.link, self.assigner_username);
        repr::item(&repr::role_assignment(
            &self.link,
            &self.user,
            assigned_by,
            viewer,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_key_list_is_bound_as_one_parameter_on_both_backends() {
        let keys: Vec<i64> = (1..=1500).collect();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let stmt = Query::select()
                .column(Asterisk)
                .from(Alias::new("posts"))
                .and_where(key_in("posts", "id", &keys, backend))
                .to_owned();
            let built = backend.build(&stmt);
            // Only a substituted placeholder binds the value.
            assert_eq!(
                built.values.map(|v| v.0.len()),
                Some(1),
                "{backend:?}: {}",
                built.sql
            );
        }
    }
}
