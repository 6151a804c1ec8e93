"""Loaded with `-p` before Django: the environment the settings module reads for tests.

django-q2 reads Q_CLUSTER["sync"] once at import, so sync mode has to be set here.
"""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("Q_SYNC", "1")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="repro-test-var-"))
os.environ.setdefault("IMPORT_CHUNK_ROWS", "1000")
