package io.legate.http.filter;

import io.legate.http.StreamInfo;

/** What an encoder filter may ask of its stream. */
public interface EncoderCallbacks {
  /** Resumes response iteration after {@link HttpFilter.Status#STOP_ITERATION}. */
  void continueEncoding();

  StreamInfo streamInfo();

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
