//! Eager loading: `include` and `counts` without N+1 (SPEC §3 "Eager loading").
//!
//! A request's `include` becomes a small tree of relations ([`paths`]); each node of the
//! tree is one batched statement ([`sql`]) for all the parents of the page at once, and
//! each `counts` relation one grouped `COUNT(*)`. So a page costs the same number of
//! statements whatever its size. The rows become items and are attached to their parents
//! ([`assemble`]). Statements that do not depend on each other (the counts, sibling
//! relations, the viewer's marks on the page's own items) run concurrently where the
//! executor can (on PostgreSQL they go in one pipelined flight); all of them go through
//! the request's [`Reader`], which counts them.
//!
//! An answer holds at most `RELATA_MAX_RESPONSE_ITEMS` objects (SPEC §6), and the loader
//! never asks for more rows than that leaves: each to-many statement is limited to what
//! is left of the ceiling (plus one row per parent, which tells a cut list), so one
//! request's memory and time stay bounded however the data grows. A statement that comes
//! back full, or an answer that counts more objects, is 400 `response_too_large`.
//!
//! Both faces load through it: `/api/v1` from a request's `include`, `counts` and
//! `viewer`, the Conduit face (`http::conduit::view`) with the authors, tags, favorite
//! counts and marks its articles, comments and profiles always show ([`Expand::fixed`]).
//! A to-one relation included under a to-one relation (a post's `author.profile`) comes
//! in its parent's statement by a `LEFT JOIN` ([`paths::joined`]). A single item
//! ([`Expand::find_one`]) comes with its to-one relations (and theirs) joined, its counts
//! and marks as columns, in one statement ([`sql::One`]), and its other relations in
//! statements keyed by the condition that finds it, all in one flight.
//!
//! ## Adding a relation
//!
//! A new relationship touches these files and no others:
//!
//! 1. the migration (`src/migration/`): its table or foreign key and index;
//! 2. the entities (`src/entity/`): `belongs_to` / `has_one` / `has_many` (with `via`
//!    for a junction) — the tables and columns, written nowhere else;
//! 3. the declaration ([`declared::RELATIONS`]): one entry naming the entity relation
//!    (`Relation::X.def()`, or the two hops of a `via`), the name clients use, the
//!    [`declared::Shape`] of its children, its order and endpoint (which cap it per
//!    parent), whether it needs a token and whether `counts` takes it; and its
//!    `include` paths in [`declared::valid_paths`];
//! 4. tests: `declared.rs`'s unit tests compare the entries with every relation the
//!    entities declare, both ways, and `tests/api/budget.rs` walks every entry through
//!    `include` and `counts` on both databases.
//!
//! Every statement follows from the entry ([`sql`]): `WHERE key IN (…)` on the column
//! the entity relation names, `ROW_NUMBER()` per parent for an ordered relation, the
//! junction's join for a `via`, the grouped count. Only a child of a new kind — a shape
//! no relation has yet — adds a [`declared::Shape`] variant, its columns in
//! [`sql`] and its item in [`assemble::child`]; and a parent key on a column no relation
//! used before adds that field to `wire::item::Out::int`, where the loader reads keys off
//! the parents. `viewer=true` never waits for the assembled answer ([`viewer`]): the page's
//! own posts and users are marked beside the first level, and an included post or user
//! carries its mark as a column of the statement that loads it.

pub mod assemble;
pub mod declared;
pub mod paths;
pub mod sql;
pub mod viewer;

use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::{BoxFuture, join, join_all, join3};

use crate::domain::viewer::Viewer;
use crate::error::{AppError, Result};
use crate::store::{self, read::Reader};
use crate::wire::item::Item;
use assemble::Children;

pub use declared::{Relation, Resource, countable, valid_paths};
pub use viewer::Marks;

/// `include_limit` when a request does not say (SPEC §3).
pub const DEFAULT_PER_PARENT: u64 = 20;
pub use paths::{IncludeRequest, Node};

