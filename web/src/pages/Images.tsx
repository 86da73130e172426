import { useRef, useState } from 'react';
import { client, type Image, type Me } from '../api.ts';
import { usePoll } from '../poll.ts';
import { bytes, shortSha, uploadPercent } from '../storage-model.ts';
import { uploadImage, type Upload } from '../upload.ts';

/** Whether the signed-in user may delete an image: admins any, members their tenant's uploads. */
export const canDeleteImage = (me: Pick<Me, 'role' | 'tenantId'>, i: Image) =>
  me.role === 'admin' || (me.role === 'member' && !!i.tenantId && i.tenantId === me.tenantId);

/** Whether the signed-in user gets the public/private toggle: admins, on uploaded images (catalog ones stay public). */
export const canToggleVisibility = (me: Pick<Me, 'role'>, i: Image) => me.role === 'admin' && !!i.tenantId;

/**
 * The image table (pure markup, for tests); `onDelete` absent: no delete buttons; `onVisibility`
 * absent: no public/private toggle.
 */
export function ImageTable({
  images,
  deletable,
  onDelete,
  toggleable,
  onVisibility,
}: {
  images: readonly Image[];
  deletable?: (i: Image) => boolean;
  onDelete?: (i: Image) => void;
  toggleable?: (i: Image) => boolean;
  onVisibility?: (i: Image, to: 'public' | 'private') => void;
}) {
  if (images.length === 0) return <p className="muted">no images</p>;
  return (
    <table className="grid" data-testid="image-table">
      <thead>
        <tr>
          <th>name</th>
          <th>format</th>
          <th>virtual size</th>
          <th>size</th>
          <th>visibility</th>
          <th>state</th>
          <th>sha256</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {images.map((i) => (
          <tr key={i.id} data-image={i.name}>
            <td>{i.name}</td>
            <td>{i.format}</td>
            <td>{i.virtualSizeBytes ? bytes(i.virtualSizeBytes) : bytes(i.sizeMiB * 1024 * 1024)}</td>
            <td>{bytes(i.sizeBytes)}</td>
            <td>
              {i.visibility ?? 'public'}
              {onVisibility && toggleable?.(i) && (
                <>
                  {' '}
                  <button
                    className="secondary"
                    data-testid="image-visibility"
                    onClick={() => onVisibility(i, i.visibility === 'public' ? 'private' : 'public')}
                  >
                    make {i.visibility === 'public' ? 'private' : 'public'}
                  </button>
                </>
              )}
            </td>
            <td className={`st-${i.status ?? 'active'}`}>{i.status ?? 'active'}</td>
            <td>
              <code title={i.sha256 ?? ''}>{shortSha(i.sha256)}</code>
            </td>
            <td>
              {onDelete && deletable?.(i) && (
                <button className="danger" onClick={() => onDelete(i)}>
                  delete
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Images({ me }: { me: Me }) {
  const images = usePoll(() => client.images.list(), 5000);
  const [name, setName] = useState('');
  const [file, setFile] = useState<File>();
  const [pub, setPub] = useState(false);
  const [progress, setProgress] = useState<{ sent: number; total: number }>();
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  const upload = useRef<Upload>(undefined);
  const writer = me.role === 'admin' || me.role === 'member';

  const start = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setMsg(undefined);
    setProgress({ sent: 0, total: file.size });
    const u = uploadImage(name.trim(), file, {
      public: pub,
      onProgress: (sent, total) => setProgress({ sent, total }),
    });
    upload.current = u;
    try {
      const i = await u.done;
      setMsg({ ok: true, text: `Uploaded ${i.name}: ${i.format}, ${bytes(i.virtualSizeBytes)} virtual` });
      setName('');
      images.reload();
    } catch (err) {
      setMsg({ ok: false, text: (err as Error).message });
    } finally {
      upload.current = undefined;
      setProgress(undefined);
    }
  };
  const del = async (i: Image) => {
    if (!window.confirm(`Delete image ${i.name}?`)) return;
    setMsg(undefined);
    try {
      await client.images.delete(i.id);
      setMsg({ ok: true, text: `Deleted ${i.name}` });
      images.reload();
    } catch (err) {
      setMsg({ ok: false, text: (err as Error).message });
    }
  };

  const setVisibility = async (i: Image, to: 'public' | 'private') => {
    setMsg(undefined);
    try {
      await client.images.update(i.id, { visibility: to });
      setMsg({ ok: true, text: `${i.name} is ${to}` });
      images.reload();
    } catch (err) {
      setMsg({ ok: false, text: (err as Error).message });
    }
  };

  return (
    <div>
      <h2>Images</h2>
      {writer && (
        <form className="card form" onSubmit={start} data-testid="image-upload">
          <label>
            name
            <input
              name="imageName"
              required
              pattern="[A-Za-z0-9][A-Za-z0-9._-]*"
              maxLength={63}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </label>
          <label>
            file (qcow2 or raw)
            <input
              name="imageFile"
              type="file"
              required
              onChange={(e) => {
                const f = e.target.files?.[0];
                setFile(f);
                if (f && !name) setName(f.name.replace(/\.(qcow2|raw|img)$/i, '').replace(/[^\w.-]/g, '-'));
              }}
            />
          </label>
          {me.role === 'admin' && (
            <label className="check">
              <input type="checkbox" name="public" checked={pub} onChange={(e) => setPub(e.target.checked)} />
              public (every tenant sees it)
            </label>
          )}
          <div>
            <button type="submit" disabled={!!progress || !file}>
              Upload
            </button>{' '}
            {progress && (
              <>
                <progress
                  max={100}
                  value={uploadPercent(progress.sent, progress.total)}
                  data-testid="upload-progress"
                />{' '}
                <span className="muted">
                  {uploadPercent(progress.sent, progress.total)} % of {bytes(progress.total)}
                  {progress.sent >= progress.total ? ', checking the image…' : ''}
                </span>{' '}
                <button type="button" className="secondary" onClick={() => upload.current?.abort()}>
                  cancel
                </button>
              </>
            )}
          </div>
        </form>
      )}
      {msg && (
        <p className={msg.ok ? 'ok' : 'error'} role="status">
          {msg.text}
        </p>
      )}
      <div className="card">
        {images.error && <p className="error">{images.error}</p>}
        <ImageTable
          images={images.data ?? []}
          deletable={(i) => canDeleteImage(me, i)}
          onDelete={del}
          toggleable={(i) => canToggleVisibility(me, i)}
          onVisibility={setVisibility}
        />
      </div>
    </div>
  );
}
