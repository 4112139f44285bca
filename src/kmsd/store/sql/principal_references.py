"""What the deletion of an IAM user or role does to the documents and grants that name it, in either store.

IAM and KMS identify a principal named in a policy by its unique id, not its
ARN: once the user or role is deleted, "the ARN appears as the ID" (IAM User
Guide, "AWS JSON policy elements: Principal"), and a user or role created
again under the same name -- with a new unique id -- is not that principal.
:meth:`PrincipalReferenceQueries._orphan_principal` applies this in the
deletion's own transaction: every key policy and role trust policy that the
``principal_references`` index (:mod:`kmsd.store.principal_references_schema`)
lists for the ARN is rewritten by :func:`kmsd.store.principal_rewrite.replace_principal`,
and every grant whose grantee or retiring principal is the ARN (in any case)
takes the unique id instead.  A unique id never equals a caller's ARN, so the
decision path needs no change and stays as fast as before.  Renaming a user
(a new name or path) goes the same way, to the new ARN
(:meth:`PrincipalReferenceQueries._rename_principal`), as IAM updates
resource and trust policies that name a renamed user.
"""

from __future__ import annotations

from kmsd.store.base import StoreError
from kmsd.store.principal_references_schema import UNREADABLE
from kmsd.store.principal_rewrite import RewriteFailed, UnreadableDocument, replace_principal
from kmsd.store.sql.connections import SqlConnections

# The documents the principal_references index covers: (table, the columns that identify a row, the policy column,
# what a row is).  A key is its id in its Region: the replicas of a multi-Region key have policies of their own.
_INDEXED_DOCUMENTS = (
    ("keys", "key_id, region", "policy", "key"),
    ("iam_roles", "role_id", "assume_role_policy", "role"),
)


class PrincipalReferenceQueries(SqlConnections):
    """The principal_references index, and the rewrite it serves."""

    def _orphan_principal(self, arn: str, unique_id: str) -> None:
        """Replace ``arn`` by ``unique_id`` in every key policy, trust policy and grant that names it.

        Runs inside the caller's transaction (the deletion), so the documents change with the
        deletion or not at all.
        """
        self._replace_principal(arn, unique_id)

    def _rename_principal(self, old_arn: str, new_arn: str) -> None:
        """A user's name or path changed: what named it as a principal names it under its new ARN.

        "Renaming an IAM user" (IAM User Guide): "Any resource or role policies that refer to the
        user as a principal (the user is being granted access) are automatically updated to use
        the new name or path."  A user created later under the old name is someone else.
        """
        self._replace_principal(old_arn, new_arn)

    def _replace_principal(self, arn: str, replacement: str) -> None:
        references = (arn.lower(), UNREADABLE)
        for table, id_columns, document_column, what in _INDEXED_DOCUMENTS:
            # Table and column names are this module's constants, never request input.
            first = id_columns.split(",")[0]
            matches = " AND ".join(f"{column.strip()} = ?" for column in id_columns.split(","))
            rows = self._fetchall(
                f"SELECT {document_column}, {id_columns} FROM {table} WHERE ({id_columns}) IN "
                f"(SELECT {id_columns} FROM principal_references WHERE principal IN (?, ?) AND {first} IS NOT NULL)",
                references,
            )
            for document, *identity in rows:
                rewritten = _rewritten(str(document), arn, replacement)
                if rewritten is not None:
                    self._write(
                        f"UPDATE {table} SET {document_column} = ? WHERE {matches}",
                        (rewritten, *identity),
                        f"{what} {' '.join(map(str, identity))}",
                    )
        # Grants store the principal's canonical ARN; a comparison without case also catches any other spelling.
        self._write(
            f"UPDATE grants SET grantee_principal = ? WHERE {self.NOCASE_EQUALS.format(column='grantee_principal')}",
            (replacement, arn),
            f"grants for {replacement}",
        )
        self._write(
            f"UPDATE grants SET retiring_principal = ? WHERE {self.NOCASE_EQUALS.format(column='retiring_principal')}",
            (replacement, arn),
            f"grants retirable by {replacement}",
        )


def _rewritten(document: str, arn: str, replacement: str) -> str | None:
    """The document with ``arn`` replaced in its principals, or None when nothing changes."""
    try:
        rewritten = replace_principal(document, arn, replacement)
    except UnreadableDocument:
        # Not JSON to Python either: the policy engine cannot read it, so it allows nobody anything.
        return None
    except RewriteFailed as error:
        # Never delete the principal while a document would still name it.
        raise StoreError(str(error)) from None
    return None if rewritten == document else rewritten
