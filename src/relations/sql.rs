//! The statements of the include loader, derived from the declarations of
//! [`super::declared`] for either backend: one batched `SELECT` per relation of the tree
//! for all parents at once (`WHERE key IN (…)`, `ROW_NUMBER() OVER (PARTITION BY key …)`
//! capping to-many relations per parent), one grouped `COUNT(*)` per counted relation;
//! and the rows they return. Every table and column comes from the entities: the
//! relation's `RelationDef`s for the joins and keys, the entity's `Column`s for what is
//! selected.

use std::sync::LazyLock;

use sea_orm::sea_query::{
    Alias, Asterisk, DynIden, Expr, ExprTrait, Func, IntoIden, JoinType, Order, Query,
    SelectStatement, Value, WindowStatement,
};
use sea_orm::{DbBackend, DbErr, EntityTrait, Iterable, RelationTrait};

use crate::entity::{
    comment, favorite, follow, post, post_tag, profile, role, tag, user, user_role,
};
use crate::error::{AppError, Result};
use crate::relations::Find;
use crate::relations::declared::{
    Hops, Mark, Marks, Relation, Resource, Shape, column_of, relation, table_of,
};
use crate::store::page::SortOrder;
use crate::store::read::{Built, Decoder, Fields, FromRow, Linked, Row, ShapeCache};

/// A follow and the user on its other side (the follower, or the one followed).
pub type FollowRow = Linked<follow::Model, user::Model>;
/// A favorite and the user who made it.
pub type PostFavoriteRow = Linked<favorite::Model, user::Model>;
/// A favorite and the post it marks.
pub type UserFavoriteRow = Linked<favorite::Model, post::Model>;

