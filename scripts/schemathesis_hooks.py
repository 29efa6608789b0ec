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
    named = {(response.status_code, e.get("field"), e.get("problem")) for e in errors if isinstance(e, dict)}
    return not (errors and len(named) == len(errors) and named <= BEYOND_JSON_SCHEMA)
