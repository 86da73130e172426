/**
 * A windowed list: only the rows in view (plus a margin) are in the DOM, so 100,000 rows scroll
 * smoothly; `onView(remaining)` after every render tells a paged list how many rows are below the view.
 */
import { useEffect, useState, type ReactNode } from 'react';

export function VirtualList<T>({
  rows,
  rowHeight,
  height,
  render,
  onView,
  footer,
}: {
  rows: readonly T[];
  rowHeight: number;
  height: number;
  render: (row: T, index: number) => ReactNode;
  onView?: (remaining: number) => void;
  /** A last row (e.g. "loading more…"), shown after the rows. */
  footer?: ReactNode;
}) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / rowHeight) - 10);
  const last = Math.min(rows.length, Math.ceil((top + height) / rowHeight) + 10);
  useEffect(() => onView?.(rows.length - last), [onView, rows.length, last]);
  const total = rows.length + (footer ? 1 : 0);
  return (
    <div
      className="vlist"
      style={{ height, overflowY: 'auto' }}
      onScroll={(e) => setTop(e.currentTarget.scrollTop)}
    >
      <div style={{ height: total * rowHeight, position: 'relative' }}>
        {rows.slice(first, last).map((r, i) => (
          <div
            key={first + i}
            className="vrow"
            style={{
              position: 'absolute',
              top: (first + i) * rowHeight,
              height: rowHeight,
              left: 0,
              right: 0,
            }}
          >
            {render(r, first + i)}
          </div>
        ))}
        {footer && (
          <div
            className="vrow muted"
            style={{
              position: 'absolute',
              top: rows.length * rowHeight,
              height: rowHeight,
              left: 0,
              right: 0,
            }}
          >
            {footer}
          </div>
        )}
      </div>
    </div>
  );
}
