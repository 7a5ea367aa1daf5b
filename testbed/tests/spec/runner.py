"""Runs one unified-format file test by test: setup, operations, expectations, outcome."""

import signal
from dataclasses import dataclass, field

from bson.son import SON
from pymongo import MongoClient
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from . import operations
from .entities import Entities
from .features import unsupported_features
from .matching import UNSET, MatchError, Matcher

TEST_TIMEOUT_S = 60


@dataclass
class TestResult:
    file: str
    test: str
    status: str  # passed | failed | skipped | n/a
    reason: str = ""
    features: list = field(default_factory=list)
    detail: str = ""


class TestFailure(Exception):
    """A failed expectation; the message is the one-line reason."""


class _Timeout(BaseException):
    """Raised by SIGALRM: not an Exception so no operation handler swallows it."""


def _on_alarm(signum, frame):
    raise _Timeout()


class FileRunner:
    """Runs the tests of one parsed file against the testbed at `uri`."""

    def __init__(self, uri, deployment, name, doc):
        self.uri = uri
        self.deployment = deployment
        self.name = name
        self.doc = doc
        self.admin = MongoClient(uri, serverSelectionTimeoutMS=10000)

    def close(self):
        self.admin.close()

    def run(self):
        results = []
        file_na = self.deployment.not_applicable(self.doc.get("runOnRequirements"))
        for test in self.doc["tests"]:
            results.append(self._run_one(test, file_na))
        return results

    def _run_one(self, test, file_na):
        desc = test["description"]
        na = file_na or self.deployment.not_applicable(test.get("runOnRequirements"))
        if na:
            return TestResult(self.name, desc, "n/a", f"runOnRequirements: {na}")
        if "skipReason" in test:
            return TestResult(self.name, desc, "n/a", f"skipReason: {test['skipReason']}")
        feats = unsupported_features(self.doc, test)
        if feats:
            return TestResult(self.name, desc, "skipped", "unsupported: " + ", ".join(feats), feats)
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TEST_TIMEOUT_S)
        try:
            TestRun(self, test).run()
            return TestResult(self.name, desc, "passed")
        except _Timeout:
            return TestResult(self.name, desc, "failed", f"test timed out after {TEST_TIMEOUT_S}s")
        except TestFailure as e:
            return TestResult(self.name, desc, "failed", str(e))
        except Exception as e:  # noqa: BLE001 - anything else is a failure to report
            return TestResult(self.name, desc, "failed", f"{type(e).__name__}: {e}")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def _short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _error_code(exc):
    if isinstance(exc, BulkWriteError):
        details = exc.details or {}
        if details.get("writeErrors"):
            return details["writeErrors"][0].get("code"), details["writeErrors"][0].get("codeName")
        if details.get("writeConcernErrors"):
            wce = details["writeConcernErrors"][0]
            return wce.get("code"), wce.get("codeName")
    if isinstance(exc, OperationFailure):
        return exc.code, (exc.details or {}).get("codeName")
    return None, None


def _describe(exc):
    code, code_name = _error_code(exc)
    tag = f" code {code} ({code_name})" if code is not None else ""
    # PyMongo appends the whole reply ("full error: {...}"); the message alone is enough here.
    message = str(exc).split(", full error:")[0]
    return f"{type(exc).__name__}{tag}: {message[:300]}"


