"""The app's own error pages, also where Django would show its technical ones."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from erpsync.errors import not_found_page, server_error_page

# Django's technical 404 and 500 pages (DEBUG) both carry this tag; the app's pages never do.
TECHNICAL_PAGE_MARK = b'<meta name="robots" content="NONE,NOARCHIVE">'


class AppErrorPages:
    """With DEBUG on (the embedded demo), an unknown address or a crash would show Django's
    technical page to whoever uses the demo. Show the app's own page instead, unless a
    developer asks for the technical ones (ERPSYNC_TECHNICAL_ERROR_PAGES=true)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and not settings.ERPSYNC_TECHNICAL_ERROR_PAGES
            and response.status_code in (404, 500)
            and not response.streaming
            and TECHNICAL_PAGE_MARK in response.content
        ):
            if response.status_code == 404:
                return not_found_page(request)
            return server_error_page(request)
        return response