/// A request's `include`, `counts`, `include_limit` and `viewer`, parsed and checked.
#[derive(Debug)]
pub struct Expand {
    nodes: Vec<Node>,
    counts: Vec<&'static Relation>,
    per_parent: u64,
    /// The caller whose side of the relationships `viewer=true` adds, and on what.
    mark_for: Option<(i64, Marks)>,
    /// The most objects the answer may hold.
    ceiling: u64,
}

impl Default for Expand {
    /// Nothing to include: an answer of one page, which `limit` bounds.
    fn default() -> Self {
        Expand {
            nodes: Vec::new(),
            counts: Vec::new(),
            per_parent: 0,
            mark_for: None,
            ceiling: u64::MAX,
        }
    }
}

impl Expand {
    /// The expansion of a parsed include tree and counted relations ([`paths::parse`]),
    /// with at most `per_parent` children per parent (`include_limit`) and `ceiling`
    /// objects in the whole answer.
    pub fn new(
        nodes: Vec<Node>,
        counts: Vec<&'static Relation>,
        per_parent: u64,
        ceiling: u64,
    ) -> Self {
        Expand {
            nodes,
            counts,
            per_parent,
            mark_for: None,
            ceiling,
        }
    }

    /// This expansion, also marking every post and user for `viewer_id` (`viewer=true`).
    pub fn marking_for(self, viewer_id: i64) -> Self {
        self.marking(viewer_id, Marks::ALL)
    }

    /// This expansion, also marking `marks` for `viewer_id`: an answer that can hold no
    /// post (or no user) need not ask which ones the viewer favorited (or follows).
    pub fn marking(mut self, viewer_id: i64, marks: Marks) -> Self {
        self.mark_for = Some((viewer_id, marks));
        self
    }

    /// The expansion a view of the server's own always makes (the Conduit face's
    /// articles and comments): `paths` and `counts` of `resource` ([`paths::fixed`]),
    /// with no ceiling beyond the page's own.
    pub fn fixed(resource: Resource, paths: &[&str], counts: &[&str]) -> Result<Self> {
        let (nodes, counts) = paths::fixed(resource, paths, counts)?;
        Ok(Expand::new(nodes, counts, DEFAULT_PER_PARENT, u64::MAX))
    }

    /// The statements this expansion runs at most: one per distinct relation in the
    /// tree (a to-one relation joined to its to-one parent comes free), one per counts
    /// relation, and one per kind marked for `viewer=true` ([`Marks`]; only the page's
    /// own items cost one).
    pub fn statements(&self) -> usize {
        paths::statements(&self.nodes)
            + self.counts.len()
            + self.mark_for.map_or(0, |(_, marks)| marks.statements())
    }

    /// Attaches the counts and included relations to `items`, in place, with the
    /// viewer's marks. Every statement whose ids are known goes in one flight: the counts,
    /// the first level of includes and the marks of the page's own items run
    /// concurrently; included posts and users carry their marks in their own statement.
    pub async fn apply(
        &self,
        db: &Reader<'_>,
        viewer: Option<&Viewer>,
        items: &mut [Item],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let budget = ItemBudget::new(self.ceiling, items.len() as u64)?;
        // A page with nothing to include, count or mark (a plain list) skips the flight:
        // its futures and the first level's box would cost every such request.
        if !self.nodes.is_empty() || !self.counts.is_empty() || self.mark_for.is_some() {
            self.load(db, viewer, &budget, items).await?;
        }
        // The budget counted each child once; a child shared by several parents (one
        // author of many comments) is in the answer once per parent.
        let objects: u64 = items.iter().map(Item::objects).sum();
        if objects > self.ceiling {
            return Err(budget.too_large());
        }
        Ok(())
    }

