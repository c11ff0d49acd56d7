import pytest


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.SAFEWARD_BACKUP_DIR = str(tmp_path / "backups")
    return tmp_path / "backups"
