/**
 * A small worker-thread pool. Jobs are plain messages; each submit() returns a promise for
 * that job's result, and callers consume the promises in submission order, so output never
 * depends on how many workers run or which finishes first (squashfs-tools' to_order queue).
 * Callers bound memory by bounding how many jobs they keep in flight.
 */
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";

interface PendingJob<Result> {
  message: unknown;
  transfer: ArrayBuffer[];
  resolve: (result: Result) => void;
  reject: (error: Error) => void;
}

/**
 * The compiled worker script for a module: vitest runs lib/*.ts from source, but worker
 * threads on Node 20 can only start compiled JavaScript, so a .ts caller gets the file that
 * `tsc` wrote to dist/ (the test command builds first).
 */
export function workerScriptPath(callerUrl: string, relativeJsPath: string): string {
  const resolved = new URL(relativeJsPath, callerUrl);
  const path = fileURLToPath(resolved);
  if (!callerUrl.endsWith(".ts")) return path;
  return path.replace(/\/lib\//, "/dist/lib/");
}

export class WorkerPool<Result> {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: PendingJob<Result>[] = [];
  private readonly running = new Map<Worker, PendingJob<Result>>();
  private closed = false;

  constructor(scriptPath: string, readonly size: number) {
    for (let index = 0; index < size; index++) {
      // execArgv: [] — a worker must not inherit flags like --input-type=module it cannot run with.
      const worker = new Worker(scriptPath, { execArgv: [] });
      worker.on("message", (result: Result) => this.finish(worker, result));
      worker.on("error", (error) => this.crash(worker, error));
      worker.unref();
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  submit(message: unknown, transfer: ArrayBuffer[] = []): Promise<Result> {
    if (this.closed) return Promise.reject(new Error("worker pool is closed"));
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ message, transfer, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.all.map((worker) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(worker, job);
      worker.ref();
      worker.postMessage(job.message, job.transfer);
    }
  }

  private finish(worker: Worker, result: Result): void {
    const job = this.running.get(worker);
    this.running.delete(worker);
    worker.unref();
    this.idle.push(worker);
    job?.resolve(result);
    this.dispatch();
  }

  private crash(worker: Worker, error: Error): void {
    const job = this.running.get(worker);
    this.running.delete(worker);
    job?.reject(error);
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }
}
