package io.legate.http.filter;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * A per-stream HTTP filter instance, in Envoy's contract. Decoder callbacks see the request in
 * config order, encoder callbacks see the response in reverse order. One instance serves one stream
 * on one worker: no synchronisation is needed and none may block.
 *
 * <p>Buffer ownership: a {@code ByteBuf} passed to {@link #decodeData} or {@link #encodeData} stays
 * owned by the chain. A filter that returns {@link Status#CONTINUE} must leave it in place (it may
 * read it); a filter that wants to keep bytes must {@code retain()} them.
 */
public interface HttpFilter {
  /** What a filter tells the chain after a callback. */
  enum Status {
    /** Pass to the next filter. */
    CONTINUE,
    /**
     * Stop here; the filter calls {@code continueDecoding()}/{@code continueEncoding()} later. Data
     * and trailers arriving meanwhile are buffered by the chain and delivered on continue.
     */
    STOP_ITERATION,
    /**
     * Returned from {@code decodeHeaders} only: stops like {@link #STOP_ITERATION}, but request
     * data and trailers arriving meanwhile still pass through the filters up to and including this
     * one (Envoy's StopIteration for headers), which may read them or keep a retained copy; the
     * chain then holds them for the filters after this one until {@code continueDecoding()}. What
     * those filters return for them is ignored. For filters that look at the body before deciding
     * (ext_authz's {@code with_request_body}).
     */
    STOP_ITERATION_WATCH_DATA,
    /**
     * Returned from a data, trailers or response-headers callback: this filter took the item, the
     * chain passes it no further and does not pause (Envoy's StopIterationNoBuffer). What goes on in
     * its place is what the filter injects ({@link DecoderCallbacks#injectDecodedData},
     * {@link EncoderCallbacks#injectEncodedHeaders}, {@link EncoderCallbacks#injectEncodedData}),
     * now or in a later callback; a {@code ByteBuf} it was given is still released by the chain, so
     * a filter that keeps its bytes must copy or {@code retain()} them. A filter that injects during
     * a callback must return this for the item it was called with.
     */
    STOP_ITERATION_NO_BUFFER
  }

  /** Called once before any other callback. */
  default void setDecoderCallbacks(DecoderCallbacks callbacks) {}

  /** Called once before any encoder callback. */
  default void setEncoderCallbacks(EncoderCallbacks callbacks) {}

  default Status decodeHeaders(Http2Headers headers, boolean endStream) {
    return Status.CONTINUE;
  }

  default Status decodeData(ByteBuf data, boolean endStream) {
    return Status.CONTINUE;
  }

  default Status decodeTrailers(Http2Headers trailers) {
    return Status.CONTINUE;
  }

  default Status encodeHeaders(Http2Headers headers, boolean endStream) {
    return Status.CONTINUE;
  }

  default Status encodeData(ByteBuf data, boolean endStream) {
    return Status.CONTINUE;
  }

  default Status encodeTrailers(Http2Headers trailers) {
    return Status.CONTINUE;
  }

  /** Called when the downstream side is above its write buffer limit (pause reading upstream). */
  default void onAboveWriteBufferHighWatermark() {}

  /** Called when the downstream side drained below its write buffer low watermark. */
  default void onBelowWriteBufferLowWatermark() {}

  /** Called once when the stream ends for any reason (complete, reset, local reply). */
  default void onDestroy() {}

  /** Creates per-stream instances from an immutable filter config. Must be thread-safe. */
  @FunctionalInterface
  interface Factory {
    HttpFilter create();
  }
}
