/** Hash routes (#/vms/ID): the server serves one page, the browser keeps the place. */
import { useEffect, useState } from 'react';

export function useRoute(): string[] {
  const read = () =>
    window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => setParts(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parts;
}

export const go = (...parts: string[]) => {
  window.location.hash = '#/' + parts.map(encodeURIComponent).join('/');
};
export const href = (...parts: string[]) => '#/' + parts.map(encodeURIComponent).join('/');
