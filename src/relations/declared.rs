//! The relations `include` and `counts` reach, each declared once: the relationship
//! itself is the SeaORM entities' (`has_one`, `has_many`, `belongs_to`, `via`), which
//! name its tables and columns; an entry of [`RELATIONS`] says only what an entity
//! cannot — the name clients use, the shape of the children, their order (which also
//! caps them per parent at `include_limit`), their endpoint, whether they need a token
//! and whether `counts` takes them. The loader derives every statement from these
//! ([`super::sql`]); unit tests check that every entry follows an entity relation from
//! its parent, and that every relation an entity declares has an entry. What follows from
//! an entry's entity relations (its `RelationDef`s, the key's table and columns) depends
//! on no request, so it is worked out once, for all entries at first use, and requests
//! only read it ([`Relation::keys`]).

use std::borrow::Cow;
use std::sync::LazyLock;

use sea_orm::sea_query::{DynIden, Expr, ExprTrait, IntoIden, Query, TableRef};
use sea_orm::{EntityTrait, Identity, Related, RelationDef, RelationTrait, RelationType};

use crate::entity::{comment, favorite, follow, post, profile, role, tag, user};
use crate::store::page::SortOrder;
use crate::wire::item::Out;
use crate::wire::repr::order;

/// The resources that have relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    User,
    Post,
    Comment,
    Profile,
    Role,
    Tag,
}

impl Resource {
    const ALL: [Resource; 6] = [
        Resource::User,
        Resource::Post,
        Resource::Comment,
        Resource::Profile,
        Resource::Role,
        Resource::Tag,
    ];

    /// The table a resource's rows live in, as its entity names it.
    pub fn table(self) -> DynIden {
        fn of<E: EntityTrait>(e: E) -> DynIden {
            e.into_iden()
        }
        match self {
            Resource::User => of(user::Entity),
            Resource::Post => of(post::Entity),
            Resource::Comment => of(comment::Entity),
            Resource::Profile => of(profile::Entity),
            Resource::Role => of(role::Entity),
            Resource::Tag => of(tag::Entity),
        }
    }
}

// The viewer's marks (`viewer=true`, [`super::viewer`]) are declared here, beside the
// shapes that carry them, so that the statements ([`super::sql`]) and the marking both
// read them from below.

/// What the viewer's marks cover. A kind marked on the page's own items costs its
/// statement; on included items it costs nothing ([`Mark::exists`]). `viewer=true`
/// marks both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Marks {
    /// `favorited` on every post.
    pub posts: bool,
    /// `following` on every user.
    pub users: bool,
}

impl Marks {
    pub const ALL: Marks = Marks {
        posts: true,
        users: true,
    };

    /// The most statements marking runs: one per kind, for the page's own items.
    pub fn statements(self) -> usize {
        usize::from(self.posts) + usize::from(self.users)
    }
}

/// One kind of mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    /// `favorited` on a post.
    Favorited,
    /// `following` on a user.
    Following,
}

impl Mark {
    /// The mark, if any of `marks`, that the children of `shape` carry: the post or the
    /// user the child is or holds.
    pub fn of_shape(shape: Shape, marks: Marks) -> Option<Mark> {
        match shape {
            Shape::Post | Shape::UserFavorite if marks.posts => Some(Mark::Favorited),
            Shape::User | Shape::RoleAssignment | Shape::Follow | Shape::PostFavorite
                if marks.users =>
            {
                Some(Mark::Following)
            }
            _ => None,
        }
    }

