"""Automated QA review: deterministic checks over sessions, team rules, reports for people and CI.

``checks`` holds the built-in checks (pure functions: session -> findings), ``rules`` the TOML
rules file that tunes them and adds phrase rules, ``report`` the aggregate a review produces and
``writers`` its text, JSON Lines, JUnit XML and HTML forms.
"""
