// Uses of the package the types must accept, and misuses they must refuse
// (each @ts-expect-error fails tsc if its line compiles). Checked by
// TestTypesCheckTheExample.

import { ApiError, subscribe, type Cast, type ConnectionState } from '@spell-platform/cast-client';
import { useCastEvents } from '@spell-platform/cast-client/react';

const sub = subscribe(
  { namespace: 'ci', labelSelector: 'team=platform', events: ['status', 'complete'], baseUrl: 'https://streamer.example.com' },
  {
    onStatus: (cast: Cast, meta) => console.log(cast.status, cast.progress, meta.id, meta.synthetic),
    onDeleted: (cast) => console.log(cast.castId),
    onError: (err) => {
      if (err.code === 'stream-limit') console.log(err.streams?.open, err.streams?.max, err.retryAfter);
    },
    onConnectionChange: (state, info) => console.log(state, info.reason, info.retryIn),
    onSynced: (resumed: boolean) => console.log(resumed),
  },
);
const state: ConnectionState = sub.state;
const one: Cast | undefined = sub.casts.get('ci/build');
console.log(state, one, sub.lastUpdate?.toISOString(), sub.reconnectCount + 1, new ApiError(403, 'no') instanceof Error);
sub.close();

// @ts-expect-error: a Cast has no such field
subscribe({}, { onProgress: (cast) => cast.percent });
// @ts-expect-error: not an event type
subscribe({ events: ['progres'] });
// @ts-expect-error: not a state
const wrong: 'open' = sub.state;
// @ts-expect-error: the casts are read-only
sub.casts.set('ci/x', one!);

export function useBuild(): string {
  const { isConnected, lastUpdate, reconnectCount, cast, casts } = useCastEvents(
    { castId: 'ci/build' },
    { onComplete: (c) => console.log(c.conclusion), onConnectionChange: (connected: boolean, s) => console.log(connected, s) },
  );
  // @ts-expect-error: isConnected is a boolean
  const n: number = isConnected;
  return `${cast?.status ?? '—'} ${lastUpdate?.getTime() ?? 0} ${reconnectCount} ${casts.size} ${n} ${wrong}`;
}
