package io.legate.http.codec;

import io.legate.http.ActiveStream;
import io.legate.http.ConnectionInfo;
import io.legate.http.DownstreamStream;
import io.legate.http.HttpHeaderNames;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;

/**
 * One downstream HTTP/2 stream bridged to an {@link ActiveStream}: the stream's protocol state
 * (windows, queued DATA, which side ended) kept by {@link Http2ServerConnection}, and the bridge
 * to the connection manager. Called on the connection's event loop.
 */
final class Http2ServerStream implements DownstreamStream {
  private final Http2ServerConnection owner;
  private final ConnectionInfo conn;
  private final int id;
  private ActiveStream stream;

  // Protocol state, kept by the connection.
  int sendWindow;
  int recvWindow;
  /** Bytes consumed and not yet handed back with a stream WINDOW_UPDATE. */
  int recvUnacked;
  /** The request's content-length, or -1; and the DATA bytes received so far. */
  long contentLength = -1;
  long received;
  /** The client's END_STREAM arrived. */
  boolean remoteEnded;
  /** Our END_STREAM was written. */
  boolean endSent;
  /** The connection closed the stream (both ends done, a reset either way, or the connection ended). */
  boolean closed;
  /** DATA waiting for window, then END_STREAM (on the last DATA, or the queued trailers). */
  ArrayDeque<ByteBuf> queue;
  int queuedBytes;
  boolean queuedEnd;
  Http2Headers queuedTrailers;
  /** A NO_ERROR reset that follows the queued DATA out. */
  boolean resetAfterQueue;
  boolean inQueue;
  /** The writability last reported to the connection manager. */
  boolean reportedWritable = true;
  /** The connection manager is done with the stream (or never had it); frames are dropped. */
  private boolean done;
  /** The response's last frame was written. */
  private boolean localEnded;
  private long startNanos;
  private boolean responded;
  private boolean counted;
  /** Whether the request is an extended CONNECT, handled as an HTTP/1.1-style upgrade. */
  private boolean extendedConnect;
  private boolean readDisabled;
  /** Request bytes delivered while reading was paused, handed back to the peer's window on resume. */
  private int unconsumed;

  Http2ServerStream(Http2ServerConnection owner, int id) {
    this.owner = owner;
    this.conn = owner.conn();
    this.id = id;
  }

  int id() {
    return id;
  }

  /** Whether a final (non-1xx) response status was written. */
  boolean responded() {
    return responded;
  }

  boolean hasQueued() {
    return queue != null && !queue.isEmpty();
  }

  void queue(ByteBuf data, boolean endStream) {
    if (queue == null) {
      queue = new ArrayDeque<>(4);
    }
    queue.add(data);
    queuedBytes += data.readableBytes();
    queuedEnd |= endStream;
  }

  void releaseQueue() {
    if (queue != null) {
      for (ByteBuf b; (b = queue.poll()) != null; ) {
        b.release();
      }
    }
    queuedBytes = 0;
    queuedTrailers = null;
    queuedEnd = false;
  }

  /** Request bytes delivered while reading was paused and never handed back; now forgotten. */
  int takeUnconsumed() {
    int n = unconsumed;
    unconsumed = 0;
    return n;
  }

  /** Counts the stream's end once, for the rapid-reset defence. */
  private void countClosed() {
    if (!counted && startNanos != 0) {
      counted = true;
      owner.resets().streamClosed(System.nanoTime() - startNanos, responded);
    }
  }

