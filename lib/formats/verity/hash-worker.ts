/**
 * Worker-thread entry for level-0 hashing (started by VerityHasher through lib/core/pool.ts).
 * Receives a batch of salt ‖ block records, replies with their digests and hands the batch buffer back
 * for reuse; both are transferred, not copied.
 */
import { parentPort } from "node:worker_threads";
import { hashSaltedRecords, type HashJob, type HashReply } from "./hash-blocks.js";

const port = parentPort;
if (port === null) throw new Error("internal: hash-worker.js must run in a worker thread");
port.on("message", (job: HashJob) => {
  const digests = hashSaltedRecords(job.algorithm, job.records, job.recordBytes, job.count, job.slotBytes);
  const reply: HashReply = { digests, records: job.records };
  port.postMessage(reply, [digests.buffer as ArrayBuffer, job.records.buffer as ArrayBuffer]);
});
