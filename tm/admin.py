"""Django admin for staff: look up rooms, participants and messages."""

from django.contrib import admin

from .models import Event, Message, Participant, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "topic", "owner", "state", "moderated", "expires_at", "seq")
    list_filter = ("state", "moderated", "accountable")
    search_fields = ("name", "topic", "owner__username")
    readonly_fields = ("seq", "join_password", "owner_key_hash", "created_at")


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("nickname", "room", "muted", "created_at")
    list_filter = ("muted",)
    search_fields = ("nickname", "room__name")
    readonly_fields = ("token_hash", "nickname_key")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "nickname", "text", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("text", "nickname", "room__name")
    readonly_fields = ("html", "seq")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "type", "created_at", "published_at")
    list_filter = ("type",)
    readonly_fields = ("envelope",)
