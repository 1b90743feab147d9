"""gunicorn settings for tm (`gunicorn tm.wsgi` reads this file from the cwd).

The access log format leaves out the client address (%(h)s), and the error log's
logger blanks it: tm never logs one.
"""

import os

bind = os.environ.get("TM_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("TM_WORKERS", "2"))
# Requests are short; a slow client must not hold a worker for long.
timeout = 30
graceful_timeout = 20
accesslog = "-"
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms'
# The error log's "Invalid request from ip=..." loses its address (tm/gunicorn_logging.py).
logger_class = "tm.gunicorn_logging.AddressFreeLogger"
# Whose X-Forwarded-Proto gunicorn believes (https behind a TLS proxy). It does not
# set REMOTE_ADDR: tm reads the client's address itself, from the same list
# (TM_TRUSTED_PROXIES, tm/clientkey.py), so there is one setting for both.
forwarded_allow_ips = (os.environ.get("TM_TRUSTED_PROXIES")
                       or os.environ.get("TM_FORWARDED_ALLOW_IPS", "127.0.0.1"))