    /// Whether `viewer_id` favorited the row of `posts` (or follows the row of `users`)
    /// the enclosing statement selects: `EXISTS (SELECT … FROM favorites WHERE user_id =
    /// viewer AND post_id = posts.id)`, or the same on `follows`. It binds one value,
    /// the viewer's id.
    pub fn exists(self, viewer_id: i64) -> Expr {
        let subquery = match self {
            Mark::Favorited => Query::select()
                .column((favorite::Entity, favorite::Column::PostId))
                .from(favorite::Entity)
                .and_where(Expr::col((favorite::Entity, favorite::Column::UserId)).eq(viewer_id))
                .and_where(
                    Expr::col((favorite::Entity, favorite::Column::PostId))
                        .equals((post::Entity, post::Column::Id)),
                )
                .to_owned(),
            Mark::Following => Query::select()
                .column((follow::Entity, follow::Column::FolloweeId))
                .from(follow::Entity)
                .and_where(Expr::col((follow::Entity, follow::Column::FollowerId)).eq(viewer_id))
                .and_where(
                    Expr::col((follow::Entity, follow::Column::FolloweeId))
                        .equals((user::Entity, user::Column::Id)),
                )
                .to_owned(),
        };
        Expr::exists(subquery)
    }

    /// Sets this mark on the post or user `out` is or holds.
    pub fn set(self, out: &mut Out, marked: bool) {
        match self {
            Mark::Favorited => {
                if let Some(post) = out.post_mut() {
                    post.favorited = Some(marked);
                }
            }
            Mark::Following => {
                if let Some(user) = out.user_mut() {
                    user.following = Some(marked);
                }
            }
        }
    }
}

/// How a relation's children are reached from their parent: by the entities' own
/// relations, each read from the parent's side (`from` is the parent's table).
#[derive(Clone, Copy, Debug)]
pub enum Hops {
    /// One entity relation, parent → children.
    Direct(fn() -> RelationDef),
    /// A many-to-many: parent → junction, then junction → the other side.
    Via(fn() -> RelationDef, fn() -> RelationDef),
}

/// The `via` of a many-to-many the entities declare (`has_many, via = …`): the
/// relation from `A` to the junction and from the junction to `B`.
fn via<A: Related<B>, B: EntityTrait>() -> (RelationDef, RelationDef) {
    let first = <A as Related<B>>::via().unwrap_or_else(|| <A as Related<B>>::to());
    (first, <A as Related<B>>::to())
}

/// What a relation's children are: which columns their statement selects and which
/// item each row becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    User,
    Post,
    Profile,
    Comment,
    /// A role assignment as its user sees it (with the role and the assigner).
    UserAssignment,
    /// A role assignment as its role sees it (with the user and the assigner).
    RoleAssignment,
    /// A follow, with the user on its other side.
    Follow,
    /// A favorite, with its post.
    UserFavorite,
    /// A favorite, with the user who made it.
    PostFavorite,
    /// A tag's name, in the author's order.
    TagName,
}

impl Shape {
    /// The shape of a resource's own rows, when they are one entity's: what a single
    /// item's statement selects ([`super::sql::One`]).
    pub fn of(resource: Resource) -> Option<Shape> {
        match resource {
            Resource::User => Some(Shape::User),
            Resource::Post => Some(Shape::Post),
            Resource::Profile => Some(Shape::Profile),
            Resource::Comment => Some(Shape::Comment),
            Resource::Role | Resource::Tag => None,
        }
    }

    /// The resource the children are, when they have relations of their own.
    pub fn resource(self) -> Option<Resource> {
        match self {
            Shape::User => Some(Resource::User),
            Shape::Post => Some(Resource::Post),
            Shape::Profile => Some(Resource::Profile),
            Shape::Comment => Some(Resource::Comment),
            // Association objects and tag names take no includes of their own.
            _ => None,
        }
    }
}

