package io.legate.network.localratelimit;

import io.legate.http.filters.localratelimit.TokenBucket;
import io.legate.stats.Counter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Envoy's network local rate limit on one new connection: as soon as it joins the pipeline it takes
 * a token, then leaves the pipeline; without a token the connection is counted and closed.
 */
final class NetworkLocalRateLimitHandler extends ChannelInboundHandlerAdapter {
  private final boolean enabled;
  private final TokenBucket bucket;
  private final Counter rateLimited;

  NetworkLocalRateLimitHandler(boolean enabled, TokenBucket bucket, Counter rateLimited) {
    this.enabled = enabled;
    this.bucket = bucket;
    this.rateLimited = rateLimited;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (!enabled || bucket.tryConsume()) {
      ctx.pipeline().remove(this);
      return;
    }
    rateLimited.inc();
    ctx.close();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    io.netty.util.ReferenceCountUtil.release(msg); // only reached on a connection being closed
  }
}
