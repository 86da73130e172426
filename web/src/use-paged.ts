/** A paged list in a page: the first page at once and again every `everyMs`, more as the list scrolls. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { session } from './api.ts';
import { addPage, EMPTY_PAGES, fetchPage, wantsMore, type PagedState, type PageQuery } from './paging.ts';

/** Rows still unread within this many of the last one in view: read the next page. */
const MARGIN = 100;
/** Pages after the first are as large as the API allows (fewer round trips on a long scroll). */
const MORE = 1000;

/**
 * Rows of `path` with the filters `q`, `limit` in the first page (1,000 in the next ones): the first page when the filters change and
 * every `everyMs` while only it is read (live without a reload; once scrolled further the rows stay as
 * read), the next page when `onView(remaining)` says the rows in view near the end of those shown.
 */
export function usePaged<T>(path: string, q: PageQuery, limit: number, everyMs: number) {
  const [s, setS] = useState<PagedState<T>>(EMPTY_PAGES);
  const [error, setError] = useState<string>();
  const busy = useRef(false);
  const gen = useRef(0);
  const key = JSON.stringify([path, q, limit]);
  const src = { token: () => session.token };
  const read = useCallback(
    (state: PagedState<T>, first: boolean) => {
      const g = gen.current;
      busy.current = true;
      fetchPage<T>(src, path, {
        ...q,
        limit: first ? limit : Math.max(limit, MORE),
        cursor: first ? undefined : (state.next ?? undefined),
      }).then(
        (p) => {
          if (g !== gen.current) return;
          // Not busy before the new rows render: the list's next onView may ask for the page after.
          busy.current = false;
          setError(undefined);
          setS((cur) => addPage(cur, p, first));
        },
        (e: Error) => {
          if (g !== gen.current) return;
          busy.current = false;
          setError(e.message);
        },
      );
    },
    // `key` stands for path, q and limit.
    [key],
  );
  useEffect(() => {
    gen.current++;
    busy.current = false;
    setS(EMPTY_PAGES);
    read(EMPTY_PAGES, true);
  }, [read]);
  const sRef = useRef(s);
  sRef.current = s;
  useEffect(() => {
    const t = setInterval(() => {
      const cur = sRef.current;
      if (document.visibilityState !== 'hidden' && !busy.current && cur.rows.length <= limit) read(cur, true);
    }, everyMs);
    return () => clearInterval(t);
  }, [read, everyMs, limit]);
  // The list calls this after every render with the rows below its last in view (so a page that
  // filled too little, or a fast scroll, asks for the next one).
  const onView = useCallback(
    (remaining: number) => {
      if (wantsMore(sRef.current, remaining, MARGIN, busy.current)) read(sRef.current, false);
    },
    [read],
  );
  return { ...s, error, onView };
}
