package io.legate.http.codec;

import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction;
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
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * The HTTP/1.1 server codec's stream side: turns Netty's decoded request objects into one
 * {@link ActiveStream} at a time and writes the response back. Pipelined requests wait, with reading
 * paused, until the response in progress is complete, so responses keep request order.
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
  private boolean skipNextEmptyLast;
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

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
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
    if (!pipelined.isEmpty() || (msg instanceof HttpRequest && stream != null)) {
      // A pipelined request (and what follows it): hold it until the response in progress is
      // written. Content of the request in progress (including the empty last chunk of a
      // bodyless request) is not pipelined and goes straight through.
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
    if (msg instanceof ByteBuf b) {
      // Tunnel payload (the codec has left the pipeline).
      if (tunnel && stream != null && b.isReadable()) {
        config.stats.downstreamCxRxBytesTotal.add(b.readableBytes());
        stream.decodeData(b, false);
      } else {
        b.release();
      }
      return;
    }
    if (msg instanceof HttpRequest req) {
      // The decoder emits a full request only for a message it could not parse: onRequest answers
      // it (and releases it); there is no content to pass on.
      boolean invalidFull = msg instanceof HttpContent && req.decoderResult().isFailure();
      onRequest(req);
      if (!invalidFull && msg instanceof HttpContent c) {
        onContent(c);
      }
    } else if (msg instanceof HttpContent c) {
      onContent(c);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onRequest(HttpRequest req) {
    if (headersTimer != null) {
      headersTimer.headersReceived();
    }
    DecoderResult result = req.decoderResult();
    if (result.isFailure()) {
      ReferenceCountUtil.release(req);
      Throwable cause = result.cause();
      int status =
          cause instanceof TooLongHttpHeaderException || cause instanceof TooLongHttpLineException
              ? 431
              : unsupportedTransferCoding(cause) ? 501 : 400;
      if (cause instanceof TooLongFrameException && status == 431) {
        config.stats.downstreamRqTooLarge.inc();
      }
      protocolError(status);
      return;
    }
    HttpHeaders in = req.headers();
    HttpVersion version = req.protocolVersion();
    if (version.majorVersion() != 1 || version.minorVersion() > 1) {
      // Netty accepts any HTTP/x.y; Envoy's codec speaks HTTP/1.0 and HTTP/1.1 only.
      ReferenceCountUtil.release(req);
      protocolError(400);
      return;
    }
    http10 = version.equals(HttpVersion.HTTP_1_0);
    headRequest = req.method().name().equals("HEAD");
    keepAlive = HttpUtil.isKeepAlive(req);
    if (http10 && !config.acceptHttp10) {
      ReferenceCountUtil.release(req);
      protocolError(426);
      return;
    }
    if (in.size() > config.maxHeadersCount) {
      ReferenceCountUtil.release(req);
      protocolError(431);
      return;
    }
    if (in.contains(io.netty.handler.codec.http.HttpHeaderNames.TRANSFER_ENCODING)
        && in.contains(io.netty.handler.codec.http.HttpHeaderNames.CONTENT_LENGTH)) {
      ReferenceCountUtil.release(req);
      protocolError(400);
      return;
    }
    if (config.headersWithUnderscoresAction != HeadersWithUnderscoresAction.ALLOW) {
      for (String name : in.names()) {
        if (name.indexOf('_') >= 0) {
          if (config.headersWithUnderscoresAction == HeadersWithUnderscoresAction.REJECT_REQUEST) {
            ReferenceCountUtil.release(req);
            protocolError(400);
            return;
          }
          in.remove(name);
        }
      }
    }
    Http2Headers h = new DefaultHttp2Headers(false, in.size() + 4);
    h.method(AsciiString.of(req.method().asciiName()));
    String uri = req.uri();
    String authority = in.get(io.netty.handler.codec.http.HttpHeaderNames.HOST);
    if (!uri.isEmpty() && uri.charAt(0) != '/' && !uri.equals("*")) {
      // absolute-form: http://host:port/path
      int scheme = uri.indexOf("://");
      if (scheme > 0) {
        int pathStart = uri.indexOf('/', scheme + 3);
        String auth = pathStart < 0 ? uri.substring(scheme + 3) : uri.substring(scheme + 3, pathStart);
        authority = auth;
        uri = pathStart < 0 ? "/" : uri.substring(pathStart);
      }
    }
    if (authority == null || authority.isEmpty()) {
      if (http10 && !config.defaultHostForHttp10.isEmpty()) {
        authority = config.defaultHostForHttp10;
      } else if (!http10 || !config.acceptHttp10) {
        ReferenceCountUtil.release(req);
        protocolError(400);
        return;
      }
    }
    h.path(uri);
    h.scheme(tls ? HTTPS : HTTP);
    if (authority != null) {
      h.authority(authority);
    }
    boolean expectContinue = HttpUtil.is100ContinueExpected(req);
    if (expectContinue) {
      in.remove(HttpHeaderNames.EXPECT);
    }
    HeaderUtil.copyFromHttp1(in, h);
    boolean bodyless =
        !HttpUtil.isTransferEncodingChunked(req) && HttpUtil.getContentLength(req, 0L) == 0;
    boolean upgrade = Http1ServerCodec.isUpgradeRequest(req);
    if (upgrade) {
      if (req.method().name().equals("CONNECT")) {
        // authority-form request target: it is the :authority, and there is no :path.
        upgradeType = "connect";
        upgradeValue = null;
        h.remove(Http2Headers.PseudoHeaderName.PATH.value());
        h.authority(req.uri());
      } else {
        upgradeValue = in.get(io.netty.handler.codec.http.HttpHeaderNames.UPGRADE).trim();
        upgradeType = upgradeValue.toLowerCase(java.util.Locale.ROOT);
        h.set(HttpHeaderNames.UPGRADE, upgradeValue);
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
      }
    } else {
      upgradeType = null;
    }
    ReferenceCountUtil.release(req);
    if (expectContinue && !bodyless && !config.proxy100Continue) {
      ByteBuf r = ctx.alloc().buffer(32);
      Http1Wire.writeStatusLine(r, false, 100);
      Http1Wire.endHeaders(r);
      ctx.writeAndFlush(r);
    }
    // An upgrade request goes on (as tunnel payload) after its headers; the decoder's empty last
    // chunk is dropped.
    requestDone = bodyless && !upgrade;
    skipNextEmptyLast = bodyless;
    if (requestDone && headersTimer != null) {
      headersTimer.requestComplete();
    }
    bodyMode = BODY_RAW;
    requests++;
    stream = new ActiveStream(http10 ? conn10 : conn11, this);
    if (upgrade) {
      updateAutoRead();
    }
    stream.decodeHeaders(h, requestDone);
  }

  private void onContent(HttpContent c) {
    boolean last = c instanceof LastHttpContent;
    if (skipNextEmptyLast || stream == null) {
      // The request ended with its headers (or was answered already): drop what follows.
      if (last) {
        skipNextEmptyLast = false;
      }
      c.release();
      return;
    }
    if (c.decoderResult().isFailure()) {
      c.release();
      protocolError(400);
      return;
    }
    ByteBuf data = c.content();
    if (last) {
      requestDone = true;
      if (headersTimer != null) {
        headersTimer.requestComplete();
      }
      HttpHeaders trailers = ((LastHttpContent) c).trailingHeaders();
      ActiveStream s = stream;
      if (!trailers.isEmpty()) {
        Http2Headers t = HeaderUtil.trailersFromHttp1(trailers);
        s.decodeData(data, false);
        if (stream == s) {
          s.decodeTrailers(t);
        }
      } else {
        s.decodeData(data, true);
      }
    } else {
      stream.decodeData(data, false);
    }
  }

  /**
   * Returns whether the decoder refused the request for a transfer coding other than a final
   * {@code chunked}: Envoy answers those 501 (RFC 9112 §6.1), other framing errors 400.
   */
  private static boolean unsupportedTransferCoding(Throwable cause) {
    String m = cause == null ? null : cause.getMessage();
    return m != null
        && (m.startsWith("The final transfer coding must be chunked")
            || m.startsWith("chunked must be the last encoding"));
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
    ctx.writeAndFlush(out);
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
    ctx.writeAndFlush(out);
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
      ctx.writeAndFlush(data);
      return;
    }
    if (!headRequest) {
      config.stats.downstreamCxTxBytesTotal.add(data.readableBytes());
    }
    switch (bodyMode) {
      case BODY_RAW -> ctx.writeAndFlush(data);
      case BODY_CHUNKED -> {
        int n = data.readableBytes();
        if (n > 0) {
          ctx.write(Http1Wire.chunkPrefix(ctx.alloc(), n), ctx.voidPromise());
          ctx.write(data, ctx.voidPromise());
          ctx.writeAndFlush(endStream ? Http1Wire.crlfLastChunk() : Http1Wire.crlf());
        } else {
          data.release();
          if (endStream) {
            ctx.writeAndFlush(Http1Wire.lastChunk());
          }
        }
      }
      default -> data.release();
    }
  }

  @Override
  public void writeTrailers(Http2Headers trailers) {
    if (bodyMode == BODY_CHUNKED) {
      ByteBuf out = ctx.alloc().buffer(64);
      Http1Wire.writeLastChunk(out, trailers);
      ctx.writeAndFlush(out);
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
    if (evt instanceof IdleStateEvent) {
      if (stream == null && pipelined.isEmpty()) {
        config.stats.downstreamCxIdleTimeout.inc();
        closeAfterResponse = true;
        ctx.close();
      }
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
