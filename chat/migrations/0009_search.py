"""Search indexes and report rollups (filled in with search at scale)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("chat", "0008_api")]

    operations = []
