"""Run reports: one self-contained HTML page per archive, or several runs compared on the same plots.

    from adrs.report import build_report
    build_report(["archives/prism.sqlite"], "report.html")

Layers: data.py extracts series from the archive, baselines.py scores the problem's baselines,
figures.py draws with matplotlib (the optional extra `adrs[report]`), html.py assembles the page,
build.py wires them. Importing this package does not import matplotlib.
"""

from adrs.report.build import INSTALL_HINT, ReportError, ReportOptions, build_report

__all__ = ["INSTALL_HINT", "ReportError", "ReportOptions", "build_report"]
