"""Every model, imported in one place for migrations and tests."""

from dispatch.audit.models import AccessRecord
from dispatch.auth.models import LoginFailure, Membership, Token, User
from dispatch.calls.models import Call
from dispatch.communities.models import Community, Device, DirectoryEntry, Physician, Requester
from dispatch.geo.models import BanAddress, BanCommune, BanStreet
from dispatch.heartbeat import Heartbeat
from dispatch.maintenance import Maintenance
from dispatch.notify.models import InboxMessage, OutboxMessage
from dispatch.reports.models import PhysicianDayStats
from dispatch.requests.live_versions import CommunityVersion
from dispatch.requests.models import Event, Offer, OfferLink, Request, Synthesis

__all__ = [
    "AccessRecord",
    "BanAddress",
    "BanCommune",
    "BanStreet",
    "Call",
    "Community",
    "CommunityVersion",
    "Device",
    "DirectoryEntry",
    "Event",
    "Heartbeat",
    "InboxMessage",
    "LoginFailure",
    "Maintenance",
    "Membership",
    "Offer",
    "OfferLink",
    "OutboxMessage",
    "Physician",
    "PhysicianDayStats",
    "Request",
    "Requester",
    "Synthesis",
    "Token",
    "User",
]
