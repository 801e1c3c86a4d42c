package io.legate.tracing;

import io.legate.http.StreamInfo;

/**
 * The router's span of one upstream attempt ({@code spawn_upstream_span}), or {@link #NOOP} when
 * the request is not traced or no such span is kept. Confined to the stream's worker.
 */
public abstract class UpstreamSpan {
  /** The span of an untraced attempt: every call does nothing. */
  public static final UpstreamSpan NOOP =
      new UpstreamSpan() {
        @Override
        public void finish(int upstreamResponseCode, StreamInfo info) {}
      };

  /**
   * Ends the attempt's span with Envoy's upstream tags.
   *
   * @param upstreamResponseCode the status the upstream answered, or 0 when it did not
   */
  public abstract void finish(int upstreamResponseCode, StreamInfo info);
}
