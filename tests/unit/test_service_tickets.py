"""Ticket storage: status machine and audit trail."""

import pytest

from shopmind.errors import BadInput, NotFound
from shopmind.service.tickets import TicketStore
from shopmind.service.triage import triage


def _result(text="鞋子偏小一码，想换大一号"):
    return triage(text, use_classifier=False, use_sentiment=False)


def test_create_get_and_audited_status_changes(home):
    store = TicketStore()
    t = store.create(_result())
    assert t.status == "open" and t.issue_type == "size_fit"
    assert [e.action for e in t.history] == ["created"]
    t = store.set_status(t.id, "in_progress", actor="alice", note="looking")
    t = store.set_status(t.id, "resolved", actor="alice")
    t = store.set_status(t.id, "closed", actor="bob")
    again = TicketStore().get(t.id)
    assert again.status == "closed"
    assert [(e.from_status, e.to_status) for e in again.history[1:]] == [
        ("open", "in_progress"), ("in_progress", "resolved"), ("resolved", "closed")]
    assert again.history[1].actor == "alice" and again.history[1].note == "looking"


def test_illegal_transitions_and_unknown_ids(home):
    store = TicketStore()
    t = store.create(_result())
    store.set_status(t.id, "closed")
    with pytest.raises(BadInput):
        store.set_status(t.id, "in_progress")  # closed tickets must be reopened first
    with pytest.raises(BadInput):
        store.set_status(t.id, "closed")
    with pytest.raises(BadInput):
        store.set_status(t.id, "done")
    with pytest.raises(NotFound):
        store.get("TK-NOPE")
    assert store.set_status(t.id, "open").status == "open"
    assert len(store.list(status="open")) == 1


def test_phone_never_stored(home):
    t = TicketStore().create(_result("电话13800001111，鞋子太小了"))
    assert "13800001111" not in t.message and "13800001111" not in t.triage.model_dump_json()
