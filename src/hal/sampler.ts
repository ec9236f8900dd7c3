/**
 * The telemetry sampler: an async loop that reads the board once per period
 * on an injected clock. Ticks never overlap: a tick (read + `onSample`) ends
 * before the next may start, and a late tick skips the periods it missed
 * instead of bursting to catch up.
 */
import { type Clock, systemClock } from "../core/mod.ts";
import type { Board, Sample } from "./types.ts";

/** Options of `createSampler()`. */
export interface SamplerOptions {
  /** What to read (a discovered board). */
  board: Pick<Board, "read">;
  /** Time between the starts of two ticks, ms (> 0). */
  periodMs: number;
  /** Clock that paces the loop. @default systemClock */
  clock?: Clock;
  /** Receives every sample, from the loop and from `sampleOnce()`; awaited before the next tick. */
  onSample: (sample: Sample) => void | Promise<void>;
  /**
   * Receives an error thrown by `onSample` in the loop; the loop goes on.
   * @default none: the loop stops and `stop()` rethrows the error
   */
  onError?: (error: unknown) => void;
}

/** A running or stopped sampling loop. */
export interface Sampler extends AsyncDisposable {
  /** Starts the loop (the first tick runs at once). Starting a running sampler does nothing. */
  start(): void;
  /** Stops the loop after the tick in progress; rejects with the error that stopped the loop, if any. */
  stop(): Promise<void>;
  /** Reads one sample now (after any tick in progress), hands it to `onSample` and returns it. */
  sampleOnce(): Promise<Sample>;
  readonly running: boolean;
  /** Samples produced so far (loop and `sampleOnce()`). */
  readonly samples: number;
  /** Loop ticks that took longer than the period (their missed periods were skipped). */
  readonly overruns: number;
}

class LoopSampler implements Sampler {
  readonly #options: SamplerOptions;
  readonly #clock: Clock;
  #chain: Promise<unknown> = Promise.resolve();
  #controller: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;
  #samples = 0;
  #overruns = 0;

  constructor(options: SamplerOptions) {
    if (!(options.periodMs > 0) || !Number.isFinite(options.periodMs)) {
      throw new RangeError(`sampler periodMs must be a finite number > 0, got ${options.periodMs}`);
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  get running(): boolean {
    return this.#controller !== undefined && !this.#controller.signal.aborted;
  }

  get samples(): number {
    return this.#samples;
  }

  get overruns(): number {
    return this.#overruns;
  }

  start(): void {
    if (this.running) return;
    this.#failure = undefined;
    this.#controller = new AbortController();
    this.#loop = this.#run(this.#controller.signal);
  }

  async stop(): Promise<void> {
    this.#controller?.abort();
    await this.#loop;
    this.#loop = undefined;
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure) throw failure.error;
  }

  sampleOnce(): Promise<Sample> {
    return this.#serialised();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** One read + onSample, after whatever tick is in progress. */
  #serialised(): Promise<Sample> {
    const tick = this.#chain.then(async () => {
      const sample = await this.#options.board.read();
      this.#samples++;
      await this.#options.onSample(sample);
      return sample;
    });
    this.#chain = tick.catch(() => undefined);
    return tick;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const periodMs = this.#options.periodMs;
    let nextMs = this.#clock.monotonicMs();
    while (!signal.aborted) {
      try {
        await this.#serialised();
      } catch (error) {
        if (!this.#options.onError) {
          this.#failure = { error };
          this.#controller?.abort();
          return;
        }
        this.#options.onError(error);
      }
      nextMs += periodMs;
      const nowMs = this.#clock.monotonicMs();
      if (nowMs >= nextMs) {
        this.#overruns++;
        nextMs += (Math.floor((nowMs - nextMs) / periodMs) + 1) * periodMs;
      }
      try {
        await this.#clock.sleep(nextMs - nowMs, signal);
      } catch {
        // Aborted by stop(): leave the loop.
        return;
      }
    }
  }
}

/** A sampler over `options.board`; call `start()` to begin the loop. */
export function createSampler(options: SamplerOptions): Sampler {
  return new LoopSampler(options);
}
