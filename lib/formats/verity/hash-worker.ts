/**
 * Worker-thread entry for level-0 hashing (started by VerityHasher through lib/core/pool.ts).
 * Receives a batch of data blocks, replies with their digests; the digest buffer is
 * transferred back, not copied.
 */
import { parentPort } from "node:worker_threads";
import { hashBlocks, type HashJob } from "./hash-blocks.js";

const port = parentPort;
if (port === null) throw new Error("internal: hash-worker.js must run in a worker thread");
port.on("message", (job: HashJob) => {
  const digests = hashBlocks(job.algorithm, job.salt, job.data, job.blockSize, job.slotBytes);
  port.postMessage(digests, [digests.buffer as ArrayBuffer]);
});
