//! The Conduit face (`/api`, CONDUIT.md): every endpoint, its shapes, statuses and error
//! texts, and the rules the official suite checks that are easy to miss. Both faces are
//! read together in `conduit_faces.rs`.

use relata::entity::{follow, post, post_tag, tag};
use reqwest::Method;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Res, TestApp};

/// A request with `Authorization: Token <token>`, as Conduit front-ends send it.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Res {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.header("authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    Res::read(req.send().await.expect("the server answers")).await
}

pub async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Res {
    call(app, Method::GET, path, token, None).await
}

pub async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> Res {
    call(app, Method::POST, path, token, Some(body)).await
}

pub async fn put(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> Res {
    call(app, Method::PUT, path, token, Some(body)).await
}

pub async fn delete(app: &TestApp, path: &str, token: Option<&str>) -> Res {
    call(app, Method::DELETE, path, token, None).await
}

/// Registers `name` (password `password123`) through `/api`; its token.
pub async fn register(app: &TestApp, name: &str) -> String {
    let res = post(
        app,
        "/api/users",
        None,
        json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "password123"}}),
    )
    .await;
    res.assert_status(201);
    res.body["user"]["token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// Writes an article through `/api`; its slug.
pub async fn write(app: &TestApp, token: &str, title: &str, tags: &[&str]) -> String {
    let res = post(
        app,
        "/api/articles",
        Some(token),
        json!({"article": {"title": title, "description": "about it", "body": "the body", "tagList": tags}}),
    )
    .await;
    res.assert_status(201);
    res.body["article"]["slug"]
        .as_str()
        .expect("a slug")
        .to_string()
}

/// Asserts the Conduit error body `{"errors": {key: [message]}}`.
#[track_caller]
pub fn assert_error(res: &Res, status: u16, key: &str, message: &str) {
    res.assert_status(status);
    assert_eq!(
        res.body["errors"][key],
        json!([message]),
        "body: {}",
        res.body
    );
}

#[track_caller]
fn assert_refused(res: &Res, key: &str) {
    res.assert_status(422);
    assert!(res.body["errors"][key].is_array(), "body: {}", res.body);
}

#[track_caller]
fn assert_timestamp(value: &Value) {
    let s = value.as_str().expect("a timestamp");
    // 2026-11-25T21:40:05.123Z
    assert_eq!(s.len(), 24, "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}

db_test!(registering_logging_in_and_reading_the_current_user, |app| {
    let res = post(
        &app,
        "/api/users",
        None,
        json!({"user": {"username": "auth_17641114391234_upd", "email": "Jake@Example.com", "password": "password123", "extra": 1}}),
    )
    .await;
    res.assert_status(201);
    let user = &res.body["user"];
    assert_eq!(user["username"], "auth_17641114391234_upd");
    assert_eq!(user["email"], "jake@example.com");
    assert_eq!(user["bio"], Value::Null);
    assert_eq!(user["image"], Value::Null);
    assert!(user.as_object().unwrap().contains_key("bio"));
    let token = user["token"].as_str().unwrap().to_string();
    assert!(res.header("x-query-count").is_some());

    // Login by email, case-insensitively.
    let login = post(
        &app,
        "/api/users/login",
        None,
        json!({"user": {"email": "JAKE@example.com", "password": "password123"}}),
    )
    .await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["username"], "auth_17641114391234_upd");

    // `Token` and `Bearer` alike.
    let me = get(&app, "/api/user", Some(&token)).await;
    me.assert_status(200);
    assert_eq!(me.body["user"]["token"], token.as_str());
    app.get("/api/user", Some(&token)).await.assert_status(200);

    assert_error(
        &get(&app, "/api/user", None).await,
        401,
        "token",
        "is missing",
    );
    assert_error(
        &get(&app, "/api/user", Some("not-a-jwt")).await,
        401,
        "token",
        "is invalid",
    );
    // A token that is sent but does not work is 401 where a token is optional too.
    get(&app, "/api/articles", Some("not-a-jwt"))
        .await
        .assert_status(401);

    let wrong = post(
        &app,
        "/api/users/login",
        None,
        json!({"user": {"email": "jake@example.com", "password": "wrong-password"}}),
    )
    .await;
    assert_error(&wrong, 401, "credentials", "invalid");
    let unknown = post(
        &app,
        "/api/users/login",
        None,
        json!({"user": {"email": "nobody@example.com", "password": "password123"}}),
    )
    .await;
    assert_error(&unknown, 401, "credentials", "invalid");

    let blank = post(
        &app,
        "/api/users/login",
        None,
        json!({"user": {"email": ""}}),
    )
    .await;
    assert_error(&blank, 422, "email", "can't be blank");
    assert_error(&blank, 422, "password", "can't be blank");

    let taken = post(
        &app,
        "/api/users",
        None,
        json!({"user": {"username": "AUTH_17641114391234_UPD", "email": "other@example.com", "password": "password123"}}),
    )
    .await;
    assert_error(&taken, 409, "username", "has already been taken");
    let taken = post(
        &app,
        "/api/users",
        None,
        json!({"user": {"username": "other", "email": "jake@example.com", "password": "password123"}}),
    )
    .await;
    assert_error(&taken, 409, "email", "has already been taken");
    let missing = post(&app, "/api/users", None, json!({"user": {}})).await;
    for field in ["username", "email", "password"] {
        assert_error(&missing, 422, field, "can't be blank");
    }
    let short = post(
        &app,
        "/api/users",
        None,
        json!({"user": {"username": "shorty", "email": "s@example.com", "password": "short"}}),
    )
    .await;
    assert_refused(&short, "password");
});

db_test!(
    a_login_is_throttled_and_a_deactivated_account_is_refused,
    |app| {
        register(&app, "jake").await;
        for _ in 0..5 {
            let res = post(
                &app,
                "/api/users/login",
                None,
                json!({"user": {"email": "jake@example.com", "password": "wrong-password"}}),
            )
            .await;
            assert_error(&res, 401, "credentials", "invalid");
        }
        let locked = post(
            &app,
            "/api/users/login",
            None,
            json!({"user": {"email": "jake@example.com", "password": "password123"}}),
        )
        .await;
        assert_error(&locked, 429, "credentials", "too many attempts");
        assert!(locked.header("retry-after").is_some());

        let token = register(&app, "finn").await;
        let db = app.raw_db().await;
        use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
        relata::entity::user::Entity::update_many()
            .col_expr(relata::entity::user::Column::IsActive, Expr::val(false))
            .filter(relata::entity::user::Column::Username.eq("finn"))
            .exec(&db)
            .await
            .unwrap();
        let disabled = post(
            &app,
            "/api/users/login",
            None,
            json!({"user": {"email": "finn@example.com", "password": "password123"}}),
        )
        .await;
        assert_error(&disabled, 403, "account", "disabled");
        get(&app, "/api/user", Some(&token))
            .await
            .assert_status(401);
    }
);

db_test!(
    changing_the_current_user_follows_the_rules_of_the_suite,
    |app| {
        let token = register(&app, "jake").await;
        register(&app, "taken").await;

        let res = put(
        &app,
        "/api/user",
        Some(&token),
        json!({"user": {"bio": "I work at statefarm", "image": "https://example.com/jake.png"}}),
    )
    .await;
        res.assert_status(200);
        assert_eq!(res.body["user"]["bio"], "I work at statefarm");
        assert_eq!(res.body["user"]["image"], "https://example.com/jake.png");
        // `""` and `null` clear them.
        let res = put(
            &app,
            "/api/user",
            Some(&token),
            json!({"user": {"bio": "", "image": null}}),
        )
        .await;
        res.assert_status(200);
        assert_eq!(res.body["user"]["bio"], Value::Null);
        assert_eq!(res.body["user"]["image"], Value::Null);

        assert_refused(
            &put(
                &app,
                "/api/user",
                Some(&token),
                json!({"user": {"image": "not a url"}}),
            )
            .await,
            "image",
        );
        for bad in [json!(""), json!(null)] {
            assert_error(
                &put(
                    &app,
                    "/api/user",
                    Some(&token),
                    json!({"user": {"username": bad.clone()}}),
                )
                .await,
                422,
                "username",
                "can't be blank",
            );
            assert_error(
                &put(
                    &app,
                    "/api/user",
                    Some(&token),
                    json!({"user": {"email": bad.clone()}}),
                )
                .await,
                422,
                "email",
                "can't be blank",
            );
            assert_refused(
                &put(
                    &app,
                    "/api/user",
                    Some(&token),
                    json!({"user": {"password": bad}}),
                )
                .await,
                "password",
            );
        }
        assert_refused(
            &put(
                &app,
                "/api/user",
                Some(&token),
                json!({"user": {"password": "1234567"}}),
            )
            .await,
            "password",
        );
        assert_error(
            &put(
                &app,
                "/api/user",
                Some(&token),
                json!({"user": {"username": "TAKEN"}}),
            )
            .await,
            409,
            "username",
            "has already been taken",
        );
        // A refused change writes nothing, the bio included.
        put(
            &app,
            "/api/user",
            Some(&token),
            json!({"user": {"username": "taken", "bio": "x"}}),
        )
        .await
        .assert_status(409);
        assert_eq!(
            get(&app, "/api/user", Some(&token)).await.body["user"]["bio"],
            Value::Null
        );

        // 8 and 64 characters are accepted, twice with one token.
        for password in ["p".repeat(8), "p".repeat(64)] {
            put(
                &app,
                "/api/user",
                Some(&token),
                json!({"user": {"password": password.clone()}}),
            )
            .await
            .assert_status(200);
            post(
                &app,
                "/api/users/login",
                None,
                json!({"user": {"email": "jake@example.com", "password": password}}),
            )
            .await
            .assert_status(200);
        }

        // After a username and email change, the old token and the answered one both work.
        let res = put(
            &app,
            "/api/user",
            Some(&token),
            json!({"user": {"username": "jake2", "email": "jake2@example.com"}}),
        )
        .await;
        res.assert_status(200);
        let answered = res.body["user"]["token"].as_str().unwrap().to_string();
        for t in [&token, &answered] {
            let me = get(&app, "/api/user", Some(t)).await;
            me.assert_status(200);
            assert_eq!(me.body["user"]["username"], "jake2");
            assert_eq!(me.body["user"]["email"], "jake2@example.com");
        }
    }
);

db_test!(profiles_and_following, |app| {
    let jake = register(&app, "jake").await;
    register(&app, "Celeb").await;

    let res = get(&app, "/api/profiles/celeb", None).await;
    res.assert_status(200);
    assert_eq!(
        res.body,
        json!({"profile": {"username": "Celeb", "bio": null, "image": null, "following": false}})
    );
    assert_error(
        &get(&app, "/api/profiles/nobody", None).await,
        404,
        "profile",
        "not found",
    );
    let overlong = format!("/api/profiles/{}", "x".repeat(5000));
    assert_error(
        &get(&app, &overlong, None).await,
        404,
        "profile",
        "not found",
    );

    for _ in 0..2 {
        let res = post(&app, "/api/profiles/CELEB/follow", Some(&jake), json!({})).await;
        res.assert_status(200);
        assert_eq!(res.body["profile"]["following"], true);
    }
    assert_eq!(
        follow::Entity::find()
            .count(app.state.store.connection())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        get(&app, "/api/profiles/celeb", Some(&jake)).await.body["profile"]["following"],
        true
    );
    for _ in 0..2 {
        let res = delete(&app, "/api/profiles/celeb/follow", Some(&jake)).await;
        res.assert_status(200);
        assert_eq!(res.body["profile"]["following"], false);
    }
    assert_eq!(
        follow::Entity::find()
            .count(app.state.store.connection())
            .await
            .unwrap(),
        0
    );

    assert_error(
        &post(&app, "/api/profiles/jake/follow", Some(&jake), json!({})).await,
        422,
        "profile",
        "cannot follow yourself",
    );
    assert_error(
        &post(&app, "/api/profiles/celeb/follow", None, json!({})).await,
        401,
        "token",
        "is missing",
    );
    assert_error(
        &post(&app, "/api/profiles/nobody/follow", Some(&jake), json!({})).await,
        404,
        "profile",
        "not found",
    );
});

db_test!(
    articles_are_written_read_listed_changed_and_deleted,
    |app| {
        let jake = register(&app, "jake").await;
        let other = register(&app, "other").await;

        let res = post(
        &app,
        "/api/articles",
        Some(&jake),
        json!({"article": {"title": "How to train your dragon", "description": "Ever wonder how?",
            "body": "You have to believe", "tagList": [" Dragons ", "training"], "favorited": true}}),
    )
    .await;
        res.assert_status(201);
        let article = res.body["article"].clone();
        assert_eq!(article["title"], "How to train your dragon");
        assert_eq!(article["tagList"], json!(["dragons", "training"]));
        assert_eq!(article["favorited"], false);
        assert_eq!(article["favoritesCount"], 0);
        assert_eq!(article["author"]["username"], "jake");
        assert_eq!(article["author"]["following"], false);
        assert_timestamp(&article["createdAt"]);
        assert_timestamp(&article["updatedAt"]);
        let slug = article["slug"].as_str().unwrap().to_string();

        // Rule 1: duplicate titles get distinct slugs.
        let twin = write(&app, &jake, "How to train your dragon", &[]).await;
        assert_ne!(twin, slug);

        let read = get(&app, &format!("/api/articles/{slug}"), None).await;
        read.assert_status(200);
        assert_eq!(
            read.body["article"], article,
            "a read shows what the create answered"
        );

        // Lists omit `body`, count every match, newest first.
        let list = get(&app, "/api/articles", None).await;
        list.assert_status(200);
        assert_eq!(list.body["articlesCount"], 2);
        let items = list.body["articles"].as_array().unwrap();
        assert_eq!(items[0]["slug"], twin.as_str());
        assert!(!items[0].as_object().unwrap().contains_key("body"));
        let page = get(&app, "/api/articles?limit=1&offset=1", None).await;
        assert_eq!(page.body["articlesCount"], 2);
        assert_eq!(page.body["articles"][0]["slug"], slug.as_str());
        for query in ["limit=0", "limit=101", "limit=x"] {
            assert_refused(
                &get(&app, &format!("/api/articles?{query}"), None).await,
                "limit",
            );
        }
        assert_refused(&get(&app, "/api/articles?offset=-1", None).await, "offset");
        assert_refused(
            &get(&app, "/api/articles/feed?limit=0", Some(&jake)).await,
            "limit",
        );

        // Filters: tag, author (case-insensitive), favorited.
        let by_tag = get(&app, "/api/articles?tag=Dragons", None).await;
        assert_eq!(by_tag.body["articlesCount"], 1);
        let by_author = get(&app, "/api/articles?author=JAKE", None).await;
        assert_eq!(by_author.body["articlesCount"], 2);
        let by_nobody = get(&app, "/api/articles?author=nobody", None).await;
        assert_eq!(by_nobody.body, json!({"articles": [], "articlesCount": 0}));

        // Rule 2: tagList omitted keeps the tags, [] removes them, null is 422.
        let path = format!("/api/articles/{slug}");
        // Timestamps show milliseconds: let one pass between writes.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let res = put(
            &app,
            &path,
            Some(&jake),
            json!({"article": {"title": "Did you train your dragon?"}}),
        )
        .await;
        res.assert_status(200);
        assert_eq!(res.body["article"]["slug"], slug.as_str(), "the slug stays");
        assert_eq!(res.body["article"]["title"], "Did you train your dragon?");
        assert_eq!(
            res.body["article"]["tagList"],
            json!(["dragons", "training"])
        );
        assert_eq!(res.body["article"]["createdAt"], article["createdAt"]);
        assert_ne!(res.body["article"]["updatedAt"], article["updatedAt"]);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let same = put(&app, &path, Some(&jake), json!({"article": {}})).await;
        same.assert_status(200);
        assert_ne!(
            same.body["article"]["updatedAt"], res.body["article"]["updatedAt"],
            "every PUT sets updatedAt"
        );
        let cleared = put(
            &app,
            &path,
            Some(&jake),
            json!({"article": {"tagList": []}}),
        )
        .await;
        assert_eq!(cleared.body["article"]["tagList"], json!([]));
        assert_refused(
            &put(
                &app,
                &path,
                Some(&jake),
                json!({"article": {"tagList": null}}),
            )
            .await,
            "tagList",
        );
        assert_error(
            &put(&app, &path, Some(&jake), json!({"article": {"title": ""}})).await,
            422,
            "title",
            "can't be blank",
        );
        assert_error(
            &put(&app, &path, Some(&jake), json!({"article": {"body": "  "}})).await,
            422,
            "body",
            "can't be blank",
        );
        let empty_description = put(
            &app,
            &path,
            Some(&jake),
            json!({"article": {"description": ""}}),
        )
        .await;
        empty_description.assert_status(200);
        assert_eq!(empty_description.body["article"]["description"], "");

        // Precedence: 401, 404, 403, then 422.
        assert_error(
            &put(&app, &path, None, json!({})).await,
            401,
            "token",
            "is missing",
        );
        assert_error(
            &put(
                &app,
                "/api/articles/no-such-article",
                Some(&jake),
                json!({"article": {"title": ""}}),
            )
            .await,
            404,
            "article",
            "not found",
        );
        assert_error(
            &put(&app, &path, Some(&other), json!({"article": {"title": ""}})).await,
            403,
            "article",
            "forbidden",
        );
        assert_error(
            &delete(&app, &path, Some(&other)).await,
            403,
            "article",
            "forbidden",
        );

        // POST requires all three.
        let blank = post(
            &app,
            "/api/articles",
            Some(&jake),
            json!({"article": {"tagList": null}}),
        )
        .await;
        for field in ["title", "description", "body"] {
            assert_error(&blank, 422, field, "can't be blank");
        }
        assert_refused(&blank, "tagList");

        let gone = delete(&app, &path, Some(&jake)).await;
        gone.assert_status(204);
        assert_eq!(gone.body, Value::Null);
        assert_error(&get(&app, &path, None).await, 404, "article", "not found");
        assert_error(
            &delete(&app, &path, Some(&jake)).await,
            404,
            "article",
            "not found",
        );
    }
);

db_test!(favoriting_is_idempotent_and_shows_everywhere, |app| {
    let jake = register(&app, "jake").await;
    let fan = register(&app, "fan").await;
    let slug = write(&app, &jake, "Favorite me", &[]).await;
    let path = format!("/api/articles/{slug}/favorite");

    for _ in 0..2 {
        let res = post(&app, &path, Some(&fan), json!({})).await;
        res.assert_status(200);
        assert_eq!(res.body["article"]["favorited"], true);
        assert_eq!(res.body["article"]["favoritesCount"], 1);
    }
    let listed = get(&app, "/api/articles?favorited=FAN", Some(&fan)).await;
    assert_eq!(listed.body["articlesCount"], 1);
    assert_eq!(listed.body["articles"][0]["favorited"], true);
    let anonymous = get(&app, &format!("/api/articles/{slug}"), None).await;
    assert_eq!(anonymous.body["article"]["favorited"], false);
    assert_eq!(anonymous.body["article"]["favoritesCount"], 1);

    for _ in 0..2 {
        let res = delete(&app, &path, Some(&fan)).await;
        res.assert_status(200);
        assert_eq!(res.body["article"]["favorited"], false);
        assert_eq!(res.body["article"]["favoritesCount"], 0);
    }
    assert_error(
        &post(&app, &path, None, json!({})).await,
        401,
        "token",
        "is missing",
    );
    assert_error(
        &post(&app, "/api/articles/nope/favorite", Some(&fan), json!({})).await,
        404,
        "article",
        "not found",
    );
});

db_test!(comments_are_listed_written_and_deleted, |app| {
    let jake = register(&app, "jake").await;
    let other = register(&app, "other").await;
    let slug = write(&app, &jake, "Comment on me", &[]).await;
    let second = write(&app, &jake, "Another", &[]).await;
    let path = format!("/api/articles/{slug}/comments");

    let first = post(
        &app,
        &path,
        Some(&other),
        json!({"comment": {"body": "first!"}}),
    )
    .await;
    first.assert_status(201);
    let comment = first.body["comment"].clone();
    assert_eq!(comment["body"], "first!");
    assert_eq!(comment["author"]["username"], "other");
    assert_timestamp(&comment["createdAt"]);
    let id = comment["id"].as_i64().unwrap();
    post(
        &app,
        &path,
        Some(&jake),
        json!({"comment": {"body": "second"}}),
    )
    .await
    .assert_status(201);

    let list = get(&app, &path, None).await;
    list.assert_status(200);
    let comments = list.body["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0], comment, "oldest first, as created");

    assert_error(
        &post(&app, &path, Some(&jake), json!({"comment": {"body": ""}})).await,
        422,
        "body",
        "can't be blank",
    );
    assert_error(
        &post(
            &app,
            "/api/articles/nope/comments",
            Some(&jake),
            json!({"comment": {"body": "x"}}),
        )
        .await,
        404,
        "article",
        "not found",
    );
    assert_error(
        &get(&app, "/api/articles/nope/comments", None).await,
        404,
        "article",
        "not found",
    );

    // Rule 5: an absent comment, or one of another article, is 404 `comment`.
    for bad in ["999999", "abc", "0", &"9".repeat(40)] {
        assert_error(
            &delete(&app, &format!("{path}/{bad}"), Some(&jake)).await,
            404,
            "comment",
            "not found",
        );
    }
    assert_error(
        &delete(
            &app,
            &format!("/api/articles/{second}/comments/{id}"),
            Some(&other),
        )
        .await,
        404,
        "comment",
        "not found",
    );
    assert_error(
        &delete(
            &app,
            &format!("/api/articles/nope/comments/{id}"),
            Some(&other),
        )
        .await,
        404,
        "article",
        "not found",
    );
    let stranger = register(&app, "stranger").await;
    assert_error(
        &delete(&app, &format!("{path}/{id}"), Some(&stranger)).await,
        403,
        "comment",
        "forbidden",
    );
    delete(&app, &format!("{path}/{id}"), Some(&other))
        .await
        .assert_status(204);
    assert_eq!(
        get(&app, &path, None).await.body["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
});

db_test!(the_tag_list_holds_every_tag_in_use_by_name, |app| {
    let jake = register(&app, "jake").await;
    assert_eq!(get(&app, "/api/tags", None).await.body, json!({"tags": []}));
    write(&app, &jake, "One", &["zeta", "Alpha"]).await;
    let slug = write(&app, &jake, "Two", &["alpha", "beta", "c++"]).await;
    let tags = get(&app, "/api/tags", None).await;
    tags.assert_status(200);
    assert_eq!(tags.body, json!({"tags": ["alpha", "beta", "c++", "zeta"]}));
    // A tag whose articles are gone is not listed.
    delete(&app, &format!("/api/articles/{slug}"), Some(&jake))
        .await
        .assert_status(204);
    assert_eq!(
        get(&app, "/api/tags", None).await.body,
        json!({"tags": ["alpha", "zeta"]})
    );
});

db_test!(
    bad_input_is_refused_with_conduit_errors_never_a_5xx,
    |app| {
        let jake = register(&app, "jake").await;
        // Not JSON.
        for path in ["/api/users", "/api/users/login", "/api/articles"] {
            let res = app
                .client
                .post(app.url(path))
                .header("authorization", format!("Token {jake}"))
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 422, "{path}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body, json!({"errors": {"body": ["is invalid JSON"]}}));
        }
        // A body that is not an object, and a wrapper that is not one.
        assert_refused(
            &post(&app, "/api/articles", Some(&jake), json!([1, 2])).await,
            "body",
        );
        assert_refused(
            &post(&app, "/api/articles", Some(&jake), json!({"article": "x"})).await,
            "article",
        );
        // The wrong wrapper: the fields are blank.
        let unwrapped = post(
            &app,
            "/api/articles",
            Some(&jake),
            json!({"title": "t", "description": "d", "body": "b"}),
        )
        .await;
        assert_error(&unwrapped, 422, "title", "can't be blank");
        // Wrong types name the field.
        let typed = post(
            &app,
            "/api/articles",
            Some(&jake),
            json!({"article": {"title": 5, "description": ["d"], "body": "b", "tagList": "x"}}),
        )
        .await;
        for field in ["title", "description", "tagList"] {
            assert_refused(&typed, field);
        }
        assert_refused(
            &post(
                &app,
                "/api/articles",
                Some(&jake),
                json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": [1]}}),
            )
            .await,
            "tagList",
        );
        // NUL, which PostgreSQL cannot store.
        assert_refused(
            &post(
                &app,
                "/api/articles",
                Some(&jake),
                json!({"article": {"title": "a\u{0}b", "description": "d", "body": "b"}}),
            )
            .await,
            "title",
        );
        assert_error(
            &get(&app, "/api/articles/a%00b", None).await,
            404,
            "article",
            "not found",
        );
        assert_error(
            &get(&app, "/api/profiles/a%00b", None).await,
            404,
            "profile",
            "not found",
        );
        // A query value is refused as /api/v1 refuses it: 400, naming the parameter.
        assert_error(
            &get(&app, "/api/articles?tag=a%00b", None).await,
            400,
            "tag",
            "must not contain the NUL character",
        );
        assert_error(
            &get(&app, "/api/articles?tag=%ff", None).await,
            400,
            "tag",
            "must be percent-encoded UTF-8",
        );
        assert_error(
            &get(&app, "/api/articles/feed?offset=%C0", Some(&jake)).await,
            400,
            "offset",
            "must be percent-encoded UTF-8",
        );
        // Overlong slugs and usernames.
        let long = "s".repeat(10_000);
        assert_error(
            &get(&app, &format!("/api/articles/{long}"), None).await,
            404,
            "article",
            "not found",
        );
        assert_eq!(
            get(
                &app,
                &format!("/api/articles?author={long}&tag={long}"),
                None
            )
            .await
            .body["articlesCount"],
            0
        );
        // Bad tags: 422 `tagList`, and nothing written (no post, no tag row, no slug).
        for tags in [
            json!(["ok", "OK"]),
            json!(["bad tag"]),
            json!((0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()),
        ] {
            assert_refused(
            &post(&app, "/api/articles", Some(&jake), json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": tags}})).await,
            "tagList",
        );
        }
        assert_eq!(
            post::Entity::find()
                .count(app.state.store.connection())
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            tag::Entity::find()
                .count(app.state.store.connection())
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            post_tag::Entity::find()
                .count(app.state.store.connection())
                .await
                .unwrap(),
            0
        );
        // A request body over the limit.
        let res = app
            .client
            .post(app.url("/api/articles"))
            .header("authorization", format!("Token {jake}"))
            .header("content-type", "application/json")
            .body(vec![b' '; 2 * 1024 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 413);
    }
);