/// `table.column IN (…)` for any number of keys in one statement: a plain list for the
/// usual page, and past that a single JSON-array parameter unpacked by the database, so
/// that neither the parameter limit nor chunking ever changes the statement count.
pub fn key_in(table: &DynIden, column: &DynIden, keys: &[i64], backend: DbBackend) -> Expr {
    if keys.len() <= 1000 {
        return Expr::col((table.clone(), column.clone())).is_in(keys.iter().copied());
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

/// Wraps `base` so that it returns at most `n` rows per key, in `order` within each key,
/// and at most `rows` in all when given: every key's first row before any key's second,
/// so that a statement cut by `rows` still shows how many rows there were at least (the
/// response ceiling, SPEC §6).
fn top_n_per_key(
    mut base: SelectStatement,
    key: (DynIden, DynIden),
    order: &SortOrder,
    n: u64,
    rows: Option<u64>,
) -> SelectStatement {
    let mut window = WindowStatement::partition_by(key);
    for k in order.keys() {
        window.order_by_expr(
            k.expr.clone(),
            if k.desc { Order::Desc } else { Order::Asc },
        );
    }
    base.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("rn"));
    let mut top = Query::select()
        .column(Asterisk)
        .from_subquery(base, Alias::new("t"))
        .and_where(Expr::col(Alias::new("rn")).lte(n as i64))
        .order_by(Alias::new("rn"), Order::Asc)
        .to_owned();
    if let Some(rows) = rows {
        top.limit(rows);
    }
    top
}

/// The parents a [`Batch`] loads children for: their keys, or the single row a
/// [`Find`] names, whose key the statement selects itself (`key = (SELECT id FROM
/// posts WHERE slug = …)`, or `key = …` when the row is found by that key), so that the
/// children need not wait for the row: both go in one flight.
#[derive(Clone, Copy)]
pub enum Parents<'k> {
    Keys(&'k [i64]),
    Found(&'k Find),
}

impl Parents<'_> {
    /// How many parents there are at most.
    pub fn len(&self) -> usize {
        match self {
            Parents::Keys(keys) => keys.len(),
            Parents::Found(_) => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What a statement's shape holds of its parents: how many keys, or the column the
    /// row is found by.
    fn shape(&self) -> (usize, Option<(Resource, &'static str)>) {
        match self {
            Parents::Keys(keys) => (keys.len(), None),
            Parents::Found(find) => (1, Some((find.resource, find.by))),
        }
    }

    /// The values the condition binds.
    fn values(&self) -> Vec<Value> {
        match self {
            Parents::Keys(keys) => key_values(keys, []),
            Parents::Found(find) => vec![find.value.clone()],
        }
    }

    /// `table.column` among the parents' `parent_field`.
    fn condition(
        &self,
        (table, column): (&DynIden, &DynIden),
        parent_field: &str,
        backend: DbBackend,
    ) -> Expr {
        match self {
            Parents::Keys(keys) => key_in(table, column, keys, backend),
            // `= ?` when the row is found by the very column the children are keyed
            // by; else `= (SELECT …)`, a scalar subquery, since `find` names at most one
            // row. Not `IN (SELECT …)`: SQLite builds that list in an ephemeral table
            // per run, a cost the single value does not need.
            Parents::Found(find) if find.by == parent_field => {
                Expr::col((table.clone(), column.clone())).eq(find.value.clone())
            }
            Parents::Found(find) => {
                let root = find.resource.table();
                let key = Query::select()
                    .column((root.clone(), Alias::new(parent_field)))
                    .from(root)
                    .and_where(found(find))
                    .to_owned();
                Expr::col((table.clone(), column.clone()))
                    .eq(Expr::SubQuery(None, Box::new(key.into())))
            }
        }
    }
}

/// `resource.by = value`: the condition that finds the row of `find`.
fn found(find: &Find) -> Expr {
    Expr::col((find.resource.table(), Alias::new(find.by))).eq(find.value.clone())
}

/// Key lists up to this long have their statements' text kept per length (a page and
/// its first level of includes never pass it: `limit` and `include_limit` are at most
/// 100); longer ones are built each time, so the texts kept stay under about 2 MB.
const KEPT_KEY_LISTS: usize = 128;

/// A relation, by its parent and name.
type RelationId = (Resource, &'static str);

/// Texts of [`children`] by relation, relation joined to it, the marks each carries,
/// number of keys (or the column their single parent is found by), and whether the
/// statement has a row limit ([`Batch::row_limit`]).
type ChildrenShape = (
    RelationId,
    Option<RelationId>,
    (Option<Mark>, Option<Mark>),
    (usize, Option<(Resource, &'static str)>),
    bool,
);
static CHILDREN: LazyLock<ShapeCache<ChildrenShape>> = LazyLock::new(ShapeCache::default);
/// Texts of [`counts`] by relation and number of keys.
static COUNTS: LazyLock<ShapeCache<(RelationId, usize)>> = LazyLock::new(ShapeCache::default);

/// The values of a statement on `keys` followed by `then`.
fn key_values(keys: &[i64], then: impl IntoIterator<Item = Value>) -> Vec<Value> {
    keys.iter()
        .map(|&k| Value::BigInt(Some(k)))
        .chain(then)
        .collect()
}

/// One statement's worth of children: `rel`'s rows (and, joined, each one's `joined`
/// child) for all of `keys`, for a capped relation at most `cap` per key and `rows` in
/// all, grouped in the relation's order. Each row is the parent's key, then the viewer's
/// mark on the child and on the joined child (when `viewer` asks for them and they are
/// a post or a user, [`Mark::of_shape`]), then the [`Shape`]'s columns.
#[derive(Clone, Copy)]
pub struct Batch<'k> {
    pub rel: &'static Relation,
    pub joined: Option<&'static Relation>,
    pub keys: Parents<'k>,
    pub cap: u64,
    pub rows: u64,
    /// The caller whose marks the rows carry, and which.
    pub viewer: Option<(i64, Marks)>,
}

/// The marks the rows of `rel` and of `joined` carry for `viewer`.
pub fn marks_of(
    rel: &'static Relation,
    joined: Option<&'static Relation>,
    viewer: Option<(i64, Marks)>,
) -> (Option<Mark>, Option<Mark>) {
    let Some((_, marks)) = viewer else {
        return (None, None);
    };
    (
        Mark::of_shape(rel.shape, marks),
        joined.and_then(|j| Mark::of_shape(j.shape, marks)),
    )
}

impl Batch<'_> {
    /// The marks the rows carry.
    fn marks(&self) -> (Option<Mark>, Option<Mark>) {
        marks_of(self.rel, self.joined, self.viewer)
    }

    /// The row limit of a capped relation's statement, when it can cut anything: the
    /// cap per key already bounds the rows to `keys × cap`, and when that is within
    /// `rows` (every request that is not near the response ceiling) the statement goes
    /// without `LIMIT`. The rows are the same; on SQLite an `ORDER BY` with a `LIMIT`
    /// sorts in an ephemeral b-tree, opened and its pages zeroed for every run, where one
    /// without sorts in memory (bench/README.md, "Profile of the common path").
    fn row_limit(&self) -> Option<u64> {
        let most = (self.keys.len() as u64).saturating_mul(self.cap);
        (self.rel.order.is_some() && most > self.rows).then_some(self.rows)
    }

    /// The statement, built, its text reused from earlier requests with as many keys.
    pub fn built(&self, backend: DbBackend) -> Built {
        let build = || self.statement(backend);
        if self.keys.len() > KEPT_KEY_LISTS {
            return Built::now(backend, &build());
        }
        // A found parent's value binds where keys would.
        // A capped relation's statement ends with its cap per key, and its row limit
        // when it has one.
        let row_limit = self.row_limit();
        let then = self
            .rel
            .order
            .map(|_| Value::BigInt(Some(self.cap as i64)))
            .into_iter()
            .chain(row_limit.map(|rows| Value::BigUnsigned(Some(rows))));
        let marks = self.marks();
        let shape = (
            self.rel.id(),
            self.joined.map(Relation::id),
            marks,
            self.keys.shape(),
            row_limit.is_some(),
        );
        // The marks' `EXISTS` come first in the select list, so their values bind first.
        let viewer_values = [marks.0, marks.1]
            .into_iter()
            .flatten()
            .filter_map(|_| self.viewer.map(|(id, _)| Value::BigInt(Some(id))));
        let values: Vec<Value> = viewer_values
            .chain(self.keys.values())
            .chain(then)
            .collect();
        CHILDREN.get(backend, shape, values, build)
    }

    /// The statement.
    pub fn statement(&self, backend: DbBackend) -> SelectStatement {
        let Batch {
            rel,
            joined,
            keys,
            cap,
            viewer,
            ..
        } = *self;
        let at = rel.keys();
        let key = Expr::col((at.table.clone(), at.column.clone()));
        let mut stmt = Query::select();
        stmt.expr_as(key, Alias::new("key"));
        let (own_mark, joined_mark) = self.marks();
        for (mark, alias) in [(own_mark, "marked"), (joined_mark, "joined_marked")] {
            if let (Some(mark), Some((viewer_id, _))) = (mark, viewer) {
                stmt.expr_as(mark.exists(viewer_id), Alias::new(alias));
            }
        }
        select_rows(&mut stmt, rel);
        if let Some(child) = joined {
            let def = child.first();
            stmt.left_join(table_of(&def.to_tbl), def.clone());
            select_shape(&mut stmt, child.shape);
        }
        stmt.and_where(keys.condition((&at.table, &at.column), &at.parent_field, backend));
        if rel.shape == Shape::TagName {
            // A post's tags in the author's order.
            stmt.order_by((at.table.clone(), at.column.clone()), Order::Asc)
                .order_by((post_tag::Entity, post_tag::Column::Position), Order::Asc);
        }
        match rel.order {
            Some(order) => top_n_per_key(
                stmt,
                (at.table.clone(), at.column.clone()),
                &order(),
                cap,
                self.row_limit(),
            ),
            None => stmt,
        }
    }
}

/// [`counts`], built, its text reused from earlier requests with as many keys.
pub fn counts_built(rel: &'static Relation, keys: &[i64], backend: DbBackend) -> Built {
    let build = || counts(rel, keys, backend);
    if keys.len() > KEPT_KEY_LISTS {
        return Built::now(backend, &build());
    }
    COUNTS.get(backend, (rel.id(), keys.len()), key_values(keys, []), build)
}

/// Whether `child` can come in the statement of `parent` by a `LEFT JOIN`: both to-one
/// and straight to an entity's rows (a post's author and the author's profile), so that
/// the pair costs one statement, not two.
pub fn joinable(parent: &'static Relation, child: &'static Relation) -> bool {
    straight(parent) && straight(child) && child.keys().table != parent.keys().table
}

/// Whether `rel` is to-one and straight to an entity's rows, so that a `LEFT JOIN` on
/// its entity relation brings its child, or nothing, without repeating a row.
fn straight(rel: &'static Relation) -> bool {
    matches!(rel.hops, Hops::Direct(_)) && !rel.is_many() && width(rel.shape).is_some()
}

/// Whether `rel`, and `child` below it, can come in the statement of one row of `rel`'s
/// parent ([`One`]) by `LEFT JOIN`s, beside the tables in `used` (each table once, so
/// that every column and every mark's `EXISTS` names its row unambiguously).
pub fn joinable_to_one(
    rel: &'static Relation,
    child: Option<&'static Relation>,
    used: &[&'static Relation],
) -> bool {
    let table = |r: &'static Relation| r.keys().table.to_string();
    let mut tables = vec![rel.parent.table().to_string()];
    tables.extend(used.iter().map(|&r| table(r)));
    let mut fits = |r: &'static Relation| {
        let fresh = !tables.contains(&table(r));
        tables.push(table(r));
        straight(r) && fresh
    };
    fits(rel) && child.is_none_or(fits)
}

/// Texts of [`One`] by resource, the column that finds it, the relations joined and
/// counted (as bit sets of their places in `RELATIONS`) and the marks asked.
type OneShape = (Resource, &'static str, u32, u32, Option<Marks>);
static ONE: LazyLock<ShapeCache<OneShape>> = LazyLock::new(ShapeCache::default);

/// The statement of a single item found by one of its columns (its id, a post's slug),
/// with what can come in the same row: its to-one relations by `LEFT JOIN`s, each with
/// its own to-one child (a post's `author` and the author's `profile`), the viewer's
/// marks on it and on them as `EXISTS` columns ([`Mark::exists`]), and its counted
/// relations as `(SELECT COUNT(*) …)` columns. So one item and everything to-one about
/// it cost one statement: SQLAlchemy's `lazy="joined"`. Each row is the item's columns,
/// then each joined relation's and its child's, then the marks, then the counts.
pub struct One<'a> {
    pub find: &'a Find,
    /// Each joined relation of the item, and the relation joined below it.
    pub joined: &'a [(&'static Relation, Option<&'static Relation>)],
    pub counts: &'a [&'static Relation],
    /// The caller whose marks the row carries, and which.
    pub viewer: Option<(i64, Marks)>,
}

impl One<'_> {
    /// The item's shape, or the internal error of a resource that is no one entity.
    fn shape(&self) -> Result<Shape> {
        Shape::of(self.find.resource).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "{:?} is no single entity's rows",
                self.find.resource
            ))
        })
    }

    /// The mark each object of the row carries, in the order of the row's objects: the
    /// item, then each joined relation's child and the child joined below it.
    fn marks(&self, shape: Shape) -> Vec<Option<Mark>> {
        let Some((_, marks)) = self.viewer else {
            return vec![None; 1 + 2 * self.joined.len()];
        };
        let mark = |shape| Mark::of_shape(shape, marks);
        std::iter::once(mark(shape))
            .chain(
                self.joined
                    .iter()
                    .flat_map(|(rel, child)| [mark(rel.shape), child.and_then(|c| mark(c.shape))]),
            )
            .collect()
    }

    /// The statement, built, its text reused from earlier requests of the same shape.
    pub fn built(&self, backend: DbBackend) -> Result<Built> {
        let shape = self.shape()?;
        let joined = bits(
            self.joined
                .iter()
                .flat_map(|(r, c)| [Some(*r), *c])
                .flatten(),
        );
        let counts = bits(self.counts.iter().copied());
        let key = (
            self.find.resource,
            self.find.by,
            joined,
            counts,
            self.viewer.map(|(_, marks)| marks),
        );
        // The marks' `EXISTS` come first in the statement, then the value found by, then
        // the limit.
        let viewer_values = self
            .marks(shape)
            .into_iter()
            .flatten()
            .filter_map(|_| self.viewer.map(|(id, _)| Value::BigInt(Some(id))));
        let values = viewer_values
            .chain([self.find.value.clone(), Value::BigUnsigned(Some(1))])
            .collect();
        Ok(ONE.get(backend, key, values, || self.statement(shape)))
    }

    /// The statement.
    pub fn statement(&self, shape: Shape) -> SelectStatement {
        let table = self.find.resource.table();
        let mut stmt = Query::select();
        stmt.from(table.clone());
        select_shape(&mut stmt, shape);
        for (rel, child) in self.joined {
            for rel in std::iter::once(*rel).chain(*child) {
                let def = rel.first();
                stmt.left_join(table_of(&def.to_tbl), def.clone());
                select_shape(&mut stmt, rel.shape);
            }
        }
        if let Some((viewer_id, _)) = self.viewer {
            for mark in self.marks(shape).into_iter().flatten() {
                stmt.expr(mark.exists(viewer_id));
            }
        }
        for rel in self.counts {
            let (at, from) = (rel.keys(), rel.first());
            stmt.expr(
                Query::select()
                    .expr(Func::count(Expr::col(Asterisk)))
                    .from(at.table.clone())
                    .and_where(
                        Expr::col((at.table.clone(), at.column.clone()))
                            .equals((table_of(&from.from_tbl), column_of(&from.from_col))),
                    )
                    .to_owned(),
            );
        }
        stmt.and_where(found(self.find)).limit(1);
        stmt
    }
}

