from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0006_oauth_client_grant_refresh"),
    ]

    operations = [
        migrations.AddField(
            model_name="refreshtokendevice",
            name="refused",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
    ]
