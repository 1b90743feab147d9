"""Deploy and operate tm over SSH (Fabric 3): `fab -H web1,web2 deploy`.

Each task runs the same manage.py commands an operator would run by hand on a host
laid out as: code in /srv/tm (a git checkout), its virtualenv in /srv/tm/.venv,
settings.prod's environment in /etc/tm/env, and a systemd unit `tm` for gunicorn.
"""

from __future__ import annotations

from fabric import Connection, task

APP_DIR = "/srv/tm"
ENV_FILE = "/etc/tm/env"
SERVICE = "tm"
# Runs beside tm on its hosts: deletes expired rooms every 30 s (deploy/systemd/).
PURGE_SERVICE = "tm-purge"


def _manage(c: Connection, command: str, **kwargs):
    return c.run(
        f"cd {APP_DIR} && set -a && . {ENV_FILE} && set +a && "
        f"DJANGO_SETTINGS_MODULE=settings.prod .venv/bin/python manage.py {command}",
        **kwargs,
    )


@task
def deploy(c, ref="main"):
    """Fetch `ref`, install pinned dependencies, migrate (under the lock), restart."""
    c.run(f"cd {APP_DIR} && git fetch --quiet origin && git checkout --quiet --detach {ref}")
    c.run(f"cd {APP_DIR} && .venv/bin/pip install --quiet -e '.[prod]'")
    _manage(c, "migrate_on_start")
    # Rooms from before a room's first event was its settings get one: the analytics
    # collector learns from it where their posts count (idempotent).
    _manage(c, "announce_rooms")
    _manage(c, "collectstatic --noinput")
    c.sudo(f"install -m 644 {APP_DIR}/deploy/systemd/{PURGE_SERVICE}.service "
           f"/etc/systemd/system/{PURGE_SERVICE}.service")
    c.sudo("systemctl daemon-reload")
    c.sudo(f"systemctl enable {PURGE_SERVICE}")
    _restart(c)


def _restart(c: Connection):
    # The purge first: it holds no requests, and it then runs the new code.
    c.sudo(f"systemctl restart {PURGE_SERVICE}")
    # reload: gunicorn finishes in-flight requests before its old workers exit.
    c.sudo(f"systemctl reload-or-restart {SERVICE}")


@task
def restart(c):
    """Graceful restart of tm's gunicorn."""
    _restart(c)


@task
def purge(c, dry_run=True):
    """Delete expired rooms now. Lists them unless called with --no-dry-run. (The
    tm-purge unit already does it every 30 s.)"""
    _manage(c, "purge_expired_rooms" + (" --dry-run" if dry_run else ""))


@task
def backup(c, target="/var/backups/tm"):
    """A consistent PostgreSQL dump, named by date, kept on the host; then the dumps
    older than TM_BACKUP_KEEP_DAYS (the host's env file; 14) are deleted, so what the
    database no longer holds is gone from the backups too (docs/retention.md)."""
    # Only the backup's owner reads it, also where the directory or older dumps exist.
    c.run(f"mkdir -p {target} && chmod 700 {target} && "
          f"find {target} -maxdepth 1 -name 'tm-*.dump' -exec chmod 600 {{}} +")
    dump = f"{target}/tm-$(date +%Y%m%d-%H%M%S).dump"
    c.run(f"set -a && . {ENV_FILE} && set +a && umask 077 && PGPASSWORD=$TM_DB_PASSWORD "
          f"pg_dump -h $TM_DB_HOST -U $TM_DB_USER -Fc $TM_DB_NAME > {dump}")
    _manage(c, f"rotate_backups --dir {target}")


@task
def status(c):
    """Service state and the deployed commit."""
    c.run(f"systemctl is-active {SERVICE}", warn=True)
    c.run(f"cd {APP_DIR} && git log -1 --format='%h %s (%cr)'")
    _manage(c, "showmigrations tm --plan | tail -n 3")
