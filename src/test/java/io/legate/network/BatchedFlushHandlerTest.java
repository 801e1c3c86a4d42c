package io.legate.network;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** When the writes of a connection reach the socket: at the end of a read, or once per loop pass. */
class BatchedFlushHandlerTest {
  private final EmbeddedChannel ch = new EmbeddedChannel(new BatchedFlushHandler(), new Echo());

  @AfterEach
  void close() {
    ch.finishAndReleaseAll();
  }

  private static ByteBuf buf(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  private String written() {
    StringBuilder sb = new StringBuilder();
    ByteBuf b;
    while ((b = ch.readOutbound()) != null) {
      sb.append(b.toString(StandardCharsets.US_ASCII));
      b.release();
    }
    return sb.toString();
  }

  /** Answers every read with a written and flushed copy. */
  static final class Echo extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ctx.writeAndFlush(msg);
    }
  }

  @Test
  void flushOutsideAReadWaitsForTheLoopPass() {
    // Through the pipeline, and writes before the flush: EmbeddedChannel runs the loop's tasks
    // after each of its own calls and after every write reaching its socket.
    ch.pipeline().write(buf("a"));
    ch.pipeline().write(buf("b"));
    ch.pipeline().flush();
    assertThat(ch.outboundMessages()).isEmpty(); // (readOutbound would run the loop's tasks)
    ch.runPendingTasks();
    assertThat(written()).isEqualTo("ab");
  }

  @Test
  void flushDuringAReadWaitsForTheEndOfTheRead() {
    ch.pipeline().fireChannelRead(buf("x"));
    ch.pipeline().fireChannelRead(buf("y"));
    ch.runPendingTasks(); // the pass's task leaves a connection that is reading to its read
    assertThat(ch.outboundMessages()).isEmpty();
    ch.pipeline().fireChannelReadComplete();
    assertThat(written()).isEqualTo("xy");
  }

  @Test
  void manyFlushesInOneReadGoOutWithoutWaiting() {
    for (int i = 0; i < BatchedFlushHandler.MAX_PENDING; i++) {
      ch.pipeline().fireChannelRead(buf("z"));
    }
    assertThat(written()).hasSize(BatchedFlushHandler.MAX_PENDING);
  }

  @Test
  void closeSendsWhatWaits() {
    ch.pipeline().writeAndFlush(buf("bye"));
    assertThat(ch.outboundMessages()).isEmpty();
    ch.pipeline().close();
    assertThat(written()).isEqualTo("bye");
  }

  @Test
  void connectionsOfOneLoopShareOneTask() {
    // Every EmbeddedChannel runs on the test thread, which plays one event loop here.
    EmbeddedChannel other = new EmbeddedChannel(new BatchedFlushHandler());
    try {
      ch.pipeline().writeAndFlush(buf("1"));
      other.pipeline().writeAndFlush(buf("2"));
      assertThat(ch.outboundMessages()).isEmpty();
      assertThat(other.outboundMessages()).isEmpty();
      ch.runPendingTasks(); // the one task, scheduled on the first connection's loop, flushes both
      assertThat(ch.outboundMessages()).hasSize(1);
      assertThat(other.outboundMessages()).hasSize(1); // without running the second loop's tasks
      assertThat(written()).isEqualTo("1");
      ByteBuf b = other.readOutbound();
      assertThat(b.toString(StandardCharsets.US_ASCII)).isEqualTo("2");
      b.release();
    } finally {
      other.finishAndReleaseAll();
    }
  }
}