/// One relation of one resource: the entity relation it follows and what the entity
/// cannot say.
#[derive(Debug)]
pub struct Relation {
    pub parent: Resource,
    /// The name clients use in `include` and `counts`, and the field it appears under.
    pub name: &'static str,
    pub hops: Hops,
    pub shape: Shape,
    /// A to-many relation's order, that of its own endpoint; such a list is cut at
    /// `include_limit` per parent. `None` for to-one relations and a post's tags (a short
    /// ordered list of names, never cut).
    pub order: Option<fn() -> SortOrder>,
    /// The relation's own endpoint, as the parent field that names the parent in its
    /// path and the path around it: an embedded `<name>_next_cursor` is bound to that
    /// list (SPEC §5 "Cursors").
    pub endpoint: Option<(&'static str, &'static str, &'static str)>,
    /// Role data needs a token wherever it appears.
    pub needs_token: bool,
    /// Whether `counts` takes it.
    pub countable: bool,
    /// Keeps every `Relation` an entry of [`RELATIONS`] (no other module can write one),
    /// which is where [`Relation::derived`] finds what follows from it.
    _only_in_table: OnlyInTable,
}

/// The private mark of an entry of [`RELATIONS`].
#[derive(Debug)]
struct OnlyInTable;

/// Every relation, written once, beside the entity relation it follows.
pub static RELATIONS: &[Relation] = &[
    Relation {
        parent: Resource::User,
        name: "profile",
        hops: Hops::Direct(|| user::Relation::Profile.def()),
        shape: Shape::Profile,
        order: None,
        endpoint: None,
        needs_token: false,
        countable: false,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::User,
        name: "posts",
        hops: Hops::Direct(|| user::Relation::Post.def()),
        shape: Shape::Post,
        order: Some(order::posts),
        endpoint: Some(("/users/", "id", "/posts")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::User,
        name: "comments",
        hops: Hops::Direct(|| user::Relation::Comment.def()),
        shape: Shape::Comment,
        order: Some(order::comments),
        endpoint: Some(("/users/", "id", "/comments")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::User,
        name: "roles",
        hops: Hops::Via(
            || via::<user::Entity, role::Entity>().0,
            || via::<user::Entity, role::Entity>().1,
        ),
        shape: Shape::UserAssignment,
        order: Some(order::user_assignments),
        endpoint: Some(("/users/", "id", "/roles")),
        needs_token: true,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Post,
        name: "author",
        hops: Hops::Direct(|| post::Relation::User.def()),
        shape: Shape::User,
        order: None,
        endpoint: None,
        needs_token: false,
        countable: false,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Post,
        name: "comments",
        hops: Hops::Direct(|| post::Relation::Comment.def()),
        shape: Shape::Comment,
        order: Some(order::comments),
        endpoint: Some(("/posts/", "id", "/comments")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Comment,
        name: "author",
        hops: Hops::Direct(|| comment::Relation::User.def()),
        shape: Shape::User,
        order: None,
        endpoint: None,
        needs_token: false,
        countable: false,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Comment,
        name: "post",
        hops: Hops::Direct(|| comment::Relation::Post.def()),
        shape: Shape::Post,
        order: None,
        endpoint: None,
        needs_token: false,
        countable: false,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Profile,
        name: "user",
        hops: Hops::Direct(|| profile::Relation::User.def()),
        shape: Shape::User,
        order: None,
        endpoint: None,
        needs_token: false,
        countable: false,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Role,
        name: "users",
        hops: Hops::Via(
            || via::<role::Entity, user::Entity>().0,
            || via::<role::Entity, user::Entity>().1,
        ),
        shape: Shape::RoleAssignment,
        order: Some(order::role_assignments),
        endpoint: Some(("/roles/", "name", "/users")),
        needs_token: true,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::User,
        name: "followers",
        hops: Hops::Via(
            || user::Relation::Followers.def(),
            || follow::Relation::Follower.def(),
        ),
        shape: Shape::Follow,
        order: Some(order::followers),
        endpoint: Some(("/users/", "id", "/followers")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::User,
        name: "following",
        hops: Hops::Via(
            || user::Relation::Following.def(),
            || follow::Relation::Followee.def(),
        ),
        shape: Shape::Follow,
        order: Some(order::following),
        endpoint: Some(("/users/", "id", "/following")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::User,
        name: "favorites",
        hops: Hops::Via(
            || user::Relation::Favorite.def(),
            || favorite::Relation::Post.def(),
        ),
        shape: Shape::UserFavorite,
        order: Some(order::user_favorites),
        endpoint: Some(("/users/", "id", "/favorites")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Post,
        name: "favorites",
        hops: Hops::Via(
            || post::Relation::Favorite.def(),
            || favorite::Relation::User.def(),
        ),
        shape: Shape::PostFavorite,
        order: Some(order::post_favorites),
        endpoint: Some(("/posts/", "id", "/favorites")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Post,
        name: "tags",
        hops: Hops::Via(
            || via::<post::Entity, tag::Entity>().0,
            || via::<post::Entity, tag::Entity>().1,
        ),
        shape: Shape::TagName,
        order: None,
        endpoint: None,
        needs_token: false,
        countable: false,
        _only_in_table: OnlyInTable,
    },
    Relation {
        parent: Resource::Tag,
        name: "posts",
        hops: Hops::Via(
            || via::<tag::Entity, post::Entity>().0,
            || via::<tag::Entity, post::Entity>().1,
        ),
        shape: Shape::Post,
        order: Some(order::posts),
        endpoint: Some(("/tags/", "name", "/posts")),
        needs_token: false,
        countable: true,
        _only_in_table: OnlyInTable,
    },
];

/// What the loader reads off a relation's entity relations: where the parent holds the
/// key and where the children (or their junction rows) hold it.
pub struct Keys {
    /// The parent's field holding the key the children are looked up by.
    pub parent_field: Cow<'static, str>,
    /// The table and column the children hold the parent's key in: the `IN (…)` list,
    /// the `PARTITION BY` and the `GROUP BY` of counts.
    pub table: DynIden,
    pub column: DynIden,
    /// Whether a parent has many children (an array) or at most one (an object).
    pub many: bool,
}

/// Everything that follows from one entry's entity relations. None of it depends on a
/// request, and building it (SeaORM's `RelationBuilder`, `RelationDef::from`, the
/// `Identity` of each end) cost an S4 request about 15 000 instructions when every
/// request did it (bench/README.md, "Profile of the common path"); so it is worked out
/// once, for every entry at the first request, and a request only reads it.
struct Derived {
    /// The entity relation from the parent: to the children, or to their junction.
    first: RelationDef,
    /// A many-to-many's second hop: from the junction to the other side.
    second: Option<RelationDef>,
    keys: Keys,
}

/// [`Derived`] of every entry of [`RELATIONS`], in its order.
static DERIVED: LazyLock<Vec<Derived>> =
    LazyLock::new(|| RELATIONS.iter().map(Relation::derive).collect());

/// The name of a table as a relation names it.
pub fn table_of(t: &TableRef) -> DynIden {
    t.sea_orm_table().clone()
}

/// The column of a relation's end (every relation here is on one column).
pub fn column_of(c: &Identity) -> DynIden {
    c.clone().into_iden()
}

impl Relation {
    /// What follows from this entry's entity relations, from the declarations alone.
    fn derive(&self) -> Derived {
        let (first, second) = match self.hops {
            Hops::Direct(def) => (def(), None),
            Hops::Via(first, second) => (first(), Some(second())),
        };
        let keys = Keys {
            parent_field: column_of(&first.from_col).inner(),
            table: table_of(&first.to_tbl),
            column: column_of(&first.to_col),
            many: second.is_some() || first.rel_type == RelationType::HasMany,
        };
        Derived {
            first,
            second,
            keys,
        }
    }

    /// This entry's place in [`RELATIONS`]: its offset from the table's start (a
    /// `Relation` is nowhere else, `_only_in_table`).
    pub fn index(&self) -> usize {
        let offset = (self as *const Relation as usize).wrapping_sub(RELATIONS.as_ptr() as usize);
        let at = offset / std::mem::size_of::<Relation>();
        match RELATIONS.get(at) {
            Some(entry) if std::ptr::eq(entry, self) => at,
            _ => unreachable!(
                "a Relation outside RELATIONS: {:?}.{}",
                self.parent, self.name
            ),
        }
    }

    /// This entry's [`Derived`].
    fn derived(&self) -> &'static Derived {
        &DERIVED[self.index()]
    }

    /// The entity relation from the parent: to the children, or to their junction.
    pub fn first(&self) -> &'static RelationDef {
        &self.derived().first
    }

    /// A many-to-many's second entity relation, from the junction to the other side.
    pub fn second(&self) -> Option<&'static RelationDef> {
        self.derived().second.as_ref()
    }

    /// Where the parent and the children hold the key.
    pub fn keys(&self) -> &'static Keys {
        &self.derived().keys
    }

    /// What names this relation in the statement cache: its parent and name.
    pub fn id(&self) -> (Resource, &'static str) {
        (self.parent, self.name)
    }

    /// Whether a parent has many children (an array) or at most one (an object or null).
    pub fn is_many(&self) -> bool {
        self.keys().many
    }

    /// Whether the children are cut at `include_limit` (with a `_next_cursor`).
    pub fn is_capped(&self) -> bool {
        self.order.is_some()
    }
}

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
            "followers",
            "following",
            "favorites",
        ],
        Resource::Post => &[
            "author",
            "author.profile",
            "comments",
            "comments.author",
            "tags",
            "favorites",
        ],
        Resource::Comment => &["author", "post", "post.author"],
        Resource::Profile => &["user"],
        Resource::Role => &["users"],
        Resource::Tag => &[],
    }
}

/// The relations that `counts` accepts for each resource, in the order of
/// [`RELATIONS`].
pub fn countable(resource: Resource) -> &'static [&'static str] {
    static COUNTABLE: LazyLock<Vec<Vec<&'static str>>> = LazyLock::new(|| {
        Resource::ALL
            .iter()
            .map(|&resource| {
                RELATIONS
                    .iter()
                    .filter(|r| r.parent == resource && r.countable)
                    .map(|r| r.name)
                    .collect()
            })
            .collect()
    });
    let at = Resource::ALL
        .iter()
        .position(|&r| r == resource)
        .unwrap_or_default();
    &COUNTABLE[at]
}

