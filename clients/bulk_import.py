#!/usr/bin/env python3
"""Import a CSV of user profiles with the Repro API v3: the two requests of docs/api.md.

Standard library only (Python 3.9+), so it runs wherever Python does:

    export REPRO_API_TOKEN=...            # Settings > Project settings > Credentials
    python3 bulk_import.py --url https://repro.example.com profiles.csv

It computes the file's MD5 (base64) and size, asks for a pre-signed URL, and PUTs the file there,
streamed. A gzip file (by its first bytes) is sent as application/gzip. When the API answers 429 it
waits the Retry-After seconds and asks again. The import itself runs on the server once the file has
arrived; members with notifications on get the result by email. With --wait the client follows the
import (GET /v3/import_jobs/<id>) until it is over and prints its final state and counts.
Exit status: 0 uploaded (with --wait: imported, possibly with row errors), 1 refused by the API or
the upload (with --wait: the import failed), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

API_PATH = "/v3/user_profiles/bulk_import"
JOB_PATH = "/v3/import_jobs/{job_id}"
JOB_ID_HEADER = "X-Repro-Job-Id"
GZIP_MAGIC = b"\x1f\x8b"
BLOCK = 1 << 20
TIMEOUT_SECONDS = 300


class Refused(Exception):
    """The API or the upload said no; the message says why."""


def file_facts(path: str) -> tuple[str, int, str]:
    """(base64 MD5, size, content type) of the file, read once in blocks."""
    digest = hashlib.md5()
    size = 0
    with open(path, "rb") as file:
        first = file.read(2)
        file.seek(0)
        while block := file.read(BLOCK):
            digest.update(block)
            size += len(block)
    content_type = "application/gzip" if first == GZIP_MAGIC else "text/csv"
    return base64.b64encode(digest.digest()).decode("ascii"), size, content_type


def request_upload(
    base_url: str, token: str, checksum: str, size: int, content_type: str, *, max_wait: int, file_name: str = "",
    log=print,
) -> tuple[dict, str]:
    """The first request; returns ``direct_upload`` and the id of the job it made. A 429 is retried
    after Retry-After seconds, as long as the total wait stays within ``max_wait``."""
    fields = {"checksum": checksum, "byte_size": str(size), "content_type": content_type}
    body = json.dumps({**fields, "file_name": file_name} if file_name else fields).encode()
    waited = 0
    while True:
        request = urllib.request.Request(
            base_url.rstrip("/") + API_PATH,
            data=body,
            method="POST",
            headers={"X-Repro-Token": token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return json.load(response)["direct_upload"], response.headers.get(JOB_ID_HEADER, "")
        except urllib.error.HTTPError as exc:
            with exc:
                answer = exc.read()
                if exc.code != 429:
                    raise Refused(f"the API answered {exc.code}: {_messages(answer)}") from None
                retry_after = _seconds(exc.headers.get("Retry-After"))
        if waited + retry_after > max_wait:
            raise Refused(f"rate limited: the API asks to retry after {retry_after} s (see --max-wait)")
        log(f"rate limited: retrying in {retry_after} s", file=sys.stderr)
        time.sleep(retry_after)
        waited += retry_after


def put_file(direct_upload: dict, path: str, size: int) -> int:
    """The second request: the file, streamed, with exactly the headers the API gave."""
    with open(path, "rb") as file:
        request = urllib.request.Request(
            direct_upload["url"],
            data=file,
            method="PUT",
            headers={**direct_upload["headers"], "Content-Length": str(size)},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            with exc:
                raise Refused(f"the upload was refused ({exc.code}): {exc.read()[:500]!r}") from None


def wait_for_job(base_url: str, token: str, job_id: str, *, every: float, max_wait: int, log=print) -> dict:
    """Poll the job's state until it is final; returns the job (``import_job`` of the answer)."""
    url = base_url.rstrip("/") + JOB_PATH.format(job_id=job_id)
    waited = 0.0
    while True:
        request = urllib.request.Request(url, headers={"X-Repro-Token": token})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                job = json.load(response)["import_job"]
        except urllib.error.HTTPError as exc:
            with exc:
                raise Refused(f"following job {job_id}: the API answered {exc.code}: {_messages(exc.read())}") from None
        if job["final"]:
            return job
        if waited >= max_wait:
            raise Refused(f"job {job_id} is still {job['state']} after {max_wait} s (see --max-wait); {job['url']}")
        log(f"job {job_id}: {job['state']}, {job['rows']:,} rows so far", file=sys.stderr)
        time.sleep(every)
        waited += every


def _messages(answer: bytes) -> str:
    try:
        error = json.loads(answer)["error"]
        return "; ".join(error["messages"]) if isinstance(error, dict) else str(error)
    except (ValueError, KeyError, TypeError):
        return answer[:500].decode("utf-8", "replace")


def _seconds(value: str | None) -> int:
    try:
        return max(1, int(value or "60"))
    except ValueError:
        return 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import a CSV of user profiles with the Repro API v3.")
    parser.add_argument("file", help="the CSV, or the gzipped CSV")
    parser.add_argument("--url", default=os.environ.get("REPRO_API_URL", ""), help="the server (env REPRO_API_URL)")
    parser.add_argument("--token", default=os.environ.get("REPRO_API_TOKEN", ""), help="default: env REPRO_API_TOKEN")
    parser.add_argument(
        "--max-wait", type=int, default=900,
        help="seconds to wait in all when rate limited, and for the import with --wait (default 900)",
    )
    parser.add_argument("--wait", action="store_true", help="follow the import until it is over; print its counts")
    parser.add_argument("--poll", type=float, default=5, help="seconds between looks at the import (default 5)")
    args = parser.parse_args(argv)
    if not args.url or not args.token:
        parser.error("the server URL (--url or REPRO_API_URL) and the token (--token or REPRO_API_TOKEN) are required")
    try:
        checksum, size, content_type = file_facts(args.file)
        direct_upload, job_id = request_upload(
            args.url, args.token, checksum, size, content_type, max_wait=args.max_wait,
            file_name=os.path.basename(args.file),
        )
        put_file(direct_upload, args.file, size)
        uploaded = {"uploaded": args.file, "byte_size": size, "content_type": content_type, "checksum": checksum,
                    "job": int(job_id) if job_id.isdigit() else None}
        if not args.wait:
            print(json.dumps(uploaded))
            return 0
        if not job_id.isdigit():
            raise Refused("the server did not say which job the upload made, so it cannot be followed")
        job = wait_for_job(args.url, args.token, job_id, every=args.poll, max_wait=args.max_wait)
    except (Refused, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    keys = ("state", "rows", "imported", "failed", "failure_message", "url", "error_csv_url")
    print(json.dumps({**uploaded, **{key: job[key] for key in keys}}))
    return 1 if job["state"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
