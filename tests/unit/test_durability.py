"""What ``/ready`` says of the write concern, from the driver's view of the members."""

from __future__ import annotations

from adapters.mongo.durability import requested_of, summarize

MAJORITY = requested_of({"w": "majority", "j": True})


def test_the_requested_concern_is_spelt_out() -> None:
    assert MAJORITY == "w=majority, j=true"
    assert requested_of({}) == "server default"


def test_three_members_all_up() -> None:
    state = summarize(
        MAJORITY,
        "ReplicaSetWithPrimary",
        "rs0",
        [("a:27017", "RSPrimary"), ("b:27017", "RSSecondary"), ("c:27017", "RSSecondary")],
    )
    assert (state.topology, state.members, state.members_up) == ("replica set rs0", 3, 3)
    assert state.majority_available is True
    assert not state.blocks_writes


def test_one_of_three_down_still_gets_majority() -> None:
    state = summarize(
        MAJORITY,
        "ReplicaSetWithPrimary",
        "rs0",
        [("a:27017", "RSPrimary"), ("b:27017", "RSSecondary"), ("c:27017", "Unknown")],
    )
    assert (state.members_up, state.majority_available) == (2, True)


def test_two_of_three_down_blocks_majority_writes() -> None:
    state = summarize(
        MAJORITY,
        "ReplicaSetWithPrimary",
        "rs0",
        [("a:27017", "RSPrimary"), ("b:27017", "Unknown"), ("c:27017", "Unknown")],
    )
    assert (state.members_up, state.majority_available) == (1, False)
    assert state.blocks_writes


def test_no_primary_blocks_majority_writes() -> None:
    state = summarize(
        MAJORITY,
        "ReplicaSetNoPrimary",
        "rs0",
        [("a:27017", "RSSecondary"), ("b:27017", "RSSecondary"), ("c:27017", "Unknown")],
    )
    assert state.majority_available is False
    assert state.blocks_writes


def test_an_arbiter_acknowledges_no_write() -> None:
    # Primary + arbiter + a secondary that is down: one data-bearing member of two answers.
    state = summarize(
        MAJORITY,
        "ReplicaSetWithPrimary",
        "rs0",
        [("a:27017", "RSPrimary"), ("b:27017", "RSArbiter"), ("c:27017", "Unknown")],
    )
    assert (state.members, state.members_up, state.majority_available) == (2, 1, False)


def test_a_weaker_concern_is_not_blocked() -> None:
    state = summarize(
        requested_of({"w": 1}),
        "ReplicaSetWithPrimary",
        "rs0",
        [("a:27017", "RSPrimary"), ("b:27017", "Unknown"), ("c:27017", "Unknown")],
    )
    assert state.majority_available is False
    assert not state.blocks_writes


def test_a_standalone_has_no_majority_to_count() -> None:
    state = summarize(MAJORITY, "Single", None, [("mongo:27017", "Standalone")])
    assert (state.topology, state.majority_available) == ("standalone", None)
    assert not state.blocks_writes
