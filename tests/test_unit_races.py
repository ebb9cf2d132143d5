"""Reading a list again after a race: how many times, and the message when it keeps racing."""

from harness_registry.races import RacedReads
from harness_registry.settings import RACED_READ_ATTEMPTS


def test_a_list_that_keeps_racing_is_read_again_until_the_attempts_are_used_up():
    races = RacedReads("listed", "some of its registries may be missing from this run")
    answers = [races.read_again("acme") for _ in range(RACED_READ_ATTEMPTS)]
    assert answers == [True] * (RACED_READ_ATTEMPTS - 1) + [False]
    assert races.reason("acme") == (
        f"changed while it was listed, {RACED_READ_ATTEMPTS} times in a row: "
        "some of its registries may be missing from this run; run again later"
    )


def test_lists_are_counted_apart():
    races = RacedReads("read", "not loaded in this run", attempts=2)
    assert races.read_again("acme/a")
    assert races.read_again("acme/b")
    assert not races.read_again("acme/a")
    assert races.reason("acme/a").startswith("changed while it was read, 2 times in a row")
