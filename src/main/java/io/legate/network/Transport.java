package io.legate.network;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/** The socket transport: native epoll where available, NIO otherwise. */
public final class Transport {
  private static final boolean EPOLL =
      !Boolean.getBoolean("legate.nio") && Epoll.isAvailable();

  private Transport() {}

  /** Returns whether the native epoll transport is in use. */
  public static boolean nativeEpoll() {
    return EPOLL;
  }

  public static String name() {
    return EPOLL ? "epoll" : "nio";
  }

  /** Creates an event loop group of {@code threads} loops named {@code name-N}. */
  public static EventLoopGroup group(int threads, String name) {
    IoHandlerFactory f = EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), f);
  }

  public static Class<? extends ServerChannel> serverChannel() {
    return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  public static Class<? extends SocketChannel> clientChannel() {
    return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  public static Class<? extends io.netty.channel.socket.DatagramChannel> datagramChannel() {
    return EPOLL
        ? io.netty.channel.epoll.EpollDatagramChannel.class
        : io.netty.channel.socket.nio.NioDatagramChannel.class;
  }
}
