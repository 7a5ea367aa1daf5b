#!/usr/bin/env python3
"""PyMongo against mongo-testbed: handshake with replica-set discovery, CRUD, a change stream
resumed with resume_after, and an invalidate when the watched collection is dropped; then
SCRAM-SHA-256 authentication against a second testbed started with --user.

Usage: pymongo_compat.py [PATH_TO_mongo-testbed]   (or set MONGO_TESTBED_BIN)
Starts the binary on a free port itself and exits non-zero on any failure.
"""
import os
import subprocess
import sys
from urllib.parse import quote_plus

from pymongo import MongoClient
from pymongo.errors import OperationFailure


def start_testbed(binary, *extra_args):
    proc = subprocess.Popen([binary, "--port", "0", *extra_args], stdout=subprocess.PIPE, text=True)
    banner = proc.stdout.readline().strip()
    prefix = "mongo-testbed listening on "
    if not banner.startswith(prefix):
        proc.kill()
        raise SystemExit(f"unexpected banner: {banner!r}")
    return proc, banner[len(prefix):].split()[0]


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MONGO_TESTBED_BIN")
    if not binary:
        raise SystemExit("pass the mongo-testbed binary path as argv[1] or MONGO_TESTBED_BIN")
    proc, addr = start_testbed(binary)
    try:
        client = MongoClient(f"mongodb://{addr}/", replicaSet="rs0", serverSelectionTimeoutMS=5000)
        hello = client.admin.command("hello")
        check(hello["setName"] == "rs0" and hello["isWritablePrimary"], "handshake as rs0 primary")
        check(client.primary is not None, "PyMongo discovered the primary")

        coll = client.compat.orders
        coll.insert_one({"_id": 1, "item": "a", "qty": 1})
        coll.insert_many([{"_id": i, "qty": i} for i in range(2, 12)])
        check(coll.count_documents({}) == 11, "insert_one + insert_many")
        coll.update_one({"_id": 1}, {"$inc": {"qty": 5}})
        check(coll.find_one({"_id": 1})["qty"] == 6, "update_one $inc")
        coll.replace_one({"_id": 2}, {"replaced": True})
        check(coll.find_one({"_id": 2}) == {"_id": 2, "replaced": True}, "replace_one")
        check(coll.delete_many({"qty": {"$gte": 10}}).deleted_count == 2, "delete_many")
        check([d["_id"] for d in coll.find({}, sort=[("_id", -1)], limit=3)] == [9, 8, 7], "find sort/limit")

        with coll.watch() as stream:
            coll.insert_one({"_id": 100})
            coll.insert_one({"_id": 101})
            first = stream.next()
            check(first["operationType"] == "insert" and first["documentKey"] == {"_id": 100}, "change event")
            token = stream.resume_token
        coll.insert_one({"_id": 102})
        with coll.watch(resume_after=token) as stream:
            ids = [stream.next()["documentKey"]["_id"] for _ in range(2)]
            check(ids == [101, 102], "resume_after continues after the token")
            coll.drop()
            check(stream.next()["operationType"] == "drop", "drop event")
            check(stream.next()["operationType"] == "invalidate", "invalidate event")
            check(not stream.alive, "stream closed after invalidate")
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    auth_checks(binary)
    print("pymongo compat: all checks passed")


def expect_failure(action, code, what):
    try:
        action()
    except OperationFailure as exc:
        check(exc.code == code, f"{what} (code {exc.code}: {exc.details.get('errmsg')})")
        return
    raise AssertionError(f"{what}: no error")


def auth_checks(binary):
    """A testbed with a user: SCRAM-SHA-256 with the right password, 18 with a wrong one, 13
    for commands from an unauthenticated client. The password holds a colon (the CLI splits
    NAME:PASSWORD at the first one)."""
    password = "s3cret:pw"
    proc, addr = start_testbed(binary, "--user", f"alice:{password}")

    def client_as(user, pw):
        creds = f"{user}:{quote_plus(pw)}@" if user else ""
        uri = f"mongodb://{creds}{addr}/?replicaSet=rs0&authSource=admin"
        return MongoClient(uri, serverSelectionTimeoutMS=5000)

    try:
        with client_as("alice", password) as client:
            client.auth.things.insert_one({"_id": 1})
            check(client.auth.things.find_one({"_id": 1}) == {"_id": 1}, "auth: SCRAM-SHA-256 login")
            status = client.admin.command("connectionStatus")
            check(status["authInfo"]["authenticatedUsers"] == [{"user": "alice", "db": "admin"}],
                  "auth: connectionStatus names the user")
        with client_as("alice", "wrong") as client:
            expect_failure(lambda: client.auth.things.find_one(), 18, "auth: wrong password fails")
        with client_as(None, None) as client:
            check(client.admin.command("ping")["ok"] == 1, "auth: ping needs no login")
            expect_failure(lambda: client.auth.things.find_one(), 13, "auth: unauthenticated find refused")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # report and fail the script
        print(f"FAIL: {exc!r}", file=sys.stderr)
        sys.exit(1)
