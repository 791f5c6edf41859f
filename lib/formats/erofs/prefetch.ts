/**
 * Ordered read-ahead: starts up to `maxInFlight` tasks ahead of the consumer and yields their
 * results strictly in task order, so output never depends on which read finishes first.
 * Host reads go through libuv's thread pool; keeping several in flight hides their latency
 * (thousands of small files would otherwise be read one round trip at a time).
 */
export async function* prefetchInOrder<T>(tasks: Iterable<() => Promise<T>>, maxInFlight: number): AsyncGenerator<T> {
  const iterator = tasks[Symbol.iterator]();
  const window: Promise<T>[] = [];
  let next = iterator.next();
  for (;;) {
    while (window.length < maxInFlight && !next.done) {
      const started = next.value();
      // A failure is rethrown when its turn comes; until then it must not count as unhandled.
      started.catch(() => undefined);
      window.push(started);
      next = iterator.next();
    }
    const head = window.shift();
    if (head === undefined) return;
    yield await head;
  }
}
