"""What the deletion of an IAM user or role does to the documents and grants that name it, in the SQLite store.

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
decision path needs no change and stays as fast as before.
"""

from __future__ import annotations

from kmsd.store.base import StoreError
from kmsd.store.principal_references_schema import UNREADABLE
from kmsd.store.principal_rewrite import RewriteFailed, UnreadableDocument, replace_principal
from kmsd.store.sqlite_connections import SqliteConnections


class PrincipalReferenceQueries(SqliteConnections):
    """The principal_references index, and the rewrite it serves."""

    def _orphan_principal(self, arn: str, unique_id: str) -> None:
        """Replace ``arn`` by ``unique_id`` in every key policy, trust policy and grant that names it.

        Runs inside the caller's transaction (the deletion), so the documents change with the
        deletion or not at all.
        """
        references = (arn.lower(), UNREADABLE)
        keys = self._fetchall(
            "SELECT key_id, policy FROM keys WHERE key_id IN "
            "(SELECT key_id FROM principal_references WHERE principal IN (?, ?) AND key_id IS NOT NULL)",
            references,
        )
        for key_id, policy in keys:
            rewritten = _rewritten(str(policy), arn, unique_id)
            if rewritten is not None:
                self._write("UPDATE keys SET policy = ? WHERE key_id = ?", (rewritten, key_id), f"key {key_id}")
        roles = self._fetchall(
            "SELECT role_id, assume_role_policy FROM iam_roles WHERE role_id IN "
            "(SELECT role_id FROM principal_references WHERE principal IN (?, ?) AND role_id IS NOT NULL)",
            references,
        )
        for role_id, document in roles:
            rewritten = _rewritten(str(document), arn, unique_id)
            if rewritten is not None:
                self._write(
                    "UPDATE iam_roles SET assume_role_policy = ? WHERE role_id = ?",
                    (rewritten, role_id),
                    f"role {role_id}",
                )
        # Grants store the principal's canonical ARN; COLLATE NOCASE also catches any other spelling.
        self._write(
            "UPDATE grants SET grantee_principal = ? WHERE grantee_principal = ? COLLATE NOCASE",
            (unique_id, arn),
            f"grants for {unique_id}",
        )
        self._write(
            "UPDATE grants SET retiring_principal = ? WHERE retiring_principal = ? COLLATE NOCASE",
            (unique_id, arn),
            f"grants retirable by {unique_id}",
        )


def _rewritten(document: str, arn: str, unique_id: str) -> str | None:
    """The document with ``arn`` replaced in its principals, or None when nothing changes."""
    try:
        rewritten = replace_principal(document, arn, unique_id)
    except UnreadableDocument:
        # Not JSON to Python either: the policy engine cannot read it, so it allows nobody anything.
        return None
    except RewriteFailed as error:
        # Never delete the principal while a document would still name it.
        raise StoreError(str(error)) from None
    return None if rewritten == document else rewritten
