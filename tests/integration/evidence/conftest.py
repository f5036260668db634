"""The evidence report opens in a real Chromium."""

from tests.browser import browser  # noqa: F401 - the fixture, for the tests of this folder
