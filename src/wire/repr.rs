//! The wire representations of SPEC §4, and the default order of each collection.
//!
//! Entities never go on the wire: each resource has its own output type here, built from
//! its model, and an `Item` (the output type with what is attached to it, in
//! `service::item`, which depends on this module and not the reverse) is what lists and
//! the include loader work with.

use sea_orm::sea_query::Expr;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::viewer::Viewer;
use crate::entity::{comment, favorite, follow, post, profile, role, tag, user, user_role};
use crate::store::page::{KeyKind, SortKey, SortOrder};
use crate::time;

/// A user. `email` is present only for the user themself and for admins.
#[derive(Serialize, ToSchema, Clone)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    #[schema(required = true)]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub is_active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// With `viewer=true`: whether the caller follows this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
}

impl UserOut {
    pub fn new(m: &user::Model, viewer: Option<&Viewer>) -> Self {
        let sees_email = viewer.is_some_and(|v| v.is_admin || v.id == m.id);
        UserOut {
            id: m.id,
            username: m.username.clone(),
            display_name: m.display_name.clone(),
            email: sees_email.then(|| m.email.clone()),
            is_active: m.is_active,
            created_at: time::format(&m.created_at),
            updated_at: time::format(&m.updated_at),
            following: None,
        }
    }

    /// The caller's own record, always with `email`.
    pub fn own(m: &user::Model) -> Self {
        let mut out = Self::new(m, None);
        out.email = Some(m.email.clone());
        out
    }
}

