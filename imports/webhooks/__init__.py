"""Completion webhooks: per-project endpoints told, signed and with retries, when an import ends.

``services`` changes endpoints and creates deliveries, ``selectors`` reads them by project,
``delivery`` makes one attempt (a django-q2 task each), ``signing_secrets`` keeps the secrets.
"""
