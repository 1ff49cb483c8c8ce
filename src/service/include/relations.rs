//! The relation table: every relation of every resource that `include` and `counts`
//! reach, written once. Each entry names its parent resource, the [`Link`] that fetches
//! its children for many parents at once, and the parent field holding the key; a unit
//! test checks every entry against the entities' SeaORM relations, and every relation an
//! entity declares against the table.

use crate::service::page::SortOrder;
use crate::service::repr::order;

/// The resources that have relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    User,
    Post,
    Comment,
    Profile,
    Role,
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
        }
    }
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
    pub fn child_resource(self) -> Option<Resource> {
        match self {
            Link::UserById => Some(Resource::User),
            Link::PostById | Link::PostsByAuthor => Some(Resource::Post),
            Link::ProfileByUser => Some(Resource::Profile),
            Link::CommentsByAuthor | Link::CommentsByPost => Some(Resource::Comment),
            Link::AssignmentsByUser | Link::AssignmentsByRole => None,
        }
    }

    /// Whether a parent has many children (an array) or at most one (an object or null).
    pub fn is_many(self) -> bool {
        !matches!(self, Link::UserById | Link::PostById | Link::ProfileByUser)
    }

    /// The default order of the children, which is that of their own endpoint.
    pub fn order(self) -> Option<SortOrder> {
        match self {
            Link::PostsByAuthor => Some(order::posts()),
            Link::CommentsByAuthor | Link::CommentsByPost => Some(order::comments()),
            Link::AssignmentsByUser => Some(order::user_assignments()),
            Link::AssignmentsByRole => Some(order::role_assignments()),
            Link::UserById | Link::PostById | Link::ProfileByUser => None,
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
        }
    }
}

/// The relation `name` of `resource`, if the table has it.
pub fn relation(resource: Resource, name: &str) -> Option<&'static Relation> {
    RELATIONS
        .iter()
        .find(|r| r.parent == resource && r.name == name)
}
