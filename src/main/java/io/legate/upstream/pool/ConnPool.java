package io.legate.upstream.pool;

/** Upstream connections to one host, for one worker and one protocol. Not thread-safe. */
public interface ConnPool {
  /** A stream request that may be cancelled before it is ready. */
  interface Cancellable {
    void cancel();
  }

  /**
   * Asks for a stream. Calls {@link UpstreamCallbacks#onReady} or {@link
   * UpstreamCallbacks#onPoolFailure} later, or at once (an idle connection is at hand, or a circuit
   * breaker overflows): then it returns null, as nothing is left to cancel.
   */
  Cancellable newStream(UpstreamCallbacks callbacks);

  /** Closes idle connections and refuses new streams; active ones finish. */
  void drain();

  /** Returns the number of open connections. */
  int connections();
}
