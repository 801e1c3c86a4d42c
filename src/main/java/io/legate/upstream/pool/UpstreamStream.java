package io.legate.upstream.pool;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;

/** The request side of one upstream stream. Used on the owner's worker only. */
public interface UpstreamStream {
  /** Writes the request headers (pseudo-headers plus regular ones). */
  void writeHeaders(Http2Headers headers, boolean endStream);

  /** Writes request body bytes; takes ownership. */
  void writeData(ByteBuf data, boolean endStream);

  void writeTrailers(Http2Headers trailers);

  /** Abandons the stream: its connection is closed (HTTP/1) or the stream reset (HTTP/2). */
  void reset();

  /** Pauses (true) or resumes (false) reading the response. */
  void readDisable(boolean disable);

  boolean isWritable();

  /** Returns the local address of the connection carrying this stream, or null. */
  default java.net.InetSocketAddress localAddress() {
    return null;
  }

  /** Returns the remote (upstream host) address of the connection carrying this stream, or null. */
  default java.net.InetSocketAddress remoteAddress() {
    return null;
  }
}