    /// The statements of [`Expand::apply`], in one flight, their rows attached to `items`.
    async fn load(
        &self,
        db: &Reader<'_>,
        viewer: Option<&Viewer>,
        budget: &ItemBudget,
        items: &mut [Item],
    ) -> Result<()> {
        // Boxed, and only when asked for: unboxed, the marks' futures (a kilobyte or more,
        // like every read's) would be part of this future and of every handler's that
        // awaits it, copied with it whenever it moves (bench/README.md, "Profile of the
        // common path").
        let root_marks = self.mark_for.map(|(viewer_id, marks)| {
            let ids = viewer::RootMarks::ids_of(items);
            Box::pin(viewer::RootMarks::read(db, viewer_id, marks, ids))
        });
        let root_marks = async move {
            match root_marks {
                Some(read) => read.await.map(Some),
                None => Ok(None),
            }
        };
        let counts = join_all(self.counts.iter().map(|rel| {
            let keys = assemble::distinct_keys(items, &rel.keys().parent_field);
            async move {
                db.all::<(i64, i64)>(sql::counts_built(rel, &keys, db.backend()))
                    .await
            }
        }));
        let children = self.level(db, viewer, budget).load(&self.nodes, items);
        let (root_marks, counts, children) = join3(root_marks, counts, children).await;
        for (rel, counts) in self.counts.iter().zip(counts) {
            assemble::attach_counts(rel, items, counts?);
        }
        for (node, children) in self.nodes.iter().zip(children?) {
            assemble::attach(node.relation, self.per_parent, items, children);
        }
        if let Some(root_marks) = root_marks? {
            root_marks.apply(items);
        }
        Ok(())
    }

    /// The row `find` names, as an item (`to_item` of its model), with this expansion
    /// attached; `None` when there is no such row. Its to-one relations (with a to-one
    /// child of theirs), its counts and the viewer's marks on them come in the row's own
    /// statement ([`sql::One`]); each other relation in a statement of its own keyed by
    /// the row the same condition finds ([`sql::Parents::Found`]), so that all of them
    /// go in one flight, beside the row, and what is included below those follows as
    /// [`Expand::apply`] loads it. So a single item and everything to-one about it cost
    /// one statement, and nothing waits for the row.
    pub async fn find_one<M: store::read::FromRow>(
        &self,
        db: &Reader<'_>,
        viewer: Option<&Viewer>,
        find: Find,
        to_item: impl FnOnce(M) -> Item,
    ) -> Result<Option<Item>> {
        let mut joined = Vec::new();
        // A counted table, too, may be named once: its `COUNT(*)` names it inside.
        let mut used = self.counts.clone();
        let mut is_joined = Vec::new();
        for node in &self.nodes {
            let child = paths::joined(node).map(|n| n.relation);
            let fits = (node.children.is_empty() || child.is_some())
                && sql::joinable_to_one(node.relation, child, &used);
            if fits {
                joined.push((node.relation, child));
                used.extend(std::iter::once(node.relation).chain(child));
            }
            is_joined.push(fits);
        }
        let one = sql::One {
            find: &find,
            joined: &joined,
            counts: &self.counts,
            viewer: self.mark_for,
        };
        let load = sql::OneLoad {
            one: &one,
            model: std::marker::PhantomData::<M>,
        };
        let budget = ItemBudget::new(self.ceiling, 1)?;
        let level = self.level(db, viewer, &budget);
        let row = async { Ok::<_, AppError>(db.all_by(one.built(db.backend())?, &load).await?) };
        let rest = join_all(
            self.nodes
                .iter()
                .zip(&is_joined)
                .filter(|(_, joined)| !**joined)
                .map(|(node, _)| level.load_node(node, sql::Parents::Found(&find))),
        );
        let (row, rest) = join(row, rest).await;
        let Some(row) = row?.into_iter().next() else {
            return Ok(None);
        };
        let mut item = to_item(row.row);
        if let Some((mark, marked)) = row.mark {
            mark.set(&mut item.out, marked);
        }
        for (rel, n) in self.counts.iter().zip(row.counts) {
            item.add_count(rel.name, n);
        }
        let mut joined_rows = joined.iter().zip(row.joined);
        let mut rest = rest.into_iter();
        let mut joined_objects = 0;
        for (node, joined) in self.nodes.iter().zip(is_joined) {
            if !joined {
                let children = rest.next().unwrap_or_else(|| Ok(Children::default()))?;
                assemble::attach(
                    node.relation,
                    self.per_parent,
                    std::slice::from_mut(&mut item),
                    children,
                );
                continue;
            }
            let Some(((rel, child), (own, below))) = joined_rows.next() else {
                continue;
            };
            let one = own.map(|(row, mark)| {
                let mut one = marked_child(row, mark, viewer);
                if let Some(child) = child {
                    let below = below.map(|(row, mark)| marked_child(row, mark, viewer));
                    joined_objects += u64::from(below.is_some());
                    one.attach_one(child.name, below);
                }
                one
            });
            joined_objects += u64::from(one.is_some());
            item.attach_one(rel.name, one);
        }
        budget.spend(joined_objects)?;
        if item.objects() > self.ceiling {
            return Err(budget.too_large());
        }
        Ok(Some(item))
    }

