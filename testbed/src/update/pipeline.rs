//! Pipeline-style updates (MongoDB 4.2+): `u` given as an array of aggregation stages.
//!
//! As on mongod, the stages are parsed as an aggregation pipeline first (an unknown stage is
//! 40324), then only the per-document reshaping stages are allowed (72 InvalidOptions "... is
//! not allowed to be used within an update"). The result replaces the document the way a
//! replacement does: the original `_id` stays first and may not change.

use crate::error::{code, CmdError, CmdResult};
use crate::pipeline::Pipeline;
use bson::{Bson, Document};

/// Stages mongod allows within an update pipeline.
const ALLOWED: &[&str] = &[
    "$addFields",
    "$set",
    "$project",
    "$unset",
    "$replaceRoot",
    "$replaceWith",
];

/// A parsed update pipeline.
#[derive(Debug, Clone)]
pub struct UpdatePipeline {
    pipeline: Pipeline,
}

impl UpdatePipeline {
    /// Parses the stages of `u` (each must be a document).
    pub fn parse(stages: &[Bson]) -> CmdResult<Self> {
        let docs = stages
            .iter()
            .map(|s| match s {
                Bson::Document(d) => Ok(d.clone()),
                _ => Err(CmdError::type_mismatch(
                    "Each element of the 'pipeline' array must be an object",
                )),
            })
            .collect::<CmdResult<Vec<_>>>()?;
        let pipeline = Pipeline::new(&docs)?;
        for stage in &docs {
            let name = stage.keys().next().map(String::as_str).unwrap_or_default();
            if !ALLOWED.contains(&name) {
                // `$count` is an alias that mongod expands into `$group` + `$project`.
                let shown = if name == "$count" { "$group" } else { name };
                return Err(CmdError::new(
                    code::INVALID_OPTIONS,
                    "InvalidOptions",
                    format!("{shown} is not allowed to be used within an update"),
                ));
            }
        }
        Ok(UpdatePipeline { pipeline })
    }

    /// The document the pipeline computes from `doc` (before `_id` rules are applied).
    pub(super) fn run(&self, doc: &Document) -> CmdResult<Document> {
        Ok(self
            .pipeline
            .run_one(doc.clone())?
            .expect("update pipelines hold no filtering stage"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn parse(stages: Bson) -> CmdResult<UpdatePipeline> {
        match stages {
            Bson::Array(items) => UpdatePipeline::parse(&items),
            _ => unreachable!(),
        }
    }

    #[test]
    fn reshaping_stages_run_in_order() {
        let p = parse(bson!([
            {"$set": {"b": {"$add": ["$a", 1]}}},
            {"$unset": "a"},
            {"$addFields": {"c": "$$ROOT.b"}},
            {"$project": {"a": 0}},
        ]))
        .unwrap();
        assert_eq!(
            p.run(&doc! {"_id": 1, "a": 1}).unwrap(),
            doc! {"_id": 1, "b": 2, "c": 2}
        );
        let p = parse(bson!([{"$replaceWith": {"$literal": {"$x": 1, "a.b": 2}}}])).unwrap();
        assert_eq!(p.run(&doc! {"_id": 1}).unwrap(), doc! {"$x": 1, "a.b": 2});
        let p = parse(bson!([{"$replaceRoot": {"newRoot": "$t"}}])).unwrap();
        assert_eq!(
            p.run(&doc! {"_id": 1, "t": {"u": 1}}).unwrap(),
            doc! {"u": 1}
        );
    }

    #[test]
    fn other_stages_are_refused_as_on_mongod() {
        for (stage, name) in [
            (doc! {"$match": {"a": 1}}, "$match"),
            (doc! {"$sort": {"a": 1}}, "$sort"),
            (doc! {"$limit": 1}, "$limit"),
            (doc! {"$group": {"_id": null}}, "$group"),
            (doc! {"$count": "n"}, "$group"),
        ] {
            let e = UpdatePipeline::parse(&[Bson::Document(stage)]).unwrap_err();
            assert_eq!((e.code, e.code_name.as_str()), (72, "InvalidOptions"));
            assert_eq!(
                e.errmsg,
                format!("{name} is not allowed to be used within an update")
            );
        }
        let e = UpdatePipeline::parse(&[Bson::Document(doc! {"$nope": 1})]).unwrap_err();
        assert_eq!(e.code, 40324, "unknown stages fail parsing first");
        let e = UpdatePipeline::parse(&[Bson::Int32(1)]).unwrap_err();
        assert_eq!(e.code, code::TYPE_MISMATCH);
    }
}
