"""Unit tests of the match rules (run: python -m unittest discover testbed/tests/spec)."""

import unittest

from bson import Int64, ObjectId

from spec.features import Deployment, unsupported_features
from spec.matching import UNSET, MatchError, Matcher


class _Entities:
    def __init__(self, values):
        self.values = values

    def get(self, name):
        return self.values[name]


class MatchingTest(unittest.TestCase):
    def setUp(self):
        self.m = Matcher(_Entities({"id0": ObjectId("000000000000000000000001")}))

    def ok(self, expected, actual, root=True):
        self.m.match(expected, actual, root=root)

    def bad(self, expected, actual, root=True):
        with self.assertRaises(MatchError):
            self.m.match(expected, actual, root=root)

    def test_root_allows_extra_keys_nested_does_not(self):
        self.ok({"a": 1}, {"a": 1, "b": 2})
        self.bad({"a": {"x": 1}}, {"a": {"x": 1, "y": 2}})
        self.bad({"a": 1}, {"a": 1, "b": 2}, root=False)

    def test_array_elements_of_root_array_are_root_documents(self):
        self.ok([{"_id": 1}], [{"_id": 1, "x": 2}])
        self.bad([{"_id": 1}], [{"_id": 1}, {"_id": 2}])

    def test_numbers_compare_by_value_but_not_with_bools(self):
        self.ok(1, Int64(1))
        self.ok(1.0, 1)
        self.bad(1, True)
        self.bad(False, 0)

    def test_exists_and_unset_or_matches(self):
        self.ok({"a": {"$$exists": False}}, {})
        self.bad({"a": {"$$exists": False}}, {"a": 1})
        self.ok({"a": {"$$exists": True}}, {"a": None})
        self.bad({"a": {"$$exists": True}}, {})
        self.ok({"a": {"$$unsetOrMatches": 1}}, {})
        self.bad({"a": {"$$unsetOrMatches": 1}}, {"a": 2})
        self.ok({"$$unsetOrMatches": {"insertedId": 1}}, UNSET)

    def test_type_aliases(self):
        self.ok({"$$type": "long"}, Int64(5))
        self.ok({"$$type": ["int", "long"]}, 5)
        self.ok({"$$type": "number"}, 2.5)
        self.bad({"$$type": "string"}, 5)
        self.bad({"$$type": "int"}, True)

    def test_entities_and_lte(self):
        self.ok({"$$matchesEntity": "id0"}, ObjectId("000000000000000000000001"))
        self.bad({"$$matchesEntity": "id0"}, ObjectId())
        self.ok({"$$lte": 3}, 3)
        self.bad({"$$lte": 3}, 4)


class RequirementsTest(unittest.TestCase):
    def test_versions_and_topologies(self):
        d = Deployment("8.0.0")
        self.assertIsNone(d.not_applicable([{"minServerVersion": "4.2"}]))
        self.assertIsNotNone(d.not_applicable([{"maxServerVersion": "4.2.99"}]))
        self.assertIsNone(d.not_applicable([{"topologies": ["sharded"]}, {"topologies": ["replicaset"]}]))
        self.assertIsNotNone(d.not_applicable([{"minServerVersion": "8.2.0"}]))
        self.assertIsNotNone(d.not_applicable([{"serverless": "require"}]))

    def test_feature_detection_looks_into_bulk_requests(self):
        test = {"operations": [{"name": "bulkWrite", "arguments": {"requests": [
            {"updateOne": {"filter": {}, "update": [{"$set": {"a": 1}}], "hint": "_id_"}}]}}]}
        self.assertEqual(unsupported_features({}, test), ["hint"])
        self.assertEqual(unsupported_features({}, {"operations": [{"name": "find", "arguments": {}}]}), [])


if __name__ == "__main__":
    unittest.main()
