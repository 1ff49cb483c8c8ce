//! The query budget (SPEC §3): for every resource, every valid include path and every
//! counts relation, `X-Query-Count` is the same at `limit=1` and `limit=100` with both
//! pages full, and within the bound SPEC gives. This is the test that keeps N+1 out.

use relata::entity::{comment, favorite, follow, post, post_tag, role, tag, user, user_role};
use relata::relations::{Resource, countable, valid_paths};
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionTrait};

use crate::db_test;
use crate::helpers::TestApp;

/// Ids the budget checks read from: one of each, each with more than 100 children.
pub(crate) struct Hub {
    pub user: i64,
    pub post: i64,
    pub comment: i64,
    pub profile: i64,
    pub role: String,
    /// A tag on all of the hub user's posts.
    pub tag: String,
    pub token: String,
}

/// Demo data through `relata seed`, plus a hub user with 120 posts, 120 comments, 110
/// roles, 110 followers, 110 users followed and 120 favorites, a hub post with 120
/// comments and 110 favorites, a role held by 110 users, 110 more tags, and a tag on
/// 120 posts.
pub(crate) async fn arrange(app: &TestApp) -> Hub {
    let (hub_user, token) = app.user("hubuser").await;
    let db = app.raw_db().await;
    let plan = relata::ops::seed::SeedPlan {
        users: 120,
        posts_per_user: 1,
        comments_per_post: 1,
        seed: 7,
    };
    let report = relata::ops::seed::run(&db, &plan, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    let txn = db.begin().await.unwrap();
    let now = relata::time::now();
    let hub_tag = tag::ActiveModel {
        name: Set("hubtag".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .unwrap();
    for i in 0..110 {
        tag::ActiveModel {
            name: Set(format!("zz{i:03}")),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
    }
    let mut hub_post = 0;
    for i in 0..120 {
        let p = post::ActiveModel {
            author_id: Set(hub_user),
            title: Set(format!("hub post {i}")),
            content: Set("c".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
        hub_post = p.id;
        post_tag::ActiveModel {
            post_id: Set(p.id),
            tag_id: Set(hub_tag.id),
            position: Set(0),
        }
        .insert(&txn)
        .await
        .unwrap();
        favorite::ActiveModel {
            user_id: Set(hub_user),
            post_id: Set(p.id),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .unwrap();
    }
    for u in 0..110 {
        let other = report.first_user_id + u;
        for (follower_id, followee_id) in [(hub_user, other), (other, hub_user)] {
            follow::ActiveModel {
                follower_id: Set(follower_id),
                followee_id: Set(followee_id),
                created_at: Set(now),
            }
            .insert(&txn)
            .await
            .unwrap();
        }
        favorite::ActiveModel {
            user_id: Set(other),
            post_id: Set(hub_post),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .unwrap();
    }
    let mut hub_comment = 0;
    for i in 0..120 {
        // On the hub post, by the hub user and by seeded users in turn.
        let author = if i % 2 == 0 {
            hub_user
        } else {
            report.first_user_id + i
        };
        let c = comment::ActiveModel {
            post_id: Set(hub_post),
            author_id: Set(author),
            body: Set(format!("comment {i}")),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
        hub_comment = c.id;
    }
    for i in 0..120 {
        comment::ActiveModel {
            post_id: Set(hub_post - 1),
            author_id: Set(hub_user),
            body: Set(format!("more {i}")),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
    }
    for i in 0..110 {
        let r = role::ActiveModel {
            name: Set(format!("role{i:03}")),
            description: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .unwrap();
        user_role::ActiveModel {
            user_id: Set(hub_user),
            role_id: Set(r.id),
            assigned_at: Set(now),
            assigned_by: Set(Some(hub_user)),
        }
        .insert(&txn)
        .await
        .unwrap();
        if i == 0 {
            for u in 0..110 {
                user_role::ActiveModel {
                    user_id: Set(report.first_user_id + u),
                    role_id: Set(r.id),
                    assigned_at: Set(now),
                    assigned_by: Set(Some(hub_user)),
                }
                .insert(&txn)
                .await
                .unwrap();
            }
        }
    }
    txn.commit().await.unwrap();
    let profile = relata::entity::profile::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .expect("seeded profiles")
        .id;
    let _ = user::Entity::find_by_id(hub_user)
        .one(&db)
        .await
        .unwrap()
        .expect("the hub user");
    Hub {
        user: hub_user,
        post: hub_post,
        comment: hub_comment,
        profile,
        role: "role000".into(),
        tag: "hubtag".into(),
        token,
    }
}

/// Every include value worth checking for a resource: each valid path, and all of them.
pub(crate) fn include_values(resource: Resource) -> Vec<String> {
    let mut values: Vec<String> = valid_paths(resource)
        .iter()
        .map(|p| p.to_string())
        .collect();
    values.push(valid_paths(resource).join(","));
    values.push(String::new());
    values
}

/// Distinct relations in an include list: `posts,posts.comments.author` is 3.
fn include_nodes(include: &str) -> usize {
    let mut nodes: Vec<String> = Vec::new();
    for path in include.split(',').filter(|p| !p.is_empty()) {
        let parts: Vec<&str> = path.split('.').collect();
        for i in 1..=parts.len() {
            let prefix = parts[..i].join(".");
            if !nodes.contains(&prefix) {
                nodes.push(prefix);
            }
        }
    }
    nodes.len()
}

/// SPEC §3's bound; `viewer=true` adds at most 2 more (SPEC §5).
fn bound(token: bool, include: &str, counts: &str, count: bool) -> usize {
    2 + usize::from(token)
        + include_nodes(include)
        + counts.split(',').filter(|c| !c.is_empty()).count()
        + usize::from(count)
}

/// Checks one list endpoint for every include and counts combination.
async fn check_list(app: &TestApp, path: &str, resource: Option<Resource>, token: Option<&str>) {
    let includes = resource
        .map(include_values)
        .unwrap_or_else(|| vec![String::new()]);
    let mut counts_values: Vec<String> = vec![String::new()];
    if let Some(r) = resource {
        counts_values.extend(countable(r).iter().map(|c| c.to_string()));
        counts_values.push(countable(r).join(","));
    }
    let all = includes.len().saturating_sub(2);
    for (i, include) in includes.iter().enumerate() {
        // `viewer=true` (a token's) with no include and with every include at once.
        let viewers: &[bool] = match token {
            Some(_) if i >= all => &[false, true],
            _ => &[false],
        };
        for counts in &counts_values {
            for (count, viewer) in [false, true]
                .into_iter()
                .flat_map(|c| viewers.iter().map(move |v| (c, *v)))
            {
                let query =
                    format!("include={include}&counts={counts}&count={count}&viewer={viewer}");
                let sep = if path.contains('?') { '&' } else { '?' };
                let small = app.get(&format!("{path}{sep}limit=1&{query}"), token).await;
                let large = app
                    .get(&format!("{path}{sep}limit=100&{query}"), token)
                    .await;
                small.assert_status(200);
                large.assert_status(200);
                assert_eq!(
                    large.body["items"].as_array().unwrap().len(),
                    100,
                    "{path}?{query}: the large page is full"
                );
                assert!(
                    !large.body["next_cursor"].is_null(),
                    "{path}: more than 100 rows exist"
                );
                assert_eq!(
                    small.query_count(),
                    large.query_count(),
                    "{path}?{query}: limit=1 and limit=100 differ"
                );
                let max = bound(token.is_some(), include, counts, count) + 2 * usize::from(viewer);
                assert!(
                    large.query_count() <= max,
                    "{path}?{query}: {} statements, bound {max}",
                    large.query_count()
                );
            }
        }
    }
}

/// Checks one single-resource endpoint: within the bound, and the same for include_limit 1 and 100.
async fn check_one(app: &TestApp, path: &str, resource: Resource, token: Option<&str>) {
    let viewers: &[bool] = if token.is_some() {
        &[false, true]
    } else {
        &[false]
    };
    for include in include_values(resource) {
        let mut counts_values: Vec<String> = vec![String::new()];
        counts_values.push(countable(resource).join(","));
        for (counts, viewer) in counts_values
            .into_iter()
            .flat_map(|c| viewers.iter().map(move |v| (c.clone(), *v)))
        {
            let query = format!("include={include}&counts={counts}&viewer={viewer}");
            let small = app
                .get(&format!("{path}?include_limit=1&{query}"), token)
                .await;
            let large = app
                .get(&format!("{path}?include_limit=100&{query}"), token)
                .await;
            small.assert_status(200);
            large.assert_status(200);
            assert_eq!(small.query_count(), large.query_count(), "{path}?{query}");
            let max = bound(token.is_some(), &include, &counts, false) + 2 * usize::from(viewer);
            assert!(
                large.query_count() <= max,
                "{path}?{query}: {} statements, bound {max}",
                large.query_count()
            );
        }
    }
}

db_test!(
    every_list_runs_the_same_statements_at_limit_1_and_100,
    |app| {
        let hub = arrange(&app).await;
        let t = Some(hub.token.as_str());
        check_list(&app, "/api/v1/users", Some(Resource::User), t).await;
        check_list(&app, "/api/v1/posts", Some(Resource::Post), None).await;
        check_list(
            &app,
            &format!("/api/v1/users/{}/posts", hub.user),
            Some(Resource::Post),
            None,
        )
        .await;
        check_list(
            &app,
            &format!("/api/v1/users/{}/comments", hub.user),
            Some(Resource::Comment),
            None,
        )
        .await;
        check_list(
            &app,
            &format!("/api/v1/posts/{}/comments", hub.post),
            Some(Resource::Comment),
            None,
        )
        .await;
        check_list(&app, "/api/v1/roles", Some(Resource::Role), t).await;
        check_list(&app, &format!("/api/v1/users/{}/roles", hub.user), None, t).await;
        check_list(&app, &format!("/api/v1/roles/{}/users", hub.role), None, t).await;
    }
);

db_test!(
    every_api_1_1_list_runs_the_same_statements_at_limit_1_and_100,
    |app| {
        let hub = arrange(&app).await;
        let t = Some(hub.token.as_str());
        let user = hub.user;
        // The posts lists and their filters, with and without a token.
        for token in [None, t] {
            for path in [
                "/api/v1/posts?tag=hubtag".to_string(),
                format!("/api/v1/posts?favorited_by={user}"),
                format!("/api/v1/tags/{}/posts?q=hub", hub.tag),
                format!("/api/v1/users/{user}/posts?tag=hubtag"),
            ] {
                check_list(&app, &path, Some(Resource::Post), token).await;
            }
        }
        check_list(&app, "/api/v1/feed", Some(Resource::Post), t).await;
        check_list(&app, "/api/v1/tags", Some(Resource::Tag), None).await;
        check_list(&app, "/api/v1/tags", Some(Resource::Tag), t).await;
        for path in [
            format!("/api/v1/users/{user}/followers"),
            format!("/api/v1/users/{user}/following"),
            format!("/api/v1/users/{user}/favorites"),
            format!("/api/v1/posts/{}/favorites", hub.post),
        ] {
            check_list(&app, &path, None, None).await;
            check_list(&app, &path, None, t).await;
        }
    }
);

db_test!(every_single_resource_get_stays_within_its_budget, |app| {
    let hub = arrange(&app).await;
    let t = Some(hub.token.as_str());
    check_one(
        &app,
        &format!("/api/v1/users/{}", hub.user),
        Resource::User,
        t,
    )
    .await;
    check_one(&app, "/api/v1/auth/me", Resource::User, t).await;
    check_one(
        &app,
        &format!("/api/v1/posts/{}", hub.post),
        Resource::Post,
        None,
    )
    .await;
    check_one(
        &app,
        &format!("/api/v1/comments/{}", hub.comment),
        Resource::Comment,
        None,
    )
    .await;
    check_one(
        &app,
        &format!("/api/v1/profiles/{}", hub.profile),
        Resource::Profile,
        None,
    )
    .await;
    check_one(
        &app,
        &format!("/api/v1/roles/{}", hub.role),
        Resource::Role,
        t,
    )
    .await;
});

/// Where each resource is read with includes: its list (with a full page of 100 at
/// `limit=100`), or for profiles, which have none, one profile.
fn reading(resource: Resource, hub: &Hub) -> (String, bool) {
    match resource {
        Resource::User => ("/api/v1/users".into(), true),
        Resource::Post => ("/api/v1/posts".into(), true),
        Resource::Comment => (format!("/api/v1/posts/{}/comments", hub.post), true),
        Resource::Profile => (format!("/api/v1/profiles/{}", hub.profile), false),
        Resource::Role => ("/api/v1/roles".into(), true),
        Resource::Tag => ("/api/v1/tags".into(), true),
    }
}

/// The statements of `path?query`, the same for the smallest and the largest page (or
/// `include_limit`), which is checked.
async fn fixed_cost(
    app: &TestApp,
    path: &str,
    list: bool,
    query: &str,
    token: Option<&str>,
) -> usize {
    let size = if list { "limit" } else { "include_limit" };
    let small = app.get(&format!("{path}?{size}=1&{query}"), token).await;
    let large = app.get(&format!("{path}?{size}=100&{query}"), token).await;
    small.assert_status(200);
    large.assert_status(200);
    if list {
        assert_eq!(
            large.body["items"].as_array().map(Vec::len),
            Some(100),
            "{path}?{query}: the large page is full"
        );
    }
    assert_eq!(
        small.query_count(),
        large.query_count(),
        "{path}?{query}: the statement count depends on the page size"
    );
    large.query_count()
}

db_test!(
    every_declared_relation_costs_one_statement_through_include_and_counts,
    |app| {
        let hub = arrange(&app).await;
        let token = Some(hub.token.as_str());
        // The list comes from the declarations, so a new relation is walked here too.
        for rel in relata::relations::declared::RELATIONS {
            let (path, list) = reading(rel.parent, &hub);
            let base = fixed_cost(&app, &path, list, "", token).await;
            let mut walked = false;
            if valid_paths(rel.parent).contains(&rel.name) {
                let query = format!("include={}", rel.name);
                let cost = fixed_cost(&app, &path, list, &query, token).await;
                // A single item's to-one relation is joined into the item's own
                // statement: it costs none.
                let joined = !list && !rel.is_many();
                assert_eq!(
                    cost,
                    base + usize::from(!joined),
                    "{path}?{query}: one statement more than none, or none when joined"
                );
                walked = true;
            }
            if rel.countable {
                assert!(countable(rel.parent).contains(&rel.name));
                let query = format!("counts={}", rel.name);
                let cost = fixed_cost(&app, &path, list, &query, token).await;
                assert_eq!(
                    cost,
                    base + 1,
                    "{path}?{query}: one statement more than none"
                );
                walked = true;
            }
            assert!(
                walked,
                "{:?}.{} is neither an include path nor countable: nothing can reach it",
                rel.parent, rel.name
            );
        }
    }
);
