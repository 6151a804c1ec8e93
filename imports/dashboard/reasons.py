"""Row-error reasons for people: stored as English text, shown in the active language.

A stored reason is the English rendering of one of the templates in ``imports.messages``;
matching it back to its template recovers the parameters, so parameterised reasons
(``event 'signup' is turned off``) are translated as well as fixed ones.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache

from imports.messages import TEMPLATES, translate
from imports.models import ImportJob, ImportRowError

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SAMPLE_MAX_CHARS = 160


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    patterns = []
    for template in TEMPLATES:
        parts = _PLACEHOLDER.split(template)
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+)" for i, part in enumerate(parts))
        literal_chars = sum(len(part) for part in parts[::2])
        patterns.append((literal_chars, re.compile(regex, re.DOTALL), template))
    # The most specific template first, should a reason fit more than one.
    return [(pattern, template) for _, pattern, template in sorted(patterns, key=lambda p: -p[0])]


def reason_display(text: str) -> str:
    """``text`` translated when it is a known message; a nested ``why`` is translated too."""
    for pattern, template in _patterns():
        if match := pattern.fullmatch(text):
            params = {name: reason_display(value) if name == "why" else value for name, value in match.groupdict().items()}
            return translate(template, params)
    return text


def sample_values(error: ImportRowError, kind: str) -> str:
    """The failed row's original values as CSV, without its REPRO_ERRORS column, shortened for a table."""
    text = bytes(error.csv_line).decode("utf-8", "replace")
    fields = next(csv.reader(io.StringIO(text, newline="")), [])
    fields = fields[1:] if kind == ImportJob.Kind.USER_PROFILES else fields[:-1]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    values = out.getvalue()
    return values if len(values) <= SAMPLE_MAX_CHARS else values[: SAMPLE_MAX_CHARS - 1] + "…"
