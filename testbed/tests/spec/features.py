"""What the testbed is (for runOnRequirements) and which named features it declares unsupported.

A test is skipped only when it uses one of UNSUPPORTED's features (detected from its
operations and arguments) or when its runOnRequirements exclude a single-node replica set of
the testbed's version ("not applicable"). Everything else runs.
"""

# Features mongo-testbed declares out of scope (DESIGN.md "The testbed"): each maps to a
# short reason printed in the report.
UNSUPPORTED = {
    "collation": "collation option",
    "hint": "index hints",
    "let": "let variables",
    "arrayFilters": "arrayFilters",
    "showExpandedEvents": "expanded change events",
    "clientBulkWrite": "client-level bulkWrite",
    "rawData": "rawData option",
    "timeseries": "time-series collections",
}


def _version_tuple(text):
    parts = [int(p) for p in str(text).split(".") if p.isdigit()]
    return tuple((parts + [0, 0, 0])[:3])


class Deployment:
    """The facts runOnRequirements are checked against."""

    topology = "replicaset"

    def __init__(self, version):
        self.version = _version_tuple(version)

    def unmet(self, requirement):
        """Why one runOnRequirement does not hold here, or None when it does."""
        if "minServerVersion" in requirement:
            if self.version < _version_tuple(requirement["minServerVersion"]):
                return f"minServerVersion {requirement['minServerVersion']}"
        if "maxServerVersion" in requirement:
            if self.version > _version_tuple(requirement["maxServerVersion"]):
                return f"maxServerVersion {requirement['maxServerVersion']}"
        topologies = requirement.get("topologies")
        if topologies and self.topology not in topologies:
            return "topologies " + "/".join(topologies)
        if requirement.get("serverless") == "require":
            return "serverless"
        if requirement.get("auth") is True:
            return "auth"
        if requirement.get("csfle"):
            return "csfle"
        if requirement.get("serverParameters"):
            return "serverParameters"
        return None

    def not_applicable(self, requirements):
        """None when any alternative holds; otherwise the first alternative's reason."""
        if not requirements:
            return None
        reasons = [self.unmet(r) for r in requirements]
        if any(r is None for r in reasons):
            return None
        return reasons[0]


def _walk_requests(args):
    """Yields the argument documents of an operation and of its nested bulk requests."""
    yield args
    for request in args.get("requests", []) + args.get("models", []):
        for body in request.values():
            if isinstance(body, dict):
                yield body


def _operation_features(op):
    name = op.get("name")
    args = op.get("arguments", {}) or {}
    if name == "clientBulkWrite":
        yield "clientBulkWrite"
    for a in _walk_requests(args):
        for key, feature in (
            ("collation", "collation"),
            ("hint", "hint"),
            ("let", "let"),
            ("arrayFilters", "arrayFilters"),
            ("rawData", "rawData"),
        ):
            if key in a:
                yield feature
        if a.get("showExpandedEvents") is True:
            yield "showExpandedEvents"
        if "fullDocumentBeforeChange" in a or a.get("fullDocument") in ("whenAvailable", "required"):
            yield "changeStreamPreAndPostImages"
        if "changeStreamPreAndPostImages" in a or "changeStreamPreAndPostImages" in a.get("command", {}):
            yield "changeStreamPreAndPostImages"
        if "timeseries" in a:
            yield "timeseries"


def unsupported_features(file_doc, test):
    """Sorted names of the declared-unsupported features one test uses."""
    found = set()
    for op in test.get("operations", []):
        found.update(_operation_features(op))
    for entity in file_doc.get("createEntities", []):
        coll = entity.get("collection", {})
        if "changeStreamPreAndPostImages" in coll.get("collectionOptions", {}):
            found.add("changeStreamPreAndPostImages")
    for data in file_doc.get("initialData", []):
        opts = data.get("createOptions", {})
        if "changeStreamPreAndPostImages" in opts:
            found.add("changeStreamPreAndPostImages")
        if "timeseries" in opts:
            found.add("timeseries")
    return sorted(f for f in found if f in UNSUPPORTED)