class TestRun:
    """State of one running test: its entities, fail points to undo, matcher."""

    def __init__(self, file_runner, test):
        self.file = file_runner
        self.test = test
        self.admin = file_runner.admin
        self.entities = Entities(file_runner.uri)
        self.matcher = Matcher(self.entities)
        self.failpoints = []

    def run(self):
        try:
            self._initial_data()
            self.entities.create(self.file.doc.get("createEntities", []))
            for i, op in enumerate(self.test["operations"]):
                self._operation(i, op)
            self._expect_events()
            self._outcome()
        finally:
            self._cleanup()

    def _cleanup(self):
        for client, name in self.failpoints:
            try:
                client.admin.command(SON([("configureFailPoint", name), ("mode", "off")]))
            except PyMongoError:
                pass
        self.entities.close()

    def _initial_data(self):
        majority = WriteConcern(w="majority")
        for data in self.file.doc.get("initialData", []):
            db = self.admin.get_database(data["databaseName"], write_concern=majority)
            db.drop_collection(data["collectionName"])
            opts = data.get("createOptions")
            if opts is not None or not data["documents"]:
                db.create_collection(data["collectionName"], **(opts or {}))
            if data["documents"]:
                db[data["collectionName"]].insert_many(data["documents"])

    # testRunner operations ------------------------------------------------------------

    def test_runner_op(self, name, args):
        if name in ("failPoint", "targetedFailPoint"):
            client = self.entities.get(args["client"]) if "client" in args else self.admin
            fp = SON(args["failPoint"].items())
            client.admin.command(fp)
            self.failpoints.append((client, fp["configureFailPoint"]))
            return UNSET
        if name in ("assertCollectionExists", "assertCollectionNotExists"):
            names = self.admin[args["databaseName"]].list_collection_names()
            exists = args["collectionName"] in names
            if exists != (name == "assertCollectionExists"):
                raise TestFailure(f"{name}: {args['databaseName']}.{args['collectionName']} (collections: {names})")
            return UNSET
        if name in ("assertIndexExists", "assertIndexNotExists"):
            coll = self.admin[args["databaseName"]][args["collectionName"]]
            names = [ix["name"] for ix in coll.list_indexes()]
            if (args["indexName"] in names) != (name == "assertIndexExists"):
                raise TestFailure(f"{name}: {args['indexName']} (indexes: {names})")
            return UNSET
        raise operations.Unsupported(f"testRunner operation {name}")

    # operations and their expectations ---------------------------------------------

    def _operation(self, index, op):
        where = f"op {index} {op['name']}"
        try:
            result = operations.execute(self, op)
        except operations.Unsupported as e:
            raise TestFailure(f"{where}: runner does not implement {e}") from None
        except operations.RunnerTimeout as e:
            raise TestFailure(f"{where}: {e}") from None
        except Exception as exc:  # noqa: BLE001 - checked against expectError below
            if "expectError" not in op:
                raise TestFailure(f"{where}: unexpected error {_describe(exc)}") from None
            self._check_error(where, op["expectError"], exc)
            return
        if "expectError" in op:
            raise TestFailure(f"{where}: expected an error {op['expectError']!r}, got result {_short(result)}")
        if "expectResult" in op:
            try:
                self.matcher.match(op["expectResult"], result)
            except MatchError as e:
                raise TestFailure(f"{where}: result mismatch: {e}") from None
        if "saveResultAsEntity" in op:
            self.entities.put(op["saveResultAsEntity"], result)

    def _check_error(self, where, expected, exc):
        server_error = isinstance(exc, OperationFailure)
        got = _describe(exc)
        if expected.get("isClientError") and server_error:
            raise TestFailure(f"{where}: expected a client-side error, got server error {got}")
        if expected.get("isClientError") is False and not server_error:
            raise TestFailure(f"{where}: expected a server error, got {got}")
        code, code_name = _error_code(exc)
        if "errorCode" in expected and code != expected["errorCode"]:
            raise TestFailure(f"{where}: expected error code {expected['errorCode']}, got {got}")
        if "errorCodeName" in expected and code_name != expected["errorCodeName"]:
            raise TestFailure(f"{where}: expected codeName {expected['errorCodeName']}, got {code_name!r} ({got})")
        if "errorContains" in expected and expected["errorContains"].lower() not in str(exc).lower():
            raise TestFailure(f"{where}: expected error containing {expected['errorContains']!r}, got {got}")
        for label in expected.get("errorLabelsContain", []):
            if not (isinstance(exc, PyMongoError) and exc.has_error_label(label)):
                raise TestFailure(f"{where}: expected error label {label}, got {got} labels {_labels(exc)}")
        for label in expected.get("errorLabelsOmit", []):
            if isinstance(exc, PyMongoError) and exc.has_error_label(label):
                raise TestFailure(f"{where}: error label {label} must be absent ({got})")
        if "errorResponse" in expected:
            details = getattr(exc, "details", None)
            if isinstance(exc, BulkWriteError) and details and details.get("writeErrors"):
                details = details["writeErrors"][0]
            try:
                self.matcher.match(expected["errorResponse"], details if details is not None else UNSET)
            except MatchError as e:
                raise TestFailure(f"{where}: errorResponse mismatch: {e}") from None
        if "expectResult" in expected:
            if not isinstance(exc, BulkWriteError):
                raise TestFailure(f"{where}: expected a partial bulk result, got {got}")
            try:
                self.matcher.match(expected["expectResult"], operations.bulk_result(exc.details))
            except MatchError as e:
                raise TestFailure(f"{where}: partial result mismatch: {e}") from None

    # events and outcome --------------------------------------------------------------

    def _expect_events(self):
        for block in self.test.get("expectEvents", []):
            if block.get("eventType", "command") != "command":
                raise TestFailure(f"runner does not implement {block['eventType']} events")
            recorder = self.entities.recorders[block["client"]]
            actual = list(recorder.events)
            expected = block["events"]
            client = block["client"]
            if len(actual) < len(expected) or (len(actual) > len(expected) and not block.get("ignoreExtraEvents")):
                raise TestFailure(
                    f"events of {client}: expected {len(expected)} events {_names(expected)}, "
                    f"got {len(actual)} {[f'{k[7:-5]}:{e.command_name}' for k, e in actual]}"
                )
            for i, (exp, (kind, event)) in enumerate(zip(expected, actual)):
                (exp_kind, body), = exp.items()
                where = f"event {i} of {client}"
                if exp_kind != kind:
                    raise TestFailure(f"{where}: expected {exp_kind}, got {kind} for {event.command_name}")
                self._match_event(where, body, event)

    def _match_event(self, where, body, event):
        if "commandName" in body and body["commandName"] != event.command_name:
            raise TestFailure(f"{where}: expected command {body['commandName']}, got {event.command_name}")
        if "databaseName" in body and body["databaseName"] != event.database_name:
            raise TestFailure(f"{where}: expected database {body['databaseName']}, got {event.database_name}")
        for key, attr in (("command", "command"), ("reply", "reply")):
            if key in body:
                try:
                    self.matcher.match(body[key], dict(getattr(event, attr)))
                except MatchError as e:
                    raise TestFailure(f"{where} ({event.command_name}): {key} mismatch: {e}") from None

    def _outcome(self):
        for data in self.test.get("outcome", []):
            coll = self.admin.get_database(data["databaseName"], read_concern=ReadConcern("local"))[
                data["collectionName"]
            ]
            actual = list(coll.find({}, sort=[("_id", 1)]))
            expected = data["documents"]
            where = f"outcome {data['databaseName']}.{data['collectionName']}"
            try:
                if len(actual) != len(expected):
                    raise MatchError(f"expected {len(expected)} documents, got {len(actual)}: {_short(actual)}")
                for i, (exp, act) in enumerate(zip(expected, actual)):
                    self.matcher.match(exp, act, root=False, path=f"$[{i}]")
            except MatchError as e:
                raise TestFailure(f"{where}: {e}") from None


def _names(expected):
    return [f"{next(iter(e))[7:-5]}:{next(iter(e.values())).get('commandName', '?')}" for e in expected]


def _labels(exc):
    details = getattr(exc, "details", None) or {}
    return details.get("errorLabels", [])
