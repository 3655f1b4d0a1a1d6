import { vi } from "vitest";

/**
 * Minimal EventSource for jsdom (which has none). Tests drive it: open(),
 * emit(data), drop() (stream broke, the browser would reconnect: CONNECTING),
 * refuse() (HTTP error status: CLOSED for good).
 */
export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSED = 2;

  /** Every instance created while installed, oldest first. */
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readonly withCredentials = false;
  readyState = FakeEventSource.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(url: string | URL) {
    this.url = String(url);
    FakeEventSource.instances.push(this);
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }

  addEventListener(): void {}
  removeEventListener(): void {}

  get closed(): boolean {
    return this.readyState === FakeEventSource.CLOSED;
  }

  open(): void {
    if (this.closed) return;
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event("open"));
  }

  /** A default "message" event; objects are sent as JSON. */
  emit(data: unknown, lastEventId = ""): void {
    if (this.closed) return;
    const text = typeof data === "string" ? data : JSON.stringify(data);
    this.onmessage?.(new MessageEvent("message", { data: text, lastEventId }));
  }

  /** The stream broke; a browser would reconnect by itself. */
  drop(): void {
    if (this.closed) return;
    this.readyState = FakeEventSource.CONNECTING;
    this.onerror?.(new Event("error"));
  }

  /** The server answered with an error status: the browser gives up (CLOSED). */
  refuse(): void {
    if (this.closed) return;
    this.readyState = FakeEventSource.CLOSED;
    this.onerror?.(new Event("error"));
  }
}

/** Installs FakeEventSource as the global EventSource (call in beforeEach). */
export function installFakeEventSource(): void {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
}

/** EventSources not closed yet. */
export function openEventSources(): FakeEventSource[] {
  return FakeEventSource.instances.filter((source) => !source.closed);
}