/// The relation `name` of `resource`, if the table has it.
pub fn relation(resource: Resource, name: &str) -> Option<&'static Relation> {
    RELATIONS
        .iter()
        .find(|r| r.parent == resource && r.name == name)
}

#[cfg(test)]
mod tests {
    use sea_orm::{Iterable, RelationDef, RelationTrait};

    use super::*;
    use crate::entity::{post_tag, user_role};

    type End = (String, String);

    /// A relation as the pair of columns it joins, in no particular direction.
    fn ends(def: &RelationDef) -> [End; 2] {
        let mut ends = [
            (
                table_of(&def.from_tbl).to_string(),
                column_of(&def.from_col).to_string(),
            ),
            (
                table_of(&def.to_tbl).to_string(),
                column_of(&def.to_col).to_string(),
            ),
        ];
        ends.sort();
        ends
    }

    /// The table whose rows a shape's children are.
    fn shape_table(shape: Shape) -> String {
        match shape {
            Shape::User | Shape::RoleAssignment | Shape::Follow | Shape::PostFavorite => {
                user::Entity.into_iden()
            }
            Shape::Post | Shape::UserFavorite => post::Entity.into_iden(),
            Shape::Profile => profile::Entity.into_iden(),
            Shape::Comment => comment::Entity.into_iden(),
            Shape::UserAssignment => role::Entity.into_iden(),
            Shape::TagName => tag::Entity.into_iden(),
        }
        .to_string()
    }

