"""Unified-format operations mapped onto PyMongo calls, and PyMongo results onto spec shapes."""

import time

from bson.son import SON
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.results import BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from .matching import UNSET

ITERATE_TIMEOUT_S = 10.0

# Spec argument names PyMongo spells differently (helpers; not commands built from kwargs).
_SNAKE = {
    "batchSize": "batch_size",
    "maxTimeMS": "max_time_ms",
    "allowDiskUse": "allow_disk_use",
    "arrayFilters": "array_filters",
    "bypassDocumentValidation": "bypass_document_validation",
    "returnDocument": "return_document",
    "fullDocument": "full_document",
    "fullDocumentBeforeChange": "full_document_before_change",
    "resumeAfter": "resume_after",
    "startAfter": "start_after",
    "startAtOperationTime": "start_at_operation_time",
    "maxAwaitTimeMS": "max_await_time_ms",
    "showExpandedEvents": "show_expanded_events",
    "noCursorTimeout": "no_cursor_timeout",
}


def _kwargs(args, drop=(), keep_camel=()):
    out = {}
    for key, value in args.items():
        if key in drop:
            continue
        if key == "session":
            continue
        name = key if key in keep_camel else _SNAKE.get(key, key)
        if name == "return_document":
            value = ReturnDocument.AFTER if value == "After" else ReturnDocument.BEFORE
        out[name] = value
    return out


def write_result(result):
    """The spec's result document for a PyMongo write result (UNSET when unacknowledged)."""
    if not getattr(result, "acknowledged", True):
        return UNSET
    if isinstance(result, InsertOneResult):
        return {"insertedId": result.inserted_id}
    if isinstance(result, InsertManyResult):
        return {"insertedIds": {str(i): v for i, v in enumerate(result.inserted_ids)}}
    if isinstance(result, UpdateResult):
        out = {
            "matchedCount": result.matched_count,
            "modifiedCount": result.modified_count,
            "upsertedCount": 0 if result.upserted_id is None else 1,
        }
        if result.upserted_id is not None:
            out["upsertedId"] = result.upserted_id
        return out
    if isinstance(result, DeleteResult):
        return {"deletedCount": result.deleted_count}
    if isinstance(result, BulkWriteResult):
        return bulk_result(result.bulk_api_result)
    return result


def bulk_result(raw):
    """Spec BulkWriteResult from PyMongo's raw bulk document (also in BulkWriteError.details)."""
    return {
        "deletedCount": raw.get("nRemoved", 0),
        "insertedCount": raw.get("nInserted", 0),
        "matchedCount": raw.get("nMatched", 0),
        "modifiedCount": raw.get("nModified", 0),
        "upsertedCount": raw.get("nUpserted", 0),
        "upsertedIds": {str(u["index"]): u["_id"] for u in raw.get("upserted", [])},
    }


def _bulk_request(request):
    (kind, a), = request.items()
    if kind == "insertOne":
        return InsertOne(a["document"])
    if kind == "deleteOne":
        return DeleteOne(a["filter"], **_kwargs(a, drop=("filter",)))
    if kind == "deleteMany":
        return DeleteMany(a["filter"], **_kwargs(a, drop=("filter",)))
    if kind == "replaceOne":
        return ReplaceOne(a["filter"], a["replacement"], **_kwargs(a, drop=("filter", "replacement")))
    if kind == "updateOne":
        return UpdateOne(a["filter"], a["update"], **_kwargs(a, drop=("filter", "update")))
    if kind == "updateMany":
        return UpdateMany(a["filter"], a["update"], **_kwargs(a, drop=("filter", "update")))
    raise ValueError(f"unknown bulk request {kind}")


def _iterate_until_document(stream):
    deadline = time.monotonic() + ITERATE_TIMEOUT_S
    while True:
        if hasattr(stream, "try_next"):
            doc = stream.try_next()
        else:
            doc = next(stream, None)
        if doc is not None:
            return doc
        if not getattr(stream, "alive", False) or time.monotonic() > deadline:
            raise RunnerTimeout(f"no document from the stream within {ITERATE_TIMEOUT_S:.0f}s")


class RunnerTimeout(Exception):
    """The runner gave up waiting (not an error the driver or server raised)."""


class Unsupported(Exception):
    """An operation or argument this runner does not implement."""


def execute(ctx, op):
    """Runs one operation; returns its result in spec shape (UNSET when there is none)."""
    name, obj = op["name"], op["object"]
    args = dict(op.get("arguments", {}) or {})
    if obj == "testRunner":
        return ctx.test_runner_op(name, args)
    target = ctx.entities.get(obj)
    fn = _OPS.get(name)
    if fn is None:
        raise Unsupported(f"operation {name}")
    return fn(target, args)