/// The places of `rels` in `RELATIONS`, as a bit set (a shape's key).
fn bits(rels: impl Iterator<Item = &'static Relation>) -> u32 {
    rels.fold(0, |bits, rel| bits | 1 << rel.index())
}

/// A child of a [`OneRow`] and the viewer's mark on it, when the row carried one.
pub type Marked = (ChildRow, Option<(Mark, bool)>);

/// One row of [`One`]: the item, each joined relation's child and the child joined
/// below it (absent where the `LEFT JOIN` found nothing), the item's mark and its counts
/// in the order of [`One::counts`].
pub struct OneRow<M> {
    pub row: M,
    pub mark: Option<(Mark, bool)>,
    pub joined: Vec<(Option<Marked>, Option<Marked>)>,
    pub counts: Vec<i64>,
}

/// Decodes the rows of [`One`] into the item's model `M`.
pub struct OneLoad<'a, M> {
    pub one: &'a One<'a>,
    pub model: std::marker::PhantomData<M>,
}

impl<M: FromRow> Decoder for OneLoad<'_, M> {
    type Out = OneRow<M>;
    fn decode<R: Row>(&self, row: &R) -> std::result::Result<OneRow<M>, DbErr> {
        let one = self.one;
        let shape = one.shape().map_err(|e| DbErr::Custom(e.to_string()))?;
        let item = M::from_row(row)?;
        let mut at = width(shape).unwrap_or(0);
        // Each joined child, where its key column is not null, then its columns' width.
        let mut children = Vec::new();
        for rel in one.joined.iter().flat_map(|(r, c)| [Some(*r), *c]) {
            let child = match rel {
                Some(rel) => {
                    let rest = row.skip(at);
                    at += width(rel.shape).unwrap_or(0);
                    let present: Option<i64> = rest.get(0)?;
                    present
                        .map(|_| decode_shape(rel.shape, &rest))
                        .transpose()?
                }
                None => None,
            };
            children.push(child);
        }
        let mut marks = Vec::new();
        for mark in one.marks(shape) {
            marks.push(match mark {
                Some(mark) => {
                    let value: bool = row.get(at)?;
                    at += 1;
                    Some((mark, value))
                }
                None => None,
            });
        }
        let counts = (0..one.counts.len())
            .map(|i| row.get::<i64>(at + i))
            .collect::<std::result::Result<_, _>>()?;
        let mut marks = marks.into_iter();
        let mark = marks.next().flatten();
        let mut children = children.into_iter().zip(marks);
        let mut next = || {
            children
                .next()
                .and_then(|(child, mark)| child.map(|c| (c, mark)))
        };
        let joined = one
            .joined
            .iter()
            .map(|_| {
                let (own, below) = (next(), next());
                (own, below)
            })
            .collect();
        Ok(OneRow {
            row: item,
            mark,
            joined,
            counts,
        })
    }
}

