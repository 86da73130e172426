/** Poll an API call: at once, then every `everyMs` while the page is visible (live without a reload). */
import { useCallback, useEffect, useRef, useState } from 'react';

export function usePoll<T>(
  load: () => Promise<T>,
  everyMs: number,
  deps: unknown[] = [],
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const run = useCallback(() => {
    loadRef.current().then(
      (d) => {
        setData(d);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, []);
  useEffect(() => {
    run();
    const t = setInterval(() => {
      if (document.visibilityState !== 'hidden') run();
    }, everyMs);
    return () => clearInterval(t);
  }, [everyMs, run, ...deps]);
  return { data, error, reload: run };
}
