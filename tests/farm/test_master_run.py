"""farm.master.run: which findings in a master are new (the per-track check after mastering)."""

from farm.master.run import _new_events


def test_a_click_where_the_source_had_a_dropout_is_not_new():
    # the source: an 80 ms dropout, reported once (its edges are the dropout); the master: processing filled
    # the gap with filter tails, and the music resuming at its end is now a click. Same defect, not a new one.
    before = (("dropout", 5.0, 5.08), ("click", 9.0, 9.0))
    after = [{"kind": "click", "start_s": 5.0801}, {"kind": "discontinuity", "start_s": 4.999},
             {"kind": "click", "start_s": 9.02},  # the source's click, moved by a few ms
             {"kind": "click", "start_s": 7.0},  # new
             {"kind": "dropout", "start_s": 5.3},  # a dropout 0.3 s from the source's: new
             {"kind": "true_peak_over", "start_s": 0.0}]  # not a local kind
    assert _new_events(after, before) == [("click", 7.0), ("dropout", 5.3)]
