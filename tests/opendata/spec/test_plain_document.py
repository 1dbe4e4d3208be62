"""The one-pass build of a dataset file's values gives exactly what YAML's own constructor gives,
and leaves everything unusual (which the full checks report) to the full path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from opendata.spec.structure import MAX_DEPTH, Unusual, plain_document
from opendata.spec.validate import YamlDocument, _FastLoader

REPO = Path(__file__).resolve().parents[3]

PLAIN = [
    "a: 1\nb: -2\nc: 0x1f\nd: 0o17\ne: 1_000\n",
    "f: 1.5\ng: .inf\nh: -.Inf\ni: 6.02e+23\nj: .nan\n",
    "k: yes\nl: No\nm: true\nn: off\no: ~\np: null\nq:\n",
    "r: 2024-01-31\ns: 2024-01-31T10:00:00Z\nt: '311'\nu: \"x\\ty\"\n",
    "311: numeric key\n~: null key\ntrue: bool key\n1.5: float key\n",
    "list: [1, two, 3.0, null, [nested, [deeper]], {k: v}]\nblock:\n  - a\n  -\n    b: c\n",
    "text: |\n  line one\n  line two\nfolded: >\n  folded\n  text\n",
    "",
    "just a scalar",
    "- a list\n- at the top\n",
]

UNUSUAL = [
    "a: 1\na: 2\n",                                 # duplicate key
    "base: &b {x: 1}\nother: *b\n",                 # alias
    "base: &b {x: 1}\nother:\n  <<: *b\n",          # merge key
    "a: !!binary aGVsbG8=\n",                       # explicit tag
    "a: !!set {x, y}\n",
    "a: !custom value\n",
    "? [complex, key]\n: value\n",                  # a key that is not plain text
    "1: a\n1.0: b\n",                               # two keys, one value once built
    "a: " + "9" * 5000 + "\n",                      # an integer Python refuses to build
    "a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n",
]


def compose(text: str):
    loader = _FastLoader(text)
    return loader, loader.get_single_node()


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text", PLAIN)
def test_plain_documents_build_as_yaml_builds_them(text):
    loader, root = compose(text)
    if root is None:
        return
    fast = plain_document(root, loader)
    assert same(fast, _FastLoader(text).get_single_data())


@pytest.mark.parametrize("text", UNUSUAL)
def test_anything_unusual_is_left_to_the_full_checks(text):
    loader, root = compose(text)
    with pytest.raises(Unusual):
        plain_document(root, loader)


def test_the_node_limit_is_left_to_the_full_checks():
    loader, root = compose("[" + ", ".join(["1"] * 20) + "]")
    with pytest.raises(Unusual):
        plain_document(root, loader, max_nodes=20)
    loader, root = compose("[" + ", ".join(["1"] * 19) + "]")  # 20 nodes with the list itself
    assert plain_document(root, loader, max_nodes=20) == [1] * 19


@pytest.mark.parametrize("path", sorted((REPO / "include" / "datasets").glob("*/*.yaml")) + [
    REPO / "include" / "governance.yaml"], ids=lambda p: p.name)
def test_the_bundled_files_build_as_yaml_builds_them(path):
    text = path.read_text()
    loader, root = compose(text)
    assert same(plain_document(root, loader), loader.construct_document(root))
    assert YamlDocument.parse(path, text).problems == []


@pytest.mark.parametrize("text", UNUSUAL[:3])
def test_a_document_with_a_structure_problem_is_still_reported(text):
    from opendata.spec.validate import SpecParseError

    try:
        doc = YamlDocument.parse(Path("x.yaml"), text)
    except SpecParseError as exc:
        assert exc.errors
    else:
        assert doc.problems
