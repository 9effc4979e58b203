import { useEffect, useState } from 'react';
import { session } from './api';
import { Link, Router, useRoute } from './router';
import { DomainsView, DomainView } from './views/domains';
import { LoginView } from './views/login';
import { MessagePathView } from './views/message-path';
import { MessagesView } from './views/messages';
import { OverviewView } from './views/overview';
import { ProvidersView } from './views/providers';
import { SandboxMessageView, SandboxView } from './views/sandbox';
import { SuppressionsView } from './views/suppressions';

const nav = [
  ['/overview', 'Overview'],
  ['/providers', 'Providers'],
  ['/messages', 'Messages'],
  ['/domains', 'Domains'],
  ['/suppressions', 'Suppressions'],
  ['/sandbox', 'Sandbox inbox'],
] as const;

export function App() {
  return (
    <Router>
      <Shell />
    </Router>
  );
}

function Shell() {
  const { path, go } = useRoute();
  const [authed, setAuthed] = useState(() => session.key() !== null);
  useEffect(() => {
    const out = () => setAuthed(false);
    window.addEventListener('postwarden:logout', out);
    return () => window.removeEventListener('postwarden:logout', out);
  }, []);
  if (!authed) {
    return (
      <main id="main" className="login">
        <LoginView
          onLogin={() => {
            setAuthed(true);
            go(path === '/' || path === '/login' ? '/overview' : path);
          }}
        />
      </main>
    );
  }
  const section = `/${path.split('/')[1] ?? ''}`;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Postwarden</span>
        <nav aria-label="Views">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={section === href ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          className="quiet"
          onClick={() => {
            session.clear();
            setAuthed(false);
            go('/login');
          }}
        >
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <View path={path} />
      </main>
    </>
  );
}

function View({ path }: { path: string }) {
  const [, section, id] = path.split('/').map(decodeURIComponent);
  switch (section) {
    case 'providers':
      return <ProvidersView />;
    case 'messages':
      return id ? <MessagePathView id={id} /> : <MessagesView />;
    case 'domains':
      return id ? <DomainView id={id} /> : <DomainsView />;
    case 'suppressions':
      return <SuppressionsView />;
    case 'sandbox':
      return id ? <SandboxMessageView id={id} /> : <SandboxView />;
    default:
      return <OverviewView />;
  }
}
