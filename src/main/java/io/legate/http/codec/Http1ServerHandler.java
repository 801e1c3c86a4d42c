package io.legate.http.codec;

import io.legate.http.ActiveStream;
import io.legate.http.ConnectionInfo;
import io.legate.http.DownstreamStream;
import io.legate.http.HcmConfig;
import io.legate.http.HttpHeaderNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * The HTTP/1.1 server codec's stream side: turns the decoder's requests ({@link Http1ServerCodec})
 * into one {@link ActiveStream} at a time and writes the response back, encoded straight from the
 * header map ({@link Http1Wire}). Pipelined requests wait, with reading paused, until the response
 * in progress is complete, so responses keep request order.
 */
public final class Http1ServerHandler extends ChannelDuplexHandler implements DownstreamStream {
  private static final AsciiString HTTP = AsciiString.cached("http");
  private static final AsciiString HTTPS = AsciiString.cached("https");

  private final HcmConfig config;
  private final boolean tls;
  private ChannelHandlerContext ctx;
  private ConnectionInfo conn10;
  private ConnectionInfo conn11;
  private ActiveStream stream;
  private boolean requestDone;
  private boolean keepAlive;
  private boolean http10;
  private boolean headRequest;
  /** Whether the response of the stream in progress has begun (its headers are written). */
  private boolean responseStarted;
  /** Requests started on this connection (max_requests_per_connection). */
  private long requests;
  /** Whether max_connection_duration passed: the connection closes after the response in progress. */
  private boolean durationReached;
  /** Whether the server drains: the next response closes the connection. */
  private boolean draining;
  private io.netty.util.concurrent.ScheduledFuture<?> durationTimer;
  private boolean closeAfterResponse;
  private final ArrayDeque<Object> pipelined = new ArrayDeque<>();
  private boolean readDisabled;
  private boolean pausedForPipeline;
  private long connectedNanos;
  private RequestHeadersTimer headersTimer;
  /**
   * The upgrade the stream in progress asks for ("connect" for CONNECT, else the Upgrade value,
   * lowercase), or null. Reading pauses until the response says whether the tunnel opens.
   */
  private String upgradeType;
  /** The Upgrade header's value as the client sent it. */
  private String upgradeValue;
  /** Whether the connection is a tunnel: the codec is gone and bytes pass through raw. */
  private boolean tunnel;

  public Http1ServerHandler(HcmConfig config, boolean tls) {
    this.config = config;
    this.tls = tls;
  }

  /** The connection manager's idle_timeout (no active request for that long), or null. */
  private ConnectionIdleTimer idleTimer;

  void setRequestHeadersTimer(RequestHeadersTimer timer) {
    this.headersTimer = timer;
  }

  /** The request headers did not arrive in time: 408, as Envoy, and the connection closes. */
  void onRequestHeadersTimeout() {
    config.stats.downstreamRqHeaderTimeout.inc();
    protocolError(408);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    Channel ch = ctx.channel();
    InetSocketAddress remote = (InetSocketAddress) ch.remoteAddress();
    InetSocketAddress local = (InetSocketAddress) ch.localAddress();
    conn11 = new ConnectionInfo(config, ch, remote, local, tls, "HTTP/1.1");
    conn10 = new ConnectionInfo(config, ch, remote, local, tls, "HTTP/1.0");
    connectedNanos = System.nanoTime();
    config.stats.downstreamCxTotal.inc();
    config.stats.downstreamCxHttp1Total.inc();
    config.stats.downstreamCxActive.inc();
    config.stats.downstreamCxHttp1Active.inc();
    if (config.idleTimeoutMs > 0) {
      idleTimer = new ConnectionIdleTimer(ch, config.idleTimeoutMs, this::onIdleTimeout);
      idleTimer.start();
    }
    if (config.maxConnectionDurationMs > 0) {
      durationTimer =
          ctx.executor()
              .schedule(this::onMaxConnectionDuration, config.maxConnectionDurationMs, java.util.concurrent.TimeUnit.MILLISECONDS);
    }
  }

  private void onMaxConnectionDuration() {
    durationTimer = null;
    config.stats.downstreamCxMaxDurationReached.inc();
    durationReached = true;
    if (stream == null && pipelined.isEmpty()) {
      closeAfterResponse = true;
      ctx.close();
    }
  }

