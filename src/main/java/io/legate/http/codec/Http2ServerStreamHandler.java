package io.legate.http.codec;

import io.legate.http.ActiveStream;
import io.legate.http.ConnectionInfo;
import io.legate.http.DownstreamStream;
import io.legate.http.HttpHeaderNames;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/** One downstream HTTP/2 stream (a Netty child channel) bridged to an {@link ActiveStream}. */
final class Http2ServerStreamHandler extends ChannelInboundHandlerAdapter implements DownstreamStream {
  private final ConnectionInfo conn;
  private final HttpServerPipeline.PrematureResets resets;
  private ChannelHandlerContext ctx;
  private ActiveStream stream;
  private boolean done;
  private long startNanos;
  private boolean responded;
  private boolean counted;
  /** Whether the request is an extended CONNECT, handled as an HTTP/1.1-style upgrade. */
  private boolean extendedConnect;

  Http2ServerStreamHandler(ConnectionInfo conn, HttpServerPipeline.PrematureResets resets) {
    this.conn = conn;
    this.resets = resets;
  }

  /** Counts the stream's end once, for the rapid-reset defence. */
  private void closed() {
    if (!counted && startNanos != 0) {
      counted = true;
      resets.streamClosed(System.nanoTime() - startNanos, responded);
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (done) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof Http2HeadersFrame f) {
      Http2Headers h = f.headers();
      if (stream == null) {
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
          if (!conn.config().h2AllowConnect || h.method() == null
              || !io.netty.util.AsciiString.contentEquals(h.method(), "CONNECT")) {
            // :protocol without allow_connect, or on a method other than CONNECT (RFC 8441 §4).
            done = true;
            conn.config().h2Stats.txReset().inc();
            ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.PROTOCOL_ERROR));
            ReferenceCountUtil.release(msg);
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
        resets.streamStarted();
        stream.decodeHeaders(h, f.isEndStream());
      } else {
        stream.decodeTrailers(h);
      }
    } else if (msg instanceof Http2DataFrame f) {
      ByteBuf data = f.content();
      if (stream == null) {
        f.release();
        return;
      }
      conn.config().stats.downstreamCxRxBytesTotal.add(data.readableBytes());
      stream.decodeData(data, f.isEndStream());
    } else if (msg instanceof Http2ResetFrame) {
      ActiveStream s = stream;
      done = true;
      conn.config().h2Stats.rxReset().inc();
      if (s != null) {
        s.onDownstreamReset();
      }
      closed();
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    // Netty delivers the client's RST_STREAM to the stream channel as a user event.
    if (evt instanceof Http2ResetFrame) {
      ActiveStream s = stream;
      boolean wasDone = done;
      done = true;
      conn.config().h2Stats.rxReset().inc();
      if (s != null && !wasDone) {
        s.onDownstreamReset();
      }
      closed();
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (!done && stream != null) {
      done = true;
      stream.onDownstreamReset();
    }
    super.channelInactive(ctx);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    if (stream != null && !done) {
      stream.onDownstreamWritabilityChanged(ctx.channel().isWritable());
    }
    super.channelWritabilityChanged(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }

  @Override
  public void writeHeaders(Http2Headers headers, boolean endStream) {
    if (extendedConnect && headers.status() != null && io.netty.util.AsciiString.contentEquals(headers.status(), "101")) {
      // The upgrade succeeded: an extended CONNECT is accepted with a 200 (RFC 8441 §5).
      headers.status("200");
    }
    if (!responded) {
      CharSequence status = headers.status();
      responded = status != null && (status.length() != 3 || status.charAt(0) != '1');
      HeaderUtil.sanitizeHttp2(headers);
      ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream));
      if (responded) {
        resets.responseStarted();
      }
      return;
    }
    HeaderUtil.sanitizeHttp2(headers);
    ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream));
  }

  @Override
  public void writeData(ByteBuf data, boolean endStream) {
    conn.config().stats.downstreamCxTxBytesTotal.add(data.readableBytes());
    ctx.writeAndFlush(new DefaultHttp2DataFrame(data, endStream));
  }

  @Override
  public void writeTrailers(Http2Headers trailers) {
    ctx.writeAndFlush(new DefaultHttp2HeadersFrame(trailers, true));
  }

  @Override
  public void reset() {
    done = true;
    conn.config().h2Stats.txReset().inc();
    ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR));
    closed();
  }

  @Override
  public void readDisable(boolean disable) {
    ctx.channel().config().setAutoRead(!disable);
  }

  @Override
  public void streamComplete(boolean requestComplete) {
    if (!done && !requestComplete && ctx.channel().isActive()) {
      // The response ended first: tell the peer to stop sending (RFC 9113 8.1).
      ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
    }
    done = true;
    closed();
  }

  @Override
  public Channel connection() {
    return ctx.channel().parent();
  }

  @Override
  public boolean isWritable() {
    return ctx.channel().isWritable();
  }

  @Override
  public boolean tls() {
    return conn.tls();
  }
}
