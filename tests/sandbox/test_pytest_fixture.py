"""Uses the ``helpcrunch_sandbox`` fixture exactly as a user's test file would: no import of the
plugin, which pytest finds through the package's ``pytest11`` entry point."""

import helpcrunch


def untag_leads(customer_ids):
    """A stand-in for a user's pipeline step, written against the module-level API."""
    return [helpcrunch.remove_tags(cid, "Lead") for cid in customer_ids]


def test_pipeline_step_untags_leads(helpcrunch_sandbox):
    untag_leads([542335])
    assert helpcrunch_sandbox.customer(542335)["tags"] == [{"name": "vip", "color": "#ff0000"}]
    assert [r.method for r in helpcrunch_sandbox.requests] == ["DELETE"]


def test_each_test_gets_a_fresh_sandbox(helpcrunch_sandbox):
    names = [t["name"] for t in helpcrunch_sandbox.customer(542335)["tags"]]
    assert "Lead" in names
