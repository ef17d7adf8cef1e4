"""The views' plain logic: filter parsing, incremental ordering, formats, node figures."""

from __future__ import annotations

import pytest

from tests.tui.canned import (
    ALPHA,
    BETA,
    DELTA,
    FAILED_ID,
    GAMMA,
    LEGACY,
    NOW,
    PENDING_ID,
    RETRY_ID,
    canned_cluster,
)
from tuiq.events.models import TaskInfo
from tuiq.tui.views import formatting as fmt
from tuiq.tui.views import node_fields as nf
from tuiq.tui.views import task_fields as tf
from tuiq.tui.views.stats_fields import stats_rows
from tuiq.tui.views.task_filter import FilterError, TaskFilter
from tuiq.tui.views.task_order import TaskOrder
from tuiq.tui.widgets.live_table import Column, column_widths


def task(uuid: str, **fields) -> TaskInfo:
    info = TaskInfo(uuid)
    for name, value in fields.items():
        setattr(info, name, value)
    return info


# -- filter -------------------------------------------------------------------------------

def test_bare_terms_match_any_field_and_all_terms_must_match():
    t = task("abc-123", name="shop.mail.send", state="FAILURE", hostname="w1@host",
             args="(1042, 'ada@example.com')", kwargs="{'urgent': True}")
    for text in ("mail", "FAIL", "w1@", "abc-1", "ada@", "urgent", "fail w1", "^shop\\."):
        assert TaskFilter.parse(text).matches(t), text
    for text in ("billing", "fail w2", "name:w1", "state:success", "^mail"):
        assert not TaskFilter.parse(text).matches(t), text


def test_field_terms_narrow_to_their_field_and_unknown_prefixes_are_patterns():
    t = task("abc", name="a.b", state="SUCCESS", hostname="node:7")
    assert TaskFilter.parse("state:^success$").matches(t)
    assert TaskFilter.parse("NODE:node").matches(t)  # field names ignore case
    assert TaskFilter.parse("node:node:7").matches(t)  # the pattern is "node:7"
    assert TaskFilter.parse("name:7").matches(t) is False
    assert TaskFilter.parse("queue:x").matches(t) is False  # not a field: a pattern
    empty = TaskFilter.parse("name:")  # being typed: no condition yet
    assert not empty and empty.matches(t)


def test_invalid_regex_raises_a_one_line_message():
    with pytest.raises(FilterError) as caught:
        TaskFilter.parse("state:(fail")
    message = str(caught.value)
    assert message.startswith("invalid regex '(fail':") and "\n" not in message


# -- order ------------------------------------------------------------------------------

def test_order_is_maintained_from_changes():
    cluster, _ = canned_cluster()
    tasks = cluster.tasks
    order = TaskOrder()
    order.rebuild(tasks)
    assert order.order[0] == PENDING_ID and len(order) == len(tasks)

    newest = task("new", name="n", state="RECEIVED", received=NOW + 5)
    tasks["new"] = newest
    removed = order.order[-1]
    assert order.apply(tasks, ["new"], [removed])
    assert order.order[0] == "new" and removed not in order.order

    assert not order.apply(tasks, [FAILED_ID])  # its sort key did not change

    order.set_filter(TaskFilter.parse("state:^retry$"), tasks)
    assert order.order == [RETRY_ID]
    tasks[FAILED_ID].state = "RETRY"  # as if a task-retried event came in
    assert order.apply(tasks, [FAILED_ID])
    assert order.order == [RETRY_ID, FAILED_ID]
    order.set_sort("id", None, tasks)
    assert order.order == sorted([RETRY_ID, FAILED_ID]) and order.reverse is False
    with pytest.raises(ValueError):
        order.set_sort("colour", None, tasks)


def test_every_sort_column_sorts_every_task():
    cluster, _ = canned_cluster()
    order = TaskOrder()
    for column in ("received", "state", "name", "node", "runtime", "id"):
        order.set_sort(column, None, cluster.tasks)
        assert sorted(order.order) == sorted(cluster.tasks)
    order.set_sort("name", None, cluster.tasks)
    names = [cluster.tasks[k].name or "" for k in order.order]
    assert names == sorted(names)


# -- formats ------------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (-1, "0.000s"), (0.0123, "0.012s"), (4.25, "4.25s"), (12.34, "12.3s"),
    (123, "2m03s"), (3900, "1h05m"), (273600, "3d04h"),
])
def test_durations(seconds, text):
    assert fmt.duration(seconds) == text


