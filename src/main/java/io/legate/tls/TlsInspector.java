package io.legate.tls;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * The {@code envoy.filters.listener.tls_inspector} listener filter: peeks at the first bytes of a
 * connection without consuming them, then hands what it learnt to a callback that installs the
 * chosen filter chain after it, and removes itself, passing the bytes on untouched.
 */
public final class TlsInspector extends ByteToMessageDecoder {
  private final BiConsumer<ChannelHandlerContext, ClientHello> onDone;
  private final long timeoutMs;
  private ScheduledFuture<?> timeout;
  private boolean done;

  /**
   * Creates the inspector; {@code onDone} runs on the event loop once, and must add the handlers
   * that follow; {@code timeoutMs} (Envoy's listener_filters_timeout, 0 = none) closes the connection.
   */
  public TlsInspector(BiConsumer<ChannelHandlerContext, ClientHello> onDone, long timeoutMs) {
    this.onDone = onDone;
    this.timeoutMs = timeoutMs;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (timeoutMs > 0) {
      timeout = ctx.executor().schedule(() -> {
        if (!done) {
          ctx.close();
        }
      }, timeoutMs, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (done) {
      return;
    }
    ClientHello hello = ClientHello.peek(in);
    if (hello == null) {
      return;
    }
    done = true;
    if (timeout != null) {
      timeout.cancel(false);
    }
    onDone.accept(ctx, hello);
    if (ctx.channel().isActive() && !ctx.isRemoved()) {
      ctx.pipeline().remove(this);
    }
  }
}
