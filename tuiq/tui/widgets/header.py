"""The console's header: broker and connection, nodes, throughput with a sparkline, totals.

Two lines. The first says where the console is connected and whether the feed is live:
a lost broker shows "disconnected" and a paused feed "paused", both in reverse colour so
neither can be mistaken for a quiet cluster. The second shows finished tasks per second
(``ClusterState.throughput``) with the last minute's per-second counts
(``rate_history``) as a sparkline, and queue depths when the console has them.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from tuiq.events.cluster import ClusterState
from tuiq.tui.views import formatting as fmt
from tuiq.tui.widgets.lines import show_text

#: Seconds of history the sparkline shows.
SPARK_SECONDS = 60
_SEPARATOR = ("  │  ", "dim")


class ClusterHeader(Widget):
    """Broker, connection, nodes, tasks/s, succeeded/failed totals and queue depths."""

    DEFAULT_CSS = """
    ClusterHeader { height: 2; background: $panel; color: $foreground; }
    ClusterHeader #header-top { height: 1; padding: 0 1; }
    ClusterHeader #header-bottom { height: 1; padding: 0 1; }
    ClusterHeader #header-rate { width: auto; }
    ClusterHeader #header-spark { width: 60; margin: 0 1; }
    ClusterHeader #header-queues { width: 1fr; }
    ClusterHeader.disconnected { background: $error 25%; }
    ClusterHeader.paused { background: $warning 20%; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        """A summary line, then the rate, its sparkline and the queue depths."""
        yield Static(self.summary_text(None, 0.0, broker="", connected=False, paused=False),
                     id="header-top")
        with Horizontal(id="header-bottom"):
            yield Static("tasks/s -", id="header-rate")
            yield Sparkline([], id="header-spark")
            yield Static("", id="header-queues")

    def refresh_from(self, cluster: ClusterState, now: float, *, broker: str, connected: bool,
                     paused: bool, queue_depths: dict[str, int] | None = None,
                     read_only: bool = False) -> None:
        """Show the cluster at ``now`` and the console's own state (connection, pause)."""
        self._shown = (cluster, now, broker, connected, paused, queue_depths, read_only)
        self.set_class(not connected, "disconnected")
        self.set_class(paused, "paused")
        summary = self.summary_text(cluster, now, broker=broker, connected=connected,
                                    paused=paused, read_only=read_only)
        if self.size.width and summary.cell_len > self.size.width - 2:
            # A narrow terminal cuts the end of the line: drop the title, keep the totals.
            summary = self.summary_text(cluster, now, broker=broker, connected=connected,
                                        paused=paused, title=False, read_only=read_only)
        show_text(self.query_one("#header-top", Static), summary)
        rate = Text("tasks/s ", style="bold")
        rate.append(fmt.rate(cluster.throughput(now)).removesuffix("/s"))
        show_text(self.query_one("#header-rate", Static), rate)
        history = cluster.rate_history(SPARK_SECONDS, now)
        spark = self.query_one("#header-spark", Sparkline)
        if spark.data != history:
            spark.data = history
        show_text(self.query_one("#header-queues", Static), queues_text(queue_depths))

    def on_resize(self) -> None:
        """The title comes or goes with the width: draw the last figures again."""
        if self._shown is not None:
            cluster, now, broker, connected, paused, depths, read_only = self._shown
            self.refresh_from(cluster, now, broker=broker, connected=connected, paused=paused,
                              queue_depths=depths, read_only=read_only)

    @staticmethod
    def summary_text(cluster: ClusterState | None, now: float, *, broker: str, connected: bool,
                     paused: bool, title: bool = True, read_only: bool = False) -> Text:
        """The first line: title, broker, connection and pause, nodes, totals."""
        text = Text()
        if title:
            text.append("tuiq top", style="bold")
            if read_only:
                text.append(" (read-only)", style="bold cyan")
            text.append(*_SEPARATOR)
        elif read_only:
            text.append("read-only", style="bold cyan")
            text.append(*_SEPARATOR)
        text.append(broker or "(no broker)")
        text.append("  ")
        if connected:
            text.append("● connected", style="green")
        else:
            text.append(" ✗ DISCONNECTED ", style="bold reverse red")
        if paused:
            text.append("  ")
            text.append(" ⏸ PAUSED ", style="bold reverse yellow")
        if cluster is None:
            return text
        text.append(*_SEPARATOR)
        text.append_text(nodes_text(cluster, now))
        text.append(*_SEPARATOR)
        text.append(f"✓ {fmt.thousands(cluster.totals.get('succeeded', 0))}", style="green")
        text.append("  ")
        failed = cluster.totals.get("failed", 0)
        text.append(f"✗ {fmt.thousands(failed)}", style="red" if failed else "")
        return text


def nodes_text(cluster: ClusterState, now: float) -> Text:
    """``3 online · 1 late · 1 offline`` (late and offline only when there are some)."""
    counts = {"online": 0, "late": 0, "offline": 0}
    for worker in cluster.workers.values():
        counts[worker.status(now)] += 1
    text = Text("nodes ", style="bold")
    text.append(f"{counts['online']} online", style=fmt.STATUS_STYLES["online"])
    for status in ("late", "offline"):
        if counts[status]:
            text.append(" · ")
            text.append(f"{counts[status]} {status}", style=fmt.STATUS_STYLES[status])
    return text


def queues_text(queue_depths: dict[str, int] | None) -> Text:
    """``queues celery 12 · mail 0``, deepest first; empty when depths are not known."""
    if not queue_depths:
        return Text()
    text = Text("queues ", style="bold")
    ranked = sorted(queue_depths.items(), key=lambda item: (-item[1], item[0]))
    for position, (name, depth) in enumerate(ranked):
        if position:
            text.append(" · ", style="dim")
        text.append(f"{name} ")
        text.append(fmt.thousands(depth), style="bold" if depth else "dim")
    return text
