"""Chords: the body gets every header result, in header order, once."""

from __future__ import annotations

import pytest

from tuiq import Signature, chord


def test_chord_body_receives_header_results_in_order(shared, sapp):
    header = [Signature("testproj.add", (i, i), app=sapp).set(queue=shared.queue)
              for i in range(6)]
    body = Signature("testproj.echo", app=sapp).set(queue=shared.alt_queue)
    result = chord(header, body, app=sapp).apply_async()
    assert result.get(timeout=15) == [0, 2, 4, 6, 8, 10]


def test_chord_of_nothing_calls_the_body_with_an_empty_list(shared, sapp):
    body = Signature("testproj.echo", app=sapp).set(queue=shared.queue)
    assert chord([], body, app=sapp).apply_async().get(timeout=15) == []


def test_chord_needs_a_body(sapp):
    with pytest.raises(ValueError, match="needs a body"):
        chord([Signature("testproj.add", (1, 1), app=sapp)], app=sapp).apply_async()
