package io.legate.upstream.health;

import io.envoyproxy.envoy.data.core.v3.HealthCheckFailureType;
import io.legate.network.Transport;
import io.legate.upstream.Host;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.util.ReferenceCountUtil;
import java.util.Arrays;

/**
 * Envoy's TCP health check: connect, write {@code send} (if any) and wait until the reply contains
 * every {@code receive} segment in order. With no {@code receive}, a successful connect passes (and
 * the connection is closed, so every check connects again). A connection closed by the host while
 * a check runs is a network failure.
 */
final class TcpHealthCheckSession extends HealthCheckSession {
  private static final int MAX_BUFFER = 64 * 1024;

  private final HealthCheckConfig.Tcp tcp;
  private Channel channel;
  private byte[] buffer = new byte[256];
  private int buffered;

  TcpHealthCheckSession(HealthChecker parent, Host host) {
    super(parent, host);
    this.tcp = config.tcp();
  }

  @Override
  protected void onInterval() {
    buffered = 0;
    if (channel != null && channel.isActive()) {
      write(channel);
      return;
    }
    Conn conn = new Conn();
    ChannelFuture f =
        new Bootstrap()
            .group(parent.loop())
            .channel(Transport.clientChannel(parent.loop()))
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, config.timeoutMs()))
            .option(ChannelOption.TCP_NODELAY, true)
            .handler(conn)
            .connect(address);
    channel = f.channel();
    f.addListener(
        fut -> {
          if (f.channel() != channel) {
            return;
          }
          if (!fut.isSuccess()) {
            channel = null;
            handleFailure(HealthCheckFailureType.NETWORK, false);
            return;
          }
          if (tcp.receive().isEmpty()) {
            // Connect-only (or send-only) check: connecting is the test.
            if (tcp.send().length > 0) {
              f.channel().writeAndFlush(Unpooled.wrappedBuffer(tcp.send()));
            }
            close();
            handleSuccess(false);
            return;
          }
          write(f.channel());
        });
  }

  private void write(Channel ch) {
    if (tcp.send().length > 0) {
      ch.writeAndFlush(Unpooled.wrappedBuffer(tcp.send()));
    }
  }

  private void close() {
    Channel ch = channel;
    channel = null;
    if (ch != null) {
      ch.close();
    }
  }

  @Override
  protected void onTimeout() {
    close();
  }

  @Override
  protected void onStop() {
    close();
  }

  private final class Conn extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (ctx.channel() != channel || !inFlight() || !(msg instanceof ByteBuf b)) {
          return;
        }
        int n = Math.min(b.readableBytes(), MAX_BUFFER - buffered);
        if (n > 0) {
          if (buffered + n > buffer.length) {
            buffer = Arrays.copyOf(buffer, Math.min(MAX_BUFFER, Math.max(buffer.length * 2, buffered + n)));
          }
          b.getBytes(b.readerIndex(), buffer, buffered, n);
          buffered += n;
        }
        if (matches(tcp.receive(), buffer, buffered)) {
          buffered = 0;
          if (!config.reuseConnection()) {
            close();
          }
          handleSuccess(false);
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (ctx.channel() == channel) {
        channel = null;
        if (inFlight()) {
          handleFailure(HealthCheckFailureType.NETWORK, false);
        }
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
