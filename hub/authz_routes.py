"""Every HTTP route's policy, as data: what a request must carry and which row of ``hub.authz`` it is held to.

Keyed by ``"METHOD path"`` exactly as the route is declared (HEAD is GET's). ``hub.api.guard`` looks the served
route up here on every request and refuses one with no row; a test walks the app's routes and fails on any route
missing here, and on any row no route has. To add an endpoint: add its row (see docs/security-authz.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.authz import ACCESS, OPERATOR, Decision, Principal, may_operate, may_reach


@dataclass(frozen=True)
class Policy:
    """What a route needs. ``agency``: an agency's API key that may reach this ``hub.authz.ACCESS`` resource (the
    subject is checked in the endpoint against the same row). ``operator``: a console session whose role may take
    this ``hub.authz.OPERATOR`` action, or the hub's own key. ``console``: a console page, which its own sign-in
    gate holds to this action (``hub.console.ui.Console.gate``). ``public``: no credentials, and why.
    ``after_body``: an input whose caller is identified and admitted in the endpoint once its body is read
    (``hub.api.guard.admit_input``), so that every refusal is kept in quarantine with the bytes as received."""

    agency: str | None = None
    operator: str | None = None
    console: str | None = None
    public: str | None = None
    after_body: bool = False

    def __post_init__(self) -> None:
        if self.agency is not None and self.agency not in ACCESS:
            raise ValueError(f"no ACCESS row {self.agency!r}")
        for action in (self.operator, self.console):
            if action is not None and action not in OPERATOR:
                raise ValueError(f"no OPERATOR action {action!r}")
        if not (self.agency or self.operator or self.console or self.public):
            raise ValueError("a policy names who may call the route")
        if self.after_body and (self.agency is None or self.operator is not None):
            raise ValueError("an input admitted after its body is read takes an agency's key only")

    @property
    def checked_by_guard(self) -> bool:
        """Whether the guard itself identifies the caller and admits them before the endpoint runs."""
        return bool(self.agency or self.operator) and not self.after_body

    def describe(self) -> str:
        parts = []
        if self.agency:
            parts.append(f"agency key: {self.agency}" + (" (admitted after the body is read)" if self.after_body
                                                          else ""))
        if self.operator:
            parts.append(f"console session: {self.operator} (or the hub's key)")
        if self.console:
            parts.append(f"console page: {self.console}")
        if self.public:
            parts.append(f"public: {self.public}")
        return "; ".join(parts)


def admit(principal: Principal, policy: Policy) -> Decision:
    """Whether ``principal`` may call a route of ``policy`` at all (the subject, if any, is decided after)."""
    if principal.by_key:
        if policy.agency is not None:
            return may_reach(principal, policy.agency)
        if policy.operator is not None:
            if principal.every_agency:
                return Decision(True, "the hub's own key may take every operator action")
            return Decision(False, f"this is for the hub's operators (a console session whose role may "
                                   f"{policy.operator.replace('_', ' ')}, or the hub's key), not "
                                   f"{principal.named()}")
        return Decision(False, "this route takes no API key")
    if policy.operator is not None:
        return may_operate(principal.role or "", policy.operator)
    return Decision(False, "this route takes an agency's API key, not a console session")


def agency(resource: str) -> Policy:
    return Policy(agency=resource)


def agency_input(resource: str) -> Policy:
    """An agency's key for ``resource``, admitted once the body is read so that a refusal is kept in quarantine."""
    return Policy(agency=resource, after_body=True)


def operator(action: str) -> Policy:
    return Policy(operator=action)


def either(resource: str, action: str) -> Policy:
    """An agency's key for ``resource``, or a console session for ``action`` (a key takes precedence)."""
    return Policy(agency=resource, operator=action)


def page(action: str) -> Policy:
    return Policy(console=action)


def public(why: str) -> Policy:
    return Policy(public=why)


_DOCS = public("the API's description; no data")
_SIGNIN = public("signing in and out, and the language, before or without a session")

