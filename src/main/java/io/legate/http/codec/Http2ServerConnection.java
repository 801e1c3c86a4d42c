package io.legate.http.codec;

import io.legate.http.ConnectionInfo;
import io.legate.http.HcmConfig;
import io.legate.server.Log;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;

/**
 * The downstream HTTP/2 codec: Netty's connection handler does the frames, HPACK, flow control and
 * the flood limits, and each stream is a plain {@link Http2ServerStream} attached to Netty's stream
 * state, with no channel or pipeline of its own. Frames reach the stream as direct calls; its
 * writes go to the encoder and are flushed together (one system call per read or event-loop pass,
 * see {@link Http2Codec}).
 *
 * <p>Request-body flow control follows the stream: bytes are handed back to the peer's window
 * (WINDOW_UPDATE) as soon as they are delivered, unless the connection manager has paused reading
 * the stream, in which case they are handed back when it resumes. Response-side writability is the
 * stream's send window and the socket's, as Netty's remote flow controller reports them.
 */
final class Http2ServerConnection extends Http2Codec<Http2ServerStream> {
  private final HcmConfig config;
  private final ConnectionInfo conn;
  private final HttpServerPipeline.PrematureResets resets;
  /** The connection manager's idle_timeout (no open stream for that long), or null. */
  private ConnectionIdleTimer idleTimer;

  private Http2ServerConnection(
      Http2ConnectionDecoder decoder,
      Http2ConnectionEncoder encoder,
      Http2Settings settings,
      HcmConfig config,
      ConnectionInfo conn) {
    super(decoder, encoder, settings);
    this.config = config;
    this.conn = conn;
    this.resets =
        new HttpServerPipeline.PrematureResets(
            conn.channel(), config.stats, config.maxRequestsPerConnection, config.overload, this::goAwayNoError);
  }

  @Override
  protected void streamClosed(Http2ServerStream s) {
    if (idleTimer != null) {
      idleTimer.requestEnded();
    }
    s.onCodecClosed();
  }

  @Override
  protected void writabilityChanged(Http2ServerStream s, boolean writable) {
    s.onWritabilityChanged(writable);
  }

  /** Builds the handler for one downstream connection. */
  static Http2ServerConnection create(HcmConfig config, ConnectionInfo conn) {
    Http2Settings settings =
        Http2Settings.defaultSettings()
            .maxConcurrentStreams(config.h2MaxConcurrentStreams)
            .initialWindowSize(config.h2InitialStreamWindowSize)
            .maxHeaderListSize(config.maxRequestHeadersBytes);
    if (config.h2AllowConnect) {
      settings.connectProtocolEnabled(true); // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
    }
    return new Builder<Http2ServerConnection>(true, settings, (d, e, s) -> new Http2ServerConnection(d, e, s, config, conn))
        .floodLimits(config.h2MaxOutboundControlFrames, config.h2MaxConsecutiveEmptyFrames)
        .build();
  }

  HttpServerPipeline.PrematureResets resets() {
    return resets;
  }

  ConnectionInfo conn() {
    return conn;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
    super.handlerAdded(ctx);
    growConnectionWindow(config.h2InitialConnectionWindowSize);
    if (config.idleTimeoutMs > 0) {
      idleTimer =
          new ConnectionIdleTimer(
              ctx.channel(),
              config.idleTimeoutMs,
              () -> {
                config.stats.downstreamCxIdleTimeout.inc();
                ctx.close(); // GOAWAY, then the socket closes
                return true;
              });
      idleTimer.start();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (idleTimer != null) {
      idleTimer.stop();
    }
    super.channelInactive(ctx);
  }

  @Override
  protected void onConnectionError(ChannelHandlerContext ctx, boolean outbound, Throwable cause, Http2Exception http2Ex) {
    if (!outbound) {
      config.stats.downstreamCxProtocolError.inc();
    }
    super.onConnectionError(ctx, outbound, cause, http2Ex);
  }

  /** GOAWAY naming the last stream opened so far: the client opens no more; the open ones finish. */
  private void goAwayNoError() {
    goAway(ctx, connection().remote().lastStreamCreated(), Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, ctx.newPromise());
    flush(ctx);
  }

  // ------------------------------------------------------------------ frames from the peer

  @Override
  public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean endStream) {
    Http2ServerStream s = attached(streamId);
    try {
      if (s == null) {
        s = new Http2ServerStream(this, streamId);
        if (!attach(streamId, s)) {
          return; // closed meanwhile (trailers after a reset)
        }
        if (idleTimer != null) {
          idleTimer.requestStarted(); // ended in streamClosed, which every attached stream reaches
        }
        s.onRequestHeaders(headers, endStream);
      } else {
        s.onTrailers(headers);
      }
    } catch (RuntimeException e) {
      Log.error("http2", "stream " + streamId + " failed on its request headers: " + e);
      s.resetOnError();
    }
  }

  @Override
  public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
    Http2ServerStream s = attached(streamId);
    int bytes = data.readableBytes();
    if (s == null) {
      return bytes + padding;
    }
    try {
      return padding + s.onData(data.retain(), endOfStream);
    } catch (RuntimeException e) {
      Log.error("http2", "stream " + streamId + " failed on its request body: " + e);
      s.resetOnError();
      return bytes + padding;
    }
  }

  @Override
  public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
    Http2ServerStream s = attached(streamId);
    if (s != null) {
      s.onPeerReset();
    }
  }
}
