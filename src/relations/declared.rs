//! The relation table: every relation of every resource that `include` and `counts`
//! reach, written once. Each entry names its parent resource, the [`Link`] that fetches
//! its children for many parents at once, and the parent field holding the key; a unit
//! test checks every entry against the entities' SeaORM relations, and every relation an
//! entity declares against the table.

use crate::store::page::SortOrder;
use crate::wire::repr::order;

/// The resources that have relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    User,
    Post,
    Comment,
    Profile,
    Role,
    Tag,
}

impl Resource {
    /// The table a resource's rows live in.
    pub fn table(self) -> &'static str {
        match self {
            Resource::User => "users",
            Resource::Post => "posts",
            Resource::Comment => "comments",
            Resource::Profile => "profiles",
            Resource::Role => "roles",
            Resource::Tag => "tags",
        }
    }
}

/// How one relation's children are fetched, for many parents at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// `follows ⋈ users (the follower) WHERE followee_id IN (…)`, as seen from the
    /// followed user, newest first, capped per user.
    FollowersOf,
    /// `follows ⋈ users (the one followed) WHERE follower_id IN (…)`, as seen from the
    /// follower.
    FollowingOf,
    /// `favorites ⋈ posts WHERE user_id IN (…)`, as seen from the user.
    FavoritesOfUser,
    /// `favorites ⋈ users WHERE post_id IN (…)`, as seen from the post.
    FavoritesOfPost,
    /// `post_tags ⋈ tags WHERE post_id IN (…)`: the names, in the author's order, never
    /// cut.
    TagsOfPost,
    /// `post_tags ⋈ posts WHERE tag_id IN (…)`, newest first.
    PostsOfTag,
}

/// One relation of one resource.
#[derive(Debug)]
pub struct Relation {
    pub parent: Resource,
    pub name: &'static str,
    pub link: Link,
    /// The field of the parent that holds the key the children are looked up by.
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
    Relation {
        parent: Resource::User,
        name: "followers",
        link: Link::FollowersOf,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::User,
        name: "following",
        link: Link::FollowingOf,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::User,
        name: "favorites",
        link: Link::FavoritesOfUser,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Post,
        name: "favorites",
        link: Link::FavoritesOfPost,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Post,
        name: "tags",
        link: Link::TagsOfPost,
        parent_key: "id",
        needs_token: false,
    },
    Relation {
        parent: Resource::Tag,
        name: "posts",
        link: Link::PostsOfTag,
        parent_key: "id",
        needs_token: false,
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

/// The relations that `counts` accepts for each resource.
pub fn countable(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::User => &[
            "posts",
            "comments",
            "roles",
            "followers",
            "following",
            "favorites",
        ],
        Resource::Post => &["comments", "favorites"],
        Resource::Role => &["users"],
        Resource::Tag => &["posts"],
        Resource::Comment | Resource::Profile => &[],
    }
}

impl Link {
    /// The resource the children are, when they have relations of their own.
    pub fn child_resource(self) -> Option<Resource> {
        match self {
            Link::UserById => Some(Resource::User),
            Link::PostById | Link::PostsByAuthor | Link::PostsOfTag => Some(Resource::Post),
            Link::ProfileByUser => Some(Resource::Profile),
            Link::CommentsByAuthor | Link::CommentsByPost => Some(Resource::Comment),
            // Association objects and tag names take no includes of their own.
            Link::AssignmentsByUser
            | Link::AssignmentsByRole
            | Link::FollowersOf
            | Link::FollowingOf
            | Link::FavoritesOfUser
            | Link::FavoritesOfPost
            | Link::TagsOfPost => None,
        }
    }

    /// Whether a parent has many children (an array) or at most one (an object or null).
    pub fn is_many(self) -> bool {
        !matches!(self, Link::UserById | Link::PostById | Link::ProfileByUser)
    }

    /// Whether the children are cut at `include_limit` (with a `_next_cursor`): every
    /// to-many link but a post's tags, which are a short ordered list of names.
    pub fn is_capped(self) -> bool {
        self.is_many() && self != Link::TagsOfPost
    }

    /// The default order of the children, which is that of their own endpoint.
    pub fn order(self) -> Option<SortOrder> {
        match self {
            Link::PostsByAuthor => Some(order::posts()),
            Link::CommentsByAuthor | Link::CommentsByPost => Some(order::comments()),
            Link::AssignmentsByUser => Some(order::user_assignments()),
            Link::AssignmentsByRole => Some(order::role_assignments()),
            Link::FollowersOf => Some(order::followers()),
            Link::FollowingOf => Some(order::following()),
            Link::FavoritesOfUser => Some(order::user_favorites()),
            Link::FavoritesOfPost => Some(order::post_favorites()),
            Link::PostsOfTag => Some(order::posts()),
            Link::UserById | Link::PostById | Link::ProfileByUser | Link::TagsOfPost => None,
        }
    }

    /// The relation's own endpoint, as the parent field that names the parent in its path
    /// and the path around it: an embedded `<relation>_next_cursor` is bound to that list
    /// (SPEC §5 "Cursors"). None for the to-one links, which are never cut.
    pub fn endpoint(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Link::PostsByAuthor => Some(("/users/", "id", "/posts")),
            Link::CommentsByAuthor => Some(("/users/", "id", "/comments")),
            Link::CommentsByPost => Some(("/posts/", "id", "/comments")),
            Link::AssignmentsByUser => Some(("/users/", "id", "/roles")),
            Link::AssignmentsByRole => Some(("/roles/", "name", "/users")),
            Link::FollowersOf => Some(("/users/", "id", "/followers")),
            Link::FollowingOf => Some(("/users/", "id", "/following")),
            Link::FavoritesOfUser => Some(("/users/", "id", "/favorites")),
            Link::FavoritesOfPost => Some(("/posts/", "id", "/favorites")),
            Link::PostsOfTag => Some(("/tags/", "name", "/posts")),
            Link::UserById | Link::PostById | Link::ProfileByUser | Link::TagsOfPost => None,
        }
    }

