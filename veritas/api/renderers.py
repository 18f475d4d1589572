import csv
import io

from rest_framework import renderers

# A cell a spreadsheet would read as a formula (CSV injection): prefixed with an apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CSVRenderer(renderers.BaseRenderer):
    """A list of flat objects as CSV with a header line, for exports a spreadsheet opens
    (``?format=csv`` or ``Accept: text/csv``). The columns are the view's ``csv_header``
    (else the first row's keys), so an empty export still has its header; text cells that
    a spreadsheet would run as a formula get a leading apostrophe. Errors stay JSON
    (veritas.api.exceptions)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        view = (renderer_context or {}).get("view")
        rows = data if isinstance(data, list) else []
        header = list(getattr(view, "csv_header", None) or (rows[0].keys() if rows else []))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(row.get(name)) for name in header])
        return out.getvalue().encode(self.charset)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
