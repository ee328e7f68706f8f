"""What the QA tests share."""

SCORED_RULES = """\
[[rules]]
id = "greeting"
type = "required_phrase"
phrase = "welcome"
within_agent_turns = 1

[[scorecards]]
pass = 80
coach = 60
[[scorecards.criteria]]
check = "unanswered_user"
weight = 40
[[scorecards.criteria]]
outcome = ["resolved", "escalated"]
weight = 60
"""
