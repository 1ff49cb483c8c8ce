//! Assembling answers: fetched rows become items, and children are attached to their
//! parents under the relation's name, to-many relations cut at `include_limit` with the
//! `<relation>_next_cursor` that continues the relation's own endpoint where the embedded
//! array stopped, counts under `counts`.

use foldhash::{HashMap, HashMapExt};

use crate::domain::viewer::Viewer;
use crate::entity::user_role;
use crate::relations::declared::Relation;
use crate::relations::sql::{ChildRow, RoleAssignmentRow, UserAssignmentRow};
use crate::store::page::ListScope;
use crate::wire::item::Item;
use crate::wire::item::Out;
use crate::wire::repr::{self, AssignerOut, CommentOut, PostOut, ProfileOut, TagNameOut, UserOut};

/// The distinct values of the integer `field` of `items`, in ascending order.
pub fn distinct_keys(items: &[Item], field: &str) -> Vec<i64> {
    let mut keys: Vec<i64> = items.iter().filter_map(|i| i.out.int(field)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A fetched child as an item.
pub fn child(row: ChildRow, viewer: Option<&Viewer>) -> Item {
    match row {
        ChildRow::User(m) => Item::from(UserOut::new(&m, viewer)),
        ChildRow::Post(m) => Item::from(PostOut::from(&m)),
        ChildRow::Profile(m) => Item::from(ProfileOut::from(&m)),
        ChildRow::Comment(m) => Item::from(CommentOut::from(&m)),
        ChildRow::UserAssignment(row) => row.into_item(),
        ChildRow::RoleAssignment(row) => row.into_item(viewer),
        ChildRow::Follow(row) => Item::from(repr::follow(&row.link, &row.other, viewer)),
        ChildRow::UserFavorite(row) => Item::from(repr::user_favorite(&row.link, &row.other)),
        ChildRow::PostFavorite(row) => {
            Item::from(repr::post_favorite(&row.link, &row.other, viewer))
        }
        ChildRow::TagName(name) => Item::from(TagNameOut(name)),
    }
}

/// The children of one relation in its order, each with the key of the parent it belongs
/// to. Keys and items are kept apart so that the items can be parents in turn (a slice of
/// items) without being moved out and back.
#[derive(Default)]
pub struct Children {
    pub keys: Vec<i64>,
    pub items: Vec<Item>,
}

impl Children {
    pub fn with_capacity(n: usize) -> Self {
        Children {
            keys: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, key: i64, item: Item) {
        self.keys.push(key);
        self.items.push(item);
    }
}

/// Attaches `children`, in the relation's order, to the `items` whose parent field they
/// belong to.
///
/// The maps here are keyed by ids from our own rows, which a client cannot choose to
/// collide, so they hash with foldhash rather than SipHash (which cost an S4 request about
/// 4 500 instructions here).
pub fn attach(rel: &'static Relation, per_parent: u64, items: &mut [Item], children: Children) {
    let many = rel.is_many();
    let keys = rel.keys();
    let parent_field = &*keys.parent_field;
    let mut by_key: HashMap<i64, Vec<Item>> = HashMap::new();
    for (key, item) in children.keys.into_iter().zip(children.items) {
        by_key.entry(key).or_default().push(item);
    }
    // The last parent asking for a key takes its children; only the parents before it
    // (several posts by one author, say) get copies.
    let mut askers: HashMap<i64, usize> = HashMap::new();
    for item in items.iter() {
        if let Some(k) = item.out.int(parent_field) {
            *askers.entry(k).or_default() += 1;
        }
    }
    let order = rel.order.map(|order| order());
    // The relation's own endpoint for one parent, which its cursor is bound to; only
    // needed when the embedded list was cut.
    let endpoint_of = |item: &Item| -> Option<ListScope> {
        let (before, field, after) = rel.endpoint?;
        let fields = item.fields();
        let parent = match fields.get(field)? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some(ListScope::new(format!("{before}{parent}{after}")))
    };
    for item in items.iter_mut() {
        let found = item.out.int(parent_field).and_then(|k| {
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
        if !rel.is_capped() && many {
            let names = found
                .unwrap_or_default()
                .into_iter()
                .filter_map(|child| match child.out {
                    Out::TagName(TagNameOut(name)) => Some(name),
                    _ => None,
                })
                .collect();
            item.attach_names(rel.name, names);
        } else if many {
            let mut list = found.unwrap_or_default();
            let cut = list.len() as u64 > per_parent;
            list.truncate(per_parent as usize);
            let next = match (cut, list.last(), &order) {
                (true, Some(last), Some(order)) => endpoint_of(item).map(|endpoint| {
                    order
                        .clone()
                        .bound_to(&endpoint)
                        .cursor_after(&last.fields())
                }),
                _ => None,
            };
            item.attach_many(rel.name, list, next);
        } else {
            item.attach_one(rel.name, found.and_then(|v| v.into_iter().next()));
        }
    }
}

/// Adds `counts.<rel>` to every item from the grouped `(key, count)` rows; 0 for keys
/// without a row.
pub fn attach_counts(rel: &'static Relation, items: &mut [Item], counts: Vec<(i64, i64)>) {
    let counts: HashMap<i64, i64> = counts.into_iter().collect();
    let keys = rel.keys();
    let parent_field = &*keys.parent_field;
    for item in items.iter_mut() {
        let n = item
            .out
            .int(parent_field)
            .and_then(|k| counts.get(&k))
            .copied()
            .unwrap_or(0);
        item.add_count(rel.name, n);
    }
}

fn assigner(link: &user_role::Model, username: Option<String>) -> Option<AssignerOut> {
    match (link.assigned_by, username) {
        (Some(id), Some(username)) => Some(AssignerOut { id, username }),
        _ => None,
    }
}

impl UserAssignmentRow {
    /// The assignment as seen from its user.
    pub fn into_item(self) -> Item {
        let assigned_by = assigner(&self.link, self.assigner_username);
        Item::from(repr::user_assignment(&self.link, &self.other, assigned_by))
    }
}

impl RoleAssignmentRow {
    /// The assignment as seen from its role.
    pub fn into_item(self, viewer: Option<&Viewer>) -> Item {
        let assigned_by = assigner(&self.link, self.assigner_username);
        Item::from(repr::role_assignment(
            &self.link,
            &self.other,
            assigned_by,
            viewer,
        ))
    }
}