def test_other_formats():
    assert fmt.kilobytes(512) == "512K" and fmt.kilobytes(60464) == "59.0M"
    assert fmt.kilobytes(1_843_200) == "1.76G" and fmt.kilobytes("N/A") == "-"
    assert fmt.seconds_pair(0.600012, 0.151083) == "0.60/0.15"
    assert fmt.seconds_pair(812.4, 97.25) == "13.5m/97.25"
    assert fmt.load_average([0.29, 0.27, 0.123]) == "0.29 0.27 0.12"
    assert fmt.load_average([]) == "-"
    assert fmt.rate(0.4) == "0.4/s" and fmt.rate(1250) == "1,250/s"
    assert fmt.short("a\n  b", 10) == "a b" and fmt.short("x" * 20, 5) == "xxxx…"
    assert fmt.eta("2027-01-15T08:30:00+00:00", NOW) == "08:30:00 (in 30m00s)"
    assert fmt.eta("2027-01-15T07:59:00+00:00", NOW) == "07:59:00 (1m00s ago)"
    assert fmt.eta("tomorrow", NOW) == "tomorrow" and fmt.eta(None, NOW) == "-"
    assert fmt.state_text("SUCCESS").style == "green"
    assert fmt.state_text("STARTED").style == "yellow"
    assert fmt.state_text("REVOKED").style == "magenta"
    assert "red" in fmt.state_text("FAILURE").style
    assert fmt.state_text("CUSTOM").style == ""


def test_task_figures():
    t = task("x", state="FAILURE", started=10.0, failed=10.7, args="()", kwargs="{'a': 1}")
    assert tf.run_time(t, 99.0) == pytest.approx(0.7)
    assert tf.arguments(t) == "{'a': 1}"
    running = task("y", state="STARTED", started=10.0)
    assert tf.run_time(running, 15.5) == 5.5
    assert tf.run_time(task("z", state="RECEIVED"), 15.5) is None
    assert tf.entered_at(task("s", sent=3.0, timestamp=4.0)) == 3.0


# -- nodes --------------------------------------------------------------------------------

def test_node_figures_for_tuiq_and_celery_pools():
    assert nf.pool_name("tuiq.worker.pool:PreforkPool") == "prefork"
    assert nf.pool_name("celery.concurrency.prefork:TaskPool") == "prefork"
    assert nf.pool_name("celery.concurrency.thread:TaskPool") == "threads"
    assert nf.pool_name("celery.concurrency.solo:TaskPool") == "solo"
    assert nf.pool_name("tuiq.worker.pool:ThreadsPool") == "threads"
    assert nf.pool_name(None) == "-"
    cluster, now = canned_cluster()
    workers = cluster.workers
    assert nf.software(workers[LEGACY]) == "celery" and nf.software(workers[ALPHA]) == "tuiq"
    assert nf.software_version(workers[LEGACY]) == "celery 5.7.0 (Linux)"
    assert nf.pool_label(workers[BETA]) == "threads/8"
    workers[BETA].stats["autoscaler"] = {"max": 8, "min": 2, "current": 3, "qty": 0}
    assert nf.pool_label(workers[BETA]) == "threads/2-8"
    assert nf.pool_label(workers[DELTA]) == "-"
    assert nf.uptime_label(workers[GAMMA], now) == "59m57s"
    assert nf.uptime_label(workers[DELTA], now) == "-"
    assert nf.queue_names(workers[ALPHA]) == "celery, media, billing"
    workers[LEGACY].stats["rusage"] = "N/A"  # where the resource module is missing
    assert nf.cpu_times(workers[LEGACY]) == "-" and nf.max_rss(workers[LEGACY]) == "-"


def test_stats_rows_flatten_in_reading_order():
    cluster, _ = canned_cluster()
    keys = [key for key, _, _ in stats_rows(cluster.workers[ALPHA].stats)]
    assert keys[:4] == ["pid", "uptime", "clock", "prefetch_count"]
    assert keys.index("pool.implementation") < keys.index("rusage.utime") \
        < keys.index("broker.hostname") < keys.index("total.shop.cart.add_item")
    assert len(keys) == len(set(keys))


# -- live table ------------------------------------------------------------------------

def test_column_widths_share_the_spare_width_and_fit_labels():
    columns = [Column("a", "A", 4), Column("b", "Bee", 2, flex=1),
               Column("c", "Longer label", 3, sortable=True), Column("d", "D", 5, flex=3)]
    widths = column_widths(columns, 60)
    assert widths[0] == 4 and widths[2] == len("Longer label") + 2
    assert sum(widths) + 5 == 60  # gaps: one before each column and one at the end
    assert widths[3] >= 3 * (widths[1] - 3)
    narrow = column_widths(columns, 10)
    assert narrow == [4, 3, 14, 5]  # never below the asked widths: the table scrolls
