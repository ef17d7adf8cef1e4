"""Chords across engines: Celery 5.7's Redis chord keys, written and read by both."""

from __future__ import annotations

import pytest
from celery import chord as celery_chord

import tuiq
from tests.compat.helpers import get_result


def test_celery_chord_completes_on_tuiq_workers(celery_client, tuiq_node, tuiq_queue):
    add = celery_client.tasks["testproj.add"]
    echo = celery_client.tasks["testproj.echo"]
    header = [add.s(i, i).set(queue=tuiq_queue) for i in range(4)]
    result = celery_chord(header)(echo.s().set(queue=tuiq_queue))
    assert get_result(result, tuiq_node) == [0, 2, 4, 6]


def test_tuiq_chord_completes_on_celery_workers(routed_tuiq_app, celery_node, celery_queue):
    header = [routed_tuiq_app.signature("testproj.add", (i, 10)) for i in range(3)]
    # The Celery worker sends the body with its own routing: name the queue.
    body = routed_tuiq_app.signature("testproj.echo", queue=celery_queue)
    result = tuiq.chord(header, body, app=routed_tuiq_app).apply_async()
    assert get_result(result, celery_node) == [10, 11, 12]


def test_failed_header_fails_the_body_with_chord_error(tuiq_client, tuiq_node, tuiq_queue,
                                                       celery_client):
    header = [tuiq.Signature("testproj.add", (1, 1), app=tuiq_client).set(queue=tuiq_queue),
              tuiq.Signature("testproj.fail", ("nope",), app=tuiq_client).set(queue=tuiq_queue)]
    body = tuiq.Signature("testproj.echo", app=tuiq_client).set(queue=tuiq_queue)
    result = tuiq.chord(header, body, app=tuiq_client).apply_async()
    with pytest.raises(tuiq.exceptions.ChordError, match="nope"):
        get_result(result, tuiq_node)
    # Celery's client rebuilds the same error from the stored meta.
    from celery.exceptions import ChordError as CeleryChordError

    with pytest.raises(CeleryChordError):
        celery_client.AsyncResult(result.id).get(timeout=5)
