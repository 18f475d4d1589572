import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_landing_page_leads_to_the_api_docs_under_the_csp(live_server, page, screenshot):
    page.goto(f"{live_server.url}/")

    assert page.title() == "Veritas"
    assert page.locator("#veritas-links a").all_inner_texts() == [
        "Administration",
        "API documentation",
        "OpenAPI schema",
        "Readiness",
        "Liveness",
    ]
    screenshot("landing")
    page.emulate_media(color_scheme="dark")
    screenshot("landing-dark")

    page.click("text=API documentation")
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.csp_violations == []
