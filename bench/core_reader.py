"""The pure core alone (issue 13): reading and fully validating an events file, the old path
(line-by-line reader, `validate_event` per row) against the new one (`read_chunks`,
`check_events`), and the first counting pass (`scan` against `count_rows`). No database.

Run: `.venv/bin/python bench/core_reader.py [ROWS …]` (default 100,000 and 1,000,000 rows of
the events file of bench/events_import.py: ~100,000 users, 50 event names, 1-5 string
properties, 1% broken JSON). Each measurement runs in a fresh process, so its peak RSS is its
own; wall and CPU seconds are both printed because the machine may be shared (CPU time is the
steadier of the two then).
"""

import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from events_import import write_events_file  # noqa: E402

from imports.core.chunks import Checkpoint, count_rows, read_chunks  # noqa: E402
from imports.core.errors_csv import error_line  # noqa: E402
from imports.core.events import check_events, event_columns, validate_event  # noqa: E402
from imports.core.reader import open_decompressed, read_header  # noqa: E402
from tests.core import reference_reader  # noqa: E402

CHUNK_ROWS = 10_000


def events_old(path: Path) -> tuple[int, int]:
    """As the pipeline did: records in chunks of 10,000, each validated, failures written."""
    valid = failed = 0
    with path.open("rb") as raw:
        stream = open_decompressed(raw)
        header = read_header(stream)
        columns = event_columns(header)
        records = reference_reader.iter_records(stream, start=header.end)
        while chunk := list(islice(records, CHUNK_ROWS)):
            for record in chunk:
                result = validate_event(record, columns)
                if isinstance(result, list):
                    error_line(record.values, result, header.names, errors_first=False)
                    failed += 1
                else:
                    valid += 1
    return valid, failed


def events_new(path: Path) -> tuple[int, int]:
    valid = failed = 0
    with path.open("rb") as raw:
        stream = open_decompressed(raw)
        header = read_header(stream)
        columns = event_columns(header)
        for chunk in read_chunks(stream, start=Checkpoint.after_header(header), chunk_rows=CHUNK_ROWS):
            checked = check_events(chunk, columns)
            for index, reasons in checked.failed:
                error_line(chunk.rows[index], reasons, header.names, errors_first=False)
            valid += len(checked.rows)
            failed += len(checked.failed)
    return valid, failed


def count_old(path: Path) -> tuple[int, int]:
    with path.open("rb") as raw:
        stream = open_decompressed(raw)
        header = read_header(stream)
        return reference_reader.scan(stream, start=header.end).rows, 0


def count_new(path: Path) -> tuple[int, int]:
    with path.open("rb") as raw:
        stream = open_decompressed(raw)
        header = read_header(stream)
        return count_rows(stream, start=Checkpoint.after_header(header), max_rows=1_000_000).rows, 0


PATHS = {"events_old": events_old, "events_new": events_new, "count_old": count_old, "count_new": count_new}


def child(name: str, path: Path) -> None:
    gc.set_threshold(200_000, 50, 100)  # as the pipeline runs chunks
    wall, cpu = time.perf_counter(), time.process_time()
    valid, failed = PATHS[name](path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"valid": valid, "failed": failed, "wall": wall, "cpu": cpu, "peak": peak}))


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
            path = Path(tmp) / f"events-{rows}.csv"
            write_events_file(path, rows)
            print(f"events file: {rows:,} rows, {path.stat().st_size / 2**20:.0f} MB")
            results = {name: measure(name, path) for name in PATHS}
            for name, r in results.items():
                counted = r["valid"] + r["failed"]
                assert counted == rows, (name, r)
                print(
                    f"  {name:<11} wall {r['wall']:6.2f} s ({rows / r['wall']:>9,.0f} rows/s, "
                    f"{r['wall'] / rows * 1e6:5.2f} µs/row) | CPU {r['cpu']:6.2f} s ({r['cpu'] / rows * 1e6:5.2f} µs/row)"
                    f" | peak RSS {r['peak'] / 2**20:4.0f} MB"
                    + (f" | valid {r['valid']:,}, failed {r['failed']:,}" if name.startswith("events") else "")
                )
            for kind in ("events", "count"):
                old, new = results[f"{kind}_old"], results[f"{kind}_new"]
                print(f"  {kind}: new/old CPU {new['cpu'] / old['cpu']:.2f} (old is {old['cpu'] / new['cpu']:.1f}x the new)")


if __name__ == "__main__":
    main()
