/**
 * Worker-thread entry for block compression. Each message is one block; the reply carries
 * the compressed bytes, or the original block when compressing did not make it smaller
 * (squashfs and erofs then store it raw). Buffers are transferred both ways, not copied.
 */
import { parentPort } from "node:worker_threads";
import { loadCodec, type Codec, type CodecId } from "./codec.js";
import type { CompressJob, CompressReply } from "./pool.js";

function serve(): void {
  const port = parentPort;
  if (!port) throw new Error("lib/compress/worker.js must run as a worker thread");
  const codecs = new Map<CodecId, Promise<Codec>>();
  port.on("message", async (job: CompressJob) => {
    let codec = codecs.get(job.codecId);
    if (!codec) {
      codec = loadCodec(job.codecId);
      codecs.set(job.codecId, codec);
    }
    const compressed = (await codec).compress(job.block, job.level);
    const reply: CompressReply = compressed.length < job.block.length || job.keepStream
      ? { bytes: owned(compressed), compressed: true }
      : { bytes: job.block, compressed: false };
    port.postMessage(reply, [reply.bytes.buffer as ArrayBuffer]);
  });
}

/** A view that is its buffer's only user (so transferring the buffer moves just these bytes). */
function owned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

serve();
