"""The store's queries, written once for SQLite and PostgreSQL (:class:`~kmsd.store.sql.queries.SqlQueries`).

``rows`` declares once, per record, how a dataclass maps to its table's columns (``codec``); the query modules
(``accounts``, ``kms_keys``, ``grants``, ``custom_key_stores``, ``iam_entities``, ``iam_policies``,
``sessions``, ``principal_references``) are the statements of one family of records each; ``connections``
is what they need from a driver.
"""
