"""The static catalog site and the scan report: plain HTML pages (Jinja2 templates, our own CSS and
JavaScript, no CDN) that read from ``file://`` with no server."""

from tokentrail.catalog.site.build import SiteBuild, build_site

__all__ = ["SiteBuild", "build_site"]
