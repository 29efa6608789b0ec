"""Schemathesis hooks of scripts/schemathesis.sh.

A few rules of the services cannot be said in JSON Schema: one value compared with another
(`ends_at` after `starts_at`, `to` after `from`), a value that is valid only if the service
issued it (a page cursor, an ETag in `If-Match`), and rules on the stored article rather
than on the request (booking needs a `publish_at`). The documents state them in words and
document the refusal; a schema-valid request refused for one of them is not the document
promising too much. Such a failure is dropped here only when the service's own problem
document names exactly that rule; every other failure still fails the run, and the summary
counts what was dropped.
"""

from datetime import datetime, timedelta

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

# (status, field, problem) as the services answer them.
BEYOND_JSON_SCHEMA = {
    # user-schedule-service: one field compared with another.
    (422, "ends_at", "must be after starts_at"),
    (400, "to", "must be after from"),
    # A cursor is valid only if the service issued it (an opaque string in the document).
    (400, "cursor", "is not a cursor this service issued"),
    (400, "cursor", "is not a cursor this service returned"),
    # articles-service: the stored article's publish_at, not the request.
    (422, "publish_at", "is required to book the publication: set it with PUT /articles/{id} first"),
    (422, "publish_at", "is too far from today to compute a schedule window"),
}

# If-Match names a version the event no longer has: a matter of state, not of syntax.
ETAG_MISMATCH = "urn:s2s:problem:etag-mismatch"


def _instant(value):
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    # Only RFC 3339 date-times, which carry an offset (naive ones do not compare with them).
    return instant if instant.tzinfo is not None else None


def _in_order(values, first, second):
    """Puts two date-times generated out of order (or equal, as the generator's simplest
    examples are) in order, so that most generated requests test more than this one rule.
    A swap keeps each value what it was, valid or not; an equal end moves a minute later,
    within the same year."""
    if not isinstance(values, dict):
        return values
    a, b = _instant(values.get(first)), _instant(values.get(second))
    if a is None or b is None:
        return values
    values = dict(values)
    if b < a:
        values[first], values[second] = values[second], values[first]
    elif b == a:
        later = b + timedelta(minutes=1)
        if later.year == b.year:
            values[second] = later.isoformat()
    return values


@schemathesis.hook
def map_body(context, body):
    return _in_order(body, "starts_at", "ends_at")


@schemathesis.hook
def map_query(context, query):
    return _in_order(query, "from", "to")


def _problem(response):
    try:
        body = response.json()
    except Exception:
        return None
    return body if isinstance(body, dict) else None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if not isinstance(failure, RejectedPositiveData):
        return True
    problem = _problem(response)
    if problem is None:
        return True
    if response.status_code == 412 and problem.get("type") == ETAG_MISMATCH:
        return False
    errors = problem.get("errors") or []
    beyond = [
        isinstance(e, dict) and (response.status_code, e.get("field"), e.get("problem")) in BEYOND_JSON_SCHEMA
        for e in errors
    ]
    return not (beyond and all(beyond))
