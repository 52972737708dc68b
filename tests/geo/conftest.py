"""The geography tests sign in to the pages like the pages' own tests."""

from tests.pages.conftest import as_user  # noqa: F401
