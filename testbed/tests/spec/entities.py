"""The per-test entity map: clients (with command monitoring), databases, collections, results."""

from bson.codec_options import CodecOptions
from pymongo import MongoClient, ReadPreference
from pymongo.change_stream import ChangeStream
from pymongo.client_session import ClientSession
from pymongo.monitoring import CommandListener
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

# Commands the spec says runners must never report (credentials), plus the runner's own
# fail point plumbing.
_HIDDEN = {
    "hello",
    "ismaster",
    "saslstart",
    "saslcontinue",
    "getnonce",
    "authenticate",
    "createuser",
    "updateuser",
    "copydbgetnonce",
    "copydbsaslstart",
    "copydb",
    "configurefailpoint",
}

_EVENT_NAMES = {
    "commandStartedEvent": "started",
    "commandSucceededEvent": "succeeded",
    "commandFailedEvent": "failed",
}


class EventRecorder(CommandListener):
    """Records the command events a client entity observes, in order."""

    def __init__(self, observe, ignore):
        self.observe = {_EVENT_NAMES[e] for e in observe if e in _EVENT_NAMES}
        self.ignore = {c.lower() for c in ignore}
        self.events = []

    def _keep(self, kind, event):
        name = event.command_name.lower()
        return kind in self.observe and name not in _HIDDEN and name not in self.ignore

    def started(self, event):
        if self._keep("started", event):
            self.events.append(("commandStartedEvent", event))

    def succeeded(self, event):
        if self._keep("succeeded", event):
            self.events.append(("commandSucceededEvent", event))

    def failed(self, event):
        if self._keep("failed", event):
            self.events.append(("commandFailedEvent", event))


def _read_preference(spec):
    mode = spec["mode"]
    pref = getattr(ReadPreference, {"primaryPreferred": "PRIMARY_PREFERRED",
                                    "secondaryPreferred": "SECONDARY_PREFERRED"}.get(mode, mode.upper()))
    extra = {}
    if "maxStalenessSeconds" in spec:
        extra["max_staleness"] = spec["maxStalenessSeconds"]
    if "tagSets" in spec:
        extra["tag_sets"] = spec["tagSets"]
    if "hedge" in spec:
        extra["hedge"] = spec["hedge"]
    return type(pref)(**extra) if extra else pref


def _options(spec):
    """PyMongo keyword options from a databaseOptions/collectionOptions document."""
    out = {"codec_options": CodecOptions(document_class=dict, tz_aware=False)}
    if "writeConcern" in spec:
        out["write_concern"] = WriteConcern(**spec["writeConcern"])
    if "readConcern" in spec:
        out["read_concern"] = ReadConcern(spec["readConcern"].get("level"))
    if "readPreference" in spec:
        out["read_preference"] = _read_preference(spec["readPreference"])
    return out


class Entities:
    """Entity map of one test; close() releases every client and change stream."""

    def __init__(self, uri):
        self.uri = uri
        self.map = {}
        self.recorders = {}

    def get(self, name):
        if name not in self.map:
            raise KeyError(f"unknown entity {name!r}")
        return self.map[name]

    def put(self, name, value):
        if name in self.map:
            raise KeyError(f"entity {name!r} already exists")
        self.map[name] = value

    def create(self, specs):
        for spec in specs:
            (kind, body), = spec.items()
            getattr(self, "_create_" + kind)(body)

    def _create_client(self, body):
        recorder = EventRecorder(body.get("observeEvents", []), body.get("ignoreCommandMonitoringEvents", []))
        opts = dict(body.get("uriOptions", {}))
        opts.setdefault("serverSelectionTimeoutMS", 10000)
        client = MongoClient(self.uri, event_listeners=[recorder], **opts)
        self.recorders[body["id"]] = recorder
        self.put(body["id"], client)

    def _create_database(self, body):
        client = self.get(body["client"])
        db = client.get_database(body["databaseName"], **_options(body.get("databaseOptions", {})))
        self.put(body["id"], db)

    def _create_collection(self, body):
        db = self.get(body["database"])
        coll = db.get_collection(body["collectionName"], **_options(body.get("collectionOptions", {})))
        self.put(body["id"], coll)

    def _create_session(self, body):
        client = self.get(body["client"])
        self.put(body["id"], client.start_session())

    def close(self):
        # Streams and sessions first, then the clients they run on.
        values = list(self.map.values())
        ordered = [v for v in values if isinstance(v, (ChangeStream, ClientSession))]
        ordered += [v for v in values if isinstance(v, MongoClient)]
        for value in ordered:
            try:
                value.close() if not isinstance(value, ClientSession) else value.end_session()
            except Exception:  # noqa: BLE001 - cleanup must reach every entity
                pass