/// Adds `rel`'s tables and its shape's columns to `stmt`: the children's table, or the
/// junction joined to the other side.
fn select_rows(stmt: &mut SelectStatement, rel: &Relation) {
    stmt.from(rel.keys().table.clone());
    if let Some(second) = rel.second() {
        stmt.inner_join(table_of(&second.to_tbl), second.clone());
    }
    select_shape(stmt, rel.shape);
}

/// The columns of entity `E`, in its column order (which its model reads them in).
fn columns<E: EntityTrait + Default>(stmt: &mut SelectStatement) {
    stmt.columns(E::Column::iter().map(|c| (E::default(), c)));
}

/// The number of columns a shape straight to an entity selects; `None` for the others.
fn width(shape: Shape) -> Option<usize> {
    match shape {
        Shape::User => Some(<user::Model as Fields>::FIELDS.len()),
        Shape::Post => Some(<post::Model as Fields>::FIELDS.len()),
        Shape::Profile => Some(<profile::Model as Fields>::FIELDS.len()),
        Shape::Comment => Some(<comment::Model as Fields>::FIELDS.len()),
        _ => None,
    }
}

/// Selects a shape's columns (and, for a role assignment, joins its assigner).
fn select_shape(stmt: &mut SelectStatement, shape: Shape) {
    match shape {
        Shape::User => columns::<user::Entity>(stmt),
        Shape::Post => columns::<post::Entity>(stmt),
        Shape::Profile => columns::<profile::Entity>(stmt),
        Shape::Comment => columns::<comment::Entity>(stmt),
        Shape::UserAssignment => {
            columns::<user_role::Entity>(stmt);
            columns::<role::Entity>(stmt);
            assigner(stmt);
        }
        Shape::RoleAssignment => {
            columns::<user_role::Entity>(stmt);
            columns::<user::Entity>(stmt);
            assigner(stmt);
        }
        Shape::Follow => {
            columns::<follow::Entity>(stmt);
            columns::<user::Entity>(stmt);
        }
        Shape::UserFavorite => {
            columns::<favorite::Entity>(stmt);
            columns::<post::Entity>(stmt);
        }
        Shape::PostFavorite => {
            columns::<favorite::Entity>(stmt);
            columns::<user::Entity>(stmt);
        }
        Shape::TagName => {
            stmt.column((tag::Entity, tag::Column::Name));
        }
    }
}

