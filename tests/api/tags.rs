//! Tags and the API 1.1 fields of posts (SPEC §5): the ordered many-to-many, tag names and
//! lists refused with 422, `/tags` in code-point order, `/tags/{name}/posts` and `tag=`,
//! slugs and descriptions, and the races: one tag created at once by two posts, two posts
//! with one title.

use relata::entity::{post, post_tag, tag};
use relata::service::tags;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;

async fn tags_of(app: &TestApp, post: i64) -> Vec<String> {
    tags::names_of_post(&app.state.db().write().await, post)
        .await
        .unwrap()
}

async fn create(app: &TestApp, token: &str, body: Value) -> i64 {
    let res = app.post("/api/v1/posts", Some(token), body).await;
    res.assert_status(201);
    res.body["id"].as_i64().unwrap()
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

db_test!(a_post_keeps_its_tags_in_the_authors_order, |app| {
    let (_, token) = app.seed_user("alice").await;
    let id = create(
        &app,
        &token,
        json!({"title": "Hello", "content": "c", "tags": ["Rust", "  sql ", "c++"]}),
    )
    .await;
    assert_eq!(tags_of(&app, id).await, ["rust", "sql", "c++"]);

    let path = format!("/api/v1/posts/{id}");
    // Absent keeps them; a new list replaces them in its order; `[]` removes them.
    app.patch(&path, Some(&token), json!({"title": "Hi"}))
        .await
        .assert_status(200);
    assert_eq!(tags_of(&app, id).await, ["rust", "sql", "c++"]);
    app.patch(&path, Some(&token), json!({"tags": ["c++", "go", "rust"]}))
        .await
        .assert_status(200);
    assert_eq!(tags_of(&app, id).await, ["c++", "go", "rust"]);
    app.patch(&path, Some(&token), json!({"tags": []}))
        .await
        .assert_status(200);
    assert!(tags_of(&app, id).await.is_empty());
    // A tag outlives its posts.
    assert_eq!(
        tag::Entity::find()
            .count(app.state.store.connection())
            .await
            .unwrap(),
        4
    );
});

db_test!(bad_tags_are_422_naming_tags_and_change_nothing, |app| {
    let (_, token) = app.seed_user("alice").await;
    let id = create(
        &app,
        &token,
        json!({"title": "t", "content": "c", "tags": ["keep"]}),
    )
    .await;
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let bad_lists = [
        json!(["has space"]),
        json!(["-dash"]),
        json!(["x".repeat(51)]),
        json!(eleven),
        json!(["rust", "RUST "]),
        json!([1]),
    ];
    for tags in &bad_lists {
        let res = app
            .post(
                "/api/v1/posts",
                Some(&token),
                json!({"title": "t", "content": "c", "tags": tags}),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert!(
            res.body["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with("tags"),
            "{tags}: {}",
            res.body
        );
        let res = app
            .patch(
                &format!("/api/v1/posts/{id}"),
                Some(&token),
                json!({"tags": tags}),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert!(
            res.body["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with("tags"),
            "{tags}: {}",
            res.body
        );
    }
    let res = app
        .patch(
            &format!("/api/v1/posts/{id}"),
            Some(&token),
            json!({"tags": null}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "tags");
    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "t", "content": "c", "tags": null}),
        )
        .await;
    res.assert_problem(422, "validation_failed");

    assert_eq!(
        post::Entity::find()
            .count(app.state.store.connection())
            .await
            .unwrap(),
        1
    );
    assert_eq!(tags_of(&app, id).await, ["keep"]);
    assert_eq!(
        tag::Entity::find()
            .count(app.state.store.connection())
            .await
            .unwrap(),
        1
    );
});

db_test!(
    tags_are_listed_in_code_point_order_on_both_databases,
    |app| {
        let (_, token) = app.seed_user("alice").await;
        create(
        &app,
        &token,
        json!({"title": "t", "content": "c", "tags": ["ab", "a_b", "a.b", "a-b", "a+b", "a#b", "b", "a9"]}),
    )
    .await;
        let res = app.get("/api/v1/tags?count=true", None).await;
        res.assert_status(200);
        assert_eq!(
            names(&res.body),
            ["a#b", "a+b", "a-b", "a.b", "a9", "a_b", "ab", "b"]
        );
        assert_eq!(res.body["total"], 8);
        // Paging by name.
        let first = app.get("/api/v1/tags?limit=3", None).await;
        let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
        let rest = app
            .get(&format!("/api/v1/tags?limit=10&cursor={cursor}"), None)
            .await;
        assert_eq!(names(&rest.body), ["a.b", "a9", "a_b", "ab", "b"]);
    }
);

db_test!(
    a_tags_posts_are_listed_newest_first_and_filter_like_posts,
    |app| {
        let (alice, token) = app.seed_user("alice").await;
        let (_, bob_t) = app.seed_user("bob").await;
        let one = create(
            &app,
            &token,
            json!({"title": "one", "content": "c", "tags": ["rust"]}),
        )
        .await;
        let two = create(
            &app,
            &bob_t,
            json!({"title": "two", "content": "c", "tags": ["rust", "sql"]}),
        )
        .await;
        create(
            &app,
            &token,
            json!({"title": "three", "content": "c", "tags": ["sql"]}),
        )
        .await;

        let ids = app
            .collect_ids("/api/v1/tags/%20RUST%20/posts?limit=1")
            .await;
        assert_eq!(ids, [two, one]);
        let ids = app.collect_ids("/api/v1/posts?tag=Rust").await;
        assert_eq!(ids, [two, one]);
        let ids = app
            .collect_ids(&format!("/api/v1/tags/rust/posts?author_id={alice}"))
            .await;
        assert_eq!(ids, [one]);
        let ids = app.collect_ids("/api/v1/tags/rust/posts?tag=sql").await;
        assert_eq!(ids, [two], "the path's tag and `tag=` both apply");
        assert!(
            app.collect_ids("/api/v1/posts?tag=nothing")
                .await
                .is_empty()
        );
        app.get("/api/v1/tags/nothing/posts", None)
            .await
            .assert_problem(404, "not_found");
        app.get("/api/v1/tags/%21%21/posts", None)
            .await
            .assert_problem(404, "not_found");
    }
);

db_test!(a_slug_is_made_once_and_a_description_is_kept, |app| {
    let (_, token) = app.seed_user("alice").await;
    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "Hello, World!", "content": "c", "description": "A greeting"}),
        )
        .await;
    res.assert_status(201);
    let slug = res.body["slug"].as_str().unwrap().to_string();
    assert!(slug.starts_with("hello-world-"), "{slug}");
    assert_eq!(res.body["description"], "A greeting");
    let id = res.body["id"].as_i64().unwrap();

    let res = app
        .patch(
            &format!("/api/v1/posts/{id}"),
            Some(&token),
            json!({"title": "Renamed", "description": ""}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["slug"], slug.as_str(), "the slug stays");
    assert_eq!(res.body["description"], "");
    let plain = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "x", "content": "c"}),
        )
        .await;
    assert_eq!(plain.body["description"], "");
    let res = app
        .post(
            "/api/v1/posts",
            Some(&token),
            json!({"title": "t", "content": "c", "description": "d".repeat(1001)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "description");
    let res = app
        .patch(
            &format!("/api/v1/posts/{id}"),
            Some(&token),
            json!({"description": null}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
});

db_test!(
    posts_created_at_once_get_distinct_slugs_and_share_one_new_tag,
    |app| {
        let (_, token) = app.seed_user("alice").await;
        let body = json!({"title": "Same title", "content": "c", "tags": ["fresh", "new"]});
        let creates = (0..8).map(|_| app.post("/api/v1/posts", Some(&token), body.clone()));
        let results = futures::future::join_all(creates).await;
        let mut slugs: Vec<String> = results
            .iter()
            .map(|r| {
                r.assert_status(201);
                r.body["slug"].as_str().unwrap().to_string()
            })
            .collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), 8, "distinct slugs: {slugs:?}");
        assert_eq!(
            tag::Entity::find()
                .count(app.state.store.connection())
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            post_tag::Entity::find()
                .count(app.state.store.connection())
                .await
                .unwrap(),
            16
        );
    }
);
