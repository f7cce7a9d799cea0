"""Another tenant's id answers 404, on every URL of the project.

The test walks the whole URLconf. Every pattern with an id parameter (an
``int`` path converter named ``*_id`` or ``pk``, or a regex group named
``pk``/``*_pk`` or ``*_id`` with a digits-only regex) is requested with the
ids of rows that belong to ``other_account``, by the logged-in owner of
``account`` (session client, GET and POST). Each must answer 404, exactly like
a missing id. A method the view does not allow may answer 405 instead, as
long as it does so for a missing id too (the id is then never looked at); at
least one of GET/POST must reach the lookup and answer 404.

New URLs are covered automatically. A new kind of id parameter makes the test
fail with a message asking to extend ``KWARG_MODELS``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import pytest

from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter
from django.urls.resolvers import RegexPattern, RoutePattern

from accounts.models import Account, Invitation, Membership, Site
from campaigns.models import Campaign
from conversations.models import (
    AssignmentLog,
    Attachment,
    CannedResponse,
    Contact,
    Conversation,
    Message,
    Notification,
    PageView,
)
from tests import factories

#: URL parameter name → the model whose id it carries.
KWARG_MODELS = {
    "account_id": Account,
    "membership_id": Membership,
    "member_id": Membership,
    "agent_id": Membership,
    "site_id": Site,
    "invitation_id": Invitation,
    "campaign_id": Campaign,
    "contact_id": Contact,
    "conversation_id": Conversation,
    "message_id": Message,
    "attachment_id": Attachment,
    "canned_id": CannedResponse,
    "canned_response_id": CannedResponse,
    "notification_id": Notification,
    "page_view_id": PageView,
    "assignment_log_id": AssignmentLog,
}
SKIP_PREFIXES = ("admin/",)
_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_DIGITS = {r"\d+", "[0-9]+", r"\d{1,}"}


@dataclass
class IdPattern:
    route: str  # human readable, for test ids and messages
    pieces: list  # the pattern objects from the root to the leaf
    leaf: URLPattern
    id_kwargs: list[str] = field(default_factory=list)
    other_kwargs: dict[str, str] = field(default_factory=dict)  # name → converter kind


def _is_id_name(name: str) -> bool:
    return name == "pk" or name.endswith("_id") or name.endswith("_pk")


def _regex_groups(regex: str) -> dict[str, str]:
    """Named groups of a regex with their sub-pattern (balanced parentheses)."""
    groups = {}
    for match in re.finditer(r"\(\?P<(\w+)>", regex):
        depth, i = 1, match.end()
        while i < len(regex) and depth:
            if regex[i] == "\\":
                i += 2
                continue
            depth += {"(": 1, ")": -1}.get(regex[i], 0)
            i += 1
        groups[match.group(1)] = regex[match.end() : i - 1]
    return groups


def _collect(resolver=None, pieces=()) -> list[IdPattern]:
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        chain = (*pieces, entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(_collect(entry, chain))
            continue
        route = "".join(str(p) for p in chain)
        if route.lstrip("^").startswith(SKIP_PREFIXES):
            continue
        item = IdPattern(route=route, pieces=list(chain), leaf=entry)
        for piece in chain:
            if isinstance(piece, RoutePattern):
                for name, converter in piece.converters.items():
                    if isinstance(converter, IntConverter) and _is_id_name(name):
                        item.id_kwargs.append(name)
                    else:
                        item.other_kwargs[name] = type(converter).__name__
            elif isinstance(piece, RegexPattern):
                for name, sub in _regex_groups(str(piece)).items():
                    if name == "pk" or name.endswith("_pk") or (name.endswith("_id") and sub in _DIGITS):
                        item.id_kwargs.append(name)
                    else:
                        item.other_kwargs[name] = "regex"
        if item.id_kwargs:
            found.append(item)
    return found


def _model_for(name: str, leaf: URLPattern):
    if name in KWARG_MODELS:
        return KWARG_MODELS[name]
    if name == "pk" or name.endswith("_pk"):
        # DRF views and generic views: the model of their queryset.
        cls = getattr(leaf.callback, "cls", None) or getattr(leaf.callback, "view_class", None)
        queryset = getattr(cls, "queryset", None)
        if queryset is not None:
            return queryset.model
        if getattr(cls, "model", None) is not None:
            return cls.model
    return None


def _dummy(kind: str) -> str:
    return str(uuid.uuid4()) if kind == "UUIDConverter" else "x"


def _build_url(item: IdPattern, values: dict[str, object]) -> str:
    url = ""
    for piece in item.pieces:
        text = str(piece)
        if isinstance(piece, RoutePattern):
            text = _ROUTE_PARAM.sub(lambda m: str(values[m.group("name")]), text)
        else:
            for name, sub in _regex_groups(text).items():
                text = text.replace(f"(?P<{name}>{sub})", str(values[name]))
            text = text.lstrip("^").replace("\\Z", "").rstrip("$")
            text = re.sub(r"\\(.)", r"\1", text)
        url += text
    return "/" + url


def _foreign_rows(other_account) -> dict:
    """One row of every tenant model, all in ``other_account``."""
    owner = factories.MembershipFactory(account=other_account, role=Membership.Role.OWNER)
    site = factories.SiteFactory(account=other_account)
    contact = factories.ContactFactory(account=other_account, site=site)
    campaign = factories.CampaignFactory(account=other_account)
    conversation = factories.ConversationFactory(account=other_account, contact=contact, campaign=campaign, assignee=owner)
    message = factories.MessageFactory(account=other_account, conversation=conversation)
    attachment = Attachment.objects.create(
        account=other_account, message=message, name="a.txt", content_type="text/plain", size=2,
        file=ContentFile(b"hi", name="a.txt"),
    )
    return {
        Account: other_account,
        Membership: owner,
        Site: site,
        Invitation: factories.InvitationFactory(account=other_account),
        Campaign: campaign,
        Contact: contact,
        Conversation: conversation,
        Message: message,
        Attachment: attachment,
        CannedResponse: factories.CannedResponseFactory(account=other_account),
        Notification: Notification.objects.create(
            account=other_account, membership=owner, conversation=conversation, kind="test", text="hi"
        ),
        PageView: PageView.objects.create(account=other_account, contact=contact, url="https://shop.example.test/"),
        AssignmentLog: AssignmentLog.objects.create(
            account=other_account, conversation=conversation, assignee=owner, reason="test"
        ),
    }


PATTERNS = _collect()


def test_walker_finds_the_known_id_urls():
    routes = {item.route for item in PATTERNS}
    for expected in (
        "settings/team/<int:membership_id>/role/",
        "settings/sites/<int:site_id>/",
        "settings/invitations/<int:invitation_id>/revoke/",
        "switch-account/<int:account_id>/",
    ):
        assert expected in routes


def test_every_id_parameter_is_mapped_to_a_model():
    unknown = sorted(
        {f"{name} (in {item.route})" for item in PATTERNS for name in item.id_kwargs if _model_for(name, item.leaf) is None}
    )
    assert not unknown, (
        "URL parameters with ids of unknown models: "
        + ", ".join(unknown)
        + ". Add them to KWARG_MODELS in tests/test_tenancy.py (and a row to _foreign_rows) so the tenant "
        "isolation check covers them."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("item", PATTERNS, ids=[item.route for item in PATTERNS])
def test_other_tenants_ids_answer_404(item, client_for, owner, other_account, account):
    factories.SiteFactory(account=account)  # the owner's own account has data too
    rows = _foreign_rows(other_account)
    values = {name: _dummy(kind) for name, kind in item.other_kwargs.items()}
    missing = dict(values)
    for name in item.id_kwargs:
        model = _model_for(name, item.leaf)
        if model is None:
            pytest.fail(f"{name} in {item.route}: unknown model, extend KWARG_MODELS")
        if model not in rows:
            pytest.fail(f"{name} in {item.route}: add a {model.__name__} row to _foreign_rows")
        values[name] = rows[model].pk
        missing[name] = 2_000_000_000
    url = _build_url(item, values)
    match = resolve(url)
    if match.func is not item.leaf.callback and getattr(match.func, "__wrapped__", None) is not item.leaf.callback:
        pytest.skip(f"{url} is served by an earlier pattern ({match.route})")

    client = client_for(owner)
    looked_up = False
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if response.status_code == 405:
            assert getattr(client, method)(_build_url(item, missing)).status_code == 405
            continue
        assert response.status_code == 404, (
            f"{method.upper()} {url} (another tenant's ids) answered {response.status_code}, not 404"
        )
        looked_up = True
    assert looked_up, f"{url}: neither GET nor POST reached the view"
