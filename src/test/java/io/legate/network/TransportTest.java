package io.legate.network;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TransportTest {
  @AfterEach
  void clear() {
    System.clearProperty("legate.transport");
  }

  @Test
  void ioUringIsPreferredWhereTheKernelAllowsItAndThePropertyChooses() {
    Transport fallback = Epoll.isAvailable() ? Transport.EPOLL : Transport.NIO;
    assertThat(Transport.preferred()).isEqualTo(IoUring.isAvailable() ? Transport.IO_URING : fallback);
    System.setProperty("legate.transport", "epoll");
    assertThat(Transport.preferred()).isEqualTo(fallback);
    System.setProperty("legate.transport", "NIO");
    assertThat(Transport.preferred()).isEqualTo(Transport.NIO);
  }

  @Test
  void channelsFollowTheirLoopsTransport() {
    for (Transport t : Transport.values()) {
      EventLoopGroup g = t.newGroup(1, "transport-test");
      try {
        Transport actual = t.available();
        assertThat(Transport.of(g)).isEqualTo(actual);
        assertThat(Transport.serverChannel(g).getSimpleName()).startsWith(prefix(actual));
        assertThat(Transport.clientChannel(g).getSimpleName()).startsWith(prefix(actual));
        assertThat(Transport.datagramChannel(g).getSimpleName()).startsWith(prefix(actual));
      } finally {
        g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }
  }

  private static String prefix(Transport t) {
    return switch (t) {
      case IO_URING -> "IoUring";
      case EPOLL -> "Epoll";
      case NIO -> "Nio";
    };
  }
}
