"""gunicorn's settings for the dashboard: `gunicorn repro_dashboard.wsgi` run in this folder reads
them (elsewhere: `-c /path/to/gunicorn.conf.py`); command-line options override them.

A dashboard upload is up to 150 MB and may arrive slowly. The sync worker reads it in the worker's
only thread, so the arbiter, hearing nothing for `timeout` (30 s by default), killed the worker in
the middle of the upload. With gthread a request thread reads the body while the worker's main loop
keeps reporting to the arbiter, so a slow upload never looks like a hung worker. A buffering proxy
in front (docs/operations.md) keeps slow clients from holding these threads at all.
"""

import os

worker_class = "gthread"
# One process per core, each with threads for requests that wait on the network (uploads, S3).
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
threads = 8
# Under gthread a slow request never trips this. It is long anyway (an hour: 150 MB at 42 KB/s) so
# that running with `-k sync`, e.g. to debug, does not bring back the upload killed after 30 s.
timeout = 3600
# On a restart, requests in progress get this long to finish; behind a buffering proxy an upload
# reaches gunicorn only once it is complete, at the proxy's speed.
graceful_timeout = 120
# The heartbeat file in memory: a slow or full disk cannot make a live worker look hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
