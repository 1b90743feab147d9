"""URLs: the JSON API under /api/v1, accounts, admin, then pages by room name."""

from django.contrib import admin
from django.urls import include, path, register_converter

from . import api, api_moderators, moderator_views, pages, teacher


class IdConverter:
    """Database ids: digits only, short enough never to overflow a 64-bit column."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

api_v1 = [
    path("rooms", api.rooms),
    path("rooms/<str:room>", api.room_detail),
    path("rooms/<str:room>/join", api.join),
    path("rooms/<str:room>/ticket", api.ticket),
    path("rooms/<str:room>/participants", api.participants),
    path("rooms/<str:room>/participants/me", api.leave),
    path("rooms/<str:room>/participants/<id:participant_id>/mute", api.mute),
    path("rooms/<str:room>/participants/<id:participant_id>/erase", api.erase),
    path("rooms/<str:room>/moderators", api_moderators.collection),
    path("rooms/<str:room>/moderators/<id:moderator_id>", api_moderators.detail),
    path("rooms/<str:room>/messages", api.messages),
    path("rooms/<str:room>/pending", api.pending),
    path("rooms/<str:room>/audit", api.audit_log),
    path("rooms/<str:room>/reports", api.reports),
    path("rooms/<str:room>/messages/<id:message_id>/report", api.report),
    path("rooms/<str:room>/messages/<id:message_id>/keep", api.keep),
    path("rooms/<str:room>/messages/<id:message_id>/incident", api.incident_file),
    path("rooms/<str:room>/messages/<id:message_id>", api.message_detail),
    path("rooms/<str:room>/messages/<id:message_id>/hold", api.hold),
    path("rooms/<str:room>/messages/<id:message_id>/approve", api.approve),
    path("rooms/<str:room>/messages/<id:message_id>/reject", api.reject),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/login/", teacher.admin_login_view),
    path("admin/", admin.site.urls),
    path("accounts/signup/", teacher.signup, name="signup"),
    path("accounts/login/", teacher.login_view, name="login"),
    path("accounts/password_reset/", teacher.password_reset_view, name="password_reset"),
    path("accounts/export.json", teacher.export_data, name="account-export"),
    path("accounts/delete/", teacher.delete_account, name="account-delete"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/", teacher.dashboard, name="dashboard"),
    path("healthz", pages.healthz, name="healthz"),
    path("privacy", pages.privacy, name="privacy"),
    path("", pages.home, name="home"),
    path("join", pages.join_by_name, name="join-by-name"),
    path("events/<str:event>", pages.event_dashboard, name="event-dashboard"),
    path("<str:room>", pages.room, name="room"),
    path("<str:room>/post", pages.post, name="room-post"),
    path("<str:room>/report", pages.report, name="room-report"),
    path("<str:room>/delete", pages.delete_own, name="room-delete-own"),
    path("<str:room>/leave", pages.leave, name="room-leave"),
    path("<str:room>/projector", pages.projector, name="projector"),
    path("<str:room>/read", pages.read_only, name="read-only"),
    path("<str:room>/embed", pages.embed, name="embed"),
    path("<str:room>/qr.svg", pages.qr_code, name="qr"),
    path("<str:room>/transcript", pages.transcript, name="transcript"),
    path("<str:room>/transcript.txt", pages.transcript_text, name="transcript-txt"),
    path("<str:room>/transcript.csv", pages.transcript_csv, name="transcript-csv"),
    path("<str:room>/m/<str:key>", moderator_views.open_link, name="moderator-link"),
    path("<str:room>/moderate", teacher.moderate, name="moderate"),
    path("<str:room>/moderate/action", teacher.moderate_action, name="moderate-action"),
]

handler404 = "tm.pages.not_found"