ROUTES: dict[str, Policy] = {
    # ---- inputs: admitted after the body is read (refusals kept in quarantine); each message then held to SEND
    "POST /api/v1/messages": agency_input("send"),
    "POST /api/v1/inbound/{system}": agency_input("send_native"),
    "POST /api/v1/reports/history": agency_input("history_import"),
    # ---- an agency's own view
    "GET /api/v1/inbound/payloads/{payload_id}": agency("native_payload"),
    "GET /api/v1/attachments/{sha256}": agency("attachment"),
    "GET /api/v1/messages/{message_id}": agency("message"),
    "GET /api/v1/quarantine/{qid}": agency("quarantine"),
    "GET /api/v1/quarantine/{qid}/raw": agency("quarantine"),
    "GET /api/v1/inbox": agency("inbox"),
    "POST /api/v1/inbox/{delivery_id}/ack": agency("delivery"),
    "GET /api/v1/persons/{ref}/timeline": either("timeline", "view"),
    "GET /api/v1/persons/{ref:path}/records": agency("person_records"),
    "GET /api/v1/obligations": either("obligations", "view"),
    "GET /api/v1/alarms": agency("alarms"),
    "GET /api/v1/pursuit-drafts": either("pursuit_drafts", "view"),
    "GET /api/v1/pursuit-drafts/{draft_id}": either("pursuit_drafts", "view"),
    "POST /api/v1/pursuit-drafts/{draft_id}/confirm": either("pursuit_decision", "confirm_pursuit"),
    "POST /api/v1/pursuit-drafts/{draft_id}/dismiss": either("pursuit_decision", "confirm_pursuit"),
    "GET /api/v1/identity/reviews": agency("identity_reviews"),
    "POST /api/v1/identity/reviews/{review_id}/decide": agency("identity_decision"),
    "POST /api/v1/registers/{kind}": agency("register_upload"),
    "GET /api/v1/registers/snapshots/{snapshot_id}": agency("register_snapshot"),
    "GET /api/v1/discrepancies": agency("discrepancies"),
    "GET /api/v1/discrepancies/{item_id}": agency("discrepancies"),
    "POST /api/v1/discrepancies/{item_id}/resolve": agency("discrepancy_resolution"),
    "GET /api/v1/reports/joint-meeting": either("report", "view"),
    "GET /api/v1/reports/joint-meeting/figures/{figure_id}": either("report", "view"),
    "GET /api/v1/reports/history": agency("history_imports"),
    "GET /api/v1/reports/history/{import_id}": agency("history_imports"),
    "GET /api/v1/rules": agency("rules"),
    "GET /api/v1/rules/{rule_id}": agency("rules"),
    "POST /api/v1/rules/{rule_id}": agency("rule_change"),
    "GET /api/v1/calendar/{year}": agency("rules"),
    "PUT /api/v1/calendar/{year}": agency("rule_change"),
    # ---- the operators' API: a console session held to its role, or the hub's own key
    "GET /api/v1/failed-transfers": operator("view"),
    "GET /api/v1/failed-transfers/{ft_id}": operator("view"),
    "POST /api/v1/failed-transfers/{ft_id}/retry": operator("retry"),
    "POST /api/v1/failed-transfers/{ft_id}/reroute": operator("reroute"),
    "POST /api/v1/failed-transfers/{ft_id}/edits": operator("edit_submit"),
    "GET /api/v1/failed-transfers/{ft_id}/edits": operator("view_payload"),
    "POST /api/v1/failed-transfer-edits/{edit_id}/approve": operator("edit_approve"),
    "POST /api/v1/failed-transfer-edits/{edit_id}/reject": operator("edit_approve"),
    "POST /api/v1/failed-transfer-edits/{edit_id}/withdraw": operator("edit_submit"),
    "POST /api/v1/failed-transfers/{ft_id}/resolve": operator("resolve_by_hand"),
    "GET /api/v1/operator-files/{file_id}": operator("view_payload"),
    "POST /api/v1/bulk-tasks": operator("bulk_retry"),
    "GET /api/v1/bulk-tasks": operator("view"),
    "GET /api/v1/bulk-tasks/{task_id}": operator("view"),
    "POST /api/v1/bulk-tasks/{task_id}/pause": operator("bulk_retry"),
    "POST /api/v1/bulk-tasks/{task_id}/resume": operator("bulk_retry"),
    "POST /api/v1/bulk-tasks/{task_id}/cancel": operator("bulk_retry"),
    "GET /api/v1/obligations/{obligation_id}": operator("view"),
    "GET /api/v1/obligations/{obligation_id}/notes": operator("view"),
    "POST /api/v1/obligations/{obligation_id}/notes": operator("record_outcome"),
    "POST /api/v1/obligations/{obligation_id}/waive": operator("waive"),
    "GET /api/v1/quarantine": operator("view"),
    "POST /api/v1/quarantine/{qid}/dismiss": operator("release_quarantine"),
    "POST /api/v1/quarantine/{qid}/corrections": operator("correct_quarantine"),
    "GET /api/v1/quarantine/{qid}/corrections": operator("view_payload"),
    "POST /api/v1/quarantine-corrections/{cid}/approve": operator("release_quarantine"),
    "POST /api/v1/quarantine-corrections/{cid}/reject": operator("release_quarantine"),
    "POST /api/v1/quarantine-corrections/{cid}/withdraw": operator("correct_quarantine"),
    "GET /api/v1/operator/discrepancies": operator("view"),
    "POST /api/v1/operator/discrepancies/{item_id}/resolve": operator("resolve_discrepancy"),
    "GET /api/v1/operator/identity/reviews": operator("view"),
    "POST /api/v1/operator/identity/reviews/{review_id}/decide": operator("decide_identity"),
    "GET /api/v1/dashboard": operator("view"),
    "GET /api/v1/audit-log": operator("view_audit"),
    "GET /api/v1/persons/{ref}": operator("view"),
    # ---- no credentials
    "GET /healthz": public("liveness, for the orchestrator"),
    "GET /readyz": public("readiness, for the orchestrator"),
    "GET /openapi.json": _DOCS,
    "GET /docs": _DOCS,
    "GET /docs/oauth2-redirect": _DOCS,
    "GET /redoc": _DOCS,
    "ANY /console/static": public("the console's stylesheet and images"),
    "GET /console": _SIGNIN,
    "GET /console/": _SIGNIN,
    "GET /console/signin": _SIGNIN,
    "POST /console/signin": _SIGNIN,
    "POST /console/signout": _SIGNIN,
    "POST /console/lang": _SIGNIN,
    "GET /console/reports/report.css": public("the report's stylesheet"),
    # ---- the console's pages
    "GET /console/dashboard": page("view"),
    "GET /console/audit": page("view_audit"),
    "GET /console/failed": page("view"),
    "GET /console/failed/{ft_id}": page("view"),
    "POST /console/failed/{ft_id}/retry": page("retry"),
    "POST /console/failed/{ft_id}/reroute": page("reroute"),
    "GET /console/failed/{ft_id}/edit": page("edit_submit"),
    "POST /console/failed/{ft_id}/edit": page("edit_submit"),
    "POST /console/failed/{ft_id}/edits/{edit_id}/approve": page("edit_approve"),
    "POST /console/failed/{ft_id}/edits/{edit_id}/reject": page("edit_approve"),
    "POST /console/failed/{ft_id}/edits/{edit_id}/withdraw": page("edit_submit"),
    "POST /console/failed/{ft_id}/resolve": page("resolve_by_hand"),
    "POST /console/failed/{ft_id}/payload": page("view_payload"),
    "GET /console/failed/{ft_id}/files/{file_id}": page("view_payload"),
    "POST /console/failed/{ft_id}/files/{file_id}": page("view_payload"),
    "GET /console/tasks": page("view"),
    "GET /console/tasks/new": page("bulk_retry"),
    "POST /console/tasks/new": page("bulk_retry"),
    "GET /console/tasks/{task_id}": page("view"),
    "POST /console/tasks/{task_id}/pause": page("bulk_retry"),
    "POST /console/tasks/{task_id}/resume": page("bulk_retry"),
    "POST /console/tasks/{task_id}/cancel": page("bulk_retry"),
    "GET /console/obligations": page("view"),
    "GET /console/obligations/{obligation_id}": page("view"),
    "POST /console/obligations/{obligation_id}/notes": page("record_outcome"),
    "POST /console/obligations/{obligation_id}/waive": page("waive"),
    "GET /console/pursuits": page("view"),
    "GET /console/pursuits/{draft_id}": page("view"),
    "POST /console/pursuits/{draft_id}/confirm": page("confirm_pursuit"),
    "POST /console/pursuits/{draft_id}/dismiss": page("confirm_pursuit"),
    "GET /console/persons": page("view"),
    "GET /console/persons/{ref:path}": page("view"),
    "GET /console/quarantine": page("view"),
    "GET /console/quarantine/{qid}": page("view"),
    "POST /console/quarantine/{qid}/payload": page("view_payload"),
    "POST /console/quarantine/{qid}/dismiss": page("release_quarantine"),
    "POST /console/quarantine/{qid}/corrections": page("correct_quarantine"),
    "POST /console/quarantine/{qid}/corrections/{cid}/approve": page("release_quarantine"),
    "POST /console/quarantine/{qid}/corrections/{cid}/reject": page("release_quarantine"),
    "POST /console/quarantine/{qid}/corrections/{cid}/withdraw": page("correct_quarantine"),
    "GET /console/discrepancies": page("view"),
    "GET /console/discrepancies/{item_id}": page("view"),
    "POST /console/discrepancies/{item_id}/resolve": page("resolve_discrepancy"),
    "GET /console/identity": page("view"),
    "GET /console/identity/{review_id}": page("view"),
    "POST /console/identity/{review_id}/decide": page("decide_identity"),
    "GET /console/reports": page("view"),
    "GET /console/reports/view": page("view"),
    "GET /console/reports/download": page("view"),
    "GET /console/reports/figure": page("view"),
}


def route_key(method: str, path: str) -> str:
    """The ``ROUTES`` key of a request's method on a route declared with ``path`` (HEAD is GET's)."""
    return f"{'GET' if method == 'HEAD' else method} {path}"


def policy_of(method: str, path: str) -> Policy | None:
    return ROUTES.get(route_key(method, path))
