"""replace_principal: a deleted user's or role's ARN becomes its unique id in principals, and nowhere else."""

from __future__ import annotations

import json

import pytest

from kmsd.store.principal_rewrite import RewriteFailed, UnreadableDocument, names_principal, replace_principal

ARN = "arn:aws:iam::111122223333:user/tmpuser"
OLD_ID = "AIDAXXXXXXXXXXXXXTMP1"
OTHER = "arn:aws:iam::444455556666:user/other"


def statement(principal: object, element: str = "Principal", **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", element: {"AWS": principal}, "Action": "kms:*", "Resource": "*", **extra}


def document(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def test_the_arn_in_a_principal_becomes_the_unique_id_and_the_text_is_otherwise_unchanged() -> None:
    text = document(statement(ARN))
    assert replace_principal(text, ARN, OLD_ID) == text.replace(ARN, OLD_ID)


@pytest.mark.parametrize(
    "spelling",
    [
        '"arn:aws:iam::111122223333:user\\/tmpuser"',  # an escaped solidus
        '"arn:aws:iam::111122223333:user/tmp\\u0075ser"',  # a unicode escape
        '"ARN:AWS:IAM::111122223333:USER/TMPUSER"',  # another case
    ],
)
def test_every_spelling_of_the_arn_is_replaced(spelling: str) -> None:
    text = '{"Statement":{"Effect":"Allow","Principal":{"AWS":' + spelling + '},"Action":"kms:*"}}'
    rewritten = replace_principal(text, ARN, OLD_ID)
    assert json.loads(rewritten)["Statement"]["Principal"] == {"AWS": OLD_ID}


def test_lists_several_statements_and_not_principal_are_all_rewritten() -> None:
    text = document(
        statement([OTHER, ARN, ARN]),
        statement(ARN, "NotPrincipal", Effect="Deny"),
        statement("111122223333"),
    )
    parsed = json.loads(replace_principal(text, ARN, OLD_ID))
    assert parsed["Statement"][0]["Principal"] == {"AWS": [OTHER, OLD_ID, OLD_ID]}
    assert parsed["Statement"][1]["NotPrincipal"] == {"AWS": OLD_ID}
    assert parsed["Statement"][2]["Principal"] == {"AWS": "111122223333"}


def test_conditions_and_other_elements_keep_the_arn() -> None:
    # IAM transforms principals only: a condition on aws:PrincipalArn keeps matching by ARN.
    text = document(statement(ARN, Condition={"ArnEquals": {"aws:PrincipalArn": ARN}}, Sid="x"))
    parsed = json.loads(replace_principal(text, ARN, OLD_ID))
    assert parsed["Statement"][0]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ARN}}
    assert parsed["Statement"][0]["Principal"] == {"AWS": OLD_ID}


def test_a_duplicate_member_is_rewritten_too() -> None:
    text = '{"Statement":[{"Principal":{"AWS":"' + ARN + '","AWS":["' + ARN + '"]}}]}'
    assert ARN not in replace_principal(text, ARN, OLD_ID)


def test_a_document_that_does_not_name_the_arn_is_returned_as_it_is() -> None:
    text = document(statement(OTHER), statement("arn:aws:iam::111122223333:user/tmpuser2"))
    assert replace_principal(text, ARN, OLD_ID) is text


@pytest.mark.parametrize("text", ["", "{", '{"a":1} x', '{"a":tru}', '{"a":"\x01"}', "[" * 5000])
def test_text_that_is_not_json_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableDocument):
        replace_principal(text, ARN, OLD_ID)


def test_names_principal_reads_the_document_as_json_does() -> None:
    assert names_principal(document(statement([OTHER, ARN])), ARN)
    assert not names_principal(document(statement(OTHER, Condition={"StringEquals": {"k": ARN}})), ARN)
    assert not names_principal("not json", ARN)


def test_a_rewrite_that_would_leave_the_arn_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import kmsd.store.principal_rewrite as module

    monkeypatch.setattr(module, "names_principal", lambda document, arn, except_exactly: True)
    with pytest.raises(RewriteFailed):
        replace_principal(document(statement(ARN)), ARN, OLD_ID)


def test_a_rename_that_changes_only_the_case_replaces_every_spelling_by_the_new_one() -> None:
    renamed = "arn:aws:iam::111122223333:user/TmpUser"
    text = document(statement([ARN, ARN.upper().replace("ARN:AWS:IAM", "arn:aws:iam")]))
    parsed = json.loads(replace_principal(text, ARN, renamed))
    assert parsed["Statement"][0]["Principal"] == {"AWS": [renamed, renamed]}