def _watch(t, a):
    return t.watch(a.pop("pipeline", None), **_kwargs(a))


def _find(t, a):
    return list(t.find(a.pop("filter", {}), **_kwargs(a)))


def _aggregate(t, a):
    return list(t.aggregate(a.pop("pipeline"), **_kwargs(a, keep_camel=("batchSize", "allowDiskUse", "maxTimeMS",
                                                                         "bypassDocumentValidation"))))


def _find_and(method, *positional):
    def run(t, a):
        pos = [a.pop(p) for p in positional]
        # find_one_and_* copies unknown keyword arguments into the command verbatim.
        return getattr(t, method)(*pos, **_kwargs(a, keep_camel=("maxTimeMS", "bypassDocumentValidation")))

    return run


def _write(method, *positional):
    def run(t, a):
        pos = [a.pop(p) for p in positional]
        return write_result(getattr(t, method)(*pos, **_kwargs(a)))

    return run


def _bulk(t, a):
    requests = [_bulk_request(r) for r in a.pop("requests")]
    return write_result(t.bulk_write(requests, **_kwargs(a)))


def _count(t, a):
    cmd = SON([("count", t.name), ("query", a.pop("filter", {}))])
    cmd.update(a)
    return t.database.command(cmd)["n"]


def _distinct(t, a):
    return t.distinct(a.pop("fieldName"), a.pop("filter", None), **_kwargs(a))


def _create_collection(t, a):
    # createCollection is the `create` command alone (no listCollections existence check first).
    t.create_collection(a.pop("collection"), check_exists=False, **a)
    return UNSET


def _drop_collection(t, a):
    t.drop_collection(a.pop("collection"), **a)
    return UNSET


def _create_index(t, a):
    keys = list(a.pop("keys").items())
    return t.create_index(keys, **_kwargs(a))


def _drop_index(t, a):
    t.drop_index(a.pop("name"), **_kwargs(a))
    return UNSET


def _rename(t, a):
    t.rename(a.pop("to"), **a)
    return UNSET


def _run_command(t, a):
    cmd = SON(a.pop("command").items())
    return t.command(cmd, **_kwargs(a, drop=("commandName",)))


def _modify_collection(t, a):
    cmd = SON([("collMod", a.pop("collection"))])
    cmd.update(a)
    return t.command(cmd)


def _close(t, a):
    t.close()
    return UNSET


def _iterate_once(t, a):
    doc = t.try_next()
    return UNSET if doc is None else doc


_OPS = {
    "createChangeStream": _watch,
    "iterateUntilDocumentOrError": lambda t, a: _iterate_until_document(t),
    "iterateOnce": _iterate_once,
    "close": _close,
    "find": _find,
    "findOne": lambda t, a: t.find_one(a.pop("filter", {}), **_kwargs(a)),
    "aggregate": _aggregate,
    "countDocuments": lambda t, a: t.count_documents(a.pop("filter"), **_kwargs(a, keep_camel=("maxTimeMS",))),
    "estimatedDocumentCount": lambda t, a: t.estimated_document_count(**_kwargs(a, keep_camel=("maxTimeMS",))),
    "count": _count,
    "distinct": _distinct,
    "insertOne": _write("insert_one", "document"),
    "insertMany": _write("insert_many", "documents"),
    "updateOne": _write("update_one", "filter", "update"),
    "updateMany": _write("update_many", "filter", "update"),
    "replaceOne": _write("replace_one", "filter", "replacement"),
    "deleteOne": _write("delete_one", "filter"),
    "deleteMany": _write("delete_many", "filter"),
    "bulkWrite": _bulk,
    "findOneAndUpdate": _find_and("find_one_and_update", "filter", "update"),
    "findOneAndReplace": _find_and("find_one_and_replace", "filter", "replacement"),
    "findOneAndDelete": _find_and("find_one_and_delete", "filter"),
    "createCollection": _create_collection,
    "dropCollection": _drop_collection,
    "createIndex": _create_index,
    "dropIndex": _drop_index,
    "listIndexes": lambda t, a: list(t.list_indexes(**_kwargs(a))),
    "listCollectionNames": lambda t, a: t.list_collection_names(**_kwargs(a)),
    "listDatabaseNames": lambda t, a: t.list_database_names(**_kwargs(a)),
    "rename": _rename,
    "runCommand": _run_command,
    "modifyCollection": _modify_collection,
}
