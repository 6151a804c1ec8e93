"""/api/docs: Swagger UI from the app's own static files (nothing from another host), and the
API_DOCS setting that turns the docs off."""

import re
from html.parser import HTMLParser

import pytest

from tests.api.conftest import http

ASSET_ATTRIBUTES = {"src", "href", "action", "srcset", "poster", "data"}


class References(HTMLParser):
    """Every URL an HTML page makes the browser load: attributes, and "url" values of inline JSON."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ASSET_ATTRIBUTES and value]

    def handle_data(self, data):
        self.urls += re.findall(r'"url"\s*:\s*"([^"]*)"', data)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


def test_docs_page_loads_only_its_own_assets_and_they_are_served(live_server):
    reply = http(live_server.url + "/api/docs", "GET", None)
    assert reply.status == 200
    html = reply.body.decode()
    urls = references(html)
    assert {"/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui.css", "/api/openapi.json"} <= set(urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert http(live_server.url + url, "GET", None).status == 200, url
    # No other host named anywhere, Swagger UI's online validator included.
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE)
    assert '"validatorUrl": null' in html


@pytest.mark.parametrize("path", ["/api/docs", "/api/openapi.json"])
def test_docs_can_be_turned_off(client, settings, path):
    assert client.get(path).status_code == 200
    settings.API_DOCS = False
    assert client.get(path).status_code == 404
