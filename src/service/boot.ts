/**
 * The boot sequence number: incremented and persisted in the state folder on
 * every start, carried in the retained `status` message so subscribers can
 * tell a restart from a reconnect.
 */
import type { Logger } from "../core/mod.ts";
import { writeFileAtomic } from "./durable_file.ts";

const FILE = "boot.json";

/**
 * Reads the last boot sequence number from `stateDir`, increments it, stores it
 * durably and returns it (1 on the first start). A missing file counts as 0;
 * an unreadable one is logged and also counts as 0.
 */
export async function nextBootSequence(stateDir: string, logger?: Logger): Promise<number> {
  const path = `${stateDir}/${FILE}`;
  let last = 0;
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (Number.isSafeInteger(parsed?.bootSequence) && parsed.bootSequence >= 0) {
      last = parsed.bootSequence;
    } else {
      logger?.warn("boot counter holds no valid bootSequence; starting again from 1", { path });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      logger?.warn("cannot read the boot counter; starting again from 1", { path, error });
    }
  }
  const next = last + 1;
  await Deno.mkdir(stateDir, { recursive: true });
  await writeFileAtomic(path, JSON.stringify({ bootSequence: next }) + "\n");
  return next;
}
