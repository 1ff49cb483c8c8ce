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
//! ## Adding a relation
//!
//! One entry in [`relations::RELATIONS`] (parent, name, link, parent key, token), and the
//! path in [`relations::valid_paths`] / [`relations::countable`]. When its children are
//! fetched in a new way, that is one [`relations::Link`] variant, with its key column,
//! order and child resource in `relations.rs`, its statement in [`sql::children`], its
//! row in [`sql::ChildRow`] (decoded by the link), and its item in [`assemble::child`]. The
//! relation must also exist on the entities: `relations.rs`'s tests compare the table
//! with every SeaORM relation the entities declare, in both directions (a declared
//! relation that is no include path is listed in the tests' `NOT_INCLUDED`, with why).
//! `viewer=true` marks the assembled answer last ([`viewer`]).

pub mod assemble;
pub mod paths;
pub mod relations;
pub mod sql;
pub mod viewer;

use futures::future::{BoxFuture, join, join_all};
use sea_orm::ConnectionTrait;

use crate::error::Result;
use crate::service::auth::Viewer;
use crate::service::item::Item;
use crate::service::read::Reader;

pub use paths::{IncludeRequest, Node};
pub use relations::{Relation, Resource, countable, valid_paths};

/// A request's `include`, `counts`, `include_limit` and `viewer`, parsed and checked.
#[derive(Debug, Default)]
pub struct Expand {
    nodes: Vec<Node>,
    counts: Vec<&'static Relation>,
    per_parent: u64,
    /// The caller whose side of the relationships `viewer=true` adds.
    mark_for: Option<i64>,
}

impl Expand {
    /// The expansion of a parsed include tree and counted relations ([`paths::parse`]),
    /// with at most `per_parent` children per parent (`include_limit`).
    pub fn new(nodes: Vec<Node>, counts: Vec<&'static Relation>, per_parent: u64) -> Self {
        Expand {
            nodes,
            counts,
            per_parent,
            mark_for: None,
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
    pub async fn apply<C: ConnectionTrait>(
        &self,
        db: &Reader<'_, C>,
        viewer: Option<&Viewer>,
        items: &mut [Item],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let counts = join_all(self.counts.iter().map(|rel| {
            let keys = assemble::distinct_keys(items, rel.parent_key);
            async move {
                db.all::<(i64, i64)>(sql::counts_built(rel, &keys, db.backend()))
                    .await
            }
        }));
        let children = load_level(db, viewer, &self.nodes, self.per_parent, items);
        let (counts, children) = join(counts, children).await;
        for (rel, counts) in self.counts.iter().zip(counts) {
            assemble::attach_counts(rel, items, counts?);
        }
        for (node, children) in self.nodes.iter().zip(children?) {
            assemble::attach(node.relation, self.per_parent, items, children);
        }
        if let Some(viewer_id) = self.mark_for {
            viewer::mark(db, viewer_id, items).await?;
        }
        Ok(())
    }

    /// [`Expand::apply`] for a single resource (the GET of one row).
    pub async fn apply_one<C: ConnectionTrait>(
        &self,
        db: &Reader<'_, C>,
        viewer: Option<&Viewer>,
        item: Item,
    ) -> Result<Item> {
        let mut items = [item];
        self.apply(db, viewer, &mut items).await?;
        let [item] = items;
        Ok(item)
    }
}

/// The children of one relation, each with the key of the parent it belongs to.
type Children = Vec<(i64, Item)>;

/// The children of every node of one level of the tree for `parents`, each with its own
/// included relations attached; sibling nodes are fetched concurrently.
fn load_level<'a, C: ConnectionTrait>(
    db: &'a Reader<'_, C>,
    viewer: Option<&'a Viewer>,
    nodes: &'a [Node],
    per_parent: u64,
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
            .map(|(node, keys)| load_node(db, viewer, node, per_parent, keys));
        join_all(loads).await.into_iter().collect()
    })
}

/// The children of one node for `keys`, with the node's own children attached.
async fn load_node<C: ConnectionTrait>(
    db: &Reader<'_, C>,
    viewer: Option<&Viewer>,
    node: &Node,
    per_parent: u64,
    keys: Vec<i64>,
) -> Result<Children> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let link = node.relation.link;
    // One more than shown tells whether the embedded list was cut.
    let built = sql::children_built(link, &keys, per_parent + 1, db.backend());
    let rows = db.all_by(built, &link).await?;
    let (keys, mut items): (Vec<i64>, Vec<Item>) = rows
        .into_iter()
        .map(|row| assemble::child(link, row, viewer))
        .unzip();
    if !node.children.is_empty() {
        let grandchildren = load_level(db, viewer, &node.children, per_parent, &items).await?;
        for (child, grandchildren) in node.children.iter().zip(grandchildren) {
            assemble::attach(child.relation, per_parent, &mut items, grandchildren);
        }
    }
    Ok(keys.into_iter().zip(items).collect())
}
