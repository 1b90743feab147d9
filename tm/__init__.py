"""tm: rooms, participants and messages; the pages, the JSON API and moderation."""
