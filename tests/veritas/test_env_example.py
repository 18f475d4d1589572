import re

from tests.helpers import BASE_DIR


def test_env_example_lists_every_setting_the_code_reads():
    sources = [BASE_DIR / "veritas" / "settings.py", *sorted((BASE_DIR / "tests" / "browser").glob("*.py"))]
    read = set()
    for path in sources:
        text = path.read_text()
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', text))
        read |= set(re.findall(r'os\.environ(?:\.get)?[\[(]"((?:VERITAS|DJANGO)_[A-Z0-9_]+)"', text))
    read.discard("DJANGO_ALLOW_ASYNC_UNSAFE")  # set by the browser tests, not a setting
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.M))

    assert read, "the pattern still finds the settings"
    assert read - listed == set(), "add these to .env.example"
    assert listed - read == set(), "these in .env.example are read nowhere"
