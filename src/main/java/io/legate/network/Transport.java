package io.legate.network;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.Locale;

/**
 * The socket transports: io_uring where the kernel allows it, else native epoll, else NIO. A
 * server's event loops are all of one kind, and every channel takes the classes of the loop it is
 * registered on, so the kind is chosen once, when the loops are made. The system property {@code
 * legate.transport} ({@code io_uring}, {@code epoll} or {@code nio}) overrides the default; a kind the
 * machine lacks falls back to the next one.
 */
public enum Transport {
  IO_URING("io_uring"),
  EPOLL("epoll"),
  NIO("nio");

  private final String label;

  Transport(String label) {
    this.label = label;
  }

  @Override
  public String toString() {
    return label;
  }

  /** Returns the transport the machine and {@code legate.transport} choose. */
  public static Transport preferred() {
    String want = System.getProperty("legate.transport", "").toLowerCase(Locale.ROOT);
    if (Boolean.getBoolean("legate.nio") || want.equals("nio")) {
      return NIO;
    }
    if (!want.equals("epoll") && IoUring.isAvailable()) {
      return IO_URING;
    }
    return Epoll.isAvailable() ? EPOLL : NIO;
  }

  /** Returns this transport, or the next one down when the machine lacks it. */
  public Transport available() {
    if (this == IO_URING && !IoUring.isAvailable()) {
      return EPOLL.available();
    }
    if (this == EPOLL && !Epoll.isAvailable()) {
      return NIO;
    }
    return this;
  }

  /** Creates an event loop group of {@code threads} loops named {@code name-N} on this transport. */
  public EventLoopGroup newGroup(int threads, String name) {
    IoHandlerFactory f =
        switch (available()) {
          case IO_URING -> IoUringIoHandler.newFactory();
          case EPOLL -> EpollIoHandler.newFactory();
          case NIO -> NioIoHandler.newFactory();
        };
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), f);
  }

  /** Creates an event loop group on the preferred transport. */
  public static EventLoopGroup group(int threads, String name) {
    return preferred().newGroup(threads, name);
  }

  /** Returns the transport of a group's loops. */
  public static Transport of(EventLoopGroup group) {
    if (group.next() instanceof IoEventLoop io) {
      if (io.isIoType(IoUringIoHandler.class)) {
        return IO_URING;
      }
      if (io.isIoType(EpollIoHandler.class)) {
        return EPOLL;
      }
    }
    return NIO;
  }

  public static Class<? extends ServerChannel> serverChannel(EventLoopGroup group) {
    return switch (of(group)) {
      case IO_URING -> IoUringServerSocketChannel.class;
      case EPOLL -> EpollServerSocketChannel.class;
      case NIO -> NioServerSocketChannel.class;
    };
  }

  public static Class<? extends SocketChannel> clientChannel(EventLoopGroup group) {
    return switch (of(group)) {
      case IO_URING -> IoUringSocketChannel.class;
      case EPOLL -> EpollSocketChannel.class;
      case NIO -> NioSocketChannel.class;
    };
  }

  public static Class<? extends DatagramChannel> datagramChannel(EventLoopGroup group) {
    return switch (of(group)) {
      case IO_URING -> IoUringDatagramChannel.class;
      case EPOLL -> EpollDatagramChannel.class;
      case NIO -> NioDatagramChannel.class;
    };
  }

  /** Returns the descriptor of an open native (epoll or io_uring) channel, or -1. */
  public static int fd(Channel ch) {
    return ch instanceof io.netty.channel.unix.UnixChannel u && ch.isOpen() ? u.fd().intValue() : -1;
  }
}
