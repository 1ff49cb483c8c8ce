//! The JSON shapes of the Conduit face, and how a page of posts or comments becomes them
//! with a constant number of statements (the batched reads of `relations::annotate`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::Result;
use crate::domain::viewer::Viewer;
use crate::entity::{comment, post};
use crate::relations::annotate::{self, Person};
use crate::store::read::Reader;

/// A timestamp as Conduit shows it: RFC 3339 UTC with exactly three fractional digits,
/// truncated, so that every read of a row shows the string its create answered.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
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

/// The viewer's follows among `people` (none without a viewer): one statement.
async fn following(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    people: &[i64],
) -> Result<HashSet<i64>> {
    Ok(match viewer {
        Some(v) => annotate::followed_among(db, v.id, people).await?,
        None => HashSet::new(),
    })
}

/// The posts as articles, in their order, each with its body: statements for the
/// authors, tags, favorite counts and (with a viewer) the viewer's favorites and follows,
/// one each for the whole page.
pub async fn articles(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    posts: Vec<post::Model>,
) -> Result<Vec<(ArticleSummary, String)>> {
    let post_ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let author_ids: Vec<i64> = posts.iter().map(|p| p.author_id).collect();
    let authors = annotate::people(db, &author_ids).await?;
    let mut tags = annotate::tags_of(db, &post_ids).await?;
    let counts = annotate::favorite_counts(db, &post_ids).await?;
    let favorited = match viewer {
        Some(v) => annotate::favorited_among(db, v.id, &post_ids).await?,
        None => HashSet::new(),
    };
    let followed = following(db, viewer, &author_ids).await?;
    let mut out = Vec::with_capacity(posts.len());
    for p in posts {
        // The foreign key keeps every author; a post whose author vanished between the
        // two reads is left out.
        let Some(author) = authors.get(&p.author_id) else {
            continue;
        };
        out.push((
            ArticleSummary {
                slug: p.slug,
                title: p.title,
                description: p.description,
                tag_list: tags.remove(&p.id).unwrap_or_default(),
                created_at: timestamp(&p.created_at),
                updated_at: timestamp(&p.updated_at),
                favorited: favorited.contains(&p.id),
                favorites_count: counts.get(&p.id).copied().unwrap_or(0),
                author: Profile::new(author, followed.contains(&p.author_id)),
            },
            p.content,
        ));
    }
    Ok(out)
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

/// The comments, in their order, with their authors: one statement for the authors and
/// (with a viewer) one for the viewer's follows.
pub async fn comments(
    db: &Reader<'_>,
    viewer: Option<&Viewer>,
    comments: Vec<comment::Model>,
) -> Result<Vec<Comment>> {
    let author_ids: Vec<i64> = comments.iter().map(|c| c.author_id).collect();
    let authors: HashMap<i64, Person> = annotate::people(db, &author_ids).await?;
    let followed = following(db, viewer, &author_ids).await?;
    Ok(comments
        .into_iter()
        .filter_map(|c| {
            let author = authors.get(&c.author_id)?;
            Some(Comment {
                id: c.id,
                created_at: timestamp(&c.created_at),
                updated_at: timestamp(&c.updated_at),
                body: c.body,
                author: Profile::new(author, followed.contains(&c.author_id)),
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
