// Types of @spell-platform/cast-client/react (react.js).

import type { ApiError, Cast, CastEventType, ConnectionInfo, ConnectionState, EventMeta } from './cast-client.js';

export interface CastEventsOptions {
  /** One Cast as "namespace/name", as the replaced system's hook took it. */
  castId?: string;
  /** A namespace, or with name one Cast; omitted for all namespaces. */
  namespace?: string;
  name?: string;
  labelSelector?: string;
  events?: CastEventType[];
  /** The streamer's URL when it is not the page's origin. */
  baseUrl?: string;
  pollIntervalMs?: number;
}

export interface CastEventsHandlers {
  onStatus?: (cast: Cast, meta: EventMeta) => void;
  onProgress?: (cast: Cast, meta: EventMeta) => void;
  onComplete?: (cast: Cast, meta: EventMeta) => void;
  onDeleted?: (cast: Cast, meta: EventMeta) => void;
  onError?: (error: ApiError) => void;
  /** isConnected is true while live or polling. */
  onConnectionChange?: (isConnected: boolean, state: ConnectionState, info: ConnectionInfo) => void;
  onSynced?: (resumed: boolean) => void;
}

export interface CastEvents {
  /** Live or polling: updates arrive. */
  isConnected: boolean;
  state: ConnectionState;
  lastUpdate: Date | null;
  reconnectCount: number;
  /** The current Casts by castId; a new Map on every change. */
  casts: ReadonlyMap<string, Cast>;
  /** For one Cast: its current state, null until known or once deleted. */
  cast: Cast | null;
  error: ApiError | null;
}

export declare function useCastEvents(options?: CastEventsOptions, handlers?: CastEventsHandlers): CastEvents;
