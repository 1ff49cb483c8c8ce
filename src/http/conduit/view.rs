//! The JSON shapes of the Conduit face, and how a page of posts or comments becomes them
//! with a constant number of statements: the authors (with their profiles and the
//! viewer's `following`), tags, favorite counts and the viewer's `favorited` come through
//! the include loader of `/api/v1` (`relations`), one batched statement each for the
//! whole page, all in one flight.

use chrono::{DateTime, Utc};
use sea_orm::IdenStatic;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::Result;
use crate::domain::viewer::Viewer;
use crate::entity::{comment, post};
use crate::relations::{Expand, Find, Marks, Resource};
use crate::service::profiles::Person;
use crate::store::read::Reader;
use crate::wire::item::{Item, Out};
use crate::wire::repr::{CommentOut, PostOut};

/// A timestamp as Conduit shows it: RFC 3339 UTC with exactly three fractional digits,
/// truncated, so that every read of a row shows the string its create answered.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    crate::time::fixed(t, 3).unwrap_or_else(|| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// The user, to themself.
#[derive(Serialize, ToSchema)]
pub struct User {
    pub email: String,
    pub token: String,
    pub username: String,
    #[schema(required = true)]
    pub bio: Option<String>,
    #[schema(required = true)]
    pub image: Option<String>,
}

impl User {
    pub fn new(person: Person, token: String) -> Self {
        User {
            email: person.user.email,
            token,
            username: person.user.username,
            bio: person.bio,
            image: person.avatar_url,
        }
    }
}

/// `{"user": …}`.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    pub user: User,
}

/// A user as others see them.
#[derive(Serialize, ToSchema, Clone)]
pub struct Profile {
    pub username: String,
    #[schema(required = true)]
    pub bio: Option<String>,
    #[schema(required = true)]
    pub image: Option<String>,
    /// Whether the caller follows them; false without a token.
    pub following: bool,
}

impl Profile {
    pub fn new(person: &Person, following: bool) -> Self {
        Profile {
            username: person.user.username.clone(),
            bio: person.bio.clone(),
            image: person.avatar_url.clone(),
            following,
        }
    }
}

impl Profile {
    /// The `author` the loader attached to `item`, with the profile joined to it and the
    /// viewer's `following` mark; `None` when the author is gone.
    fn author_of(item: &Item) -> Option<Profile> {
        let author = item.one("author")?;
        let Out::User(user) = &author.out else {
            return None;
        };
        let profile = match author.one("profile").map(|p| &p.out) {
            Some(Out::Profile(p)) => Some(p),
            _ => None,
        };
        Some(Profile {
            username: user.username.clone(),
            bio: profile.and_then(|p| p.bio.clone()),
            image: profile.and_then(|p| p.avatar_url.clone()),
            following: user.following.unwrap_or(false),
        })
    }
}

/// `{"profile": …}`.
#[derive(Serialize, ToSchema)]
pub struct ProfileBody {
    pub profile: Profile,
}

/// An article as a list shows it: everything but its `body`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleSummary {
    pub slug: String,
    pub title: String,
    pub description: String,
    /// In the author's order.
    pub tag_list: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: Profile,
}

/// An article.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub body: String,
    /// In the author's order.
    pub tag_list: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: Profile,
}

impl From<(ArticleSummary, String)> for Article {
    fn from((s, body): (ArticleSummary, String)) -> Self {
        Article {
            slug: s.slug,
            title: s.title,
            description: s.description,
            body,
            tag_list: s.tag_list,
            created_at: s.created_at,
            updated_at: s.updated_at,
            favorited: s.favorited,
            favorites_count: s.favorites_count,
            author: s.author,
        }
    }
}

/// `{"article": …}`.
#[derive(Serialize, ToSchema)]
pub struct ArticleBody {
    pub article: Article,
}

/// `{"articles": […], "articlesCount": N}`; `articlesCount` counts every match, before
/// `limit` and `offset`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArticleList {
    pub articles: Vec<ArticleSummary>,
    pub articles_count: u64,
}

/// A comment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub body: String,
    pub author: Profile,
}

/// `{"comment": …}`.
#[derive(Serialize, ToSchema)]
pub struct CommentBody {
    pub comment: Comment,
}

/// `{"comments": […]}`: all of an article's comments, oldest first.
#[derive(Serialize, ToSchema)]
pub struct CommentList {
    pub comments: Vec<Comment>,
}

/// `{"tags": […]}`: every tag some article has, by name.
#[derive(Serialize, ToSchema)]
pub struct TagList {
    pub tags: Vec<String>,
}

/// A post as the loader takes it: its strings moved in, its times already in Conduit's
/// form, so that the article takes them back out without copying (the loader reads only
/// the keys and sets `favorited`).
fn post_item(p: post::Model) -> Item {
    Item::from(PostOut {
        id: p.id,
        author_id: p.author_id,
        title: p.title,
        slug: p.slug,
        description: p.description,
        content: p.content,
        created_at: timestamp(&p.created_at),
        updated_at: timestamp(&p.updated_at),
        favorited: None,
    })
}

/// What an article shows beside its post: its author with the profile (and, for a
/// viewer, whether the viewer follows them), its tags, its favorite count and (for a
/// viewer) whether the viewer favorited it.
fn article_expand(viewer_id: Option<i64>) -> Result<Expand> {
    let expand = Expand::fixed(Resource::Post, &["author.profile", "tags"], &["favorites"])?;
    Ok(match viewer_id {
        Some(id) => expand.marking(id, Marks::ALL),
        None => expand,
    })
}

