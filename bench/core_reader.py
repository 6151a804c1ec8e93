"""The pure core alone (issue 13): reading and fully validating a file, the old path
(line-by-line reader, `validate_event` / `validate_profile` per row) against the new one
(`read_chunks`, then `check_events` / `check_profiles`), and the first counting pass (`scan`
against `count_rows`). No database.

Run: `.venv/bin/python bench/core_reader.py [ROWS …]` (default 100,000 and 1,000,000 rows).
The files are those of bench/events_import.py (~100,000 users, 50 event names, 1-5 string
properties, 1% broken JSON) and bench/profiles_import.py (10 keys of mixed types; every user
registered). Each measurement runs in a fresh process, so its peak RSS is its own; wall and CPU
seconds are both printed because the machine may be shared (CPU time is the steadier then).
"""

import gc
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from events_import import write_events_file  # noqa: E402
from profiles_import import write_profiles_file  # noqa: E402

from imports.core.chunks import Checkpoint, count_rows, read_chunks  # noqa: E402
from imports.core.errors_csv import error_line  # noqa: E402
from imports.core.events import check_events, event_columns, validate_event  # noqa: E402
from imports.core.profiles import (  # noqa: E402
    check_profiles,
    infer_types,
    profile_columns,
    to_json_value,
    validate_profile,
)
from imports.core.reader import open_decompressed, read_header  # noqa: E402
from tests.core import reference_reader  # noqa: E402

CHUNK_ROWS = 10_000


@contextmanager
def opened(path: Path, max_header_bytes: int | None = None):
    """The file's decompressed stream, positioned after its header, and the header."""
    with path.open("rb") as raw:
        stream = open_decompressed(raw)
        yield stream, read_header(stream, max_bytes=max_header_bytes)


def events_old(path: Path) -> tuple[int, int, int]:
    """As the pipeline did: records in chunks of 10,000, each validated, failures written."""
    valid = failed = error_bytes = 0
    with opened(path) as (stream, header):
        columns = event_columns(header)
        records = reference_reader.iter_records(stream, start=header.end)
        while chunk := list(islice(records, CHUNK_ROWS)):
            for record in chunk:
                result = validate_event(record, columns)
                if isinstance(result, list):
                    # Before issue 12 a failed row was written whole: no bound.
                    error_bytes += len(error_line(record.values, result, header.names, errors_first=False,
                                                  max_bytes=1 << 62))
                    failed += 1
                else:
                    valid += 1
    return valid, failed, error_bytes


def events_new(path: Path) -> tuple[int, int, int]:
    valid = failed = error_bytes = 0
    with opened(path) as (stream, header):
        columns = event_columns(header)
        for chunk in read_chunks(stream, start=Checkpoint.after_header(header), chunk_rows=CHUNK_ROWS):
            checked = check_events(chunk, columns)
            for index, reasons in checked.failed:
                error_bytes += len(error_line(chunk.rows[index], reasons, header.names, errors_first=False))
            valid += len(checked.rows)
            failed += len(checked.failed)
    return valid, failed, error_bytes


def _profile_setup(stream, header):
    """Columns, types inferred from the first rows (as the pipeline's prepare step), every user registered."""
    columns = profile_columns(header)
    first = list(islice(reference_reader.iter_records(stream, start=header.end), 1000))
    types = infer_types(first, columns, {})
    stream.seek(header.end)
    return columns, types, _AllUsers()


class _AllUsers:
    def __contains__(self, user_id: object) -> bool:
        return True


def profiles_old(path: Path) -> tuple[int, int, int]:
    valid = failed = 0
    with opened(path, 102_400) as (stream, header):
        columns, types, registered = _profile_setup(stream, header)
        records = reference_reader.iter_records(stream, start=header.end)
        while chunk := list(islice(records, CHUNK_ROWS)):
            for record in chunk:
                result = validate_profile(record, columns, types, registered)
                if isinstance(result, list):
                    failed += 1
                else:
                    {key: to_json_value(value) for key, value in result.values.items()}
                    valid += 1
    return valid, failed, 0


