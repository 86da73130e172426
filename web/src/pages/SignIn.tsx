import { useState } from 'react';
import { client, session, type Me } from '../api.ts';

export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    session.set(token.trim());
    try {
      onSignedIn(await client.meta.me());
    } catch (err) {
      session.clear();
      setError((err as Error).message);
    }
  };
  return (
    <div className="signin">
      <form className="card" onSubmit={submit}>
        <h1>
          <span className="logo" /> nubis
        </h1>
        <p className="muted">
          Sign in with an API token (<code>nubis serve</code> prints the admin's once;{' '}
          <code>nubis token create</code> makes more).
        </p>
        <label>
          API token
          <input
            name="token"
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            autoFocus
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={!token.trim()}>
          Sign in
        </button>
      </form>
    </div>
  );
}
