"""The desk's JSON reads under /agent/api/: session auth, same origin, the agent's own sites only.

Every change goes over the agent socket; these endpoints only read.
"""

from __future__ import annotations

from functools import wraps

from django.core import signing
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from chat.selectors import agents as agent_reads
from chat.selectors import desk as desk_selectors
from chat.selectors.access import NotFound
from chat.services.labels import label_name_clean
from chat.views.http import BadRequest, error_response

MAX_QUERY_CHARS = 100
MAX_IDS = 100
# A cursor is a signed JSON of a few short fields; anything much longer is not one of ours.
MAX_CURSOR_CHARS = 300
CURSOR_SALT = "chat.desk.list-cursor"
# Fetches from other sites are refused even though they could not read the answer: no side channel on timing.
SAME_ORIGIN_FETCH = {"same-origin", "none"}


def agent_api(view):
    """JSON errors instead of redirects: 401 signed out, 403 not an agent or cross-site, 404 not found or not yours."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in SAME_ORIGIN_FETCH:
            return error_response("forbidden", "Same-origin requests only.", 403)
        if not request.user.is_authenticated:
            return error_response("unauthorized", "Sign in first.", 401)
        if not agent_reads.is_agent(request.user):
            return error_response("forbidden", "The desk is for agents.", 403)
        try:
            response = view(request, *args, **kwargs)
        except NotFound:
            return error_response("not_found", "No such conversation or site.", 404)
        except BadRequest as exc:
            return error_response(exc.code, exc.detail, exc.status)
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def _int(request, name: str, *, default: int | None = None, minimum: int = 0, maximum: int = 2**31) -> int | None:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise BadRequest("bad_request", f"`{name}` must be a whole number from {minimum} to {maximum}.")
    return int(raw)


def _site(request) -> int | None:
    return _int(request, "site", minimum=1)


def _ids(request) -> list[int] | None:
    raw = request.GET.get("ids")
    if raw is None:
        return None
    parts = [part for part in raw.split(",") if part]
    if len(parts) > MAX_IDS or not all(part.isdigit() for part in parts):
        raise BadRequest("bad_request", f"`ids` must be up to {MAX_IDS} comma-separated ids.")
    return [int(part) for part in parts]


def _label(request) -> str:
    """The `label` filter as the name it is stored under ("Refund " finds "refund"); empty for none."""
    raw = request.GET.get("label", "")
    if raw == "":
        return ""
    try:
        return label_name_clean(raw)
    except ValueError:
        raise BadRequest("bad_request", "`label` must be a label name: 1 to 40 characters of plain text.") from None


def _cursor(request, *, view: str, search: bool) -> tuple | None:
    """The `cursor` a previous page handed out, as the key its last row had; 400 for anything else."""
    raw = request.GET.get("cursor", "")
    if raw == "":
        return None
    refused = BadRequest("bad_request", "`cursor` is not one this list handed out; start again without it.")
    if len(raw) > MAX_CURSOR_CHARS:
        raise refused
    try:
        data = signing.loads(raw, salt=CURSOR_SALT)
        if data.get("v") != view or data.get("s") != search:
            raise ValueError("a cursor of another list")
        return desk_selectors.list_key(view=view, raw=data.get("k"), search=search)
    except (signing.BadSignature, ValueError, TypeError, AttributeError):
        raise refused from None


def _next_cursor(page: desk_selectors.ConversationPage, *, view: str, search: bool) -> str | None:
    """An opaque token for the page after this one; signed, so a client cannot forge a key."""
    if not page.more or page.last is None:
        return None
    return signing.dumps({"v": view, "s": search, "k": list(page.last)}, salt=CURSOR_SALT, compress=True)


@require_GET
@agent_api
def conversations(request):
    """GET /agent/api/conversations?view=queue|mine|open|resolved&q=&site=&label=&cursor=&limit= (or ?ids=1,2).

    `next` in the answer is the cursor of the following page (null on the last one); with `q`, rows come best
    match first and carry a `snippet`.
    """
    view = request.GET.get("view", "open")
    if view not in desk_selectors.VIEWS:
        raise BadRequest("bad_request", f"`view` must be one of {', '.join(desk_selectors.VIEWS)}.")
    q = request.GET.get("q", "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest("bad_request", f"`q` is longer than {MAX_QUERY_CHARS} characters.")
    site_id = _site(request)
    label = _label(request)
    page = desk_selectors.desk_conversations(
        user=request.user,
        view=view,
        q=q,
        site_id=site_id,
        label=label,
        ids=_ids(request),
        after=_cursor(request, view=view, search=bool(q)),
        limit=_int(request, "limit", default=50, minimum=1, maximum=100),
    )
    counts = desk_selectors.desk_counts(user=request.user, site_id=site_id, label=label)
    return JsonResponse(
        {
            "view": view,
            "conversations": page.rows,
            "more": page.more,
            "next": _next_cursor(page, view=view, search=bool(q)),
            "counts": counts,
        }
    )


@require_GET
@agent_api
def customer(request, conversation_id: int):
    """GET /agent/api/conversations/<id>/customer: who the customer is and what they asked before."""
    return JsonResponse(desk_selectors.desk_customer(user=request.user, conversation_id=conversation_id))


@require_GET
@agent_api
def labels(request):
    """GET /agent/api/labels?site=: the labels of the agent's sites, for suggestions and the list's filter."""
    return JsonResponse({"labels": desk_selectors.desk_labels(user=request.user, site_id=_site(request))})


@require_GET
@agent_api
def canned(request):
    """GET /agent/api/canned?site=: canned responses for the `/` picker."""
    return JsonResponse({"canned": desk_selectors.desk_canned(user=request.user, site_id=_site(request))})


@require_GET
@agent_api
def agents(request):
    """GET /agent/api/agents?site=: colleagues to assign to, with presence and load."""
    return JsonResponse({"agents": desk_selectors.desk_agents(user=request.user, site_id=_site(request))})


@require_GET
@agent_api
def counts(request):
    """GET /agent/api/counts?site=&label=: how many conversations each view holds, for the tabs and the title."""
    counts = desk_selectors.desk_counts(user=request.user, site_id=_site(request), label=_label(request))
    return JsonResponse({"counts": counts})
