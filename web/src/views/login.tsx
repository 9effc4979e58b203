import { type FormEvent, useState } from 'react';
import { ApiError, getJson, request, session } from '../api';

/**
 * API-key login, until users and sessions exist: the key is checked against GET /v1/tenant and kept
 * in sessionStorage for this tab only.
 */
export function LoginView({ onLogin }: { onLogin: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request('/v1/tenant', {}, key.trim());
      session.set(key.trim());
      await getJson('/v1/tenant');
      onLogin();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That API key is unknown or revoked.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">Postwarden</h1>
      <p>Sign in with an API key of your tenant (read scope at least). It stays in this tab only.</p>
      <label htmlFor="api-key">API key</label>
      <input
        id="api-key"
        name="api-key"
        type="password"
        autoComplete="off"
        spellCheck={false}
        required
        value={key}
        onChange={(e) => setKey(e.target.value)}
        aria-describedby={error ? 'login-error' : undefined}
        aria-invalid={error ? true : undefined}
      />
      {error && (
        <p id="login-error" role="alert" className="error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Checking…' : 'Sign in'}
      </button>
    </form>
  );
}