    /// The column holding the parent's key, for the `IN` list and `PARTITION BY`.
    pub fn key_column(self) -> (&'static str, &'static str) {
        match self {
            Link::UserById => ("users", "id"),
            Link::PostById => ("posts", "id"),
            Link::ProfileByUser => ("profiles", "user_id"),
            Link::PostsByAuthor => ("posts", "author_id"),
            Link::CommentsByAuthor => ("comments", "author_id"),
            Link::CommentsByPost => ("comments", "post_id"),
            Link::AssignmentsByUser => ("user_roles", "user_id"),
            Link::AssignmentsByRole => ("user_roles", "role_id"),
            Link::FollowersOf => ("follows", "followee_id"),
            Link::FollowingOf => ("follows", "follower_id"),
            Link::FavoritesOfUser => ("favorites", "user_id"),
            Link::FavoritesOfPost => ("favorites", "post_id"),
            Link::TagsOfPost => ("post_tags", "post_id"),
            Link::PostsOfTag => ("post_tags", "tag_id"),
        }
    }
}

/// The relation `name` of `resource`, if the table has it.
pub fn relation(resource: Resource, name: &str) -> Option<&'static Relation> {
    RELATIONS
        .iter()
        .find(|r| r.parent == resource && r.name == name)
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{TableName, TableRef};
    use sea_orm::{Iterable, RelationDef, RelationTrait};

    use super::*;
    use crate::entity::{comment, post, post_tag, profile, role, tag, user, user_role};

    type End = (String, String);

    fn table(t: &TableRef) -> String {
        match t {
            TableRef::Table(TableName(_, name), _) => name.to_string(),
            other => format!("{other:?}"),
        }
    }

    fn column(c: &sea_orm::Identity) -> String {
        c.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A relation as the pair of columns it joins, in no particular direction.
    fn ends(def: &RelationDef) -> [End; 2] {
        let mut ends = [
            (table(&def.from_tbl), column(&def.from_col)),
            (table(&def.to_tbl), column(&def.to_col)),
        ];
        ends.sort();
        ends
    }

    fn table_ends(rel: &Relation) -> [End; 2] {
        let (key_table, key_column) = rel.link.key_column();
        let mut ends = [
            (rel.parent.table().to_string(), rel.parent_key.to_string()),
            (key_table.to_string(), key_column.to_string()),
        ];
        ends.sort();
        ends
    }

    /// Every relation the entities declare, by parent resource; a many-to-many is its
    /// junction's foreign key to the parent.
    fn declared() -> Vec<(Resource, [End; 2])> {
        let mut out = Vec::new();
        let mut add = |parent: Resource, defs: Vec<RelationDef>| {
            out.extend(defs.iter().map(|d| (parent, ends(d))));
        };
        add(
            Resource::User,
            user::Relation::iter().map(|r| r.def()).collect(),
        );
        add(
            Resource::Post,
            post::Relation::iter().map(|r| r.def()).collect(),
        );
        add(
            Resource::Comment,
            comment::Relation::iter().map(|r| r.def()).collect(),
        );
        add(
            Resource::Profile,
            profile::Relation::iter().map(|r| r.def()).collect(),
        );
        add(
            Resource::Role,
            role::Relation::iter().map(|r| r.def()).collect(),
        );
        add(
            Resource::Tag,
            tag::Relation::iter().map(|r| r.def()).collect(),
        );
        // users.roles and roles.users go through `user_roles`, posts.tags and tags.posts
        // through `post_tags`.
        add(Resource::User, vec![user_role::Relation::User.def()]);
        add(Resource::Role, vec![user_role::Relation::Role.def()]);
        add(Resource::Post, vec![post_tag::Relation::Post.def()]);
        add(Resource::Tag, vec![post_tag::Relation::Tag.def()]);
        out
    }

    /// Relations the entities declare that `include` does not offer, and why.
    const NOT_INCLUDED: &[(Resource, &str, &str)] = &[
        // The assignments a user made to others (`assigned_by`) are no include path.
        (Resource::User, "user_roles", "assigned_by"),
    ];

    #[test]
    fn every_table_entry_is_a_relation_the_entities_declare() {
        let declared = declared();
        for rel in RELATIONS {
            assert!(
                declared
                    .iter()
                    .any(|(parent, ends)| *parent == rel.parent && *ends == table_ends(rel)),
                "{:?}.{} joins {:?}, which no entity relation of {:?} does",
                rel.parent,
                rel.name,
                table_ends(rel),
                rel.parent
            );
        }
    }

    #[test]
    fn every_relation_an_entity_declares_is_in_the_table() {
        for (parent, ends) in declared() {
            let in_table = RELATIONS
                .iter()
                .any(|rel| rel.parent == parent && table_ends(rel) == ends);
            let excused = NOT_INCLUDED.iter().any(|(p, t, c)| {
                *p == parent && ends.iter().any(|(table, col)| table == t && col == c)
            });
            assert!(
                in_table || excused,
                "{parent:?} declares a relation joining {ends:?}: add it to RELATIONS (or to \
                 NOT_INCLUDED, saying why)"
            );
        }
    }
}
