// Types of @spell-platform/cast-client (cast-client.js). They mirror the
// streamer's wire JSON (streamer/wire in cast-operator).

/** A Cast's phase; terminal ones are Succeeded, Failed, Cancelled and TimedOut. */
export type CastPhase = 'Pending' | 'Queued' | 'Running' | 'Succeeded' | 'Failed' | 'Cancelled' | 'TimedOut';

export interface Artifact {
  name: string;
  sizeBytes?: number;
  url?: string;
}

export interface Step {
  number: number;
  name: string;
  status: string;
  conclusion?: string;
  startedAt?: string;
  completedAt?: string;
}

/** One job of the Cast's current attempt. */
export interface Job {
  id: number;
  name: string;
  status: string;
  conclusion?: string;
  startedAt?: string;
  completedAt?: string;
  /** The job's page on GitHub, where its log is. */
  url?: string;
  /** runs-on labels. */
  labels?: string[];
  steps?: Step[];
  stepsOmitted?: number;
}

/** How an earlier attempt of the run ended. */
export interface Attempt {
  attempt: number;
  phase: string;
  conclusion?: string;
  startedAt?: string;
  finishedAt?: string;
  url?: string;
}

/** One state of a Cast: the data of every stream event and the JSON endpoints' body. */
export interface Cast {
  /** "namespace/name". */
  castId: string;
  namespace: string;
  name: string;
  status: CastPhase;
  /** 0–100. */
  progress: number;
  message: string;
  repository: string;
  workflow: string;
  runID: number;
  runAttempt: number;
  runURL: string;
  conclusion: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Milliseconds: final once finished, elapsed while running. */
  duration: number;
  costCents: number;
  artifacts: Artifact[] | null;
  labels?: Record<string, string>;
  jobs?: Job[];
  jobsOmitted?: number;
  previousAttempts?: Attempt[];
  resourceVersion: string;
  timestamp: string;
}

/** Event types that carry a Cast. */
export type CastEventType = 'status' | 'progress' | 'complete' | 'deleted';

export declare const CAST_EVENTS: readonly CastEventType[];

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'closed';

/** How a refusal or failure is told apart; see ApiError. */
export type ErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'bad-request'
  | 'rate-limited'
  | 'stream-limit'
  | 'unavailable'
  | 'network'
  | 'http';

/** A refusal or failure from the streamer, with its own words as message. */
export declare class ApiError extends Error {
  constructor(status: number, message?: string, retryAfter?: number, extra?: { code?: ErrorCode; streams?: StreamSlots });
  readonly name: 'ApiError';
  /** HTTP status; 0 when no answer came at all. */
  status: number;
  /** Seconds the streamer asked to wait (Retry-After); 0 when it did not. */
  retryAfter: number;
  code: ErrorCode;
  /** For 'stream-limit': the user's open streams on the replica, and the most allowed. */
  streams?: StreamSlots;
}

export interface StreamSlots {
  user: string;
  open: number;
  max: number;
}

/** Who is signed in. */
export interface Identity {
  user: string;
  groups: string[] | null;
  /** When the session (the token) expires. */
  expiresAt?: string;
  /** A single sign-on session, which refreshSession renews. */
  sso?: boolean;
  /** The user's open streams on the replica that answered, and the most allowed. */
  streams: { open: number; max: number };
}

export interface ConnectionInfo {
  /** For 'closed': why. 'complete' and 'deleted' end a single-Cast subscription; close() itself is not reported. */
  reason?: 'complete' | 'deleted' | 'error';
  /** For 'reconnecting': milliseconds until the next attempt, when one is scheduled. */
  retryIn?: number;
  /** What made it reconnect or close, when known. */
  error?: ApiError;
}

export interface EventMeta {
  type: CastEventType;
  /** The event's id: the Cast's resourceVersion. */
  id: string;
  /** True for a deletion the client inferred (the Cast was missing from a full snapshot). */
  synthetic: boolean;
}

