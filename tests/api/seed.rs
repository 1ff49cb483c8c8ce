//! `relata seed`: deterministic demo data that passes the integrity check.

use relata::entity::{comment, post, profile, user, user_role};
use relata::ops::seed::{self, SeedPlan};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder};

use crate::db_test;
use crate::helpers::TestApp;

async fn fingerprint(db: &DatabaseConnection) -> Vec<String> {
    let mut rows = Vec::new();
    for u in user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!("u {} {} {:?}", u.id, u.username, u.display_name));
    }
    for p in post::Entity::find()
        .order_by_asc(post::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!(
            "p {} {} {} {}",
            p.id, p.author_id, p.title, p.created_at
        ));
    }
    for c in comment::Entity::find()
        .order_by_asc(comment::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!(
            "c {} {} {} {} {}",
            c.id, c.post_id, c.author_id, c.body, c.created_at
        ));
    }
    for p in profile::Entity::find()
        .order_by_asc(profile::Column::UserId)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!("pr {} {:?}", p.user_id, p.bio));
    }
    rows
}

db_test!(the_same_seed_gives_the_same_data_and_a_clean_check, |app| {
    let plan = SeedPlan {
        users: 40,
        posts_per_user: 3,
        comments_per_post: 2,
        seed: 11,
    };
    let bar = indicatif::ProgressBar::hidden();
    let db = app.raw_db().await;
    let report = seed::run(&db, &plan, &bar).await.unwrap();
    assert_eq!(
        (report.users, report.posts, report.comments),
        (40, 120, 240)
    );
    // The progress bar ends at what was written, which its total never passed.
    assert_eq!(bar.length(), Some(bar.position()));
    assert!(
        bar.position() <= seed::rows_at_most(&plan, plan.posts_per_user),
        "{} rows written, total {}",
        bar.position(),
        seed::rows_at_most(&plan, plan.posts_per_user)
    );
    assert_eq!(post::Entity::find().count(&db).await.unwrap(), 120);
    assert!(
        report.profiles > 5 && report.profiles < 35,
        "about half: {}",
        report.profiles
    );
    assert_eq!(
        user_role::Entity::find().count(&db).await.unwrap(),
        report.assignments
    );
    assert!(relata::ops::check::run(&db).await.unwrap().is_clean());

    let twin = TestApp::spawn(app.backend).await.unwrap();
    let twin_db = twin.raw_db().await;
    seed::run(&twin_db, &plan, &bar).await.unwrap();
    assert_eq!(fingerprint(&db).await, fingerprint(&twin_db).await);

    // Ids after the seed continue past it: the API can create rows at once.
    let (_, token) = app.user("after_seed").await;
    app.post(
        "/api/v1/posts",
        Some(&token),
        serde_json::json!({"title": "new", "content": "x"}),
    )
    .await
    .assert_status(201);
});
