/**
 * Image upload with progress. `fetch` reports no upload progress (and Chromium streams a request
 * body only over HTTP/2), so the page sends the file with XMLHttpRequest: the browser reads the
 * File from disk as it sends it (never whole in memory) and reports the bytes sent. Same route
 * and body as the client's `imageData.upload` (POST /v1/images/:name/data, application/octet-stream).
 */
import { ApiError, session, type Image } from './api.ts';

/** An upload in flight: its answer, and `abort()` to stop it (the server then registers nothing). */
export interface Upload {
  done: Promise<Image>;
  abort: () => void;
}

/** Upload `file` as image `name`; `onProgress(sentBytes, totalBytes)` as it goes; `public` needs an admin. */
export function uploadImage(
  name: string,
  file: Blob,
  o: { public?: boolean; onProgress?: (sent: number, total: number) => void } = {},
): Upload {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Image>((resolve, reject) => {
    const q = o.public ? '?public=true' : '';
    xhr.open('POST', `/v1/images/${encodeURIComponent(name)}/data${q}`);
    const token = session.token;
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => o.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(xhr.responseText) as Record<string, unknown>;
      } catch {
        // not JSON: the status says enough
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data as unknown as Image);
      const { code, message, ...details } = data;
      reject(
        new ApiError(
          xhr.status,
          typeof code === 'string' ? code : `HTTP_${xhr.status}`,
          typeof message === 'string' ? message : `Upload failed: HTTP ${xhr.status}`,
          details,
        ),
      );
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'UNREACHABLE', 'The upload lost its connection to the server'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'Upload cancelled: nothing was registered'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
