"""API tokens and webhooks (filled in with the public API)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("chat", "0007_agent_language")]

    operations = []