/// A profile (the one-to-one side of a user).
#[derive(Serialize, ToSchema, Clone)]
pub struct ProfileOut {
    pub id: i64,
    pub user_id: i64,
    #[schema(required = true)]
    pub avatar_url: Option<String>,
    #[schema(required = true)]
    pub website: Option<String>,
    #[schema(required = true)]
    pub bio: Option<String>,
    #[schema(required = true)]
    pub location: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&profile::Model> for ProfileOut {
    fn from(m: &profile::Model) -> Self {
        ProfileOut {
            id: m.id,
            user_id: m.user_id,
            avatar_url: m.avatar_url.clone(),
            website: m.website.clone(),
            bio: m.bio.clone(),
            location: m.location.clone(),
            created_at: time::format(&m.created_at),
            updated_at: time::format(&m.updated_at),
        }
    }
}

/// A post.
#[derive(Serialize, ToSchema, Clone)]
pub struct PostOut {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
    /// Unique, made from the title at creation and kept when the title changes.
    pub slug: String,
    pub description: String,
    pub content: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// With `viewer=true`: whether the caller favorited this post.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favorited: Option<bool>,
}

impl From<&post::Model> for PostOut {
    fn from(m: &post::Model) -> Self {
        PostOut {
            id: m.id,
            author_id: m.author_id,
            title: m.title.clone(),
            slug: m.slug.clone(),
            description: m.description.clone(),
            content: m.content.clone(),
            created_at: time::format(&m.created_at),
            updated_at: time::format(&m.updated_at),
            favorited: None,
        }
    }
}

/// A comment.
#[derive(Serialize, ToSchema, Clone)]
pub struct CommentOut {
    pub id: i64,
    pub post_id: i64,
    pub author_id: i64,
    pub body: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&comment::Model> for CommentOut {
    fn from(m: &comment::Model) -> Self {
        CommentOut {
            id: m.id,
            post_id: m.post_id,
            author_id: m.author_id,
            body: m.body.clone(),
            created_at: time::format(&m.created_at),
            updated_at: time::format(&m.updated_at),
        }
    }
}

/// A role.
#[derive(Serialize, ToSchema, Clone)]
pub struct RoleOut {
    pub id: i64,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&role::Model> for RoleOut {
    fn from(m: &role::Model) -> Self {
        RoleOut {
            id: m.id,
            name: m.name.clone(),
            description: m.description.clone(),
            created_at: time::format(&m.created_at),
        }
    }
}

/// Who made a role assignment (`null` once that user is deleted).
#[derive(Serialize, ToSchema, Clone)]
pub struct AssignerOut {
    pub id: i64,
    pub username: String,
}

/// A role assignment as seen from its user: the association object of `user_roles`.
#[derive(Serialize, ToSchema, Clone)]
pub struct UserAssignmentOut {
    pub role: RoleOut,
    #[schema(format = DateTime)]
    pub assigned_at: String,
    #[schema(required = true)]
    pub assigned_by: Option<AssignerOut>,
}

/// A role assignment as seen from its role.
#[derive(Serialize, ToSchema, Clone)]
pub struct RoleAssignmentOut {
    pub user: UserOut,
    #[schema(format = DateTime)]
    pub assigned_at: String,
    #[schema(required = true)]
    pub assigned_by: Option<AssignerOut>,
}

/// A `user_roles` row with the role, and the assigner's username when they still exist.
pub fn user_assignment(
    link: &user_role::Model,
    role: &role::Model,
    assigner: Option<AssignerOut>,
) -> UserAssignmentOut {
    UserAssignmentOut {
        role: RoleOut::from(role),
        assigned_at: time::format(&link.assigned_at),
        assigned_by: assigner,
    }
}

/// A `user_roles` row with the user holding it.
pub fn role_assignment(
    link: &user_role::Model,
    user: &user::Model,
    assigner: Option<AssignerOut>,
    viewer: Option<&Viewer>,
) -> RoleAssignmentOut {
    RoleAssignmentOut {
        user: UserOut::new(user, viewer),
        assigned_at: time::format(&link.assigned_at),
        assigned_by: assigner,
    }
}

/// A tag.
#[derive(Serialize, ToSchema, Clone)]
pub struct TagOut {
    pub id: i64,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&tag::Model> for TagOut {
    fn from(m: &tag::Model) -> Self {
        TagOut {
            id: m.id,
            name: m.name.clone(),
            created_at: time::format(&m.created_at),
        }
    }
}

/// A tag's name, as a post's included `tags` lists it.
#[derive(Clone)]
pub struct TagNameOut(pub String);

impl Serialize for TagNameOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A follow: seen from the followed user, `user` is the follower; seen from the
/// follower, `user` is the one followed.
#[derive(Serialize, ToSchema, Clone)]
pub struct FollowOut {
    pub user: UserOut,
    #[schema(format = DateTime)]
    pub followed_at: String,
}

/// A `follows` row with the user on the other side of it.
pub fn follow(link: &follow::Model, other: &user::Model, viewer: Option<&Viewer>) -> FollowOut {
    FollowOut {
        user: UserOut::new(other, viewer),
        followed_at: time::format(&link.created_at),
    }
}

/// A favorite as seen from its user: the post.
#[derive(Serialize, ToSchema, Clone)]
pub struct UserFavoriteOut {
    pub post: PostOut,
    #[schema(format = DateTime)]
    pub favorited_at: String,
}

/// A favorite as seen from its post: the user.
#[derive(Serialize, ToSchema, Clone)]
pub struct PostFavoriteOut {
    pub user: UserOut,
    #[schema(format = DateTime)]
    pub favorited_at: String,
}

/// A `favorites` row with its post.
pub fn user_favorite(link: &favorite::Model, post: &post::Model) -> UserFavoriteOut {
    UserFavoriteOut {
        post: PostOut::from(post),
        favorited_at: time::format(&link.created_at),
    }
}

/// A `favorites` row with its user.
pub fn post_favorite(
    link: &favorite::Model,
    user: &user::Model,
    viewer: Option<&Viewer>,
) -> PostFavoriteOut {
    PostFavoriteOut {
        user: UserOut::new(user, viewer),
        favorited_at: time::format(&link.created_at),
    }
}

/// Default orders (SPEC §3 "Lists"), each ending with a unique tie-breaker.
pub mod order {
    use super::*;

    /// Users by id ascending.
    pub fn users() -> SortOrder {
        SortOrder::new(vec![SortKey::asc(
            Expr::col((user::Entity, user::Column::Id)),
            "/id",
            KeyKind::Int,
        )])
    }

    /// Posts newest first.
    pub fn posts() -> SortOrder {
        SortOrder::new(vec![
            SortKey::desc(
                Expr::col((post::Entity, post::Column::CreatedAt)),
                "/created_at",
                KeyKind::Time,
            ),
            SortKey::desc(
                Expr::col((post::Entity, post::Column::Id)),
                "/id",
                KeyKind::Int,
            ),
        ])
    }

