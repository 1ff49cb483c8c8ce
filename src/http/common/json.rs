//! JSON response bodies, written by sonic-rs instead of serde_json.
//!
//! Escaping strings was the largest single cost of a read: serde_json looks every byte
//! up in a table, which was 19% of the instructions of an S2 request on PostgreSQL
//! (bench/README.md, "Session 11: the loader's copies, JSON bodies and timestamps");
//! sonic-rs checks 32 bytes at a time. The output is the same bytes for every type a
//! response holds (the test below compares the two on every character that needs
//! escaping, and the API tests compare whole bodies).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A `200`-style JSON body (`application/json`), as `axum::Json` answers one.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match sonic_rs::to_vec(&self.0) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            // Only a type that cannot be JSON (a map with non-string keys) fails here,
            // and no response type is one: a bug, answered as axum answers it.
            Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    #[derive(Serialize)]
    struct Sample {
        id: i64,
        name: String,
        missing: Option<String>,
        flag: bool,
        list: Vec<String>,
        nested: serde_json::Value,
    }

    #[test]
    fn writes_what_serde_json_writes() {
        // Every ASCII character (the controls, `"` and `\` escaped), some beyond ASCII,
        // at every offset of a 32-byte block and across it.
        let ascii: String = (0u8..=127).map(char::from).collect();
        let mut names = vec![
            String::new(),
            ascii.clone(),
            "é ü 日本 🦀 \u{2028} \u{7f}".to_string(),
        ];
        for offset in 0..40 {
            names.push(format!(
                "{}\"{}\\\n",
                "x".repeat(offset),
                "y".repeat(offset)
            ));
        }
        for name in names {
            let sample = Sample {
                id: -42,
                name: name.clone(),
                missing: None,
                flag: true,
                list: vec![name.clone(), ascii.clone()],
                nested: serde_json::json!({"b": [1, 2.5, null], "a": name, "n": u64::MAX}),
            };
            assert_eq!(
                sonic_rs::to_vec(&sample).unwrap(),
                serde_json::to_vec(&sample).unwrap(),
                "for {name:?}"
            );
        }
    }
}