    /// Every relation an entity's `Relation` enum declares.
    fn every_def<R: RelationTrait + Iterable>() -> Vec<RelationDef> {
        R::iter().map(|r| r.def()).collect()
    }

    /// Every relation the entities declare, by parent resource; a many-to-many is its
    /// junction's foreign key to the parent.
    fn declared() -> Vec<(Resource, [End; 2])> {
        let mut out = Vec::new();
        let mut add = |parent: Resource, defs: Vec<RelationDef>| {
            out.extend(defs.iter().map(|d| (parent, ends(d))));
        };
        add(Resource::User, every_def::<user::Relation>());
        add(Resource::Post, every_def::<post::Relation>());
        add(Resource::Comment, every_def::<comment::Relation>());
        add(Resource::Profile, every_def::<profile::Relation>());
        add(Resource::Role, every_def::<role::Relation>());
        add(Resource::Tag, every_def::<tag::Relation>());
        // users.roles and roles.users go through `user_roles`, posts.tags and tags.posts
        // through `post_tags`.
        add(Resource::User, vec![user_role::Relation::User.def()]);
        add(Resource::Role, vec![user_role::Relation::Role.def()]);
        add(Resource::Post, vec![post_tag::Relation::Post.def()]);
        add(Resource::Tag, vec![post_tag::Relation::Tag.def()]);
        out
    }

