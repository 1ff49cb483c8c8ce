//! Eager loading: `include` and `counts` without N+1 (SPEC §3 "Eager loading").
//!
//! A request's `include` becomes a small tree of relations ([`paths`]); each node of the
//! tree is one batched statement ([`sql`]) for all the parents of the page at once, and
//! each `counts` relation one grouped `COUNT(*)`. So a page costs the same number of
//! statements whatever its size. The rows become items and are attached to their parents
//! ([`assemble`]). Statements that do not depend on each other (the counts, sibling
//! relations) run concurrently where the executor can (PostgreSQL); all of them go
//! through the request's [`Reader`], which counts them.
//!
//! An answer holds at most `RELATA_MAX_RESPONSE_ITEMS` objects (SPEC §6), and the loader
//! never asks for more rows than that leaves: each to-many statement is limited to what
//! is left of the ceiling (plus one row per parent, which tells a cut list), so one
//! request's memory and time stay bounded however the data grows. A statement that comes
//! back full, or an answer that counts more objects, is 400 `response_too_large`.
//!
//! ## Adding a relation
//!
//! One entry in [`declared::RELATIONS`] (parent, name, link, parent key, token), and the
//! path in [`declared::valid_paths`] / [`declared::countable`]. When its children are
//! fetched in a new way, that is one [`declared::Link`] variant, with its key column,
//! order and child resource in `relations.rs`, its statement in [`sql::children`], its
//! row in [`sql::ChildRow`] (decoded by the link), and its item in [`assemble::child`]. The
//! relation must also exist on the entities: `relations.rs`'s tests compare the table
//! with every SeaORM relation the entities declare, in both directions (a declared
//! relation that is no include path is listed in the tests' `NOT_INCLUDED`, with why).
//! `viewer=true` marks the assembled answer last ([`viewer`]).

pub mod annotate;
pub mod assemble;
pub mod declared;
pub mod paths;
pub mod sql;
pub mod viewer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::{BoxFuture, join, join_all};

use crate::domain::viewer::Viewer;
use crate::error::{AppError, Result};
use crate::store::read::Reader;
use crate::wire::item::Item;

pub use declared::{Relation, Resource, countable, valid_paths};
pub use paths::{IncludeRequest, Node};

/// A request's `include`, `counts`, `include_limit` and `viewer`, parsed and checked.
#[derive(Debug)]
pub struct Expand {
    nodes: Vec<Node>,
    counts: Vec<&'static Relation>,
    per_parent: u64,
    /// The caller whose side of the relationships `viewer=true` adds.
    mark_for: Option<i64>,
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
    pub fn marking_for(mut self, viewer_id: i64) -> Self {
        self.mark_for = Some(viewer_id);
        self
    }

    /// The statements this expansion runs at most: one per distinct relation in the
    /// tree, one per counts relation, and [`viewer::STATEMENTS`] for `viewer=true`.
    pub fn statements(&self) -> usize {
        paths::statements(&self.nodes)
            + self.counts.len()
            + self.mark_for.map_or(0, |_| viewer::STATEMENTS)
    }

    /// Attaches the counts and included relations to `items`, in place.
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
        let counts = join_all(self.counts.iter().map(|rel| {
            let keys = assemble::distinct_keys(items, rel.parent_key);
            async move {
                db.all::<(i64, i64)>(sql::counts_built(rel, &keys, db.backend()))
                    .await
            }
        }));
        let children = load_level(db, viewer, &self.nodes, self.per_parent, &budget, items);
        let (counts, children) = join(counts, children).await;
        for (rel, counts) in self.counts.iter().zip(counts) {
            assemble::attach_counts(rel, items, counts?);
        }
        for (node, children) in self.nodes.iter().zip(children?) {
            assemble::attach(node.relation, self.per_parent, items, children);
        }
        // The budget counted each child once; a child shared by several parents (one
        // author of many comments) is in the answer once per parent.
        let objects: u64 = items.iter().map(Item::objects).sum();
        if objects > self.ceiling {
            return Err(budget.too_large());
        }
        if let Some(viewer_id) = self.mark_for {
            viewer::mark(db, viewer_id, items).await?;
        }
        Ok(())
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

/// The objects `rows` (parent key, child) of `link` add to an answer, each parent's
/// children counted once: at most `per_parent` per parent for a capped to-many link, none
/// for a list of names, one for a to-one link.
fn shown(link: declared::Link, per_parent: u64, rows: &[(i64, Item)]) -> u64 {
    if !link.is_many() {
        return rows.len() as u64;
    }
    if !link.is_capped() {
        return 0;
    }
    let mut per_key: HashMap<i64, u64> = HashMap::new();
    for (key, _) in rows {
        *per_key.entry(*key).or_default() += 1;
    }
    per_key.values().map(|&n| n.min(per_parent)).sum()
}

/// The children of one relation, each with the key of the parent it belongs to.
type Children = Vec<(i64, Item)>;

/// The children of every node of one level of the tree for `parents`, each with its own
/// included relations attached; sibling nodes are fetched concurrently.
fn load_level<'a>(
    db: &'a Reader<'_>,
    viewer: Option<&'a Viewer>,
    nodes: &'a [Node],
    per_parent: u64,
    budget: &'a ItemBudget,
    parents: &[Item],
) -> BoxFuture<'a, Result<Vec<Children>>> {
    let keys: Vec<Vec<i64>> = nodes
        .iter()
        .map(|n| assemble::distinct_keys(parents, n.relation.parent_key))
        .collect();
    Box::pin(async move {
        let loads = nodes
            .iter()
            .zip(keys)
            .map(|(node, keys)| load_node(db, viewer, node, per_parent, budget, keys));
        join_all(loads).await.into_iter().collect()
    })
}

/// The children of one node for `keys`, with the node's own children attached.
async fn load_node(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    node: &Node,
    per_parent: u64,
    budget: &ItemBudget,
    keys: Vec<i64>,
) -> Result<Children> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let link = node.relation.link;
    // One more than shown tells whether the embedded list was cut.
    let rows_allowed = budget.rows_for(keys.len());
    let built = sql::children_built(link, &keys, per_parent + 1, rows_allowed, db.backend());
    let rows = db.all_by(built, &link).await?;
    if link.is_capped() && rows.len() as u64 >= rows_allowed {
        return Err(budget.too_large());
    }
    let children: Children = rows
        .into_iter()
        .map(|row| assemble::child(link, row, viewer))
        .collect();
    budget.spend(shown(link, per_parent, &children))?;
    let (keys, mut items): (Vec<i64>, Vec<Item>) = children.into_iter().unzip();
    if !node.children.is_empty() {
        let grandchildren =
            load_level(db, viewer, &node.children, per_parent, budget, &items).await?;
        for (child, grandchildren) in node.children.iter().zip(grandchildren) {
            assemble::attach(child.relation, per_parent, &mut items, grandchildren);
        }
    }
    Ok(keys.into_iter().zip(items).collect())
}
