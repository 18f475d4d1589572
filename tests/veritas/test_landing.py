"""``/``: a small public landing page, where the admin's "View site" leads."""

import re

import pytest
from django.test import Client

LINKS = ["/admin/", "/api/v1/docs/", "/api/v1/schema/", "/health/ready", "/health/live"]


def test_it_links_the_admin_the_api_docs_the_schema_and_the_probes(client):
    # No django_db mark: a query would fail the test. The page works while the database is down.
    response = client.get("/")

    assert response.status_code == 200
    hrefs = re.findall(r'href="([^"]+)"', response.content.decode())
    assert [href for href in hrefs if href in LINKS] == LINKS


@pytest.mark.django_db
def test_every_link_on_it_leads_somewhere(client):
    links = re.findall(r'<a href="([^"]+)"', client.get("/").content.decode())

    assert set(LINKS) <= set(links)
    for link in links:
        response = client.get(link)
        assert response.status_code == 200 or response["Location"].startswith("/admin/login/"), link


@pytest.mark.django_db
def test_the_admins_view_site_link_leads_to_it(admin_client):
    admin_page = admin_client.get("/admin/").content.decode()

    assert re.search(r'<a href="/">View site</a>', admin_page)
    assert admin_client.get("/").status_code == 200


def test_it_runs_no_script_of_its_own_under_the_csp(client):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # every script is a file


@pytest.mark.django_db
def test_it_shows_no_urlconf_or_user(make_user):
    curator = make_user("curator-7", email="curator7@example.com", is_staff=True)
    client = Client()
    client.force_login(curator)

    html = client.get("/").content.decode()

    assert "URLconf" not in html  # not Django's debug 404 listing the patterns
    assert "curator" not in html


def test_it_only_answers_reads(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405
