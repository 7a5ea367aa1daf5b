//! `find`/`$project` projections (inclusion, exclusion, `_id` handling, dotted paths).
//!
//! A spec is parsed into a tree of fields. Inclusion keeps only the listed fields (in document
//! order) plus `_id`, then appends computed fields; exclusion drops the listed fields. Mixing
//! the two is an error except for `_id`. Paths fan out through arrays of documents.
//! `$slice` and `$elemMatch` (find projections) and aggregation expressions are supported.
// `CmdError` (error.rs) is large by design: it carries the whole mongod error reply.
#![allow(clippy::result_large_err)]

use crate::error::{CmdError, CmdResult};
use crate::matcher::Matcher;
use crate::pipeline::expr;
use bson::{Bson, Document};

#[derive(Debug, Clone)]
pub struct Projection {
    tree: Tree,
    inclusion: bool,
    include_id: bool,
}

#[derive(Debug, Clone, Default)]
struct Tree {
    fields: Vec<(String, Node)>,
}

#[derive(Debug, Clone)]
enum Node {
    Include,
    Exclude,
    Computed(Bson),
    Slice { skip: Option<i64>, limit: i64 },
    ElemMatch(Matcher),
    Sub(Tree),
}

impl Tree {
    fn child(&mut self, name: &str) -> &mut Node {
        let pos = match self.fields.iter().position(|(k, _)| k == name) {
            Some(p) => p,
            None => {
                self.fields
                    .push((name.to_string(), Node::Sub(Tree::default())));
                self.fields.len() - 1
            }
        };
        &mut self.fields[pos].1
    }

    fn insert(&mut self, path: &str, node: Node) -> CmdResult<()> {
        match path.split_once('.') {
            None => {
                let slot = self.child(path);
                if matches!(slot, Node::Sub(t) if !t.fields.is_empty()) {
                    return Err(collision(path));
                }
                *slot = node;
                Ok(())
            }
            Some((head, rest)) => match self.child(head) {
                Node::Sub(t) => t.insert(rest, node),
                _ => Err(collision(path)),
            },
        }
    }

    fn get(&self, name: &str) -> Option<&Node> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, n)| n)
    }
}

fn collision(path: &str) -> CmdError {
    CmdError::new(31250, "Location31250", format!("Path collision at {path}"))
}

fn is_operator_doc(v: &Bson) -> bool {
    matches!(v, Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')))
}

/// Classifies one spec value: `Some(true)` include, `Some(false)` exclude, `None` other.
fn flag(v: &Bson) -> Option<bool> {
    match v {
        Bson::Boolean(b) => Some(*b),
        Bson::Int32(i) => Some(*i != 0),
        Bson::Int64(i) => Some(*i != 0),
        Bson::Double(d) => Some(*d != 0.0),
        Bson::Decimal128(_) => Some(crate::numeric::as_f64(v) != Some(0.0)),
        _ => None,
    }
}

impl Projection {
    pub fn new(spec: &Document) -> CmdResult<Self> {
        let mut tree = Tree::default();
        let mut flat = Vec::new();
        flatten(spec, "", &mut flat);
        let mut inclusion: Option<bool> = None;
        let mut include_id = true;
        for (path, v) in flat {
            let node = match (flag(&v), &v) {
                (Some(b), _) => {
                    if path == "_id" {
                        include_id = b;
                        continue;
                    }
                    if b {
                        Node::Include
                    } else {
                        Node::Exclude
                    }
                }
                (None, Bson::Document(d)) if d.len() == 1 && d.contains_key("$slice") => {
                    parse_slice(d.get("$slice").unwrap())?
                }
                (None, Bson::Document(d)) if d.len() == 1 && d.contains_key("$elemMatch") => {
                    match d.get("$elemMatch") {
                        Some(Bson::Document(f)) => Node::ElemMatch(Matcher::new(f)?),
                        _ => {
                            return Err(CmdError::bad_value(
                                "elemMatch: Invalid argument, object required.",
                            ))
                        }
                    }
                }
                _ => Node::Computed(v.clone()),
            };
            let mode = match node {
                Node::Include | Node::Computed(_) => Some(true),
                Node::Exclude => Some(false),
                _ => None,
            };
            if let (Some(m), Some(prev)) = (mode, inclusion) {
                if m != prev {
                    return Err(if m {
                        CmdError::new(
                            31253,
                            "Location31253",
                            format!("Cannot do inclusion on field {path} in exclusion projection"),
                        )
                    } else {
                        CmdError::new(
                            31254,
                            "Location31254",
                            format!("Cannot do exclusion on field {path} in inclusion projection"),
                        )
                    });
                }
            }
            inclusion = inclusion.or(mode);
            if path == "_id" {
                include_id = true;
            }
            tree.insert(&path, node)?;
        }
        Ok(Projection {
            tree,
            inclusion: inclusion.unwrap_or(false),
            include_id,
        })
    }

    pub fn apply(&self, doc: &Document) -> CmdResult<Document> {
        let mut out = if self.inclusion {
            include(&self.tree, doc, doc)?
        } else {
            exclude(&self.tree, doc, doc)?
        };
        match (self.include_id, doc.get("_id")) {
            (false, _) => {
                out.remove("_id");
            }
            (true, Some(id)) if self.inclusion && !out.contains_key("_id") => {
                let rest = std::mem::take(&mut out);
                out.insert("_id", id.clone());
                out.extend(rest);
            }
            _ => {}
        }
        Ok(out)
    }
}

/// `{a: {b: 1}}` is `{"a.b": 1}`; operator objects and expressions stay leaves.
fn flatten(spec: &Document, prefix: &str, out: &mut Vec<(String, Bson)>) {
    for (k, v) in spec {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Bson::Document(d) if !d.is_empty() && !is_operator_doc(v) => flatten(d, &path, out),
            other => out.push((path, other.clone())),
        }
    }
}

