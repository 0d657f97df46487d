"""Static HTML report of a run (``farm report OUT``): catalogue, track and release pages with inline SVG plots.

>>> from farm.report import build_report
>>> build_report(Path("farm-demo"))  # doctest: +SKIP
"""

from farm.report.build import build_report

__all__ = ["build_report"]