/// A post item with its author, tags, favorite count and mark attached, as an article
/// and its body; `None` when its author is gone.
fn article_of(mut item: Item) -> Option<(ArticleSummary, String)> {
    // The foreign key keeps every author; a post whose author vanished between the two
    // reads is left out.
    let author = Profile::author_of(&item)?;
    let tag_list = item.take_names("tags");
    let favorites_count = item.count("favorites").unwrap_or(0);
    let Out::Post(p) = item.out else {
        return None;
    };
    Some((
        ArticleSummary {
            slug: p.slug,
            title: p.title,
            description: p.description,
            tag_list,
            created_at: p.created_at,
            updated_at: p.updated_at,
            favorited: p.favorited.unwrap_or(false),
            favorites_count,
            author,
        },
        p.content,
    ))
}

/// The posts as articles, in their order, each with its body: statements for the
/// authors with their profiles (and, with a viewer, whether the viewer follows each),
/// tags, favorite counts and the viewer's favorites, one each for the whole page and all
/// in one flight.
pub async fn articles(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    posts: Vec<post::Model>,
) -> Result<Vec<(ArticleSummary, String)>> {
    let mut items: Vec<Item> = posts.into_iter().map(post_item).collect();
    article_expand(viewer.map(|v| v.id))?
        .apply(db, viewer, &mut items)
        .await?;
    Ok(items.into_iter().filter_map(article_of).collect())
}

/// One post as an article.
pub async fn article(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    post: post::Model,
) -> Result<ArticleBody> {
    articles(db, viewer, vec![post])
        .await?
        .into_iter()
        .next()
        .map(|a| ArticleBody {
            article: Article::from(a),
        })
        .ok_or_else(|| super::error::ConduitError::not_found("article"))
}

/// A post its author has just written, as its author sees it, from what the write knows:
/// `tag_list` as given, no favorites, and `following` false (nobody follows themself).
pub fn new_article(post: post::Model, tag_list: Vec<String>, author: &Person) -> ArticleBody {
    ArticleBody {
        article: Article {
            created_at: timestamp(&post.created_at),
            updated_at: timestamp(&post.updated_at),
            slug: post.slug,
            title: post.title,
            description: post.description,
            body: post.content,
            tag_list,
            favorited: false,
            favorites_count: 0,
            author: Profile::new(author, false),
        },
    }
}

/// The article with this slug, as `viewer_id` sees it (the token's user, before its
/// check: nothing here depends on who they are beyond their marks), or 404 `article`:
/// the post with its author, profile, favorite count and the viewer's marks in one
/// statement ([`Expand::find_one`]), then its tags.
pub async fn article_by_slug(
    db: &Reader<'_>,
    viewer_id: Option<i64>,
    slug: &str,
) -> Result<ArticleBody> {
    crate::service::posts::check_slug(slug)?;
    let find = Find {
        resource: Resource::Post,
        by: post::Column::Slug.as_str(),
        value: slug.into(),
    };
    article_expand(viewer_id)?
        .find_one(db, None, find, post_item)
        .await?
        .and_then(article_of)
        .map(|a| ArticleBody {
            article: Article::from(a),
        })
        .ok_or_else(|| super::error::ConduitError::not_found("article"))
}

/// A comment its author has just written, as its author sees it: `following` false
/// (nobody follows themself).
pub fn new_comment(c: comment::Model, author: &Person) -> Comment {
    Comment {
        id: c.id,
        created_at: timestamp(&c.created_at),
        updated_at: timestamp(&c.updated_at),
        body: c.body,
        author: Profile::new(author, false),
    }
}

/// The comments, in their order, with their authors: one statement for the authors with
/// their profiles and (with a viewer) whether the viewer follows each.
pub async fn comments(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    comments: Vec<comment::Model>,
) -> Result<Vec<Comment>> {
    let mut items: Vec<Item> = comments
        .into_iter()
        .map(|c| {
            Item::from(CommentOut {
                id: c.id,
                post_id: c.post_id,
                author_id: c.author_id,
                body: c.body,
                created_at: timestamp(&c.created_at),
                updated_at: timestamp(&c.updated_at),
            })
        })
        .collect();
    let mut expand = Expand::fixed(Resource::Comment, &["author.profile"], &[])?;
    if let Some(v) = viewer {
        let marks = Marks {
            posts: false,
            users: true,
        };
        expand = expand.marking(v.id, marks);
    }
    expand.apply(db, viewer, &mut items).await?;
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let author = Profile::author_of(&item)?;
            let Out::Comment(c) = item.out else {
                return None;
            };
            Some(Comment {
                id: c.id,
                created_at: c.created_at,
                updated_at: c.updated_at,
                body: c.body,
                author,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_show_three_digits_truncated() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 21, 40, 5).unwrap()
            + chrono::Duration::microseconds(123_999);
        assert_eq!(timestamp(&t), "2026-11-25T21:40:05.123Z");
        let whole = Utc.with_ymd_and_hms(2026, 11, 25, 21, 40, 5).unwrap();
        assert_eq!(timestamp(&whole), "2026-11-25T21:40:05.000Z");
    }
}
