/**
 * Momentum of PGSAM: every move type, and each direction of every numeric
 * move, keeps a velocity, an exponentially weighted success rate that rises
 * when a move put a new member into the archive and decays otherwise. Moves
 * and directions are drawn in proportion to their velocity, mixed with a
 * uniform floor so that no move starves (a move that is useless early, such as
 * a fine frequency step, may be the one that pays near the end).
 */
import type { Rng } from "../core/mod.ts";
import type { Direction } from "./problem.ts";

/** Options of the momentum table. */
export interface MomentumOptions {
  /** False draws moves and directions uniformly: plain archived multi-objective annealing. @default true */
  enabled?: boolean;
  /** Weight kept by the old velocity at each update, in [0, 1): v = decay v + (1 - decay) reward. @default 0.9 */
  decay?: number;
  /** Share of the probability spread uniformly over all choices, in (0, 1]. @default 0.2 */
  floor?: number;
  /** Velocity every choice starts with, in [0, 1]. @default 0.5 */
  initialVelocity?: number;
}

/** Velocities of move types and numeric directions, and draws from them. */
export class MomentumTable {
  readonly enabled: boolean;
  readonly #decay: number;
  readonly #floor: number;
  readonly #moveVelocity: number[];
  /** [down, up] velocity per move; unused for non-numeric moves. */
  readonly #directionVelocity: [number, number][];
  #moveCache: readonly number[] | undefined;

  constructor(moveCount: number, options: MomentumOptions = {}) {
    if (!Number.isInteger(moveCount) || moveCount < 1) {
      throw new RangeError(`MomentumTable: need at least one move, got ${moveCount}`);
    }
    this.enabled = options.enabled ?? true;
    this.#decay = options.decay ?? 0.9;
    this.#floor = options.floor ?? 0.2;
    const v0 = options.initialVelocity ?? 0.5;
    if (!(this.#decay >= 0 && this.#decay < 1)) {
      throw new RangeError(`momentum decay must be in [0, 1), got ${this.#decay}`);
    }
    if (!(this.#floor > 0 && this.#floor <= 1)) {
      throw new RangeError(`momentum floor must be in (0, 1], got ${this.#floor}`);
    }
    if (!(v0 >= 0 && v0 <= 1)) throw new RangeError(`momentum initialVelocity must be in [0, 1], got ${v0}`);
    this.#moveVelocity = new Array<number>(moveCount).fill(v0);
    this.#directionVelocity = Array.from({ length: moveCount }, () => [v0, v0]);
  }

  /** Current velocities (copies), for reports and tests. */
  snapshot(): { moves: number[]; directions: [number, number][] } {
    return {
      moves: [...this.#moveVelocity],
      directions: this.#directionVelocity.map(([d, u]) => [d, u]),
    };
  }

  /** Probability of drawing each move. */
  moveProbabilities(): number[] {
    return [...this.#moveProbabilities()];
  }

  /** Draws a move index. */
  drawMove(rng: Rng): number {
    return drawIndex(rng, this.#moveProbabilities());
  }

  #moveProbabilities(): readonly number[] {
    // Drawn every step, changed only by rewards: keep the mix until the next reward.
    this.#moveCache ??= this.#mix(this.#moveVelocity);
    return this.#moveCache;
  }

  /** Draws a direction for numeric move `move`. */
  drawDirection(rng: Rng, move: number): Direction {
    const [pDown] = this.#mix(this.#directionVelocity[move]);
    return rng.next() < pDown ? -1 : 1;
  }

  /** Records the outcome of a move (`direction` for numeric moves): success raises, failure decays. */
  reward(move: number, direction: Direction | undefined, success: boolean): void {
    if (!this.enabled) return;
    this.#moveCache = undefined;
    const r = success ? 1 - this.#decay : 0;
    this.#moveVelocity[move] = this.#decay * this.#moveVelocity[move] + r;
    if (direction !== undefined) {
      const d = this.#directionVelocity[move];
      const i = direction < 0 ? 0 : 1;
      d[i] = this.#decay * d[i] + r;
    }
  }

  #mix(velocity: readonly number[]): number[] {
    const n = velocity.length;
    let sum = 0;
    for (const v of velocity) sum += v;
    if (!this.enabled || sum <= 0) return velocity.map(() => 1 / n);
    return velocity.map((v) => this.#floor / n + (1 - this.#floor) * v / sum);
  }
}

/** Index drawn with the given probabilities (which sum to 1 up to rounding). */
export function drawIndex(rng: Rng, probabilities: readonly number[]): number {
  let u = rng.next();
  for (let i = 0; i < probabilities.length - 1; i++) {
    u -= probabilities[i];
    if (u < 0) return i;
  }
  return probabilities.length - 1;
}
