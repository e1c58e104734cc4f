"""What each operator role may do in the console and through the operator API.

The role table is ``hub.authz.OPERATOR`` — one table with the agencies' rows (``hub.authz``); ``ALLOWED[action]``
is the set of roles that may take the action, ``sees_every_agency`` says whose messages an operator sees. The
console shows an action only to a role that may take it, and the API refuses it (403) to any other, from that one
table.
"""

from __future__ import annotations

from hub.authz import (
    ADMINISTRATOR,
    ALLOWED,
    AUDITOR,
    OPERATOR_ROLE,
    SUPERVISOR,
    may_operate,
    operator_sees_every_agency,
)
from hub.core.model import Directory
from hub.operators import Operator

OPERATOR = OPERATOR_ROLE
__all__ = ["ADMINISTRATOR", "ALLOWED", "AUDITOR", "OPERATOR", "SUPERVISOR", "may", "sees_every_agency"]


def may(operator: Operator, action: str) -> bool:
    """Whether ``operator``'s role allows ``action`` (an unknown action is allowed to no one)."""
    return may_operate(operator.role, action).allowed


def sees_every_agency(operator: Operator, directory: Directory) -> bool:
    """Auditors and administrators see every agency's messages, and so does anyone working for the hub itself
    (the joint-meeting office); an agency's operators and supervisors see their own agency's only."""
    agency = directory.agencies.get(operator.agency)
    return operator_sees_every_agency(operator.role, agency.organ_type if agency is not None else None)
