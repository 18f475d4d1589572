"""The README and docs/ point only at files a clone has."""

import re

import pytest

from tests.helpers import BASE_DIR

DOCS = [BASE_DIR / "README.md", *sorted((BASE_DIR / "docs").glob("*.md"))]
# [text](target) links.
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
OUTSIDE = re.compile(r"\.\./shared|\.\./\.\.")


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_relative_link_resolves_inside_the_repository(doc):
    text = doc.read_text()
    local = [(target, (doc.parent / target).resolve()) for target in LINK.findall(text) if "://" not in target]
    broken = [target for target, path in local if not path.is_relative_to(BASE_DIR) or not path.exists()]

    assert not OUTSIDE.search(text), f"{doc.name} points outside the repository"
    assert broken == []


def test_there_is_an_architecture_page_and_one_page_per_built_app():
    assert (BASE_DIR / "docs" / "architecture.md").exists()
    assert (BASE_DIR / "docs" / "monitoring.md").exists()
