"""What each operator role may do in the console and through the operator API, written once as data.

``ALLOWED[action]`` is the set of roles that may take the action; ``sees_every_agency`` says whose messages an
operator sees. The console shows an action only to a role that may take it, and the API refuses it (403) to any
other, from this one table.
"""

from __future__ import annotations

from hub.core.model import Directory, OrganType
from hub.operators import Operator

OPERATOR, SUPERVISOR, AUDITOR, ADMINISTRATOR = "operator", "supervisor", "auditor", "administrator"
_ALL = frozenset({OPERATOR, SUPERVISOR, AUDITOR, ADMINISTRATOR})
_ACTING = frozenset({OPERATOR, SUPERVISOR, ADMINISTRATOR})
_SENIOR = frozenset({SUPERVISOR, ADMINISTRATOR})

ALLOWED: dict[str, frozenset[str]] = {
    # reading
    "view": _ALL,
    "view_payload": _ALL,
    "view_audit": frozenset({AUDITOR, ADMINISTRATOR}),
    # failed transfers
    "retry": _ACTING,
    "bulk_retry": _SENIOR,
    "reroute": _SENIOR,
    "edit_submit": _ACTING,
    "edit_approve": _SENIOR,  # and never the operator who submitted the edit
    "resolve_by_hand": _ACTING,
    # obligations, pursuit drafts, queues
    "record_outcome": _ACTING,
    "waive": _SENIOR,
    "confirm_pursuit": _ACTING,
    "correct_quarantine": _ACTING,  # propose a corrected payload, or withdraw one's own
    "release_quarantine": _SENIOR,  # dismiss an input, approve or reject another operator's correction
    "resolve_discrepancy": _ACTING,
    "decide_identity": _SENIOR,
    # accounts
    "manage_operators": frozenset({ADMINISTRATOR}),
}


def may(operator: Operator, action: str) -> bool:
    """Whether ``operator``'s role allows ``action`` (an unknown action is allowed to no one)."""
    return operator.role in ALLOWED.get(action, frozenset())


def sees_every_agency(operator: Operator, directory: Directory) -> bool:
    """Auditors and administrators see every agency's messages, and so does anyone working for the hub itself
    (the joint-meeting office); an agency's operators and supervisors see their own agency's only."""
    if operator.role in (AUDITOR, ADMINISTRATOR):
        return True
    agency = directory.agencies.get(operator.agency)
    return agency is not None and agency.organ_type is OrganType.HUB
