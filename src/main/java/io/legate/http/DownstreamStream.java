package io.legate.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * The codec side of one downstream stream: how the connection manager writes the response and
 * controls reading. Implemented by the HTTP/1.1 and HTTP/2 server codecs. Called on the worker only.
 */
public interface DownstreamStream {
  /** Writes response headers ({@code :status} plus regular headers). */
  void writeHeaders(Http2Headers headers, boolean endStream);

  /** Writes response body bytes; takes ownership of {@code data}. */
  void writeData(ByteBuf data, boolean endStream);

  /** Writes response trailers (ends the stream). */
  void writeTrailers(Http2Headers trailers);

  /** Aborts the stream: HTTP/2 RST_STREAM, HTTP/1 connection close. */
  void reset();

  /** Pauses (true) or resumes (false) reading the request. */
  void readDisable(boolean disable);

  /** Called once when the connection manager is done with the stream. */
  void streamComplete(boolean requestComplete);

  /** The connection's channel (the HTTP/2 parent channel for HTTP/2). */
  Channel connection();

  /** Whether the response can be written without growing buffers further. */
  boolean isWritable();

  /** Whether the connection is TLS. */
  boolean tls();
}
