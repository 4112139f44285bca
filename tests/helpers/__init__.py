"""What several test modules share: AWS error readers, clients of a real server, policy documents, generators.

A test module imports from here, from ``tests/integration/server.py`` or from
its folder's conftest, never from another ``test_*.py`` module: a test file
can then be moved, renamed or run on its own without breaking another.
"""