fn parse_slice(v: &Bson) -> CmdResult<Node> {
    let int = |v: &Bson| match v {
        Bson::Int32(i) => Some(*i as i64),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) => Some(*d as i64),
        _ => None,
    };
    match v {
        Bson::Array(items) if items.len() == 2 => match (int(&items[0]), int(&items[1])) {
            (Some(skip), Some(limit)) if limit > 0 => Ok(Node::Slice {
                skip: Some(skip),
                limit,
            }),
            _ => Err(CmdError::bad_value("$slice limit must be positive")),
        },
        other => match int(other) {
            Some(limit) => Ok(Node::Slice { skip: None, limit }),
            None => Err(CmdError::bad_value(
                "$slice only supports numbers and [skip, limit] arrays",
            )),
        },
    }
}

fn slice(items: &[Bson], skip: Option<i64>, limit: i64) -> Vec<Bson> {
    let len = items.len() as i64;
    let (start, count) = match skip {
        None if limit >= 0 => (0, limit),
        None => ((len + limit).max(0), -limit),
        Some(s) if s < 0 => ((len + s).max(0), limit),
        Some(s) => (s.min(len), limit),
    };
    items
        .iter()
        .skip(start as usize)
        .take(count as usize)
        .cloned()
        .collect()
}

/// Applies a `$slice`/`$elemMatch` leaf; `None` drops the field.
fn array_op(node: &Node, v: &Bson) -> Option<Bson> {
    match (node, v) {
        (Node::Slice { skip, limit }, Bson::Array(items)) => {
            Some(Bson::Array(slice(items, *skip, *limit)))
        }
        (Node::Slice { .. }, other) => Some(other.clone()),
        (Node::ElemMatch(m), Bson::Array(items)) => items
            .iter()
            .find(|e| matches!(e, Bson::Document(d) if m.matches(d)))
            .map(|e| Bson::Array(vec![e.clone()])),
        _ => None,
    }
}

fn include(tree: &Tree, doc: &Document, root: &Document) -> CmdResult<Document> {
    let mut out = Document::new();
    for (k, v) in doc {
        match tree.get(k) {
            Some(Node::Include) => {
                out.insert(k.clone(), v.clone());
            }
            Some(Node::Sub(sub)) => {
                if let Some(projected) = include_value(sub, v, root)? {
                    out.insert(k.clone(), projected);
                }
            }
            Some(n @ (Node::Slice { .. } | Node::ElemMatch(_))) => {
                if let Some(projected) = array_op(n, v) {
                    out.insert(k.clone(), projected);
                }
            }
            _ => {}
        }
    }
    for (k, node) in &tree.fields {
        match node {
            Node::Computed(e) => {
                if let Some(val) = expr::eval_opt(e, root)? {
                    out.insert(k.clone(), val);
                }
            }
            Node::Sub(sub) if !doc.contains_key(k) && has_computed(sub) => {
                let inner = include(sub, &Document::new(), root)?;
                out.insert(k.clone(), inner);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn has_computed(tree: &Tree) -> bool {
    tree.fields.iter().any(|(_, n)| match n {
        Node::Computed(_) => true,
        Node::Sub(t) => has_computed(t),
        _ => false,
    })
}

/// Inclusion below a path: documents are projected, arrays map over their documents.
fn include_value(sub: &Tree, v: &Bson, root: &Document) -> CmdResult<Option<Bson>> {
    Ok(match v {
        Bson::Document(d) => Some(Bson::Document(include(sub, d, root)?)),
        Bson::Array(items) => {
            let mut out = Vec::new();
            for e in items {
                if let Some(p) = include_value(sub, e, root)? {
                    out.push(p);
                }
            }
            Some(Bson::Array(out))
        }
        _ if has_computed(sub) => Some(Bson::Document(include(sub, &Document::new(), root)?)),
        _ => None,
    })
}

fn exclude(tree: &Tree, doc: &Document, root: &Document) -> CmdResult<Document> {
    let mut out = Document::new();
    for (k, v) in doc {
        match tree.get(k) {
            Some(Node::Exclude) => {}
            Some(Node::Sub(sub)) => {
                out.insert(k.clone(), exclude_value(sub, v, root)?);
            }
            Some(n @ (Node::Slice { .. } | Node::ElemMatch(_))) => {
                if let Some(projected) = array_op(n, v) {
                    out.insert(k.clone(), projected);
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

fn exclude_value(sub: &Tree, v: &Bson, root: &Document) -> CmdResult<Bson> {
    Ok(match v {
        Bson::Document(d) => Bson::Document(exclude(sub, d, root)?),
        Bson::Array(items) => Bson::Array(
            items
                .iter()
                .map(|e| exclude_value(sub, e, root))
                .collect::<CmdResult<Vec<_>>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests;