def profiles_new(path: Path) -> tuple[int, int, int]:
    valid = failed = 0
    with opened(path, 102_400) as (stream, header):
        columns, types, registered = _profile_setup(stream, header)
        for chunk in read_chunks(stream, start=Checkpoint.after_header(header), chunk_rows=CHUNK_ROWS):
            checked = check_profiles(chunk, columns, types, registered)
            valid += len(checked.rows)
            failed += len(checked.failed)
    return valid, failed, 0


def count_old(path: Path) -> tuple[int, int, int]:
    with opened(path) as (stream, header):
        return reference_reader.scan(stream, start=header.end).rows, 0, 0


def count_new(path: Path) -> tuple[int, int, int]:
    with opened(path) as (stream, header):
        return count_rows(stream, start=Checkpoint.after_header(header), max_rows=1_000_000).rows, 0, 0


def write_hostile_file(path: Path, rows: int = 2000, row_bytes: int = 100_000) -> None:
    """Issue 12's attack: a small gzip of rows of 100 KB each (properties far over 10,240 bytes)."""
    with gzip.open(path, "wb") as f:
        f.write(b"user_id,event_name,event_properties\n")
        for i in range(rows):
            f.write(b'u%d,e,"{""k"":""%s""}"\n' % (i, b"x" * row_bytes))


EVENT_PATHS = {"events_old": events_old, "events_new": events_new, "count_old": count_old, "count_new": count_new}
PROFILE_PATHS = {"profiles_old": profiles_old, "profiles_new": profiles_new}
PATHS = {**EVENT_PATHS, **PROFILE_PATHS}


def child(name: str, path: Path) -> None:
    gc.set_threshold(200_000, 50, 100)  # as the pipeline runs chunks
    wall, cpu = time.perf_counter(), time.process_time()
    valid, failed, error_bytes = PATHS[name](path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"valid": valid, "failed": failed, "error_bytes": error_bytes, "wall": wall, "cpu": cpu,
                      "peak": peak}))


def measure(name: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name, str(path)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]))
        return
    sizes = [int(arg) for arg in sys.argv[1:]] or [100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            for kind, write, paths in (("events", write_events_file, EVENT_PATHS),
                                       ("profiles", write_profiles_file, PROFILE_PATHS)):
                path = Path(tmp) / f"{kind}-{rows}.csv"
                write(path, rows)
                print(f"{kind} file: {rows:,} rows, {path.stat().st_size / 2**20:.0f} MB")
                results = {name: measure(name, path) for name in paths}
                for name, r in results.items():
                    assert r["valid"] + r["failed"] == rows, (name, r)
                    print(
                        f"  {name:<12} wall {r['wall']:6.2f} s ({rows / r['wall']:>9,.0f} rows/s, "
                        f"{r['wall'] / rows * 1e6:5.2f} µs/row) | CPU {r['cpu']:6.2f} s "
                        f"({r['cpu'] / rows * 1e6:5.2f} µs/row) | peak RSS {r['peak'] / 2**20:4.0f} MB"
                        + ("" if name.startswith("count") else f" | valid {r['valid']:,}, failed {r['failed']:,}")
                    )
                for name in paths:
                    if name.endswith("_new"):
                        old, new = results[name.replace("_new", "_old")], results[name]
                        print(f"  {name[:-4]}: old/new CPU {old['cpu'] / new['cpu']:.1f}x")
                path.unlink()
        hostile = Path(tmp) / "hostile.csv.gz"
        write_hostile_file(hostile)
        print(f"hostile file (issue 12): 2,000 rows x 100 KB, gzip {hostile.stat().st_size / 1024:.0f} KB")
        for name in ("events_old", "events_new"):
            r = measure(name, hostile)
            print(f"  {name:<12} wall {r['wall']:6.2f} s | CPU {r['cpu']:6.2f} s | peak RSS {r['peak'] / 2**20:4.0f} MB"
                  f" | failed {r['failed']:,} | error CSV lines {r['error_bytes'] / 2**20:.1f} MB")

if __name__ == "__main__":
    main()
