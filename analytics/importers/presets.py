"""Column maps for real exports: ServiceNow change_request and incident, Jira issues and sprints.

Each preset turns the columns it finds (CSV exports carry field names such as ``close_code``,
Excel exports carry labels such as ``Close code``; both are accepted) into SQL expressions for
the canonical columns. Values are mapped in SQL: unknown values pass through unchanged so the
loader rejects the row and quotes the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analytics.importers.sniff import normalise_name
from analytics.importers.transform import Cols, Transform
from analytics.schema import WARRANTY_ASPECTS


@dataclass(frozen=True)
class Preset:
    """A known export format.

    ``id_names``: header names of its id column (one must be present); ``signature``: names
    typical of the format; a header matching at least ``min_hits`` of them is recognised.
    """

    name: str
    title: str
    kind: str
    id_names: tuple[str, ...]
    signature: tuple[str, ...]
    build: Callable[[Cols], Transform]
    min_hits: int = 2

    def hits(self, names: set[str]) -> int:
        if not names.intersection(self.id_names):
            return 0
        return len(names.intersection(self.signature))


# --- ServiceNow -------------------------------------------------------------------------------

SN_NUMBER = ("number",)
SN_OPENED = ("opened_at", "opened", "sys_created_on", "created")
SN_CLOSED = ("closed_at", "closed")
SN_GROUP = ("assignment_group", "assignment group")
SN_SERVICE = ("business_service", "service", "business service")
SN_CI = ("cmdb_ci", "configuration item")
SN_UPDATED = ("sys_updated_on", "sys_updated_at", "updated")
SN_CHANGE = {
    "type": ("type", "change type"),
    "risk": ("risk",),
    "state": ("state",),
    "close_code": ("close_code", "close code"),
    "close_notes": ("close_notes", "close notes"),
    "cab_required": ("cab_required", "cab required"),
    "cab_date": ("cab_date", "cab date", "cab_date_time", "cab date time"),
    "cab_recommendation": ("cab_recommendation", "cab recommendation"),
    "work_start": ("work_start", "actual start", "actual start date"),
    "work_end": ("work_end", "actual end", "actual end date"),
    "start_date": ("start_date", "planned start date", "planned start"),
    "end_date": ("end_date", "planned end date", "planned end"),
}
TRUE_WORDS = ["true", "1", "yes", "y", "x", "ja", "wahr"]
FALSE_WORDS = ["false", "0", "no", "n", "nein", "falsch"]


def _service(c: Cols) -> str:
    return f"coalesce({c.text(*SN_SERVICE)}, {c.text(*SN_CI)})"


def _latest(c: Cols, transform: Transform) -> Transform:
    """Keep the latest row per number: by sys_updated_on where present, else the last row."""
    updated = c.date(*SN_UPDATED)
    transform.latest_by = "TRY_CAST(" + updated + " AS TIMESTAMP)" if updated != "NULL" else "NULL"
    transform.latest_label = "number" + (" (by sys_updated_on)" if updated != "NULL" else "")
    return transform


def servicenow_change(c: Cols) -> Transform:
    """ServiceNow change_request -> changes."""
    f = {k: c.text(*v) for k, v in SN_CHANGE.items()}
    change_type = f"lower({f['type']})"
    state = f"lower({f['state']})"
    code = f"replace(lower({f['close_code']}), ' ', '_')"
    notes = f"lower({f['close_notes']})"
    backed_out = (
        f"(regexp_matches({code}, 'back') OR regexp_matches(coalesce({state}, ''), 'back')"
        f" OR (regexp_matches(coalesce({notes}, ''), '(back|backed|roll|rolled)[ _-]?(out|back)')"
        f" AND NOT regexp_matches(coalesce({notes}, ''), '(not|no|without)[ a-z]{{0,12}}"
        "(back|roll)')))"
    )
    outcome = f"""CASE
        WHEN {state} IN ('canceled', 'cancelled', '4') THEN 'cancelled'
        WHEN {backed_out} THEN 'rolled_back'
        WHEN {code} = 'unsuccessful' THEN 'failed'
        WHEN {code} IN ('successful', 'successful_issues', 'successful_with_issues')
            THEN 'successful'
        ELSE {code} END"""
    cab_yes = f"list_contains($true_words, lower({f['cab_required']}))"
    cab_no = f"list_contains($false_words, lower({f['cab_required']}))"
    cab_held = f"({f['cab_date']} IS NOT NULL OR {f['cab_recommendation']} IS NOT NULL)"
    # CAB involvement decides the route; an explicit "no CAB" normal change was approved by a
    # delegated authority; with no CAB information the loader derives it from the type.
    approval = f"""CASE
        WHEN {cab_yes} OR {cab_held} THEN
            CASE WHEN {change_type} = 'emergency' THEN 'ecab' ELSE 'cab' END
        WHEN {cab_no} THEN CASE {change_type} WHEN 'standard' THEN 'pre-approved'
            WHEN 'normal' THEN 'product-owner' WHEN 'emergency' THEN 'ecab' END
        END"""
    risk_word = f"regexp_replace(lower({f['risk']}), '^[0-9]+\\s*-\\s*', '')"
    risk = f"""CASE
        WHEN {risk_word} IN ('very high', 'very_high', 'high', '1', '2') THEN 'high'
        WHEN {risk_word} IN ('moderate', 'medium', '3') THEN 'medium'
        WHEN {risk_word} IN ('low', '4') THEN 'low'
        WHEN {risk_word} IN ('none', '5') THEN NULL
        ELSE {risk_word} END"""
    work_end = c.date(*SN_CHANGE["work_end"])
    work_start = c.date(*SN_CHANGE["work_start"])
    closed = c.date(*SN_CLOSED)
    implemented = (
        f"CASE WHEN __outcome = 'cancelled' THEN coalesce({work_end}, {work_start}) "
        f"ELSE coalesce({work_end}, {work_start}, {closed}) END"
    )
    columns = {
        "change_id": c.text(*SN_NUMBER),
        "service": _service(c),
        "team": c.text(*SN_GROUP),
        "change_type": change_type,
        "approval": approval,
        "risk": risk,
        "requested_at": c.date(*SN_OPENED),
        "implemented_at": implemented,
        "outcome": "__outcome",
        # ServiceNow's planned start and end date: the change's planned window (schema v2).
        "planned_start": c.date(*SN_CHANGE["start_date"]),
        "planned_end": c.date(*SN_CHANGE["end_date"]),
    }
    params = {"true_words": TRUE_WORDS, "false_words": FALSE_WORDS}
    open_changes = (
        "change_id IS NOT NULL AND outcome IS NULL",
        "{n} change(s) without a close "
        "code or cancellation (still open?) are rejected: they have no outcome yet",
    )
    t = Transform(
        "changes", columns, c, params=params, pre={"__outcome": outcome}, notes=[open_changes]
    )
    return _latest(c, t)


SN_INCIDENT = {
    "priority": ("priority",),
    "resolved": ("resolved_at", "resolved"),
    "caused_by": ("caused_by", "caused by change", "caused by"),
    "rfc": ("rfc", "change request", "resolved by change"),
    "category": ("category",),
    "class": ("sys_class_name", "class", "task type"),
}


def servicenow_incident(c: Cols) -> Transform:
    """ServiceNow incident (or request) -> incidents."""
    f = {k: c.text(*v) for k, v in SN_INCIDENT.items()}
    number = c.text(*SN_NUMBER)
    word = f"regexp_replace(lower({f['priority']}), '^[0-9]+\\s*-\\s*', '')"
    digit = f"regexp_extract({f['priority']}, '^([0-9]+)(\\s*-.*)?$', 1)"
    # "5 - Planning" has no place in the 1-4 scale: it counts as low.
    priority = f"""CASE
        WHEN {digit} = '5' THEN '4'
        WHEN {digit} <> '' THEN {digit}
        WHEN {word} = 'critical' THEN '1'
        WHEN {word} = 'high' THEN '2'
        WHEN {word} IN ('moderate', 'medium') THEN '3'
        WHEN {word} IN ('low', 'planning') THEN '4'
        ELSE {f["priority"]} END"""
    kind = f"""CASE
        WHEN lower({f["category"]}) IN ('request', 'service request')
          OR lower({f["class"]}) IN ('sc_req_item', 'requested item', 'sc_request', 'request')
          OR regexp_matches(upper(coalesce({number}, '')), '^(RITM|REQ|SCTASK)[0-9]')
        THEN 'request' ELSE 'incident' END"""
    columns = {
        "incident_id": number,
        "service": _service(c),
        "team": c.text(*SN_GROUP),
        "kind": kind,
        "priority": priority,
        "opened_at": c.date(*SN_OPENED),
        "resolved_at": f"coalesce({c.date(*SN_INCIDENT['resolved'])}, {c.date(*SN_CLOSED)})",
        "caused_by_change": f["caused_by"],
        "resolved_by_change": f["rfc"],
    }
    return _latest(c, Transform("incidents", columns, c))


# --- Jira -------------------------------------------------------------------------------------

# Column names of English and German Jira exports.
JIRA_KEY = ("issue key", "key", "vorgangsschlüssel", "schlüssel")
JIRA_TYPE = ("issue type", "issuetype", "type", "vorgangstyp")
JIRA_CREATED = ("created", "erstellt")
JIRA_RESOLVED = ("resolved", "resolution date", "erledigt")
JIRA_LABELS = ("labels", "label", "stichwörter")
JIRA_POINTS = (
    "custom field (story points)",
    "custom field (story point estimate)",
    "story points",
    "story point estimate",
    "benutzerdefiniertes feld (story points)",
    "benutzerdefiniertes feld (story point estimate)",
)
JIRA_TEAM = (
    "team", "custom field (team)", "benutzerdefiniertes feld (team)", "project key",
    "projektschlüssel", "project", "projekt",
)  # fmt: skip
# Labels that mark a warranty (non-functional) requirement; the first four name its aspect.
WARRANTY_LABELS = [*WARRANTY_ASPECTS, "nfr", "operability", "warranty"]


def sprint_id_expr(team: str, sprint: str) -> str:
    """SQL: a stable sprint id from team and sprint name, e.g. 'pay-sprint-12'."""
    return (
        f"CASE WHEN {sprint} IS NOT NULL THEN trim(regexp_replace(lower(coalesce({team}, '') "
        f"|| '-' || {sprint}), '[^a-z0-9]+', '-', 'g'), '-') END"
    )


def jira_issues(c: Cols) -> Transform:
    """Jira issue export -> work_items (and, from the sprint names, sprints)."""
    sprints = c.all("sprint")
    # An issue carried over lists every sprint it was in; the last one is where it ended.
    sprint = f"coalesce({', '.join(reversed(sprints))})" if sprints else "NULL"
    labels = c.all(*JIRA_LABELS)
    label_list = (
        "list_filter(flatten(["
        + ", ".join(f"coalesce(string_split_regex(lower({x}), '[\\s,;]+'), [])" for x in labels)
        + "]), lambda x: x <> '')"
        if labels
        else "[]::VARCHAR[]"
    )
    team = c.text(*JIRA_TEAM)
    columns = {
        "item_id": c.text(*JIRA_KEY),
        "team": team,
        "sprint_id": sprint_id_expr(team, sprint),
        "item_type": f"lower({c.text(*JIRA_TYPE)})",
        "requirement_type": (
            f"CASE WHEN list_has_any({label_list}, $warranty_labels) THEN 'warranty' "
            "ELSE 'utility' END"
        ),
        "warranty_aspect": f"list_filter({label_list}, lambda x: list_contains($aspects, x))[1]",
        "story_points": c.number(*JIRA_POINTS),
        "status": c.text("status"),
        "created_at": c.date(*JIRA_CREATED),
        "resolved_at": c.date(*JIRA_RESOLVED),
    }
    return Transform(
        "work_items",
        columns,
        c,
        helpers={"__sprint_name": sprint},
        params={"warranty_labels": WARRANTY_LABELS, "aspects": list(WARRANTY_ASPECTS)},
    )


JIRA_SPRINT_NAME = ("sprint", "sprint name", "name")
JIRA_SPRINT_START = ("start date", "start", "startdate", "start_date")
JIRA_SPRINT_END = ("end date", "end", "enddate", "end_date", "complete date", "completed date")
JIRA_COMMITTED = ("committed", "committed points", "commitment", "committed story points")
JIRA_COMPLETED = ("completed", "completed points", "done", "completed story points")
JIRA_SPRINT_TEAM = ("team", "board", "project key", "project")


def jira_sprints(c: Cols) -> Transform:
    """A sprints file (Jira sprint report or name/start/end/points CSV) -> sprints.

    Without a team column the team is filled in from the issues of the same import.
    """
    name = c.text(*JIRA_SPRINT_NAME)
    team = c.text(*JIRA_SPRINT_TEAM)
    columns = {
        "sprint_id": sprint_id_expr(team, name),
        "team": team,
        "name": name,
        "start_date": c.date(*JIRA_SPRINT_START, date_only=True),
        "end_date": c.date(*JIRA_SPRINT_END, date_only=True),
        "committed_points": c.number(*JIRA_COMMITTED),
        "completed_points": c.number(*JIRA_COMPLETED),
    }
    return Transform("sprints", columns, c, helpers={"__sprint_name": name})


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "servicenow-change",
            "ServiceNow change_request",
            "changes",
            SN_NUMBER,
            (
                "close_code", "close code", "cab_required", "cab required", "work_start",
                "work_end", "actual start", "actual end", "planned start date", "start_date",
                "end_date", "risk", "type", "backout_plan", "backout plan", "chg_model",
            ),
            servicenow_change,
        ),
        Preset(
            "servicenow-incident",
            "ServiceNow incident",
            "incidents",
            SN_NUMBER,
            (
                "caused_by", "caused by change", "rfc", "incident_state", "incident state",
                "resolved_at", "resolved", "priority", "severity", "urgency", "impact",
                "sc_req_item", "category",
            ),
            servicenow_incident,
            min_hits=3,
        ),
        Preset(
            "jira-issues",
            "Jira issues",
            "work_items",
            ("issue key", "vorgangsschlüssel"),
            ("issue id", "summary", "zusammenfassung", "status", "sprint", *JIRA_TYPE,
             *JIRA_CREATED, *JIRA_RESOLVED, *JIRA_POINTS, *JIRA_LABELS),
            jira_issues,
        ),
        Preset(
            "jira-sprints",
            "Jira sprints",
            "sprints",
            ("sprint", "sprint name", "name"),
            ("start date", "end date", "complete date", "start", "end", *JIRA_COMMITTED,
             *JIRA_COMPLETED),
            jira_sprints,
        ),
    )
}  # fmt: skip


def detect_preset(header: tuple[str, ...] | list[str]) -> str | None:
    """The preset whose signature the header matches best, or None (canonical or unknown)."""
    names = {normalise_name(h) for h in header}
    scored = sorted(
        ((p.hits(names), p.name) for p in PRESETS.values() if p.hits(names) >= p.min_hits),
        reverse=True,
    )
    return scored[0][1] if scored else None
