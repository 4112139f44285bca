"""Every query of the store, one class per family of records, gathered into the one class both stores extend.

A store is ``class XStore(XConnections, SqlQueries)``: its connection machinery first, so that the primitives
the queries call (:class:`~kmsd.store.sql.connections.SqlConnections`) resolve to the driver's.
"""

from __future__ import annotations

from kmsd.store.sql.accounts import AccountQueries
from kmsd.store.sql.audit_events import AuditEventQueries
from kmsd.store.sql.custom_key_stores import CustomKeyStoreQueries
from kmsd.store.sql.grants import GrantQueries
from kmsd.store.sql.iam_entities import IamEntityQueries
from kmsd.store.sql.iam_policies import IamPolicyQueries
from kmsd.store.sql.kms_keys import KmsKeyQueries
from kmsd.store.sql.sessions import SessionQueries
from kmsd.store.sql.settings import SettingQueries


class SqlQueries(
    KmsKeyQueries,
    CustomKeyStoreQueries,
    GrantQueries,
    AccountQueries,
    IamEntityQueries,
    IamPolicyQueries,
    SessionQueries,
    SettingQueries,
    AuditEventQueries,
):
    """The Store protocol's reads and writes, in SQL both SQLite and PostgreSQL accept."""
