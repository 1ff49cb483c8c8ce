//! Parsing `include` and `counts` (SPEC §3) into the tree of relations a request loads:
//! 401 when role data is asked without a token, 400 for an unknown path or relation,
//! naming the valid ones.

use crate::domain::viewer::Viewer;
use crate::error::{AppError, Result};
use crate::relations::declared::{Relation, Resource, countable, relation, valid_paths};
use crate::relations::sql;

/// One node of the include tree: a relation and the relations included below it.
#[derive(Debug)]
pub struct Node {
    pub relation: &'static Relation,
    pub children: Vec<Node>,
}

/// A request's `include` and `counts`, as the client sent them.
#[derive(Clone, Copy, Debug, Default)]
pub struct IncludeRequest<'a> {
    pub include: Option<&'a str>,
    pub counts: Option<&'a str>,
}

fn split_list(raw: Option<&str>) -> Vec<&str> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// The include tree and the counted relations of a request for `resource`.
pub fn parse(
    resource: Resource,
    request: IncludeRequest<'_>,
    viewer: Option<&Viewer>,
) -> Result<(Vec<Node>, Vec<&'static Relation>)> {
    let paths = split_list(request.include);
    let counts = split_list(request.counts);
    if paths.len() > 32 || counts.len() > 8 {
        return Err(AppError::bad_request(
            "invalid_include",
            "Too many include or counts entries.",
        ));
    }
    // Every relation a valid path walks through, and every counted one.
    let walked = paths
        .iter()
        .filter(|p| valid_paths(resource).contains(p))
        .flat_map(|p| walk(resource, p))
        .chain(
            counts
                .iter()
                .filter(|c| countable(resource).contains(c))
                .filter_map(|c| relation(resource, c)),
        );
    let needs_token = walked.into_iter().any(|r| r.needs_token);
    if needs_token && viewer.is_none() {
        return Err(AppError::unauthorized(
            "missing_token",
            "Role data needs a bearer token.",
        ));
    }
    let mut nodes: Vec<Node> = Vec::new();
    for path in &paths {
        if !valid_paths(resource).contains(path) {
            return Err(AppError::bad_request(
                "invalid_include",
                format!(
                    "Unknown include path `{}`; valid paths: {}.",
                    path.chars().take(64).collect::<String>(),
                    valid_paths(resource).join(", ")
                ),
            ));
        }
        add_path(&mut nodes, resource, path)?;
    }
    let mut count_rels = Vec::new();
    for name in &counts {
        let rel = countable(resource)
            .contains(name)
            .then(|| relation(resource, name))
            .flatten()
            .ok_or_else(|| {
                let valid = countable(resource);
                AppError::bad_request(
                    "invalid_counts",
                    format!(
                        "Unknown counts relation `{}`; valid: {}.",
                        name.chars().take(64).collect::<String>(),
                        if valid.is_empty() {
                            "none".to_string()
                        } else {
                            valid.join(", ")
                        }
                    ),
                )
            })?;
        if !count_rels.iter().any(|r: &&Relation| std::ptr::eq(*r, rel)) {
            count_rels.push(rel);
        }
    }
    Ok((nodes, count_rels))
}

/// Adds the relations of `path` (dotted, from `resource`) to the tree `nodes`, each
/// relation once however many paths pass through it.
fn add_path(nodes: &mut Vec<Node>, resource: Resource, path: &str) -> Result<()> {
    let mut level = nodes;
    let mut at = resource;
    for name in path.split('.') {
        let rel = relation(at, name).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("path {path} has no relation {name}"))
        })?;
        let index = match level.iter().position(|n| std::ptr::eq(n.relation, rel)) {
            Some(i) => i,
            None => {
                level.push(Node {
                    relation: rel,
                    children: Vec::new(),
                });
                level.len() - 1
            }
        };
        at = rel.shape.resource().unwrap_or(at);
        level = &mut level[index].children;
    }
    Ok(())
}

/// The tree of `paths` and the relations `counts` of `resource`, for a view the server
/// itself chooses: any chain of declared relations, not only the paths SPEC offers
/// clients.
pub fn fixed(
    resource: Resource,
    paths: &[&str],
    counts: &[&str],
) -> Result<(Vec<Node>, Vec<&'static Relation>)> {
    let mut nodes = Vec::new();
    for path in paths {
        add_path(&mut nodes, resource, path)?;
    }
    let counts = counts
        .iter()
        .map(|name| {
            relation(resource, name).ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("{resource:?} has no relation {name}"))
            })
        })
        .collect::<Result<_>>()?;
    Ok((nodes, counts))
}

/// The relations `path` walks through from `resource`, as far as they exist.
fn walk(resource: Resource, path: &str) -> Vec<&'static Relation> {
    let mut at = Some(resource);
    path.split('.')
        .map_while(|name| {
            let rel = relation(at?, name)?;
            at = rel.shape.resource();
            Some(rel)
        })
        .collect()
}

/// The child of `node` that comes in `node`'s own statement by a join: its only child,
/// when both are to-one ([`sql::joinable`]) and the child includes nothing more.
pub fn joined(node: &Node) -> Option<&Node> {
    match node.children.as_slice() {
        [only] if only.children.is_empty() && sql::joinable(node.relation, only.relation) => {
            Some(only)
        }
        _ => None,
    }
}

/// The statements a tree runs: one per distinct relation in it, but for the relations
/// joined to their parent's statement.
pub fn statements(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|n| match joined(n) {
            Some(_) => 1,
            None => 1 + statements(&n.children),
        })
        .sum()
}
