package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's {@code request_headers_timeout} for HTTP/1.1: the clock starts with the first byte of a
 * request and stops when its headers are decoded; a client that trickles headers (slowloris) gets
 * a 408 and the connection is closed. Sits before the HTTP/1.1 decoder.
 */
final class RequestHeadersTimer extends ChannelInboundHandlerAdapter {
  private final long timeoutMs;
  private final Runnable onTimeout;
  private boolean waitingForHeaders = true;
  private ScheduledFuture<?> timer;

  RequestHeadersTimer(long timeoutMs, Runnable onTimeout) {
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (waitingForHeaders && timer == null && msg instanceof ByteBuf b && b.isReadable()) {
      timer = ctx.executor().schedule(this::fire, timeoutMs, TimeUnit.MILLISECONDS);
    }
    ctx.fireChannelRead(msg);
  }

  private void fire() {
    timer = null;
    if (waitingForHeaders) {
      onTimeout.run();
    }
  }

  /** The request's headers are in: stop the clock until the request is complete. */
  void headersReceived() {
    waitingForHeaders = false;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  /** The request is complete: the next byte starts the clock for the next request. */
  void requestComplete() {
    waitingForHeaders = true;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    ctx.fireChannelInactive();
  }
}
