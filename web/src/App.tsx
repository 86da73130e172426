import { useEffect, useState } from 'react';
import { client, session, type Me } from './api.ts';
import { CreateVm } from './pages/CreateVm.tsx';
import { HostPage } from './pages/HostPage.tsx';
import { Images } from './pages/Images.tsx';
import { Overview } from './pages/Overview.tsx';
import { Plans } from './pages/Plans.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Simulations } from './pages/Simulations.tsx';
import { StoragePools } from './pages/StoragePools.tsx';
import { Usage } from './pages/Usage.tsx';
import { VmList } from './pages/VmList.tsx';
import { VmPage } from './pages/VmPage.tsx';
import { VolumePage } from './pages/VolumePage.tsx';
import { Volumes } from './pages/Volumes.tsx';
import { href, useRoute } from './router.ts';
import { navFor } from './model.ts';

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(session.token ? undefined : null);
  const route = useRoute();
  useEffect(() => {
    if (!session.token) return;
    client.meta.me().then(setMe, () => {
      session.clear();
      setMe(null);
    });
  }, []);
  if (me === undefined) return <p className="muted pad">loading…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} />;
  const nav = navFor(me.role);
  const [page = nav[0]![0], id] = route;
  const ops = me.role === 'admin' || me.role === 'operator';
  const signOut = () => {
    session.clear();
    setMe(null);
    window.location.hash = '';
  };
  let body;
  if (page === '' || page === 'overview') body = ops ? <Overview /> : <VmList />;
  else if (page === 'hosts' && id && ops) body = <HostPage id={id} />;
  else if (page === 'vms' && id) body = <VmPage id={id} me={me} />;
  else if (page === 'vms') body = <VmList />;
  else if (page === 'create') body = <CreateVm me={me} />;
  else if (page === 'images') body = <Images me={me} />;
  else if (page === 'volumes' && id) body = <VolumePage id={id} me={me} />;
  else if (page === 'volumes') body = <Volumes me={me} />;
  else if (page === 'pools' && ops) body = <StoragePools me={me} />;
  else if (page === 'plans' && ops) body = <Plans />;
  else if (page === 'usage') body = <Usage me={me} />;
  else if (page === 'simulations' && ops) body = <Simulations />;
  else
    body = (
      <div className="card">
        <p className="error">
          No page "{route.join('/')}" for a {me.role}.
        </p>
        <p>
          Go to <a href={href(nav[0]![0])}>{nav[0]![1]}</a>.
        </p>
      </div>
    );
  return (
    <>
      <header>
        <a className="brand" href={href(nav[0]![0])}>
          <span className="logo" /> nubis
        </a>
        <nav>
          {nav.map(([p, label]) => (
            <a
              key={p}
              href={href(p)}
              className={
                page === p || (p === '' && page === 'overview') || (p === 'vms' && page === 'vms')
                  ? 'active'
                  : ''
              }
            >
              {label}
            </a>
          ))}
        </nav>
        <span className="who">
          {me.userName} <span className="muted">({me.role})</span>
        </span>
        <button className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>{body}</main>
    </>
  );
}
