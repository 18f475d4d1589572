import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_login(page, admin_login):
    get_user_model().objects.create_superuser("curator", "curator@example.com", "a-long-browser-password")
    get_user_model().objects.create_user("student-17", "student17@example.com")

    def login():
        admin_login("curator", "a-long-browser-password")
        page.wait_for_selector("#site-name")

    return login


def test_staff_log_in_and_open_a_changelist(live_server, page, staff_login, screenshot):
    staff_login()
    assert page.title() == "Administration | Veritas"

    page.click("text=Users")
    page.wait_for_selector("#result_list")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert page.locator("#result_list").inner_text().count("student-17") == 1
    assert screenshot("admin-users-changelist").stat().st_size > 0
    assert page.csp_violations == []


def test_a_wrong_password_is_refused(page, admin_login):
    get_user_model().objects.create_user("someone", password="the-right-password-1")

    admin_login("someone", "wrong")

    assert "Please enter the correct username and password" in page.locator(".errornote").inner_text()


def test_the_api_docs_render_offline_under_the_csp(live_server, page, screenshot):
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)

    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock")
    # Swagger UI draws only the operations near the viewport (a virtual list): scroll to it.
    me = page.locator(".swagger-ui .opblock-summary-path", has_text="/api/v1/me/")
    for _ in range(100):
        if me.count():
            break
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(50)

    assert me.count() == 1 and "/api/v1/me/" in page.locator(".swagger-ui").inner_text()
    screenshot("api-docs")
    assert external == [], "the docs load nothing from outside"
    assert page.csp_violations == []
