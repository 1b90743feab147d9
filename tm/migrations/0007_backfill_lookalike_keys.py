"""Participants who joined before lookalike keys existed get theirs, so a lookalike of
them cannot join their room either (tm/lookalikes.py)."""

from django.db import migrations


def backfill(apps, schema_editor):
    from tm.lookalikes import lookalike_key

    Participant = apps.get_model("tm", "Participant")
    for participant in Participant.objects.filter(lookalike_key="").iterator():
        participant.lookalike_key = lookalike_key(participant.nickname)
        participant.save(update_fields=["lookalike_key"])


class Migration(migrations.Migration):
    dependencies = [("tm", "0006_teacher_mark_and_lookalikes")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
