//! Two `relata serve` processes on one PostgreSQL (issue 14), the way the service scales
//! out: everything that must agree between them is decided by the database, so races
//! between requests sent to different processes end as they would in one process.
//! Registration races, refresh-token rotation, logout and login throttling are each
//! checked with the requests split across the two. The PostgreSQL server is the test's
//! own (see `support::private_pg`); the JWT secret is left unset, so the first process
//! stores one and the second reads it.

mod support;

use std::collections::BTreeMap;
use std::thread;

use serde_json::json;
use support::private_pg::PrivatePostgres;
use support::{Server, try_request};

/// Two servers on one fresh private PostgreSQL; `None` where PostgreSQL is not installed.
fn two_servers() -> Option<(PrivatePostgres, tempfile::TempDir, [Server; 2])> {
    let pg = PrivatePostgres::start()?;
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let envs = [("DATABASE_URL", url.as_str())];
    let first = Server::start(dir.path(), &envs);
    let second = Server::start(dir.path(), &envs);
    Some((pg, dir, [first, second]))
}

/// Sends every request at once, request `i` to server `i % 2`; returns the answers in order.
fn split_at_once(
    servers: &[Server; 2],
    requests: Vec<(&'static str, String, Option<String>, Option<String>)>,
) -> Vec<(u16, String)> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(requests.len()));
    let threads: Vec<_> = requests
        .into_iter()
        .enumerate()
        .map(|(i, (method, path, token, body))| {
            let addr = servers[i % 2].addr.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                try_request(&addr, method, &path, token.as_deref(), body.as_deref())
                    .expect("the server answers")
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn tally(answers: &[(u16, String)]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for (status, _) in answers {
        *counts.entry(*status).or_default() += 1;
    }
    counts
}

#[test]
fn two_processes_on_one_postgres_agree_on_races_sessions_and_throttling() {
    let Some((_pg, _dir, servers)) = two_servers() else {
        return;
    };
    let [a, b] = &servers;

    // Registration race: one name, twenty requests, half to each process.
    let registrations = (0..20)
        .map(|i| {
            let name = if i % 3 == 0 { "Racer" } else { "racer" };
            let body = json!({"username": name, "email": format!("racer{i}@example.com"), "password": "password123"});
            (
                "POST",
                "/api/v1/auth/register".to_string(),
                None,
                Some(body.to_string()),
            )
        })
        .collect();
    let answers = split_at_once(&servers, registrations);
    assert_eq!(
        tally(&answers),
        BTreeMap::from([(201, 1), (409, 19)]),
        "{answers:?}"
    );

    // A token issued by one process is accepted by the other (one shared secret).
    support::register(&a.addr, "alice");
    let (access, refresh) = support::login(&a.addr, "alice");
    let (status, body) =
        try_request(&b.addr, "GET", "/api/v1/auth/me", Some(&access), None).unwrap();
    assert_eq!(status, 200, "{body}");

    // Refresh-token rotation: the same token used at once on both processes; one wins.
    let refreshes = (0..2)
        .map(|_| {
            (
                "POST",
                "/api/v1/auth/refresh".to_string(),
                None,
                Some(json!({"refresh_token": refresh}).to_string()),
            )
        })
        .collect();
    let answers = split_at_once(&servers, refreshes);
    assert_eq!(
        tally(&answers),
        BTreeMap::from([(200, 1), (401, 1)]),
        "{answers:?}"
    );

    // Logout on one process revokes the token on the other at once.
    let (access, refresh) = support::login(&b.addr, "alice");
    let (status, body) =
        try_request(&a.addr, "POST", "/api/v1/auth/logout", Some(&access), None).unwrap();
    assert_eq!(status, 204, "{body}");
    let (status, body) =
        try_request(&b.addr, "GET", "/api/v1/auth/me", Some(&access), None).unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, body) = try_request(
        &b.addr,
        "POST",
        "/api/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": refresh}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 401, "{body}");

    // Throttling: 20 wrong passwords at once, split across the processes.
    support::register(&b.addr, "bob");
    let attempts = (0..20)
        .map(|_| {
            (
                "POST",
                "/api/v1/auth/login".to_string(),
                None,
                Some(json!({"login": "bob", "password": "wrong-password"}).to_string()),
            )
        })
        .collect();
    let answers = split_at_once(&servers, attempts);
    assert_eq!(
        tally(&answers),
        BTreeMap::from([(401, 5), (429, 15)]),
        "{answers:?}"
    );
    for server in &servers {
        let (status, body) = try_request(
            &server.addr,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"login": "bob", "password": "password123"}).to_string()),
        )
        .unwrap();
        assert_eq!(status, 429, "the right password while throttled: {body}");
    }
}

#[test]
fn a_password_changed_through_one_process_ends_the_sessions_on_the_other() {
    let Some((_pg, _dir, servers)) = two_servers() else {
        return;
    };
    let [a, b] = &servers;
    support::register(&a.addr, "carol");
    let (changer, _) = support::login(&a.addr, "carol");
    let (other, other_refresh) = support::login(&b.addr, "carol");
    let conduit = {
        let body = json!({"user": {"email": "carol@example.com", "password": "password123"}});
        let (status, answer) = try_request(
            &b.addr,
            "POST",
            "/api/users/login",
            None,
            Some(&body.to_string()),
        )
        .unwrap();
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        answer["user"]["token"].as_str().unwrap().to_string()
    };
    let (status, me) =
        try_request(&a.addr, "GET", "/api/v1/auth/me", Some(&changer), None).unwrap();
    assert_eq!(status, 200, "{me}");
    let id = serde_json::from_str::<serde_json::Value>(&me).unwrap()["id"]
        .as_i64()
        .unwrap();

    let change = json!({"password": "a new password", "current_password": "password123"});
    let (status, body) = try_request(
        &a.addr,
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&changer),
        Some(&change.to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");

    // On the other process, at once: the other tokens are refused, the changer's is not.
    for (token, path, expected) in [
        (&other, "/api/v1/auth/me", 401),
        (&conduit, "/api/user", 401),
        (&changer, "/api/v1/auth/me", 200),
    ] {
        let (status, body) = try_request(&b.addr, "GET", path, Some(token), None).unwrap();
        assert_eq!(status, expected, "{path}: {body}");
    }
    let (status, body) = try_request(
        &b.addr,
        "POST",
        "/api/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": other_refresh}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 401, "{body}");
}
