"""A keyed, virtualised table for live data: rows are drawn only when they are on screen.

Textual's DataTable re-renders every visible cell after any update and removes a row in
time proportional to the table, so ten thousand tasks changing hundreds of times a second
would stall the console. Here the owner keeps the data: it gives the table the order of
row keys (:meth:`LiveTable.set_order`), names the rows that changed
(:meth:`LiveTable.invalidate`), and a ``render_row(key)`` callback builds the cells of a
row when the row is about to be drawn. Only visible rows are ever formatted, and each is
cached until invalidated.

The cursor follows its row's key when rows move, except at the top row, where it stays
on top so the newest rows remain in view (``tail -f`` style). Tagged keys are kept
across reorders and filtering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: What a cell can hold: plain text, or a rich Text for colour.
Cell = str | Text

#: Space between two columns, and before the first.
GAP = 1


@dataclass(frozen=True)
class Column:
    """One column: ``width`` cells, plus a share of the spare width when ``flex`` > 0.

    A column is never narrower than its label, plus room for the sort mark if ``sortable``.
    """

    key: str
    label: str
    width: int
    flex: int = 0
    align: Literal["left", "right"] = "left"
    sortable: bool = False


class LiveTable(ScrollView, can_focus=True):
    """A table of keyed rows whose owner supplies the order and formats rows on demand."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "live-table--header",
        "live-table--cursor",
        "live-table--tagged",
        "live-table--empty",
    }

    DEFAULT_CSS = """
    LiveTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .live-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .live-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .live-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .live-table--tagged { background: $warning 25%; text-style: bold; }
        & > .live-table--empty { color: $text-muted; text-style: italic; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Letters are left to the console's key table.
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    class CursorMoved(Message):
        """The cursor is on another row (``key`` None when the table is empty)."""

        def __init__(self, table: LiveTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            """The table the cursor moved in."""
            return self.table

    class Activated(Message):
        """A row was double-clicked."""

        def __init__(self, table: LiveTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            """The table the row belongs to."""
            return self.table

    def __init__(self, columns: Sequence[Column], render_row: Callable[[str], Sequence[Cell]],
                 *, empty: str = "nothing to show", name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns = tuple(columns)
        self._render_row = render_row
        self._empty = empty
        self._order: list[str] = []
        self._cursor = 0
        self._strips: dict[str, Strip] = {}
        self._widths: list[int] = []
        self._widths_for = -1
        self._sort: tuple[str, bool] | None = None
        self._strips_base: Style | None = None
        self._paint_styles: dict[str, Style] = dict.fromkeys(
            ("base", "tagged", "cursor", "tagged-cursor", "header", "empty"), Style())
        #: Keys tagged with Space; kept while their rows come and go.
        self.tagged: set[str] = set()

    # -- what the owner calls -------------------------------------------------------------

    @property
    def keys(self) -> Sequence[str]:
        """The row keys in display order."""
        return self._order

    @property
    def row_count(self) -> int:
        """How many rows the table holds (not only the visible ones)."""
        return len(self._order)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        return self._order[self._cursor] if self._order else None

    @property
    def cursor_index(self) -> int:
        """The cursor's row position (0 when empty)."""
        return self._cursor

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns, left to right."""
        return self._columns

    def set_order(self, keys: Sequence[str]) -> None:
        """Show exactly these rows, in this order; the cursor keeps its row if it can."""
        old_key = self.cursor_key
        old_cursor, old_scroll = self._cursor, self.scroll_offset.y
        old_window = self.visible_keys()
        self._order = list(keys)
        if len(self._strips) > 2 * len(self._order) + 64:
            kept = set(self._order)
            self._strips = {key: strip for key, strip in self._strips.items() if key in kept}
        cursor = self._position(old_key) if old_cursor != 0 else None
        if cursor is None:
            cursor = min(old_cursor, max(len(self._order) - 1, 0))
        self._cursor = cursor
        self._resize_virtual()
        # The cursor stays on the same screen line when its row moves.
        self._scroll_top_to(cursor - (old_cursor - old_scroll))
        self._scroll_cursor_into_view()
        if self.visible_keys() != old_window or self.scroll_offset.y != old_scroll:
            self.refresh()
        elif cursor != old_cursor:
            self._refresh_rows((old_cursor, cursor))
        if self.cursor_key != old_key:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    def invalidate(self, keys: Iterable[str] | None = None) -> None:
        """Forget the drawn rows for ``keys`` (all rows when None); they are rebuilt on draw.

        Only the lines of those rows that are on screen are repainted.
        """
        if keys is None:
            self._strips.clear()
            self.refresh()
            return
        if not isinstance(keys, set | frozenset | dict):
            keys = set(keys)
        strips = self._strips
        for key in keys:
            strips.pop(key, None)
        top = self.scroll_offset.y
        self._refresh_rows(top + offset for offset, key in enumerate(self.visible_keys())
                           if key in keys)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Replace the columns (and redraw every row)."""
        self._columns = tuple(columns)
        self._widths = []
        self._strips.clear()
        self._resize_virtual()
        self.refresh()

    def set_empty(self, text: str) -> None:
        """What the table says when it has no rows."""
        if text != self._empty:
            self._empty = text
            self.refresh()

    def set_sort(self, column_key: str | None, reverse: bool = False) -> None:
        """Mark the sorted column in the header (▲ ascending, ▼ descending)."""
        self._sort = None if column_key is None else (column_key, reverse)
        self.refresh()

    def toggle_tag(self) -> None:
        """Tag or untag the cursor row, then move down (as htop and mc do)."""
        key = self.cursor_key
        if key is None:
            return
        self.tagged.symmetric_difference_update({key})
        self._refresh_rows((self._cursor,))
        self.action_cursor_down()

    def clear_tags(self) -> None:
        """Untag every row."""
        self.tagged.clear()
        self.refresh()

    def tagged_in_order(self) -> list[str]:
        """The tagged keys that are shown, in display order."""
        return [key for key in self._order if key in self.tagged]

    def visible_keys(self) -> list[str]:
        """The keys of the rows currently on screen."""
        top = self.scroll_offset.y
        return self._order[top: top + self._body_height()]

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and scroll it into view."""
        old_key, old_cursor = self.cursor_key, self._cursor
        self._cursor = min(max(index, 0), max(len(self._order) - 1, 0))
        self._scroll_cursor_into_view()  # a scroll repaints everything by itself
        self._refresh_rows((old_cursor, self._cursor))
        if self.cursor_key != old_key:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    def move_cursor_to_key(self, key: str) -> bool:
        """Put the cursor on the row with ``key``; False when no such row is shown."""
        position = self._position(key)
        if position is None:
            return False
        self.move_cursor(position)
        return True

    # -- actions ---------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        """Move the cursor one screen up."""
        self.move_cursor(self._cursor - max(self._body_height() - 1, 1))

    def action_page_down(self) -> None:
        """Move the cursor one screen down."""
        self.move_cursor(self._cursor + max(self._body_height() - 1, 1))

    def action_first(self) -> None:
        """Move the cursor to the first row."""
        self.move_cursor(0)

    def action_last(self) -> None:
        """Move the cursor to the last row."""
        self.move_cursor(len(self._order) - 1)

    # -- events ----------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        """A click puts the cursor on the row; a double click activates it."""
        if event.y < 1:
            return
        position = self.scroll_offset.y + event.y - 1
        if 0 <= position < len(self._order):
            self.move_cursor(position)
            if event.chain >= 2:
                self.post_message(self.Activated(self, self._order[position]))

    def on_resize(self, event: events.Resize) -> None:
        """New widths for the flexible columns, so every row is drawn again."""
        self._widths = []
        self._strips.clear()
        self._resize_virtual()
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        """Theme or CSS changed: styles baked into drawn rows are stale."""
        super().notify_style_update()
        self._strips.clear()

    # -- drawing ---------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        """Resolve the styles once per paint; ``rich_style`` walks every ancestor."""
        base = self.rich_style
        component = self.get_component_rich_style
        tagged, cursor = component("live-table--tagged"), component("live-table--cursor")
        self._paint_styles = {
            "base": base, "tagged": base + tagged, "cursor": base + cursor,
            "tagged-cursor": base + tagged + cursor,
            "header": base + component("live-table--header"),
            "empty": base + component("live-table--empty"),
        }
        if base != self._strips_base:
            # Rows are cached with the base style baked in (theme change, focus...).
            self._strips.clear()
            self._strips_base = base
        drawn_for = self._widths_for
        self._column_widths()  # drops rows drawn for another width
        if drawn_for not in (-1, self._widths_for):
            # A scrollbar came or went: lines painted before are the wrong width.
            self.refresh()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Line 0 is the header; the others are rows from the scroll position down."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._paint_styles["base"]
        if y == 0:
            line = self._header_strip()
        elif not self._order:
            line = self._empty_strip() if y == 1 else Strip.blank(width, base)
        else:
            position = scroll_y + y - 1
            if position >= len(self._order):
                return Strip.blank(width, base)
            line = self._row_strip(position)
        if scroll_x == 0 and line.cell_length == width:
            return line
        return line.crop_extend(scroll_x, scroll_x + width, base)

    def _row_strip(self, position: int) -> Strip:
        key = self._order[position]
        if key in self.tagged:
            style = "tagged-cursor" if position == self._cursor else "tagged"
        elif position == self._cursor:
            style = "cursor"
        else:
            strip = self._strips.get(key)
            if strip is None:
                strip = self._build_strip(self._render_row(key), self._paint_styles["base"])
                self._strips[key] = strip
            return strip
        # Few rows are tagged or under the cursor: they are drawn afresh in their style.
        return self._build_strip(self._render_row(key), self._paint_styles[style])

    def _header_strip(self) -> Strip:
        labels: list[Cell] = []
        for column in self._columns:
            label = column.label
            if self._sort is not None and self._sort[0] == column.key:
                label += " ▼" if self._sort[1] else " ▲"
            labels.append(label)
        return self._build_strip(labels, self._paint_styles["header"])

    def _empty_strip(self) -> Strip:
        text = " " * GAP + self._empty
        return Strip([Segment(text, self._paint_styles["empty"])], cell_len(text))

    def _build_strip(self, cells: Sequence[Cell], base: Style) -> Strip:
        """One row in the row style ``base``, a cell's own style drawn over it."""
        widths = self._widths or self._column_widths()
        console = self.app.console
        # Unstyled cells and gaps are joined into one segment: fewer segments make every
        # later step of the paint (filters, cropping, the compositor's cuts) cheaper.
        segments: list[Segment] = []
        plain: list[str] = [" " * GAP]
        for column, width, cell in zip(self._columns, widths, cells, strict=False):
            for segment in _cell_segments(cell, width, column.align, console):
                if segment.style is None:
                    plain.append(segment.text)
                else:
                    if plain:
                        segments.append(Segment("".join(plain), base))
                        plain = []
                    segments.append(Segment(segment.text, base + segment.style))
            plain.append(" " * GAP)
        segments.append(Segment("".join(plain), base))
        return Strip(segments, sum(widths) + GAP * (len(widths) + 1))

    def _column_widths(self) -> list[int]:
        # The room left by the scrollbars, which come and go with the row count.
        width = self.scrollable_content_region.width or self.size.width
        if width != self._widths_for or not self._widths:
            self._widths = column_widths(self._columns, width)
            self._widths_for = width
            self._strips.clear()
        return self._widths

    def _position(self, key: str | None) -> int | None:
        # A scan in C is cheaper than keeping a key → position map for 10,000 rows.
        try:
            return self._order.index(key) if key is not None else None
        except ValueError:
            return None

    def _refresh_rows(self, positions: Iterable[int]) -> None:
        """Repaint the screen lines of these row positions (those in view)."""
        top, height, width = self.scroll_offset.y, self._body_height(), self.size.width
        regions = [Region(0, position - top + 1, width, 1) for position in positions
                   if top <= position < top + height]
        if regions:
            self.refresh(*regions)

    def _body_height(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _resize_virtual(self) -> None:
        width = sum(self._column_widths()) + GAP * (len(self._columns) + 1)
        self.virtual_size = Size(width, len(self._order) + 1)

    def _scroll_top_to(self, y: int) -> None:
        top = min(max(y, 0), max(len(self._order) - self._body_height(), 0))
        if top != self.scroll_offset.y:
            self.scroll_to(y=top, animate=False, force=True, immediate=True)

    def _scroll_cursor_into_view(self) -> None:
        top, height = self.scroll_offset.y, self._body_height()
        if self._cursor < top:
            self._scroll_top_to(self._cursor)
        elif self._cursor >= top + height:
            self._scroll_top_to(self._cursor - height + 1)


def column_widths(columns: Sequence[Column], total: int) -> list[int]:
    """Each column's width: its own, plus its share of what is left of ``total``."""
    widths = [max(column.width, cell_len(column.label) + (2 if column.sortable else 0))
              for column in columns]
    spare = total - sum(widths) - GAP * (len(columns) + 1)
    shares = sum(column.flex for column in columns)
    if spare > 0 and shares:
        given = 0
        flexible = [i for i, column in enumerate(columns) if column.flex]
        for i in flexible:
            extra = spare * columns[i].flex // shares
            widths[i] += extra
            given += extra
        widths[flexible[-1]] += spare - given
    return widths


def _cell_segments(cell: Cell, width: int, align: str, console: Console) -> list[Segment]:
    if isinstance(cell, Text) and cell.spans:
        # Several styles in one cell: let rich cut it (slower, and rare).
        text = cell.copy()
        text.truncate(width, overflow="ellipsis", pad=True)
        if align == "right":
            text.align("right", width)
        return list(text.render(console, end=""))
    if isinstance(cell, Text):
        plain, style = cell.plain, _style(cell.style)
    else:
        plain, style = cell, None
    if "\n" in plain or "\t" in plain:
        plain = " ".join(plain.split())
    length = cell_len(plain)
    if length > width:
        plain = set_cell_size(plain, width - 1) + "…" if width > 1 else set_cell_size(plain, width)
    elif length < width:
        padding = " " * (width - length)
        plain = padding + plain if align == "right" else plain + padding
    return [Segment(plain, style)]


def _style(style: str | Style) -> Style | None:
    if isinstance(style, Style):
        return style
    return Style.parse(style) if style else None
