//! The service layer: relationship logic, transactions and eager loading, one module per
//! resource. Functions take the connection they use (`&impl ConnectionTrait`, or
//! [`crate::store::Writer`] when they write in a transaction of their own) and the values they
//! need, never the application state; nothing here imports the HTTP layer.

pub mod auth;
pub mod comments;
pub mod counts;
pub mod favorites;
pub mod follows;
pub mod like;
pub mod linked;
pub mod lookup;
pub mod posts;
pub mod profiles;
pub mod roles;
pub mod tags;
pub mod users;
pub mod with_write;

#[cfg(test)]
mod tests {
    /// Every `.rs` file under `dir`, recursively.
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a readable directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_service_module_names_the_http_layer() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        assert!(files.len() > 10, "found {files:?}");
        let offenders: Vec<_> = files
            .iter()
            .filter(|f| {
                std::fs::read_to_string(f)
                    .expect("a readable file")
                    // Spelled in two halves so that this file does not name it.
                    .contains(concat!("crate", "::http"))
            })
            .collect();
        assert!(
            offenders.is_empty(),
            "services must not import the HTTP layer: {offenders:?}"
        );
    }
}