    /// Relations the entities declare that `include` does not offer, each with why.
    fn not_included() -> Vec<(Resource, RelationDef)> {
        vec![
            // The assignments a user made to others (`assigned_by`) are no include path.
            (Resource::User, user_role::Relation::AssignedBy.def()),
        ]
    }

    #[test]
    fn every_entry_follows_entity_relations_from_its_parent_to_its_children() {
        for rel in RELATIONS {
            let first = rel.first();
            assert_eq!(
                table_of(&first.from_tbl).to_string(),
                rel.parent.table().to_string(),
                "{:?}.{} starts from another table",
                rel.parent,
                rel.name
            );
            let children = match rel.hops {
                Hops::Direct(_) => first.to_tbl.clone(),
                Hops::Via(_, second) => {
                    let second = second();
                    assert_eq!(
                        table_of(&second.from_tbl).to_string(),
                        table_of(&first.to_tbl).to_string(),
                        "{:?}.{}: the second hop leaves from the junction",
                        rel.parent,
                        rel.name
                    );
                    second.to_tbl
                }
            };
            assert_eq!(
                table_of(&children).to_string(),
                shape_table(rel.shape),
                "{:?}.{} ends at another table than its shape",
                rel.parent,
                rel.name
            );
            assert!(
                declared()
                    .iter()
                    .any(|(parent, e)| *parent == rel.parent && *e == ends(first)),
                "{:?}.{} joins {:?}, which no entity relation of {:?} does",
                rel.parent,
                rel.name,
                ends(first),
                rel.parent
            );
        }
    }

    #[test]
    fn every_relation_an_entity_declares_is_in_the_table() {
        for (parent, e) in declared() {
            let in_table = RELATIONS
                .iter()
                .any(|rel| rel.parent == parent && ends(rel.first()) == e);
            let excused = not_included()
                .iter()
                .any(|(p, def)| *p == parent && ends(def) == e);
            assert!(
                in_table || excused,
                "{parent:?} declares a relation joining {e:?}: add it to RELATIONS (or to \
                 not_included, saying why)"
            );
        }
    }

    #[test]
    fn every_relation_has_its_own_name_on_its_parent() {
        for (i, rel) in RELATIONS.iter().enumerate() {
            assert!(
                RELATIONS[..i].iter().all(|r| r.id() != rel.id()),
                "{:?} twice",
                rel.id()
            );
        }
    }

    #[test]
    fn to_one_and_to_many_follow_the_entities() {
        let many: Vec<(Resource, &str)> = RELATIONS
            .iter()
            .filter(|r| r.is_many())
            .map(|r| (r.parent, r.name))
            .collect();
        for one in [
            (Resource::User, "profile"),
            (Resource::Post, "author"),
            (Resource::Comment, "author"),
            (Resource::Comment, "post"),
            (Resource::Profile, "user"),
        ] {
            assert!(!many.contains(&one), "{one:?} is to-one");
        }
        assert_eq!(many.len(), RELATIONS.len() - 5);
        for rel in RELATIONS {
            assert!(
                !rel.is_capped() || rel.is_many(),
                "{:?}.{}: only to-many lists are cut",
                rel.parent,
                rel.name
            );
            assert_eq!(rel.is_capped(), rel.endpoint.is_some());
        }
        assert_eq!(
            countable(Resource::User),
            [
                "posts",
                "comments",
                "roles",
                "followers",
                "following",
                "favorites"
            ]
        );
        assert_eq!(countable(Resource::Post), ["comments", "favorites"]);
    }
}
