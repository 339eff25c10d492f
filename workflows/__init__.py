"""The business of storeops: stock ledger, order intake and routing, channel offer ids.

Nothing here imports a web framework, a chat library, an HTTP client or a database driver:
workflows reach the world through the ports in :mod:`workflows.ports`.
"""
