//! `history --collection C --id ID [--since T] [--until T] [--op OP]`: one document's versions
//! on the backup, newest first, through `GET /api/v1/history` of a running replicator.

use crate::cmd::cli::HistoryArgs;
use crate::cmd::control::{print_answer, request, text};
use crate::cmd::EXIT_CONFIG;
use serde_json::Value;
use std::process::ExitCode;

pub async fn command(args: HistoryArgs) -> ExitCode {
    let Some(coll) = &args.control.collection else {
        eprintln!("mongo-replicator: history needs --collection C --id ID");
        return ExitCode::from(EXIT_CONFIG);
    };
    let id = match crate::cmd::restore::parse_id(&args.id) {
        Ok(id) => id.into_canonical_extjson().to_string(),
        Err(e) => {
            eprintln!("mongo-replicator: --id: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("collection", coll).append_pair("id", &id);
    for (name, value) in [
        ("since", &args.since),
        ("until", &args.until),
        ("op", &args.op),
    ] {
        if let Some(v) = value {
            query.append_pair(name, v);
        }
    }
    query.append_pair("limit", &args.limit.to_string());
    let path = format!("/api/v1/history?{}", query.finish());
    match request(&args.control, "GET", &path, None).await {
        Ok((parsed, _)) => {
            print_answer(&args.control, &parsed, || versions_table(&parsed));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn versions_table(v: &Value) -> String {
    let versions = v["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        return "no recorded changes\n".into();
    }
    let mut out = String::new();
    for ver in versions {
        let fields = |name: &str| {
            ver[name]
                .as_array()
                .map(|a| a.iter().map(text).collect::<Vec<_>>().join(","))
                .unwrap_or_default()
        };
        out.push_str(&format!(
            "{}  {}  {}  updated=[{}] removed=[{}] truncated=[{}]\n    {}\n",
            text(&ver["wall_time"]),
            text(&ver["cluster_time"]),
            text(&ver["op"]),
            fields("updated"),
            fields("removed"),
            fields("truncated"),
            ver["document"],
        ));
    }
    out
}
