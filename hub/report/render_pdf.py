"""The joint-meeting report as an A4 PDF, printed by WeasyPrint from the report's HTML; nothing is fetched."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # WeasyPrint 70 warns at import when Debian's libharfbuzz-subset0 is absent: it then embeds whole fonts
    # instead of subsets (a larger PDF, the same pages); the report does not depend on subsetting
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    import weasyprint  # type: ignore[import-untyped]

from hub.report.model import Report
from hub.report.render_html import html

ALLOWED_PROTOCOLS = ("data",)


def offline_fetcher() -> weasyprint.URLFetcher:
    """WeasyPrint's fetcher for ``data:`` URLs only: the report is self-contained and must not reach the network
    (or the file system); anything else is refused and left out."""
    return weasyprint.URLFetcher(allowed_protocols=ALLOWED_PROTOCOLS, allow_redirects=False, timeout=1)


def pdf(report: Report) -> bytes:
    """The report printed on A4 portrait, with the running header, footer and page numbers of report.css."""
    document = weasyprint.HTML(string=html(report, for_print=True), url_fetcher=offline_fetcher(), media_type="print")
    out = document.write_pdf()
    if not isinstance(out, bytes):
        raise TypeError("WeasyPrint returned no PDF")
    return out
