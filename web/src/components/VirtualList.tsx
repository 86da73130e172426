/** A windowed list: only the rows in view (plus a margin) are in the DOM, so 10,000 rows scroll smoothly. */
import { useState, type ReactNode } from 'react';

export function VirtualList<T>({
  rows,
  rowHeight,
  height,
  render,
}: {
  rows: readonly T[];
  rowHeight: number;
  height: number;
  render: (row: T, index: number) => ReactNode;
}) {
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / rowHeight) - 10);
  const last = Math.min(rows.length, Math.ceil((top + height) / rowHeight) + 10);
  return (
    <div
      className="vlist"
      style={{ height, overflowY: 'auto' }}
      onScroll={(e) => setTop(e.currentTarget.scrollTop)}
    >
      <div style={{ height: rows.length * rowHeight, position: 'relative' }}>
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
      </div>
    </div>
  );
}
