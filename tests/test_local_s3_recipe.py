"""The local S3 recipe of docs/operations.md, run as it is written: server, bucket, key,
`aws s3 cp`, discovery, and the import that follows."""

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
RECIPE = re.search(
    r"<!-- local-s3-recipe -->\n```sh\n(.*?)```", (ROOT / "docs" / "operations.md").read_text(), re.DOTALL
).group(1)


@pytest.mark.skipif(not shutil.which("aws"), reason="the AWS CLI is not installed (pip install awscli)")
def test_local_s3_recipe_imports_a_file_copied_with_aws_s3_cp(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IMPORT_", "DATABASE_URL", "SITE_URL"))}
    # The recipe's own port is 9000; here any free one. Q_SYNC runs the queued import inline,
    # standing in for qcluster.
    env.update(S3_PORT=str(free_port()), VAR_DIR=str(tmp_path), Q_SYNC="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    process = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", RECIPE], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    pid = (tmp_path / "moto.pid").read_text().strip() if (tmp_path / "moto.pid").exists() else None
    if pid:
        os.kill(int(pid), signal.SIGTERM)
    output = process.stdout
    assert process.returncode == 0, output
    before, after = output.split("make_bucket:", 1)
    assert "imports.W001" in before and "does not exist" in before  # the first check
    assert "imports.W" not in after  # the second check, with the bucket there
    assert re.search(r"job \d+: \w+ events \w+/event_bulk_tracking/events.csv", output)
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        jobs = db.execute("SELECT source, state, imported FROM imports_importjob").fetchall()
    assert jobs == [("s3", "succeeded", 2)]
