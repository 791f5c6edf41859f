/**
 * Worker-thread entry for level-0 hashing (started by VerityHasher through lib/core/pool.ts).
 * Its one job is to attach to the shared leaf ring and hash published units until the ring
 * closes; the reply only says it has stopped.
 */
import { parentPort } from "node:worker_threads";
import { LeafRing, type LeafRingShared } from "./leaf-ring.js";

const port = parentPort;
if (port === null) throw new Error("internal: hash-worker.js must run in a worker thread");
port.on("message", (shared: LeafRingShared) => {
  new LeafRing(shared).serve();
  port.postMessage("stopped");
});