  /** No request for idle_timeout: the connection closes (a request in progress keeps it open). */
  private boolean onIdleTimeout() {
    if (stream != null || !pipelined.isEmpty()) {
      return false;
    }
    config.stats.downstreamCxIdleTimeout.inc();
    closeAfterResponse = true;
    ctx.close();
    return true;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (idleTimer != null) {
      idleTimer.stop();
    }
    if (durationTimer != null) {
      durationTimer.cancel(false);
      durationTimer = null;
    }
    config.stats.downstreamCxActive.dec();
    config.stats.downstreamCxHttp1Active.dec();
    config.stats.downstreamCxDestroy.inc();
    config.stats.downstreamCxLengthMs.record((System.nanoTime() - connectedNanos) / 1_000_000);
    if (closeAfterResponse) {
      config.stats.downstreamCxDestroyLocal.inc();
    } else {
      config.stats.downstreamCxDestroyRemote.inc();
    }
    for (Object o : pipelined) {
      ReferenceCountUtil.release(o);
    }
    pipelined.clear();
    ActiveStream s = stream;
    stream = null;
    if (s != null) {
      s.onDownstreamReset();
    }
    super.channelInactive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!pipelined.isEmpty() || (msg instanceof Http1ServerCodec.Request && stream != null)) {
      // A pipelined request (and what follows it): hold it until the response in progress is
      // written. Content of the request in progress goes straight through.
      pipelined.addLast(msg);
      if (!pausedForPipeline) {
        pausedForPipeline = true;
        updateAutoRead();
      }
      return;
    }
    handle(msg);
  }

  private void handle(Object msg) {
    if (msg instanceof Http1ServerCodec.Body c) {
      onContent(c);
    } else if (msg instanceof Http1ServerCodec.Request req) {
      onRequest(req);
    } else if (msg instanceof ByteBuf b) {
      // Tunnel payload (the codec has left the pipeline).
      if (tunnel && stream != null && b.isReadable()) {
        config.stats.downstreamCxRxBytesTotal.add(b.readableBytes());
        stream.decodeData(b, false);
      } else {
        b.release();
      }
    } else if (msg instanceof Http1ServerCodec.BodyError) {
      if (stream != null) {
        protocolError(400);
      }
      // else: the request was answered already and the connection closes after the response.
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onRequest(Http1ServerCodec.Request req) {
    if (headersTimer != null) {
      headersTimer.headersReceived();
    }
    if (req.error != 0) {
      if (req.tooLarge) {
        config.stats.downstreamRqTooLarge.inc();
      }
      protocolError(req.error);
      return;
    }
    http10 = req.http10;
    headRequest = req.head;
    keepAlive = req.keepAlive;
    Http2Headers h = req.headers;
    boolean bodyless = req.bodyless;
    boolean upgrade = req.upgradeType != null;
    upgradeType = req.upgradeType;
    upgradeValue = req.upgradeValue;
    if (req.expectContinue && !bodyless && !config.proxy100Continue) {
      ByteBuf r = ctx.alloc().buffer(32);
      Http1Wire.writeStatusLine(r, false, 100);
      Http1Wire.endHeaders(r);
      ctx.writeAndFlush(r, ctx.voidPromise());
    }
    // An upgrade request goes on (as tunnel payload) after its headers.
    requestDone = bodyless && !upgrade;
    if (requestDone && headersTimer != null) {
      headersTimer.requestComplete();
    }
    bodyMode = BODY_RAW;
    requests++;
    if (idleTimer != null) {
      idleTimer.requestStarted();
    }
    stream = new ActiveStream(http10 ? conn10 : conn11, this);
    if (upgrade) {
      updateAutoRead();
    }
    stream.decodeHeaders(h, requestDone);
  }

  private void onContent(Http1ServerCodec.Body c) {
    if (stream == null) {
      // The request was answered already: drop what follows.
      c.release();
      return;
    }
    ByteBuf data = c.content();
    if (c.last) {
      requestDone = true;
      if (headersTimer != null) {
        headersTimer.requestComplete();
      }
      ActiveStream s = stream;
      if (c.trailers != null) {
        s.decodeData(data, false);
        if (stream == s) {
          s.decodeTrailers(c.trailers);
        }
      } else {
        s.decodeData(data, true);
      }
    } else {
      stream.decodeData(data, false);
    }
  }

  /**
   * Answers a request the codec cannot accept with {@code status} and closes the connection, as
   * Envoy's codec does; when the response of the stream in progress has already begun, the
   * connection is only closed (a second response cannot be written). The stream in progress, if
   * any, is reset after the error response is queued.
   */
  private void protocolError(int status) {
    config.stats.downstreamCxProtocolError.inc();
    closeAfterResponse = true;
    ctx.channel().config().setAutoRead(false);
    ActiveStream s = stream;
    stream = null;
    if (!responseStarted) {
      ByteBuf r = ctx.alloc().buffer(96);
      Http1Wire.writeStatusLine(r, false, status);
      Http1Wire.writeHeader(r, HttpHeaderNames.CONTENT_LENGTH, ZERO);
      Http1Wire.writeHeader(r, HttpHeaderNames.CONNECTION, CLOSE);
      Http1Wire.endHeaders(r);
      ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
    if (s != null) {
      s.onDownstreamReset();
    }
  }

  // ---------------------------------------------------------------- DownstreamStream

  /** How the body of the response in progress goes on the wire. */
  private static final int BODY_NONE = 0; // HEAD, 1xx, 204, 205, 304: body bytes are dropped
  private static final int BODY_RAW = 1; // content-length, or delimited by the connection's close
  private static final int BODY_CHUNKED = 2;

  private int bodyMode;

  @Override
  public void writeHeaders(Http2Headers headers, boolean endStream) {
    int code = AsciiString.of(headers.status()).parseInt();
    if (upgradeType != null && !endStream && ActiveStream.isTunnelResponse(upgradeType, code)) {
      openTunnel(code, headers);
      return;
    }
    // RFC 9110 §8.6: 1xx and 204 carry no content-length; 205 says content-length: 0.
    boolean stripLength = code < 200 || code == 204 || code == 205;
    ByteBuf out = ctx.alloc().buffer(256);
    Http1Wire.writeStatusLine(out, http10, code);
    boolean hasLength = Http1Wire.writeHeaders(out, headers, stripLength);
    if (code >= 200) {
      responseStarted = true;
    }
    boolean noBody = code < 200 || code == 204 || code == 304;
    if (!requestDone) {
      // Answered before the request finished: this connection cannot be reused safely.
      closeAfterResponse = true;
    }
    if (code >= 200 && !closeAfterResponse && keepAlive) {
      if (durationReached) {
        closeAfterResponse = true;
      } else if (draining) {
        config.stats.downstreamCxDrainClose.inc();
        closeAfterResponse = true;
      } else if (config.maxRequestsPerConnection > 0 && requests >= config.maxRequestsPerConnection) {
        config.stats.downstreamCxMaxRequestsReached.inc();
        closeAfterResponse = true;
      } else if (config.overload.disableHttpKeepalive()) {
        config.stats.downstreamCxOverloadDisableKeepalive.inc();
        closeAfterResponse = true;
      }
    }
    boolean chunked = false;
    if (code == 205) {
      Http1Wire.writeHeader(out, HttpHeaderNames.CONTENT_LENGTH, ZERO);
    } else if (!noBody && !hasLength) {
      if (endStream) {
        if (!headRequest) {
          Http1Wire.writeHeader(out, HttpHeaderNames.CONTENT_LENGTH, ZERO);
        }
      } else if (http10) {
        closeAfterResponse = true;
      } else {
        Http1Wire.writeHeader(out, HttpHeaderNames.TRANSFER_ENCODING, CHUNKED);
        chunked = true;
      }
    }
    if (!keepAlive || closeAfterResponse) {
      closeAfterResponse = true;
      Http1Wire.writeHeader(out, HttpHeaderNames.CONNECTION, CLOSE);
    } else if (http10) {
      Http1Wire.writeHeader(out, HttpHeaderNames.CONNECTION, KEEP_ALIVE);
    }
    Http1Wire.endHeaders(out);
    if (code >= 200) {
      bodyMode = headRequest || noBody || code == 205 ? BODY_NONE : chunked ? BODY_CHUNKED : BODY_RAW;
    }
    // Flushed now even when a body follows: a streamed response's headers must not wait for its
    // first bytes (the pipeline's flush consolidation still sends headers and body together when
    // they come in one pass).
    ctx.writeAndFlush(out, ctx.voidPromise());
  }

  private static final AsciiString ZERO = AsciiString.cached("0");
  private static final AsciiString CHUNKED = AsciiString.cached("chunked");
  private static final AsciiString CLOSE = AsciiString.cached("close");
  private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
  private static final AsciiString UPGRADE = AsciiString.cached("upgrade");

  /**
   * Writes the response that switches the connection to a tunnel (101 to an upgrade, 2xx to
   * CONNECT), then takes the HTTP codec out of the pipeline: from here on both directions are
   * opaque bytes, and reading resumes.
   */
  private void openTunnel(int code, Http2Headers headers) {
    responseStarted = true;
    closeAfterResponse = true; // a tunnel never returns to HTTP
    ByteBuf out = ctx.alloc().buffer(256);
    Http1Wire.writeStatusLine(out, false, code);
    // RFC 9110 §9.3.6: a 2xx to CONNECT carries no Content-Length or Transfer-Encoding; nor does
    // a 101.
    Http1Wire.writeHeaders(out, headers, upgradeValue == null || code < 200);
    if (upgradeValue != null) {
      CharSequence up = headers.get(HttpHeaderNames.UPGRADE);
      Http1Wire.writeHeader(out, HttpHeaderNames.CONNECTION, UPGRADE);
      Http1Wire.writeHeader(out, HttpHeaderNames.UPGRADE, up != null ? up : upgradeValue);
    }
    Http1Wire.endHeaders(out);
    ctx.writeAndFlush(out, ctx.voidPromise());
    tunnel = true;
    Http1ServerCodec codec = ctx.pipeline().get(Http1ServerCodec.class);
    if (codec != null) {
      codec.switchToTunnel(ctx.pipeline());
    }
    updateAutoRead();
  }

  @Override
  public void writeData(ByteBuf data, boolean endStream) {
    if (tunnel) {
      config.stats.downstreamCxTxBytesTotal.add(data.readableBytes());
      ctx.writeAndFlush(data, ctx.voidPromise());
      return;
    }
    if (!headRequest) {
      config.stats.downstreamCxTxBytesTotal.add(data.readableBytes());
    }
    switch (bodyMode) {
      case BODY_RAW -> ctx.writeAndFlush(data, ctx.voidPromise());
      case BODY_CHUNKED -> {
        Http1Wire.writeChunk(ctx, ctx.alloc(), data, endStream);
        ctx.flush();
      }
      default -> data.release();
    }
  }

  @Override
  public void writeTrailers(Http2Headers trailers) {
    if (bodyMode == BODY_CHUNKED) {
      ByteBuf out = ctx.alloc().buffer(64);
      Http1Wire.writeLastChunk(out, trailers);
      ctx.writeAndFlush(out, ctx.voidPromise());
    }
  }

  @Override
  public void reset() {
    closeAfterResponse = true;
    stream = null;
    ctx.channel().close();
  }

  @Override
  public void readDisable(boolean disable) {
    readDisabled = disable;
    updateAutoRead();
  }

  private void updateAutoRead() {
    // An upgrade request's connection reads nothing until its tunnel opens.
    boolean read = !readDisabled && !pausedForPipeline && (upgradeType == null || tunnel);
    Channel ch = ctx.channel();
    if (ch.config().isAutoRead() != read) {
      ch.config().setAutoRead(read);
      if (read) {
        ch.read();
      }
    }
  }

  @Override
  public void streamComplete(boolean requestComplete) {
    stream = null;
    if (idleTimer != null) {
      idleTimer.requestEnded();
    }
    responseStarted = false;
    readDisabled = false;
    if (!requestComplete) {
      closeAfterResponse = true;
    }
    if (closeAfterResponse) {
      for (Object o : pipelined) {
        ReferenceCountUtil.release(o);
      }
      pipelined.clear();
      ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    if (!requestDone) {
      return;
    }
    requestDone = false;
    // Replay pipelined requests, one stream at a time.
    while (!pipelined.isEmpty() && !(stream != null && requestDone) && ctx.channel().isActive()) {
      handle(pipelined.pollFirst());
    }
    if (pipelined.isEmpty() && pausedForPipeline) {
      pausedForPipeline = false;
      updateAutoRead();
    }
  }

  @Override
  public Channel connection() {
    return ctx.channel();
  }

  @Override
  public boolean isWritable() {
    return ctx.channel().isWritable();
  }

  @Override
  public boolean tls() {
    return tls;
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    if (stream != null) {
      stream.onDownstreamWritabilityChanged(ctx.channel().isWritable());
    }
    super.channelWritabilityChanged(ctx);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof io.legate.http.DrainEvent) {
      // The next response says Connection: close. An idle connection is left for the client's
      // next request (closing it now would race with a request already on its way); the server
      // closes what remains when the drain time ends.
      draining = true;
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
