//! `/api/v1/openapi.json`: the OpenAPI 3 description of the control API, written by hand in
//! `openapi.json` (so it reads as documentation) and checked against [`crate::control::ROUTES`].

use serde_json::Value;

const DOCUMENT: &str = include_str!("openapi.json");

pub fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON (unit-tested)")
}

/// `(METHOD, path)` of every operation the document describes.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
                out.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ROUTES;

    #[test]
    fn the_document_describes_exactly_the_api_routes() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/"))
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        routes.sort();
        assert_eq!(operations(&doc), routes);
        for (method, path) in operations(&doc) {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
            if method == "POST" {
                assert!(
                    op["responses"]["400"].is_object(),
                    "{method} {path} documents 400"
                );
            }
        }
    }
}
