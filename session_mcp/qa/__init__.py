"""Automated QA review: deterministic checks over sessions, team rules, reports for people and CI.

``checks`` holds the built-in checks (pure functions: session -> findings), ``rules`` the TOML
rules file that tunes them and adds phrase rules (``patterns`` bounds their regular expressions),
``report`` the aggregate a review produces, ``writers`` its text, JSON, JSON Lines, JUnit XML and
HTML forms (``template`` the HTML page), ``answer`` the ``review_sessions`` tool's cut of it, and
``runner`` the review itself: pick the sessions, read them, check them.
"""
