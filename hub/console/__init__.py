"""The operator console at ``/console``: sign-in, dashboard, failed transfers and their actions, the audit log.
Pages in ``hub.console.web``, what they read in ``hub.console.data``, who may do what in
``hub.console.permissions``, the session on a request in ``hub.console.session``."""
