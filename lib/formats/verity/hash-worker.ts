/**
 * Worker-thread entry for level-0 hashing, started through lib/core/pool.ts. A job is either
 * the shared leaf ring of a streaming VerityHasher (hash published units until the ring
 * closes) or a share of a file's blocks (file-leaves.ts: claim runs until none are left);
 * the reply only says it has stopped.
 */
import { parentPort } from "node:worker_threads";
import { FileRunHasher, type FileLeavesJob } from "./file-leaves.js";
import { LeafRing, type LeafRingShared } from "./leaf-ring.js";

export type HashWorkerJob = { readonly ring: LeafRingShared } | { readonly file: FileLeavesJob };

const port = parentPort;
if (port === null) throw new Error("internal: hash-worker.js must run in a worker thread");
port.on("message", (job: HashWorkerJob) => {
  if ("ring" in job) {
    new LeafRing(job.ring).serve();
  } else {
    const hasher = new FileRunHasher(job.file);
    try {
      hasher.hashRuns();
    } finally {
      hasher.close();
    }
  }
  port.postMessage("stopped");
});