    /// What every level of this expansion's includes is loaded with.
    fn level<'a, 'r>(
        &self,
        db: &'a Reader<'r>,
        viewer: Option<&'a Viewer>,
        budget: &'a ItemBudget,
    ) -> Level<'a, 'r> {
        Level {
            db,
            viewer,
            mark_for: self.mark_for,
            per_parent: self.per_parent,
            budget,
        }
    }

    /// [`Expand::apply`] for a single resource (the GET of one row).
    pub async fn apply_one(
        &self,
        db: &Reader<'_>,
        viewer: Option<&Viewer>,
        item: Item,
    ) -> Result<Item> {
        let mut items = [item];
        self.apply(db, viewer, &mut items).await?;
        let [item] = items;
        Ok(item)
    }
}

/// The single row [`Expand::find_one`] loads: the row of `resource` whose column `by`
/// (as its entity names it) holds `value`.
pub struct Find {
    pub resource: Resource,
    pub by: &'static str,
    pub value: sea_orm::Value,
}

impl Find {
    /// The row of `resource` with primary key `id` (every single entity's is `id`).
    pub fn id(resource: Resource, id: i64) -> Find {
        Find {
            resource,
            by: "id",
            value: id.into(),
        }
    }
}

/// What is left of the response ceiling while an answer is loaded.
struct ItemBudget {
    ceiling: u64,
    left: AtomicU64,
}

impl ItemBudget {
    /// The budget of an answer whose page holds `page` items; 400 when they alone pass it.
    fn new(ceiling: u64, page: u64) -> Result<Self> {
        let budget = ItemBudget {
            ceiling,
            left: AtomicU64::new(ceiling.saturating_sub(page)),
        };
        if page > ceiling {
            return Err(budget.too_large());
        }
        Ok(budget)
    }

    /// The most rows a to-many statement for `parents` parents may return: what is left,
    /// and one more per parent (the row that tells a cut list), and one more, which, when
    /// it comes back, shows the answer would pass the ceiling.
    fn rows_for(&self, parents: usize) -> u64 {
        self.left
            .load(Ordering::Acquire)
            .saturating_add(parents as u64 + 1)
    }

    /// Takes `shown` objects from what is left; 400 when there are not that many left.
    fn spend(&self, shown: u64) -> Result<()> {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(shown)
            })
            .map(|_| ())
            .map_err(|_| self.too_large())
    }

    fn too_large(&self) -> AppError {
        AppError::bad_request(
            "response_too_large",
            format!(
                "This answer would hold more than {} items, the most one response may hold \
                 (RELATA_MAX_RESPONSE_ITEMS). Lower `limit` or `include_limit`, or include \
                 fewer relations, and page through the rest with each relation's \
                 `_next_cursor`.",
                self.ceiling
            ),
        )
    }
}