/// The assigner's username, null once the assigner is deleted: `user_roles`' second
/// relation to `users`, joined under an alias beside the first.
fn assigner(stmt: &mut SelectStatement) {
    let def = user_role::Relation::AssignedBy.def();
    let alias = Alias::new("assigner").into_iden();
    stmt.expr_as(
        Expr::col((alias.clone(), user::Column::Username)),
        Alias::new("assigner_username"),
    )
    .join_as(
        JoinType::LeftJoin,
        table_of(&def.to_tbl),
        alias.clone(),
        Expr::col((alias, column_of(&def.to_col)))
            .equals((table_of(&def.from_tbl), column_of(&def.from_col))),
    );
}

/// `SELECT key, COUNT(*) … GROUP BY key` of a counted relation for all of `keys`.
pub fn counts(rel: &'static Relation, keys: &[i64], backend: DbBackend) -> SelectStatement {
    let at = rel.keys();
    let col = Expr::col((at.table.clone(), at.column.clone()));
    Query::select()
        .expr_as(col, Alias::new("key"))
        .expr_as(Func::count(Expr::col(Asterisk)), Alias::new("n"))
        .from(at.table.clone())
        .and_where(key_in(&at.table, &at.column, keys, backend))
        .group_by_col((at.table.clone(), at.column.clone()))
        .to_owned()
}

