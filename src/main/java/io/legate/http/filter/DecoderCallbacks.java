package io.legate.http.filter;

import io.legate.http.StreamInfo;
import io.legate.router.Route;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;

/** What a decoder filter may ask of its stream. All calls must be made on the stream's worker. */
public interface DecoderCallbacks {
  /** Resumes request iteration after {@link HttpFilter.Status#STOP_ITERATION}. */
  void continueDecoding();

  /**
   * Sends a local reply (Envoy's {@code sendLocalReply}): a response generated here, passed through
   * the encoder filters. For gRPC requests it becomes a trailers-only gRPC response.
   *
   * @param details the response code details (Envoy's {@code %RESPONSE_CODE_DETAILS%})
   */
  void sendLocalReply(int status, String body, Http2Headers extraHeaders, String details);

  /**
   * Sends a local reply whose gRPC status (for gRPC requests) is {@code grpcStatus} rather than the
   * one mapped from {@code status}; a negative {@code grpcStatus} means the mapped one.
   */
  default void sendLocalReply(
      int status, String body, Http2Headers extraHeaders, int grpcStatus, String details) {
    sendLocalReply(status, body, extraHeaders, details);
  }

  /**
   * Returns storage shared by the streams of this downstream connection and dropped with it
   * (Envoy's connection-lifetime filter state), e.g. a per-connection rate limiter. Use only on
   * the stream's worker.
   */
  default io.netty.util.AttributeMap connectionAttributes() {
    throw new UnsupportedOperationException("no connection");
  }

  /**
   * Passes request body bytes from the calling filter to the filters after it, as if this filter had
   * continued with them (Envoy's injectDecodedDataToFilterChain); used by filters that rewrite the
   * body, which then return {@link HttpFilter.Status#STOP_ITERATION_NO_BUFFER}. Ownership of
   * {@code data} passes to the stream. Only from within the calling filter's own decode callback.
   *
   * @throws IllegalStateException when no decode callback is running
   */
  default void injectDecodedData(ByteBuf data, boolean endStream) {
    data.release();
    throw new UnsupportedOperationException("injectDecodedData");
  }

  /**
   * Replaces the request body chunk that this filter is being given in {@link HttpFilter#decodeData}
   * (Envoy's in-place buffer rewrite, e.g. a decompressor). Only callable from within that call; the
   * chain takes ownership of {@code data} and releases the chunk it replaces, which the filter must
   * not touch afterwards. The filters after this one see {@code data}.
   */
  default void replaceDecodingData(ByteBuf data) {
    data.release();
    throw new UnsupportedOperationException("replaceDecodingData");
  }

  /**
   * Adds request body bytes from within {@link HttpFilter#decodeTrailers} (Envoy's {@code
   * addDecodedData}): they go to the filters after this one ahead of the trailers. The chain takes
   * ownership of {@code data}. For filters that must emit a final chunk when the body ends with
   * trailers (a compressor's end of stream).
   */
  default void addDecodedData(ByteBuf data) {
    data.release();
    throw new UnsupportedOperationException("addDecodedData");
  }

  /** Sends response headers from the terminal filter (the router) through the encoder chain. */
  void encodeHeaders(Http2Headers headers, boolean endStream);

  /** Sends response body bytes (ownership passes to the stream) through the encoder chain. */
  void encodeData(ByteBuf data, boolean endStream);

  /** Sends response trailers through the encoder chain. */
  void encodeTrailers(Http2Headers trailers);

  /** Resets the stream towards downstream (HTTP/2 RST_STREAM, HTTP/1 connection close). */
  void resetStream();

  /** Returns the route chosen for this request, or null (computed lazily, cached). */
  Route route();

  /** Forgets the cached route so the next {@link #route()} matches again (after header changes). */
  void clearRouteCache();

  StreamInfo streamInfo();

  /** The worker this stream lives on. */
  EventLoop eventLoop();

  /** Stops (true) or resumes (false) reading the request body from downstream. Counted. */
  void readDisable(boolean disable);

  /** Whether the downstream connection is TLS. */
  boolean downstreamTls();

  /** The stream's per-connection buffer limit (bytes). */
  int bufferLimit();

  /**
   * Returns the request's tracing state: {@link io.legate.tracing.ActiveSpan#NOOP} when it is not
   * traced. The router calls its {@code startUpstream} for each upstream attempt.
   */
  default io.legate.tracing.ActiveSpan activeSpan() {
    return io.legate.tracing.ActiveSpan.NOOP;
  }
}