    /// Comments oldest first.
    pub fn comments() -> SortOrder {
        SortOrder::new(vec![
            SortKey::asc(
                Expr::col((comment::Entity, comment::Column::CreatedAt)),
                "/created_at",
                KeyKind::Time,
            ),
            SortKey::asc(
                Expr::col((comment::Entity, comment::Column::Id)),
                "/id",
                KeyKind::Int,
            ),
        ])
    }

    /// Roles by name (names are unique).
    pub fn roles() -> SortOrder {
        SortOrder::new(vec![SortKey::asc(
            Expr::col((role::Entity, role::Column::Name)),
            "/name",
            KeyKind::Text,
        )])
    }

    /// Tags by name (names are unique; code-point order on both databases).
    pub fn tags() -> SortOrder {
        SortOrder::new(vec![SortKey::asc(
            Expr::col((tag::Entity, tag::Column::Name)),
            "/name",
            KeyKind::Text,
        )])
    }

    /// "Newest first" of an association list (SPEC §5): the row's `created_at`
    /// descending, ties broken by the other side's id descending.
    fn newest_first(
        created_at: Expr,
        at_field: &'static str,
        other_id: Expr,
        id_field: &'static str,
    ) -> SortOrder {
        SortOrder::new(vec![
            SortKey::desc(created_at, at_field, KeyKind::Time),
            SortKey::desc(other_id, id_field, KeyKind::Int),
        ])
    }

    /// Follows newest first, ties broken by `other`: the follower or the one followed,
    /// whichever the item's `user` is.
    fn follows_newest_first(other: follow::Column) -> SortOrder {
        newest_first(
            Expr::col((follow::Entity, follow::Column::CreatedAt)),
            "/followed_at",
            Expr::col((follow::Entity, other)),
            "/user/id",
        )
    }

    /// A user's followers, newest first.
    pub fn followers() -> SortOrder {
        follows_newest_first(follow::Column::FollowerId)
    }

    /// Whom a user follows, newest first.
    pub fn following() -> SortOrder {
        follows_newest_first(follow::Column::FolloweeId)
    }

    /// Favorites newest first, ties broken by `other` (the post or the user, at
    /// `id_field` in the item).
    fn favorites_newest_first(other: favorite::Column, id_field: &'static str) -> SortOrder {
        newest_first(
            Expr::col((favorite::Entity, favorite::Column::CreatedAt)),
            "/favorited_at",
            Expr::col((favorite::Entity, other)),
            id_field,
        )
    }

    /// A user's favorites, newest first.
    pub fn user_favorites() -> SortOrder {
        favorites_newest_first(favorite::Column::PostId, "/post/id")
    }

    /// A post's favorites, newest first.
    pub fn post_favorites() -> SortOrder {
        favorites_newest_first(favorite::Column::UserId, "/user/id")
    }

    /// Role assignments by `assigned_at`, then `other` (the role or the user, at
    /// `id_field` in the item).
    fn assignments_oldest_first(other: user_role::Column, id_field: &'static str) -> SortOrder {
        SortOrder::new(vec![
            SortKey::asc(
                Expr::col((user_role::Entity, user_role::Column::AssignedAt)),
                "/assigned_at",
                KeyKind::Time,
            ),
            SortKey::asc(
                Expr::col((user_role::Entity, other)),
                id_field,
                KeyKind::Int,
            ),
        ])
    }

    /// A user's assignments by `assigned_at`, then role id.
    pub fn user_assignments() -> SortOrder {
        assignments_oldest_first(user_role::Column::RoleId, "/role/id")
    }

    /// A role's assignments by `assigned_at`, then user id.
    pub fn role_assignments() -> SortOrder {
        assignments_oldest_first(user_role::Column::UserId, "/user/id")
    }
}

/// What a delete would do, per table (SPEC §3 "Cascade preview"): the rows it would delete
/// and the columns it would set to null, each table it can reach listed, with 0 where
/// nothing would go.
#[derive(Serialize, ToSchema, Debug, Default, PartialEq, Eq)]
pub struct CascadePreview {
    pub delete: std::collections::BTreeMap<&'static str, u64>,
    pub set_null: std::collections::BTreeMap<&'static str, u64>,
}
