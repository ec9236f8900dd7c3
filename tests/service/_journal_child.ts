/**
 * A process that journals jobs and reports each durable acceptance on stdout,
 * then finishes some of them, then waits to be killed (the journal crash test).
 *
 * Usage: deno run -A _journal_child.ts DIR ACCEPT FINISH
 */
import { systemClock } from "../../src/core/mod.ts";
import { openJournal } from "../../src/service/mod.ts";

const [dir, acceptText, finishText] = Deno.args;
const journal = await openJournal<{ n: number }, { answer: number }>({ dir, clock: systemClock });
const encoder = new TextEncoder();
const accept = Number(acceptText);
const finish = Number(finishText);
// Accepted concurrently, as a busy service would: they share fsyncs.
await Promise.all(Array.from({ length: accept }, async (_, i) => {
  await journal.accept(`job-${i}`, { n: i });
  Deno.stdout.writeSync(encoder.encode(`accepted job-${i}\n`));
}));
for (let i = 0; i < finish; i++) {
  await journal.finish(`job-${i}`, { answer: i * 2 });
  Deno.stdout.writeSync(encoder.encode(`finished job-${i}\n`));
}
Deno.stdout.writeSync(encoder.encode("idle\n"));
// Keep running until killed.
setInterval(() => {}, 60_000);