/// A fetched child, by its relation's shape.
///
/// The shapes that are a link and the row beside it are boxed: unboxed, every child (a
/// comment, an author) would be as large as the largest of them, and the loader moves
/// each child several times on its way into the answer (bench/README.md,
/// "Session 11: the loader's copies, JSON bodies and timestamps").
pub enum ChildRow {
    User(user::Model),
    Post(post::Model),
    Profile(profile::Model),
    Comment(comment::Model),
    UserAssignment(Box<UserAssignmentRow>),
    RoleAssignment(Box<RoleAssignmentRow>),
    /// A follower (as seen from the followed user) or a user followed (as seen from the
    /// follower).
    Follow(Box<FollowRow>),
    UserFavorite(Box<UserFavoriteRow>),
    PostFavorite(Box<PostFavoriteRow>),
    TagName(String),
}

/// One row of [`children`]: the key of the parent it belongs to, the child, and the
/// child's joined to-one child (when one was joined and exists), each with the viewer's
/// mark when the statement carried one. The joined child is boxed: few statements join
/// one, and every row of the others would carry its space.
pub struct Child {
    pub key: i64,
    pub row: ChildRow,
    pub mark: Option<(Mark, bool)>,
    pub joined: Option<Box<Marked>>,
}

/// Decodes the rows of [`children`] for a relation and the relation joined to it, with
/// the marks the statement carries for `viewer`.
pub struct Load {
    pub rel: &'static Relation,
    pub joined: Option<&'static Relation>,
    pub viewer: Option<(i64, Marks)>,
}

fn decode_shape<R: Row>(shape: Shape, row: &R) -> std::result::Result<ChildRow, DbErr> {
    Ok(match shape {
        Shape::User => ChildRow::User(FromRow::from_row(row)?),
        Shape::Post => ChildRow::Post(FromRow::from_row(row)?),
        Shape::Profile => ChildRow::Profile(FromRow::from_row(row)?),
        Shape::Comment => ChildRow::Comment(FromRow::from_row(row)?),
        Shape::UserAssignment => ChildRow::UserAssignment(Box::new(FromRow::from_row(row)?)),
        Shape::RoleAssignment => ChildRow::RoleAssignment(Box::new(FromRow::from_row(row)?)),
        Shape::Follow => ChildRow::Follow(Box::new(FromRow::from_row(row)?)),
        Shape::UserFavorite => ChildRow::UserFavorite(Box::new(FromRow::from_row(row)?)),
        Shape::PostFavorite => ChildRow::PostFavorite(Box::new(FromRow::from_row(row)?)),
        Shape::TagName => ChildRow::TagName(row.get(0)?),
    })
}

impl Decoder for Load {
    type Out = Child;
    fn decode<R: Row>(&self, row: &R) -> std::result::Result<Child, DbErr> {
        let key = row.get(0)?;
        let (own_mark, joined_mark) = marks_of(self.rel, self.joined, self.viewer);
        let mut at = 1;
        let mut marked = |mark: Option<Mark>| -> std::result::Result<_, DbErr> {
            let Some(mark) = mark else {
                return Ok(None);
            };
            let value: bool = row.get(at)?;
            at += 1;
            Ok(Some((mark, value)))
        };
        let (mark, joined_mark) = (marked(own_mark)?, marked(joined_mark)?);
        let own = row.skip(at);
        let joined = match (self.joined, width(self.rel.shape)) {
            (Some(child), Some(width)) => {
                // A LEFT JOIN that found nothing leaves the child's key null.
                let rest = own.skip(width);
                let present: Option<i64> = rest.get(0)?;
                match present {
                    Some(_) => Some(Box::new((decode_shape(child.shape, &rest)?, joined_mark))),
                    None => None,
                }
            }
            _ => None,
        };
        Ok(Child {
            key,
            row: decode_shape(self.rel.shape, &own)?,
            mark,
            joined,
        })
    }
}

/// The rows of a relation for the lists that show them on their own (the role
/// assignments of a user or a role): the shape of [`children`], without key or filter.
fn rows_of(resource: Resource, name: &str) -> Result<SelectStatement> {
    let rel = relation(resource, name).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "no relation {resource:?}.{name} is declared"
        ))
    })?;
    let mut stmt = Query::select();
    select_rows(&mut stmt, rel);
    Ok(stmt)
}

/// `user_roles` rows with their role and the assigner's username, as seen from users.
pub fn assignments_of_users() -> Result<SelectStatement> {
    rows_of(Resource::User, "roles")
}

/// `user_roles` rows with the user holding them and the assigner's username.
pub fn assignments_of_roles() -> Result<SelectStatement> {
    rows_of(Resource::Role, "users")
}

