/**
 * What happened in the service, for whoever listens in the same process
 * (webhooks): a scan run finished, a match's takedown status moved. Carries
 * ids and counts only; listeners read what they may show through the
 * services. A listener that throws does not disturb the emitter.
 */
import { EventEmitter } from 'node:events';
import type { MatchStatus } from '../store/scan-matches.js';

export interface ServiceEventMap {
  'run.finished': { runId: number; scanId: number; status: 'done' | 'failed'; newMatches: number };
  'match.status': { matchId: number; runId: number; scanId: number; from: MatchStatus; to: MatchStatus; actor: string };
}

export type ServiceEventName = keyof ServiceEventMap;
export type ServiceEventListener<E extends ServiceEventName> = (event: ServiceEventMap[E]) => void;

export class ServiceEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (err: unknown, event: ServiceEventName) => void = () => {}) {}

  on<E extends ServiceEventName>(event: E, listener: ServiceEventListener<E>): () => void {
    const safe = (payload: ServiceEventMap[E]) => {
      try {
        listener(payload);
      } catch (err) {
        this.onListenerError(err, event);
      }
    };
    this.emitter.on(event, safe);
    return () => void this.emitter.off(event, safe);
  }

  emit<E extends ServiceEventName>(event: E, payload: ServiceEventMap[E]): void {
    this.emitter.emit(event, payload);
  }
}