export interface Handlers {
  /** Anything but progress and message changed. */
  onStatus?: (cast: Cast, meta: EventMeta) => void;
  /** Only progress or message changed. */
  onProgress?: (cast: Cast, meta: EventMeta) => void;
  /** The Cast reached a terminal phase. */
  onComplete?: (cast: Cast, meta: EventMeta) => void;
  /** The Cast is gone; cast is its last state. */
  onDeleted?: (cast: Cast, meta: EventMeta) => void;
  /**
   * A refusal: 400, 401, 403 and 404 end the subscription; after a 429
   * ('rate-limited' or 'stream-limit') it retries by itself.
   */
  onError?: (error: ApiError) => void;
  onConnectionChange?: (state: ConnectionState, info: ConnectionInfo) => void;
  /**
   * A collection's Casts are complete as of now: after a stream's initial
   * batch (resumed: true when only changes since the last event were
   * sent) and after each poll (resumed: false). Not called for one Cast.
   */
  onSynced?: (resumed: boolean) => void;
}

export interface ClientOptions {
  /**
   * The streamer's URL when it is not the page's origin; needs the page's
   * origin in its --allowed-origins. Defaults to the page's own location.
   */
  baseUrl?: string | URL;
}

export interface SubscribeOptions extends ClientOptions {
  /** Omitted or '' for all namespaces. */
  namespace?: string;
  /** One Cast (needs namespace). */
  name?: string;
  /** Narrows a collection, e.g. "team=platform". */
  labelSelector?: string;
  /**
   * Only these event types (sent to the streamer as ?events=); all by
   * default. Without 'deleted' no deletion is reported, and casts may keep
   * Casts that are gone.
   */
  events?: CastEventType[];
  /** How often to poll when streaming is not possible; 5000 by default. */
  pollIntervalMs?: number;
  /** Bounds of the full-jitter backoff between reconnection attempts; 1000 and 30000 by default. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Failed connections in a row before polling; 5 by default. */
  failuresBeforePolling?: number;
  /** While polling, try streaming again after this many polls; 6 by default. */
  pollsBeforeStreamRetry?: number;
}

export interface Subscription {
  /** Ends the subscription: no more requests, no more handler calls. */
  close(): void;
  readonly state: ConnectionState;
  /** When data last arrived; null before any. */
  readonly lastUpdate: Date | null;
  /** How often the subscription got its feed back after losing it. */
  readonly reconnectCount: number;
  /** The current Casts by castId. */
  readonly casts: ReadonlyMap<string, Cast>;
  /** The last refusal; null when none. */
  readonly error: ApiError | null;
  /** The stream's URL. */
  readonly url: string;
}

/** Follows one Cast, a namespace or all namespaces until close(). Throws TypeError for a scope no streamer could serve. */
export declare function subscribe(options?: SubscribeOptions, handlers?: Handlers): Subscription;

/** Exchanges a bearer token for the streamer's HttpOnly session cookie. */
export declare function signIn(token: string, options?: ClientOptions): Promise<Identity>;
/** Clears the session cookie; for a single sign-on session, where to send the browser to sign out at the provider too. */
export declare function signOut(options?: ClientOptions): Promise<{ endSessionURL: string } | null>;
/** The ways in the streamer offers; with sso, send the browser to `api/v1/oidc/login` on the streamer. */
export declare function signInMethods(options?: ClientOptions): Promise<{ token: boolean; sso: boolean }>;
/** Renews a single sign-on session before its ID token expires. */
export declare function refreshSession(options?: ClientOptions): Promise<Identity>;
/** Who is signed in; null when nobody is. */
export declare function whoAmI(options?: ClientOptions): Promise<Identity | null>;

/** The JSON of a scope once: {items} for a collection, one Cast for a name. */
export declare function getCasts(options: SubscribeOptions & { name: string; signal?: AbortSignal }): Promise<Cast>;
export declare function getCasts(options?: SubscribeOptions & { signal?: AbortSignal }): Promise<{ items: Cast[] }>;

/** Full-jitter backoff: a random share of a ceiling doubling per attempt, never below retryAfterMs. */
export declare function backoffDelay(
  attempt: number,
  options?: { initialMs?: number; maxMs?: number; retryAfterMs?: number; rnd?: number },
): number;