/// The objects that children of `rel` with these parent `keys` add to an answer, each
/// parent's children counted once: at most `per_parent` per parent for a capped to-many relation,
/// none for a list of names, one for a to-one relation.
fn shown(rel: &'static Relation, per_parent: u64, keys: &[i64]) -> u64 {
    if !rel.is_many() {
        return keys.len() as u64;
    }
    if !rel.is_capped() {
        return 0;
    }
    // Keys are ids from our own rows: foldhash, not SipHash (see `assemble::attach`).
    let mut per_key: foldhash::HashMap<i64, u64> = foldhash::HashMapExt::new();
    for key in keys {
        *per_key.entry(*key).or_default() += 1;
    }
    per_key.values().map(|&n| n.min(per_parent)).sum()
}

/// What every level of one answer's includes is loaded with.
#[derive(Clone, Copy)]
struct Level<'a, 'r> {
    db: &'a Reader<'r>,
    viewer: Option<&'a Viewer>,
    /// The caller whose marks included posts and users carry, and which.
    mark_for: Option<(i64, Marks)>,
    per_parent: u64,
    budget: &'a ItemBudget,
}

impl<'a, 'r> Level<'a, 'r> {
    /// The children of every node of one level of the tree for `parents`, each with its
    /// own included relations attached; sibling nodes are fetched concurrently.
    fn load(self, nodes: &'a [Node], parents: &[Item]) -> BoxFuture<'a, Result<Vec<Children>>>
    where
        'r: 'a,
    {
        let keys: Vec<Vec<i64>> = nodes
            .iter()
            .map(|n| assemble::distinct_keys(parents, &n.relation.keys().parent_field))
            .collect();
        Box::pin(async move {
            let loads = nodes.iter().zip(keys).map(|(node, keys)| async move {
                self.load_node(node, sql::Parents::Keys(&keys)).await
            });
            join_all(loads).await.into_iter().collect()
        })
    }

    /// The children of one node for `keys`, with the node's own children attached.
    async fn load_node(self, node: &'a Node, keys: sql::Parents<'_>) -> Result<Children>
    where
        'r: 'a,
    {
        if keys.is_empty() {
            return Ok(Children::default());
        }
        let Level {
            db,
            viewer,
            mark_for,
            per_parent,
            budget,
        } = self;
        let rel = node.relation;
        // A to-one child of a to-one relation comes in the same statement.
        let joined = paths::joined(node).map(|n| n.relation);
        // One more than shown tells whether the embedded list was cut.
        let rows_allowed = budget.rows_for(keys.len());
        let built = sql::Batch {
            rel,
            joined,
            keys,
            cap: per_parent + 1,
            rows: rows_allowed,
            viewer: mark_for,
        }
        .built(db.backend());
        let load = sql::Load {
            rel,
            joined,
            viewer: mark_for,
        };
        let rows = db.all_by(built, &load).await?;
        if rel.is_capped() && rows.len() as u64 >= rows_allowed {
            return Err(budget.too_large());
        }
        let mut joined_objects = 0;
        let mut children = Children::with_capacity(rows.len());
        for row in rows {
            let mut item = marked_child(row.row, row.mark, viewer);
            if let Some(joined) = joined {
                let one = row.joined.map(|below| {
                    let (child, mark) = *below;
                    marked_child(child, mark, viewer)
                });
                joined_objects += u64::from(one.is_some());
                item.attach_one(joined.name, one);
            }
            children.push(row.key, item);
        }
        budget.spend(shown(rel, per_parent, &children.keys) + joined_objects)?;
        if joined.is_none() && !node.children.is_empty() {
            let grandchildren = self.load(&node.children, &children.items).await?;
            for (child, grandchildren) in node.children.iter().zip(grandchildren) {
                assemble::attach(
                    child.relation,
                    per_parent,
                    &mut children.items,
                    grandchildren,
                );
            }
        }
        Ok(children)
    }
}

/// A fetched child as an item, with the viewer's mark its statement carried.
fn marked_child(
    row: sql::ChildRow,
    mark: Option<(viewer::Mark, bool)>,
    viewer: Option<&Viewer>,
) -> Item {
    let mut item = assemble::child(row, viewer);
    if let Some((mark, marked)) = mark {
        mark.set(&mut item.out, marked);
    }
    item
}
