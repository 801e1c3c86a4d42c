package io.legate.upstream.pool;

import io.legate.upstream.Host;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * What an upstream stream reports to its owner (the router). Called on the owner's worker. Data
 * passed to {@link #onData} is owned by the callee.
 */
public interface UpstreamCallbacks {
  /** Why a stream could not be had, or ended early. */
  enum Reason {
    CONNECTION_FAILURE("connection failure"),
    CONNECTION_TIMEOUT("connection timeout"),
    OVERFLOW("overflow"),
    CONNECTION_TERMINATION("connection termination"),
    REMOTE_RESET("remote reset"),
    REMOTE_REFUSED_STREAM_RESET("remote refused stream reset"),
    PROTOCOL_ERROR("protocol error"),
    LOCAL_RESET("local reset");

    private final String text;

    Reason(String text) {
      this.text = text;
    }

    /** Envoy's wording, as in "reset reason: connection failure". */
    public String text() {
      return text;
    }
  }

  /** The stream is ready to write the request. */
  void onReady(UpstreamStream stream, Host host);

  /** No stream could be had. {@code details} is the transport failure reason, may be null. */
  void onPoolFailure(Reason reason, String details, Host host);

  void onHeaders(Http2Headers headers, boolean endStream);

  void onData(ByteBuf data, boolean endStream);

  void onTrailers(Http2Headers trailers);

  /** The stream ended abnormally after {@link #onReady}. */
  void onReset(Reason reason);

  /** The upstream connection's writability changed (request-direction flow control). */
  void onWritabilityChanged(boolean writable);
}
