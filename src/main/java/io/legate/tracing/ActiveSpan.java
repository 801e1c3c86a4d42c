package io.legate.tracing;

import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * The tracing state of one downstream request (Envoy's active span): {@link #NOOP} for a request
 * that is not traced, which costs nothing, else the ingress span. Confined to the stream's worker.
 *
 * <p>The connection manager starts it once the request headers are sanitised ({@link
 * HttpTracer#startSpan}) and {@linkplain #finish finishes} it when the stream ends; the router
 * calls {@link #startUpstream} for each upstream attempt, which writes the trace context into the
 * upstream request.
 */
public abstract class ActiveSpan {
  /** The state of an untraced request: every call does nothing and allocates nothing. */
  public static final ActiveSpan NOOP =
      new ActiveSpan() {
        @Override
        public boolean traced() {
          return false;
        }

        @Override
        public UpstreamSpan startUpstream(
            Http2Headers upstreamHeaders, String cluster, String upstreamAddress, boolean http2, int attempt) {
          return UpstreamSpan.NOOP;
        }

        @Override
        public void finish(StreamInfo info) {}
      };

  /** Returns the trace id (32 hex digits) of the ingress span, or null when not traced. */
  public String traceId() {
    return null;
  }

  /** Returns whether the request is traced (a span is recording). */
  public abstract boolean traced();

  /**
   * Called by the router before an upstream attempt's headers are sent: writes the trace context
   * (the upstream span's when {@code spawn_upstream_span}, else the ingress span's) into {@code
   * upstreamHeaders} and returns the attempt's span to finish.
   *
   * @param cluster the upstream cluster's name
   * @param upstreamAddress the chosen host, {@code ip:port}
   * @param http2 whether the attempt goes over HTTP/2
   * @param attempt the attempt number, 1 for the first
   */
  public abstract UpstreamSpan startUpstream(
      Http2Headers upstreamHeaders, String cluster, String upstreamAddress, boolean http2, int attempt);

  /** Ends the ingress span with Envoy's downstream tags; called once when the stream ends. */
  public abstract void finish(StreamInfo info);
}