  void onRequestHeaders(Http2Headers h, boolean endStream) {
    HeaderUtil.sanitizeHttp2(h);
    if (h.authority() == null) {
      CharSequence host = h.get(HttpHeaderNames.HOST);
      if (host != null) {
        h.authority(host);
      }
    }
    h.remove(HttpHeaderNames.HOST);
    CharSequence protocol = h.get(Http2Headers.PseudoHeaderName.PROTOCOL.value());
    if (protocol != null) {
      if (!conn.config().h2AllowConnect || h.method() == null || !AsciiString.contentEquals(h.method(), "CONNECT")) {
        // :protocol without allow_connect, or on a method other than CONNECT (RFC 8441 §4).
        done = true;
        conn.config().h2Stats.txReset().inc();
        owner.writeReset(this, Http2Error.PROTOCOL_ERROR);
        return;
      }
      // As Envoy's codec: the request becomes the HTTP/1.1 upgrade its :protocol names, so
      // routing, upgrade_configs and an HTTP/1.1 upstream see a GET with Upgrade headers.
      extendedConnect = true;
      h.remove(Http2Headers.PseudoHeaderName.PROTOCOL.value());
      h.method("GET");
      h.set(HttpHeaderNames.UPGRADE, protocol);
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderNames.UPGRADE);
    }
    CharSequence te = h.get(HttpHeaderNames.TE);
    if (te != null && !te.toString().trim().equalsIgnoreCase("trailers")) {
      h.remove(HttpHeaderNames.TE);
    }
    startNanos = System.nanoTime();
    stream = new ActiveStream(conn, this);
    owner.resets().streamStarted();
    stream.decodeHeaders(h, endStream);
  }

  void onTrailers(Http2Headers h) {
    if (!done && stream != null) {
      stream.decodeTrailers(h);
    }
  }

  /**
   * Delivers request body bytes (owned by the callee from here); returns how many of them go back
   * to the peer's window now. While reading is paused the bytes are still delivered (the window
   * bounds them) but the window is not reopened until reading resumes.
   */
  int onData(ByteBuf data, boolean endStream) {
    int bytes = data.readableBytes();
    if (done || stream == null) {
      data.release();
      return bytes;
    }
    conn.config().stats.downstreamCxRxBytesTotal.add(bytes);
    stream.decodeData(data, endStream);
    if (readDisabled) {
      unconsumed += bytes;
      return 0;
    }
    return bytes;
  }

  /** The client reset the stream (RST_STREAM). */
  void onPeerReset() {
    conn.config().h2Stats.rxReset().inc();
    boolean wasDone = done;
    done = true;
    if (stream != null && !wasDone) {
      stream.onDownstreamReset();
    }
    countClosed();
  }

  /**
   * The connection closed the stream. After the response's last frame this is the normal end (the
   * connection manager completes the stream itself); before it, the stream was lost (a stream
   * error, or the connection closed) and the connection manager is told.
   */
  void onCodecClosed() {
    if (!done && !localEnded && stream != null) {
      done = true;
      stream.onDownstreamReset();
    }
  }

  /** Our code threw while handling a frame: the stream is reset, the connection lives on. */
  void resetOnError() {
    if (done) {
      return;
    }
    done = true;
    conn.config().h2Stats.txReset().inc();
    if (!closed) {
      owner.writeReset(this, Http2Error.INTERNAL_ERROR);
    }
    try {
      if (stream != null) {
        stream.onDownstreamReset();
      }
    } finally {
      countClosed();
    }
  }

  void onWritabilityChanged(boolean writable) {
    if (stream != null && !done) {
      stream.onDownstreamWritabilityChanged(writable);
    }
  }

  @Override
  public void writeHeaders(Http2Headers headers, boolean endStream) {
    if (closed) {
      return;
    }
    if (extendedConnect && headers.status() != null && AsciiString.contentEquals(headers.status(), "101")) {
      // The upgrade succeeded: an extended CONNECT is accepted with a 200 (RFC 8441 §5).
      headers.status("200");
    }
    HeaderUtil.sanitizeHttp2(headers);
    boolean started = false;
    if (!responded) {
      CharSequence status = headers.status();
      responded = status != null && (status.length() != 3 || status.charAt(0) != '1');
      started = responded;
    }
    localEnded |= endStream;
    owner.writeHeaders(this, headers, endStream);
    if (started) {
      owner.resets().responseStarted();
    }
  }

  @Override
  public void writeData(ByteBuf data, boolean endStream) {
    if (closed) {
      data.release();
      return;
    }
    conn.config().stats.downstreamCxTxBytesTotal.add(data.readableBytes());
    localEnded |= endStream;
    owner.writeData(this, data, endStream);
  }

  @Override
  public void writeTrailers(Http2Headers trailers) {
    if (closed) {
      return;
    }
    localEnded = true;
    owner.writeHeaders(this, trailers, true);
  }

  @Override
  public void reset() {
    done = true;
    conn.config().h2Stats.txReset().inc();
    if (!closed) {
      owner.writeReset(this, Http2Error.INTERNAL_ERROR);
    }
    countClosed();
  }

  @Override
  public void readDisable(boolean disable) {
    readDisabled = disable;
    if (!disable && unconsumed > 0) {
      int n = unconsumed;
      unconsumed = 0;
      owner.consume(this, n);
    }
  }

  @Override
  public void streamComplete(boolean requestComplete) {
    if (!done && !requestComplete && !closed) {
      // The response ended first: tell the peer to stop sending (RFC 9113 8.1).
      owner.writeReset(this, Http2Error.NO_ERROR);
    }
    done = true;
    countClosed();
  }

  @Override
  public Channel connection() {
    return conn.channel();
  }

  @Override
  public boolean isWritable() {
    return owner.writableNow(this);
  }

  @Override
  public boolean tls() {
    return conn.tls();
  }
}
