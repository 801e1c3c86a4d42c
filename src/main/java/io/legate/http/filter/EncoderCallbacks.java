package io.legate.http.filter;

import io.legate.http.StreamInfo;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;

/** What an encoder filter may ask of its stream. */
public interface EncoderCallbacks {
  /** Resumes response iteration after {@link HttpFilter.Status#STOP_ITERATION}. */
  void continueEncoding();

  StreamInfo streamInfo();

  /**
   * Passes response headers from the calling filter to the filters after it (towards downstream),
   * as if this filter had continued with them: for a filter that took the original headers with
   * {@link HttpFilter.Status#STOP_ITERATION_NO_BUFFER} and sends them later, rewritten. Only from
   * within the calling filter's own encode callback.
   *
   * @throws IllegalStateException when no encode callback is running
   */
  default void injectEncodedHeaders(Http2Headers headers, boolean endStream) {
    throw new UnsupportedOperationException("injectEncodedHeaders");
  }

  /**
   * Passes response body bytes from the calling filter to the filters after it (Envoy's
   * injectEncodedDataToFilterChain), for filters that rewrite the body or turn trailers into body
   * (then returning {@link HttpFilter.Status#STOP_ITERATION_NO_BUFFER}). Ownership of {@code
   * data} passes to the stream. Only from within the calling filter's own encode callback.
   *
   * @throws IllegalStateException when no encode callback is running
   */
  default void injectEncodedData(ByteBuf data, boolean endStream) {
    data.release();
    throw new UnsupportedOperationException("injectEncodedData");
  }

  /**
   * Replaces the response body chunk that this filter is being given in {@link
   * HttpFilter#encodeData} (e.g. with its compressed form). Only callable from within that call; the
   * chain takes ownership of {@code data} and releases the chunk it replaces, which the filter must
   * not touch afterwards. The filters after this one (and the client) see {@code data}.
   */
  default void replaceEncodingData(io.netty.buffer.ByteBuf data) {
    data.release();
    throw new UnsupportedOperationException("replaceEncodingData");
  }

  /**
   * Adds response body bytes from within {@link HttpFilter#encodeTrailers} (Envoy's {@code
   * addEncodedData}): they go to the filters after this one, and to the client, ahead of the
   * trailers. The chain takes ownership of {@code data}.
   */
  default void addEncodedData(io.netty.buffer.ByteBuf data) {
    data.release();
    throw new UnsupportedOperationException("addEncodedData");
  }
}
