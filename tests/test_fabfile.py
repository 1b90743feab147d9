"""fabfile tasks issue the right commands (the remote host is the one thing faked)."""

import fabfile


class RecordingConnection:
    def __init__(self):
        self.commands = []

    def run(self, command, **kwargs):
        self.commands.append(command)

    def sudo(self, command, **kwargs):
        self.commands.append("sudo " + command)


def test_deploy_checks_out_installs_migrates_and_restarts():
    c = RecordingConnection()
    fabfile.deploy.body(c, ref="v1.2")
    joined = "\n".join(c.commands)
    assert "git checkout --quiet --detach v1.2" in joined
    assert "pip install --quiet -e '.[prod]'" in joined
    assert "manage.py migrate_on_start" in joined
    assert c.commands[-1] == "sudo systemctl reload-or-restart tm"
    assert joined.index("migrate_on_start") < joined.index("reload-or-restart")
    # Rooms from before a room's first event was its settings are announced once.
    assert joined.index("migrate_on_start") < joined.index("manage.py announce_rooms")
    # The scheduled purge of expired rooms is installed and restarted with tm.
    assert "deploy/systemd/tm-purge.service /etc/systemd/system/tm-purge.service" in joined
    assert "sudo systemctl enable tm-purge" in c.commands
    assert "sudo systemctl restart tm-purge" in c.commands


def test_purge_is_a_dry_run_unless_asked():
    c = RecordingConnection()
    fabfile.purge.body(c)
    assert c.commands[0].endswith("purge_expired_rooms --dry-run")
    c = RecordingConnection()
    fabfile.purge.body(c, dry_run=False)
    assert c.commands[0].endswith("purge_expired_rooms")


def test_backup_dumps_then_rotates():
    c = RecordingConnection()
    fabfile.backup.body(c, target="/var/backups/tm")
    assert "pg_dump" in c.commands[1] and "umask 077" in c.commands[1]
    assert c.commands[-1].endswith("manage.py rotate_backups --dir /var/backups/tm")
