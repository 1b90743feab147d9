from django.db import migrations

from tm.flags import DEFAULTS


def create_flags(apps, schema_editor):
    Flag = apps.get_model("waffle", "Flag")
    for name, fields in DEFAULTS.items():
        Flag.objects.get_or_create(name=name, defaults=fields)


def remove_flags(apps, schema_editor):
    apps.get_model("waffle", "Flag").objects.filter(name__in=list(DEFAULTS)).delete()


class Migration(migrations.Migration):
    dependencies = [("tm", "0001_initial"), ("waffle", "0004_update_everyone_nullbooleanfield")]
    operations = [migrations.RunPython(create_flags, remove_flags)]
