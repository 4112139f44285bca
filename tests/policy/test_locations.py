"""The position-tracking walk of a policy's JSON text: paths to spans, as ValidatePolicy locates findings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmsd.policy.locations import DocumentMap, LineIndex, Path, index, key, statement_path, value

TEXT = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}
  ]
}"""


def spanned(document: DocumentMap, path: Path) -> str:
    location = document.resolve(path)
    return document.text[location.span.start.offset : location.span.end.offset]


def test_a_path_names_the_value_and_its_span() -> None:
    document = DocumentMap(TEXT)
    location = document.resolve(statement_path(0, value("Action"), index(1)))
    assert location.to_json() == {
        "path": [{"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 1}],
        "span": {
            "start": {"line": 4, "column": 50, "offset": 96},
            "end": {"line": 4, "column": 63, "offset": 109},
        },
    }
    assert spanned(document, statement_path(0, value("Action"), index(1))) == '"kms:Decrypt"'
    assert spanned(document, (value("Version"),)) == '"2012-10-17"'


def test_a_key_path_names_the_member_name() -> None:
    document = DocumentMap(TEXT)
    assert spanned(document, statement_path(0, key("Resource"))) == '"Resource"'
    assert document.resolve(statement_path(0, key("Resource"))).path[-1] == ("key", "Resource")


def test_objects_arrays_and_the_whole_document() -> None:
    document = DocumentMap(TEXT)
    assert spanned(document, ()) == TEXT
    assert spanned(document, statement_path(0)).startswith('{"Effect"')
    assert spanned(document, statement_path(0)).endswith('"*"}')
    statements = spanned(document, (value("Statement"),))
    assert statements.startswith("[") and statements.endswith("]")


def test_a_single_value_reads_as_a_one_item_list() -> None:
    # The parsed policy turns "Action": "kms:Encrypt" and a lone statement object into one-item tuples.
    text = '{"Statement": {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}}'
    document = DocumentMap(text)
    location = document.resolve(statement_path(0, value("Action"), index(0)))
    assert location.path == (value("Statement"), value("Action"))
    assert spanned(document, statement_path(0, value("Action"), index(0))) == '"kms:Encrypt"'


def test_a_path_beyond_the_text_stops_at_its_deepest_element() -> None:
    document = DocumentMap(TEXT)
    assert document.resolve(statement_path(0, value("Condition"))).path == statement_path(0)
    assert document.resolve(statement_path(0, value("Action"), index(9))).path == statement_path(0, value("Action"))
    assert document.resolve(statement_path(3)).path == (value("Statement"),)


def test_line_breaks_of_every_kind_and_escapes() -> None:
    text = '{"a":\r\n "x\\"y\\u00e9",\r "b": [1, -2.5e3, true, null],\n"c": {}}'
    document = DocumentMap(text)
    first = document.resolve((value("a"),))
    assert (first.span.start.line, first.span.start.column) == (2, 1)
    assert spanned(document, (value("a"),)) == '"x\\"y\\u00e9"'
    second = document.resolve((value("b"), index(1)))
    assert (second.span.start.line, second.span.start.column) == (3, 10)
    assert spanned(document, (value("b"), index(1))) == "-2.5e3"
    assert spanned(document, (value("c"),)) == "{}"
    assert document.resolve((value("c"),)).span.start.line == 4


def test_offsets_count_characters_not_bytes() -> None:
    text = '{"Sid": "Ü€", "Effect": "Allow"}'
    document = DocumentMap(text)
    assert document.resolve((value("Effect"),)).span.start.offset == text.index('"Allow"')


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "[1 2]", "{} {}", '{"a" 1}', "nul"])
def test_text_that_is_not_json_has_no_map(text: str) -> None:
    assert DocumentMap.of(text) is None


def test_line_index_of_any_text() -> None:
    lines = LineIndex("ab\ncd\r\nef")
    assert lines.position(0).to_json() == {"line": 1, "column": 0, "offset": 0}
    assert lines.position(4).to_json() == {"line": 2, "column": 1, "offset": 4}
    assert lines.position(7).to_json() == {"line": 3, "column": 0, "offset": 7}
    assert lines.position(99).offset == 9  # clamped to the end


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@given(json_values, st.sampled_from([None, 0, 2, 4]))
def test_every_value_spans_text_that_parses_back_to_it(document_value: object, indent: int | None) -> None:
    text = json.dumps(document_value, indent=indent)
    document = DocumentMap(text)
    for path, expected in _paths(document_value, ()):
        assert json.loads(spanned(document, path)) == expected


def _paths(node: object, prefix: Path) -> list[tuple[Path, object]]:
    found: list[tuple[Path, object]] = [(prefix, node)]
    if isinstance(node, dict):
        for name, child in node.items():
            found.extend(_paths(child, (*prefix, value(name))))
    elif isinstance(node, list):
        for position, child in enumerate(node):
            if not isinstance(child, list):  # an index never skips over an array item that is itself a list
                found.extend(_paths(child, (*prefix, index(position))))
    return found