crate::from_row!(user_role::Model {
    user_id,
    role_id,
    assigned_at,
    assigned_by
});

/// One row of [`assignments_of_users`] (`other` is the role) or [`assignments_of_roles`]
/// (`other` is the user): the assignment's columns, then its other side's, then the
/// assigner's username.
pub struct AssignmentRow<O> {
    pub link: user_role::Model,
    pub other: O,
    pub assigner_username: Option<String>,
}

/// An assignment seen from its user.
pub type UserAssignmentRow = AssignmentRow<role::Model>;
/// An assignment seen from its role.
pub type RoleAssignmentRow = AssignmentRow<user::Model>;

impl<O: FromRow + Fields> FromRow for AssignmentRow<O> {
    fn from_row<R: Row>(row: &R) -> std::result::Result<Self, DbErr> {
        let link = user_role::Model::from_row(row)?;
        let at = <user_role::Model as Fields>::FIELDS.len();
        let other = O::from_row(&row.skip(at))?;
        let assigner_username = row.get(at + O::FIELDS.len())?;
        Ok(AssignmentRow {
            link,
            other,
            assigner_username,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relations::declared::RELATIONS;

    #[test]
    fn a_long_key_list_is_bound_as_one_parameter_on_both_backends() {
        let keys: Vec<i64> = (1..=1500).collect();
        let (table, column) = (post::Entity.into_iden(), post::Column::Id.into_iden());
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let stmt = Query::select()
                .column(Asterisk)
                .from(table.clone())
                .and_where(key_in(&table, &column, &keys, backend))
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

    /// Keys 1 and 2, at most 3 per key and 5 in all: fewer than the 6 the caps allow, so
    /// that a capped relation's statement has its row limit.
    fn batch(rel: &'static Relation, joined: Option<&'static Relation>) -> Batch<'static> {
        Batch {
            rel,
            joined,
            keys: Parents::Keys(&[1, 2]),
            cap: 3,
            rows: 5,
            viewer: None,
        }
    }

    #[test]
    fn a_row_limit_that_cannot_cut_is_left_out() {
        // 2 keys × 3 per key: a limit of 6 rows or more never cuts; the statement goes
        // without it, and its cached text is not the limited one's.
        for rel in RELATIONS.iter().filter(|rel| rel.order.is_some()) {
            for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
                let cut = batch(rel, None);
                let whole = Batch { rows: 6, ..cut };
                let (cut_built, whole_built) = (cut.built(backend), whole.built(backend));
                assert!(cut_built.sql.contains(" LIMIT "), "{}", cut_built.sql);
                assert!(!whole_built.sql.contains(" LIMIT "), "{}", whole_built.sql);
                let fresh = backend.build(&whole.statement(backend));
                assert_eq!(whole_built.sql.to_string(), fresh.sql);
                let values = key_values(&[1, 2], [Value::BigInt(Some(3))]);
                assert_eq!(whole_built.values.0, values);
                assert_eq!(fresh.values.map(|v| v.0).unwrap_or_default(), values);
            }
        }
    }

    #[test]
    fn a_marked_statement_binds_the_viewer_before_its_keys() {
        // The cached text of a marked statement is reused with values in this order.
        let viewer = Some((42, Marks::ALL));
        for rel in RELATIONS {
            let marked = Batch {
                viewer,
                ..batch(rel, None)
            };
            let (own, _) = marked.marks();
            let built = marked.built(DbBackend::Postgres);
            let fresh = DbBackend::Postgres.build(&marked.statement(DbBackend::Postgres));
            assert_eq!(
                built.sql.to_string(),
                fresh.sql,
                "{:?}.{}",
                rel.parent,
                rel.name
            );
            assert_eq!(
                built.values.0,
                fresh.values.map(|v| v.0).unwrap_or_default(),
                "{:?}.{}",
                rel.parent,
                rel.name
            );
            assert_eq!(
                built.values.0.first() == Some(&Value::BigInt(Some(42))),
                own.is_some(),
                "{:?}.{}",
                rel.parent,
                rel.name
            );
        }
        // A comment's post with its author joined marks both.
        let rel = |r, n| relation(r, n).expect("declared");
        let (post_rel, author) = (
            rel(Resource::Comment, "post"),
            rel(Resource::Post, "author"),
        );
        let both = Batch {
            viewer,
            ..batch(post_rel, Some(author))
        };
        assert_eq!(both.marks(), (Some(Mark::Favorited), Some(Mark::Following)));
        let fresh = DbBackend::Postgres.build(&both.statement(DbBackend::Postgres));
        assert_eq!(
            both.built(DbBackend::Postgres).values.0,
            fresh.values.unwrap().0
        );
    }

    #[test]
    fn every_statement_binds_its_keys_then_its_cap_and_limit() {
        // The statement cache keeps the text and binds these values in this order.
        for rel in RELATIONS {
            let built = DbBackend::Sqlite.build(&batch(rel, None).statement(DbBackend::Sqlite));
            let expected: Vec<Value> = key_values(
                &[1, 2],
                rel.order
                    .map(|_| [Value::BigInt(Some(3)), Value::BigUnsigned(Some(5))])
                    .into_iter()
                    .flatten(),
            );
            assert_eq!(
                built.values.map(|v| v.0).unwrap_or_default(),
                expected,
                "{:?}.{}: {}",
                rel.parent,
                rel.name,
                built.sql
            );
        }
    }

    #[test]
    fn one_post_with_its_author_profile_count_and_marks_is_one_statement() {
        let rel = |r, n| relation(r, n).expect("declared");
        let joined = [(
            rel(Resource::Post, "author"),
            Some(rel(Resource::User, "profile")),
        )];
        let counts = [rel(Resource::Post, "favorites")];
        let find = Find {
            resource: Resource::Post,
            by: "slug",
            value: "a-slug".into(),
        };
        let one = One {
            find: &find,
            joined: &joined,
            counts: &counts,
            viewer: Some((42, Marks::ALL)),
        };
        let pg = DbBackend::Postgres;
        let built = one.built(pg).expect("a post is one entity's rows");
        assert!(
            built.sql.ends_with(
                r#"(SELECT COUNT(*) FROM "favorites" WHERE "favorites"."post_id" = "posts"."id") FROM "posts" LEFT JOIN "users" ON "posts"."author_id" = "users"."id" LEFT JOIN "profiles" ON "users"."id" = "profiles"."user_id" WHERE "posts"."slug" = $3 LIMIT $4"#
            ),
            "{}",
            built.sql
        );
        // The values given agreed with sea-query's: the text is kept.
        assert!(ONE.holds(
            pg,
            (
                Resource::Post,
                "slug",
                bits(joined.iter().flat_map(|(r, c)| [Some(*r), *c]).flatten()),
                bits(counts.iter().copied()),
                Some(Marks::ALL)
            )
        ));
        // Every relation has a place in the shape's bit sets.
        assert!(RELATIONS.len() <= 32);
        // `users` once: a comment's author cannot join beside its post's author.
        let post_author = [
            rel(Resource::Comment, "post"),
            rel(Resource::Post, "author"),
        ];
        assert!(joinable_to_one(post_author[0], Some(post_author[1]), &[]));
        assert!(!joinable_to_one(
            rel(Resource::Comment, "author"),
            None,
            &post_author
        ));
        assert!(!joinable_to_one(rel(Resource::Post, "tags"), None, &[]));
        // Its tags, in the same flight: keyed by the post the slug finds.
        let tags = Batch {
            keys: Parents::Found(&find),
            ..batch(rel(Resource::Post, "tags"), None)
        };
        let built = tags.built(pg);
        assert!(
            built.sql.contains(
                r#"WHERE "post_tags"."post_id" = (SELECT "posts"."id" FROM "posts" WHERE "posts"."slug" = $1)"#
            ),
            "{}",
            built.sql
        );
        assert_eq!(built.values.0, vec![Value::from("a-slug")]);
        // Found by the key the tags are keyed by: the key itself, no subquery.
        let by_id = Find::id(Resource::Post, 7);
        let tags = Batch {
            keys: Parents::Found(&by_id),
            ..batch(rel(Resource::Post, "tags"), None)
        };
        let built = tags.built(pg);
        assert!(
            built
                .sql
                .contains(r#"WHERE "post_tags"."post_id" = $1 ORDER BY"#),
            "{}",
            built.sql
        );
        assert_eq!(built.values.0, vec![Value::from(7i64)]);
    }

    #[test]
    fn a_post_s_tags_and_its_author_with_profile_are_one_statement_each() {
        let pg = DbBackend::Postgres;
        let rel = |r, n| relation(r, n).expect("declared");
        let tags = pg.build(&batch(rel(Resource::Post, "tags"), None).statement(pg));
        assert_eq!(
            tags.sql,
            r#"SELECT "post_tags"."post_id" AS "key", "tags"."name" FROM "post_tags" INNER JOIN "tags" ON "post_tags"."tag_id" = "tags"."id" WHERE "post_tags"."post_id" IN ($1, $2) ORDER BY "post_tags"."post_id" ASC, "post_tags"."position" ASC"#
        );
        let (author, profile) = (
            rel(Resource::Post, "author"),
            rel(Resource::User, "profile"),
        );
        assert!(joinable(author, profile));
        assert!(!joinable(
            rel(Resource::User, "posts"),
            rel(Resource::Post, "author")
        ));
        let joined = pg.build(&batch(author, Some(profile)).statement(pg));
        assert!(
            joined.sql.ends_with(
                r#"FROM "users" LEFT JOIN "profiles" ON "users"."id" = "profiles"."user_id" WHERE "users"."id" IN ($1, $2)"#
            ),
            "{}",
            joined.sql
        );
    }
}
