# Written by hand: the profanity filter (better-profanity, off/hold/block) becomes the
# abuse check (tm/screening.py), which holds and never blocks.

import tm.models
from django.db import migrations, models


def carry_over(apps, schema_editor):
    """A room that filtered words holds them under the strict check; the others get the
    standard check, on by default now. Posts the old filter held are the check's."""
    Room = apps.get_model("tm", "Room")
    Message = apps.get_model("tm", "Message")
    Room.objects.filter(profanity_mode__in=["hold", "block"]).update(screening="strict")
    Message.objects.filter(held_for="profanity").update(held_for="screening")


class Migration(migrations.Migration):

    dependencies = [
        ('tm', '0009_reports'),
    ]

    operations = [
        migrations.AddField(
            model_name='room',
            name='language',
            field=models.CharField(choices=[('ar', 'العربية'), ('cs', 'Čeština'), ('da', 'Dansk'), ('de', 'Deutsch'), ('en', 'English'), ('eo', 'Esperanto'), ('es', 'Español'), ('fa', 'فارسی'), ('fi', 'Suomi'), ('fr', 'Français'), ('hi', 'हिन्दी'), ('hu', 'Magyar'), ('it', 'Italiano'), ('ja', '日本語'), ('ko', '한국어'), ('nl', 'Nederlands'), ('no', 'Norsk'), ('pl', 'Polski'), ('pt', 'Português'), ('ru', 'Русский'), ('sv', 'Svenska'), ('th', 'ไทย'), ('tr', 'Türkçe'), ('zh', '中文')], default=tm.models.default_language, max_length=2),
        ),
        migrations.AddField(
            model_name='room',
            name='screening',
            field=models.CharField(choices=[('off', 'Off: hold nothing'), ('standard', 'Hold likely abusive posts'), ('strict', 'Strict: hold borderline posts too')], default='standard', max_length=8),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='room',
            name='profanity_mode',
        ),
    ]
