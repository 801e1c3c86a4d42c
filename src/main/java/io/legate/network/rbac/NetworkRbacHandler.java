package io.legate.network.rbac;

import io.legate.rbac.PeerIdentity;
import io.legate.rbac.RbacEngine;
import io.legate.rbac.RbacInput;
import io.legate.rbac.RbacStats;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * The network RBAC filter on one connection (Envoy's {@code ONE_TIME_ON_FIRST_BYTE}): the first read
 * is checked once, against the shadow rules (counted) and then the rules; an allowed connection goes
 * on and the handler leaves the pipeline, a denied one is closed without a reply.
 */
final class NetworkRbacHandler extends ChannelInboundHandlerAdapter implements RbacInput {
  private final RbacEngine engine;
  private final RbacEngine shadow;
  private final RbacStats stats;
  private ChannelHandlerContext ctx;
  private boolean denied;

  NetworkRbacHandler(RbacEngine engine, RbacEngine shadow, RbacStats stats) {
    this.engine = engine;
    this.shadow = shadow;
    this.stats = stats;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (denied) {
      ReferenceCountUtil.release(msg);
      return;
    }
    this.ctx = ctx;
    if (shadow != null) {
      (shadow.allowed(shadow.match(this)) ? stats.shadowAllowed : stats.shadowDenied).inc();
    }
    if (engine != null) {
      RbacEngine.CompiledPolicy matched = engine.match(this);
      if (engine.action() == RbacEngine.Action.LOG) {
        (matched != null ? stats.logged : stats.notLogged).inc();
      }
      if (!engine.allowed(matched)) {
        stats.denied.inc();
        denied = true;
        ReferenceCountUtil.release(msg);
        ctx.close();
        return;
      }
      stats.allowed.inc();
    }
    ctx.pipeline().remove(this);
    ctx.fireChannelRead(msg);
  }

  @Override
  public InetSocketAddress directRemoteAddress() {
    return (InetSocketAddress) ctx.channel().remoteAddress();
  }

  @Override
  public InetSocketAddress localAddress() {
    return (InetSocketAddress) ctx.channel().localAddress();
  }

  @Override
  public PeerIdentity peer() {
    return PeerIdentity.of(ctx.channel());
  }
}
